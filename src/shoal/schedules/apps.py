from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "shoal.schedules"
    label = "schedules"
    verbose_name = _("Scheduled jobs")

    def ready(self):
        from . import jobs  # noqa: F401  (registers the built-in jobs)
