from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "shoal.sales"
    label = "sales"
    verbose_name = _("Sales work")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, customer outputs)
