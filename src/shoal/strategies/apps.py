from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StrategiesConfig(AppConfig):
    name = "shoal.strategies"
    label = "strategies"
    verbose_name = _("Automation strategies")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, the event processor, the tasks job)
