from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "shoal.schedules"
    label = "schedules"
    verbose_name = _("Scheduled jobs")

    def ready(self):
        from . import jobs, menus  # noqa: F401  (the built-in jobs; menus and cards)
