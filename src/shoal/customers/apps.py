from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "shoal.customers"
    label = "customers"
    verbose_name = _("Customers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import attachments, indexes, registry  # noqa: F401  (menus, parameters, signal receivers)

        post_migrate.connect(indexes.ensure_search_indexes, sender=self, dispatch_uid="customers.search_indexes")
