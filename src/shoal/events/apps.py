from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "shoal.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, jobs, parameters, condition kinds, hooks)
