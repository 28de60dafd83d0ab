from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "shoal.accounts"
    label = "accounts"
    verbose_name = _("Accounts and permissions")

    def ready(self):
        from . import registry, signals  # noqa: F401  (menus, pages, cards; signal receivers)
