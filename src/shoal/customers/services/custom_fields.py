"""Custom field definitions: create, update (converting stored values on a type change), delete."""

from __future__ import annotations

import copy

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.errors import Conflict, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from .. import cleaning, indexes
from ..models import Customer, CustomField, EnumGroup, FieldType
from ..selectors import plan_conversion

FIELD_ATTRS = ("label", "required", "default", "show_in_filter", "show_in_list", "show_in_form", "order", "enabled")


def _generate_key(kind: str) -> str:
    n = CustomField.objects.filter(key__startswith=f"extra_{kind}_").count() + 1
    while CustomField.objects.filter(key=f"extra_{kind}_{n}").exists():
        n += 1
    return f"extra_{kind}_{n}"


def check_definition(definition: CustomField) -> None:
    if definition.type not in FieldType.values:
        raise ShoalError("invalid_value", gettext("Unknown field type"), {"field": "type", "choices": FieldType.values})
    if not (definition.label or "").strip():
        raise ShoalError("invalid_value", gettext("Label is required"), {"field": "label"})
    is_enum = definition.type in (FieldType.ENUM, FieldType.MULTI_ENUM)
    if is_enum and definition.enum_group_id is None:
        raise ShoalError("invalid_value", gettext("An enum field needs an enum group"), {"field": "enum_group_id"})
    if not is_enum:
        definition.enum_group_id = None
    if definition.enum_group_id is not None and not EnumGroup.objects.filter(pk=definition.enum_group_id).exists():
        raise ShoalError("invalid_value", gettext("No such enum group"), {"field": "enum_group_id"})
    if definition.default is not None:
        try:
            definition.default = cleaning.coerce_custom_value(definition, definition.default)
        except ShoalError as exc:
            raise ShoalError("invalid_value", gettext("default: %(message)s") % {"message": exc.message},
                             {"field": "default", "expected": definition.type})


def custom_field_create(*, actor, label: str, type: str, key: str | None = None, enum_group_id: int | None = None,
                        **attrs) -> CustomField:
    key = cleaning.validate_key(key) if key else _generate_key(type)
    if CustomField.objects.filter(key=key).exists():
        raise Conflict("duplicate", gettext("A custom field with this key exists"), {"field": "key", "key": key})
    definition = CustomField(key=key, label=(label or "").strip(), type=type, enum_group_id=enum_group_id,
                             **{k: v for k, v in attrs.items() if k in FIELD_ATTRS and v is not None})
    check_definition(definition)
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError:
        raise Conflict("duplicate", gettext("A custom field with this key exists"), {"field": "key", "key": key})
    indexes.sync_field_index(definition)
    log_operation(actor=actor, action="custom_field.create", obj=definition)
    return definition


def _convert_values(definition: CustomField) -> None:
    key = definition.key
    updates = plan_conversion(definition)
    pks = list(updates)
    now = timezone.now()  # stamped like every write of customers' values (incremental tag refresh reads it)
    for start in range(0, len(pks), 1000):
        chunk = list(Customer.objects.filter(pk__in=pks[start:start + 1000]).only("pk", "attributes"))
        for customer in chunk:
            attrs = dict(customer.attributes or {})
            if updates[customer.pk] is None:
                attrs.pop(key, None)
            else:
                attrs[key] = updates[customer.pk]
            customer.attributes = attrs
            customer.updated_at = now
        Customer.objects.bulk_update(chunk, ["attributes", "updated_at"])


@transaction.atomic
def custom_field_update(*, actor, definition: CustomField, data: dict) -> CustomField:
    if "key" in data and data["key"] not in (None, definition.key):
        raise ShoalError("key_immutable", gettext("The key of a custom field cannot change"), {"field": "key"})
    old_type, old_group = definition.type, definition.enum_group_id
    probe = copy.copy(definition)  # the definition as it would be, checked (and normalised) before it is saved
    if data.get("type") is not None:
        probe.type = data["type"]
    if "enum_group_id" in data:
        probe.enum_group_id = data["enum_group_id"]
    for attr in FIELD_ATTRS:
        if attr in data and (data[attr] is not None or attr == "default"):
            setattr(probe, attr, data[attr].strip() if attr == "label" else data[attr])
    check_definition(probe)
    if probe.type != old_type or probe.enum_group_id != old_group:
        _convert_values(probe)
    fields = ("type", "enum_group_id", *FIELD_ATTRS)
    model_update(instance=definition, fields=fields, data={f: getattr(probe, f) for f in fields})
    indexes.sync_field_index(definition)
    log_operation(actor=actor, action="custom_field.update", obj=definition,
                  detail={"fields": sorted(data), "old_type": old_type, "type": definition.type})
    return definition


@transaction.atomic
def custom_field_delete(*, actor, definition: CustomField) -> None:
    key = definition.key
    indexes.sync_field_index(definition, deleted=True)
    pks = list(Customer.objects.filter(attributes__has_key=key).values_list("pk", flat=True))
    for start in range(0, len(pks), 1000):
        chunk = list(Customer.objects.filter(pk__in=pks[start:start + 1000]).only("pk", "attributes"))
        for customer in chunk:
            customer.attributes = {k: v for k, v in (customer.attributes or {}).items() if k != key}
        Customer.objects.bulk_update(chunk, ["attributes"])
    log_operation(actor=actor, action="custom_field.delete", obj=definition, detail={"customers": len(pks)})
    definition.delete()

