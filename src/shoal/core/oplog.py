from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from .models import OperationLog

# What each operation-log action code means, in words (the operation log page and the API's action_label).
ACTION_LABELS = {
    "application.create": _("Create application"),
    "application.update": _("Edit application"),
    "application.delete": _("Delete application"),
    "application.rotate_key": _("Generate a new application key"),
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
    "department.create": _("Create department"),
    "department.update": _("Edit department"),
    "department.delete": _("Delete department"),
    "detail_tab.create": _("Create customer detail tab"),
    "detail_tab.update": _("Edit customer detail tab"),
    "detail_tab.delete": _("Delete customer detail tab"),
    "enum.create": _("Create enum"),
    "enum.update": _("Edit enum"),
    "enum.delete": _("Delete enum"),
    "enum.item.create": _("Create enum item"),
    "enum.item.update": _("Edit enum item"),
    "enum.item.delete": _("Delete enum item"),
    "job.run_now": _("Run scheduled job now"),
    "job.update": _("Edit scheduled job"),
    "parameter.update": _("Change parameter"),
    "role.create": _("Create role"),
    "role.update": _("Edit role"),
    "role.delete": _("Delete role"),
    "saved_query.create": _("Save query"),
    "saved_query.update": _("Edit saved query"),
    "saved_query.delete": _("Delete saved query"),
    "token.issue": _("Issue API token"),
    "user.create": _("Create user"),
    "user.update": _("Edit user"),
    "user.delete": _("Delete user"),
    "user.enable": _("Enable users"),
    "user.disable": _("Disable users"),
    "user.change_password": _("Change own password"),
    "user.reset_password": _("Reset password"),
}
# Families of codes with a value at the end (customer.status.<status>).
ACTION_PREFIX_LABELS = {
    "customer.status.": _("Set customer status: %(value)s"),
}


def action_label(action: str) -> str:
    """The action in words, in the active language; an unknown code is shown as it is."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    for prefix, label in ACTION_PREFIX_LABELS.items():
        if action.startswith(prefix):
            value = action[len(prefix):]
            if prefix == "customer.status.":
                from shoal.customers.models import CustomerStatus

                value = str(dict(CustomerStatus.choices).get(value, value))
            return str(label) % {"value": value}
    return action


def log_operation(*, actor, action: str, obj=None, object_type: str = "", object_id: Any = "",
                  object_repr: str = "", detail: dict | None = None, ip: str | None = None) -> OperationLog:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:255]
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return OperationLog.objects.create(
        actor=actor if is_user else None,
        actor_name=(actor.get_username() if is_user else str(actor or "system"))[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=object_repr[:255],
        detail=detail or {},
        ip=ip,
    )
