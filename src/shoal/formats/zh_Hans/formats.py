from shoal.formats.common import *  # noqa: F403
