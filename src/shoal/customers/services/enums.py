"""Enums (option groups) and their items."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from shoal.core.errors import Conflict, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from .. import cleaning
from ..models import CustomField, EnumGroup, EnumItem
from ..selectors import enum_item_usage


def _item_fields(data: dict) -> dict:
    out = {}
    if "code" in data and data["code"] is not None:
        code = str(data["code"]).strip()
        if not code or len(code) > 64:
            raise ShoalError("invalid_value", gettext("Item code is required (at most 64 characters)"), {"field": "code"})
        out["code"] = code
    if "label" in data and data["label"] is not None:
        label = str(data["label"]).strip()
        if not label:
            raise ShoalError("invalid_value", gettext("Item label is required"), {"field": "label"})
        out["label"] = label
    for attr in ("order", "enabled"):
        if data.get(attr) is not None:
            out[attr] = data[attr]
    return out


@transaction.atomic
def enum_group_create(*, actor, code: str, name: str, description: str = "",
                      items: list[dict] | None = None) -> EnumGroup:
    code = (code or "").strip()
    if not code or not (name or "").strip():
        raise ShoalError("invalid_value", gettext("Code and name are required"), {"fields": ["code", "name"]})
    if EnumGroup.objects.filter(code=code).exists():
        raise Conflict("duplicate", gettext("An enum with this code exists"), {"field": "code"})
    group = EnumGroup.objects.create(code=code, name=name.strip(), description=description or "")
    for i, item in enumerate(items or []):
        enum_item_create(actor=actor, group=group, data={"order": i, **item}, log=False)
    log_operation(actor=actor, action="enum.create", obj=group)
    return group


def enum_group_update(*, actor, group: EnumGroup, data: dict) -> EnumGroup:
    if data.get("code") not in (None, group.code):
        if CustomField.objects.filter(enum_group=group).exists() or group.code in cleaning.STANDARD_ENUMS.values():
            raise Conflict("in_use", gettext("The code of an enum in use cannot change"), {"field": "code"})
        if EnumGroup.objects.filter(code=data["code"]).exclude(pk=group.pk).exists():
            raise Conflict("duplicate", gettext("An enum with this code exists"), {"field": "code"})
    values = {attr: data[attr].strip() for attr in ("code", "name", "description") if data.get(attr) is not None}
    model_update(instance=group, fields=("code", "name", "description"), data=values)
    log_operation(actor=actor, action="enum.update", obj=group, detail={"fields": sorted(data)})
    return group


@transaction.atomic
def enum_group_delete(*, actor, group: EnumGroup) -> None:
    fields = list(CustomField.objects.filter(enum_group=group).values_list("key", flat=True))
    if fields:
        raise Conflict("in_use", gettext("Custom fields use this enum"), {"fields": fields})
    for item in group.items.all():
        used = enum_item_usage(item, limit=10)
        if used:
            raise Conflict("in_use", gettext("Customers use the item %(code)s") % {"code": item.code}, {"item": item.code, "customer_ids": used})
    log_operation(actor=actor, action="enum.delete", obj=group)
    group.delete()


def enum_item_create(*, actor, group: EnumGroup, data: dict, log: bool = True) -> EnumItem:
    values = _item_fields(data)
    if "code" not in values or "label" not in values:
        raise ShoalError("invalid_value", gettext("Item code and label are required"), {"fields": ["code", "label"]})
    if EnumItem.objects.filter(group=group, code=values["code"]).exists():
        raise Conflict("duplicate", gettext("The enum already has an item %(code)s") % {"code": values['code']}, {"field": "code"})
    item = EnumItem.objects.create(group=group, **values)
    if log:
        log_operation(actor=actor, action="enum.item.create", obj=item, detail={"group": group.code})
    return item


@transaction.atomic
def enum_item_update(*, actor, item: EnumItem, data: dict) -> EnumItem:
    values = _item_fields(data)
    if values.get("code", item.code) != item.code:
        used = enum_item_usage(item)
        if used:
            raise Conflict("in_use", gettext("Customers use this item; its code cannot change"),
                           {"item": item.code, "customer_ids": used})
        if EnumItem.objects.filter(group_id=item.group_id, code=values["code"]).exclude(pk=item.pk).exists():
            raise Conflict("duplicate", gettext("The enum already has an item with this code"), {"field": "code"})
    model_update(instance=item, fields=("code", "label", "order", "enabled"), data=values)
    log_operation(actor=actor, action="enum.item.update", obj=item, detail={"fields": sorted(values)})
    return item


@transaction.atomic
def enum_item_delete(*, actor, item: EnumItem) -> None:
    used = enum_item_usage(item)
    if used:
        raise Conflict("in_use", gettext("Customers use the item %(code)s; disable it instead") % {"code": item.code},
                       {"item": item.code, "customer_ids": used})
    log_operation(actor=actor, action="enum.item.delete", obj=item)
    item.delete()

