"""What the sales app plugs into: the follow-up permissions and operation-log words."""

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu

register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
register_action_labels({"follow_up.create": _("Record a follow-up")})


# -- automation: the sales processors (processor registry) ---------------------------------------------------
def _register_processors():
    from shoal.core.processors import register_processor

    from .processors import NOTIFY, TASK

    register_processor(TASK)
    register_processor(NOTIFY)


_register_processors()
