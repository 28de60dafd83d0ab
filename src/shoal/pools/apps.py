from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoolsConfig(AppConfig):
    name = "shoal.pools"
    label = "pools"
    verbose_name = _("Sales pools")

    def ready(self):
        from . import registry  # noqa: F401  (menus, pages, jobs, customer outputs)
