from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "shoal.imports"
    label = "imports"
    verbose_name = _("Import and export")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, parameters, jobs)
