from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "shoal.accounts"
    label = "accounts"
    verbose_name = _("Accounts and permissions")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import registry, signals  # noqa: F401  (menus, pages, cards; signal receivers)
        from .demo import grant_new_default_permissions

        # after an upgrade the built-in roles get the new permissions their defaults include
        post_migrate.connect(grant_new_default_permissions, sender=self, dispatch_uid="accounts.new_permissions")
