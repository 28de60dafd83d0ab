import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
application = get_wsgi_application()

from shoal.core.warm import freeze  # noqa: E402 - after the apps are loaded

freeze()  # the process's long-lived objects out of the garbage collector's full passes (see shoal.core.warm)
