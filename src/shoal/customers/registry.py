"""Menus (permission codes) and parameters contributed by the customers app."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels, register_action_prefix, register_scoped_object_type
from shoal.core.parameters import Parameter, register
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.site import site

from . import boards, views  # noqa: F401  (boards: the workbench boards)
from .models import CustomerStatus

register_menu(Menu("customers.customers", _("Customer profiles"), "customers",
                   CRUD + ("import", "export", "assign", "tag"), "admin:customers_customer_changelist", "person",
                   order=10))
register_menu(Menu("customers.companies", _("Companies"), "customers", CRUD,
                   "admin:customers_company_changelist", "domain", order=20))
register_menu(Menu("system.fields", _("Custom fields"), "system", CRUD,
                   "admin:customers_customfield_changelist", "view_column", order=90))
register_menu(Menu("system.enums", _("Enums"), "system", CRUD,
                   "admin:customers_enumgroup_changelist", "list", order=100))
register_menu(Menu("system.detail_tabs", _("Customer detail tabs"), "system", CRUD,
                   "admin:customers_detailtab_changelist", "tab", order=110))

IDENTITY_FIELDS = register(Parameter(
    "CUSTOMER_IDENTITY_FIELDS", _("Customer identity fields"), "str", "mobile,email,ent_user_id",
    group="customers",
    help=_("Comma-separated fields that identify a customer, chosen from mobile, email, ent_user_id.")))

register_menu(Menu("system.identity", _("Identity fields"), "system", ("view", "edit"),
                   "admin:customer_identity", "fingerprint", order=120))
site.register_page("system/identity/", views.identity_settings, "customer_identity")


def _visible_customer_ids(actor):
    """Operation log entries about a customer: shown only within the reader's data scope (None: all)."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from shoal.accounts.models import DataScope, User

    from .selectors import customer_queryset

    if actor is None or (isinstance(actor, User) and actor.is_active and actor.data_scope() == DataScope.ALL):
        return None
    return customer_queryset(actor=actor).order_by().annotate(text_id=Cast("pk", CharField())).values("text_id")


register_scoped_object_type("customer", _visible_customer_ids)

register_action_labels({
    "company.create": _("Create company"),
    "company.update": _("Edit company"),
    "company.delete": _("Delete company"),
    "custom_field.create": _("Create custom field"),
    "custom_field.update": _("Edit custom field"),
    "custom_field.delete": _("Delete custom field"),
    "customer.create": _("Create customer"),
    "customer.update": _("Edit customer"),
    "customer.delete": _("Delete customer"),
    "customer.merge": _("Merge customers"),
    "customer.identify_batch": _("Identify customers in a batch"),
    "customer.attachment.upload": _("Upload customer attachment"),
    "customer.attachment.delete": _("Delete customer attachment"),
    "detail_tab.create": _("Create customer detail tab"),
    "detail_tab.update": _("Edit customer detail tab"),
    "detail_tab.delete": _("Delete customer detail tab"),
    "enum.create": _("Create enum"),
    "enum.update": _("Edit enum"),
    "enum.delete": _("Delete enum"),
    "enum.item.create": _("Create enum item"),
    "enum.item.update": _("Edit enum item"),
    "enum.item.delete": _("Delete enum item"),
    "customer.status.": _("Set customer status: %(value)s"),
})
register_action_prefix("customer.status.", _("Set customer status: %(value)s"),
                       lambda value: str(dict(CustomerStatus.choices).get(value, value)))
