"""Menus (permission codes) and parameters contributed by the customers app."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_scoped_object_type
from shoal.core.parameters import Parameter, register
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.site import site

from . import views

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
