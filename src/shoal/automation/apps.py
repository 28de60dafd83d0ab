from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "shoal.automation"
    label = "automation"
    verbose_name = _("Marketing automation")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, processors, jobs)
