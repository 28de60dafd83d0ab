"""How customer values read on a page: times in the server's ``TIME_ZONE`` (``2026-12-01 06:54:34``),
enum codes as their labels, money and decimals grouped (``919,007.50``). The JSON API keeps codes
and ISO 8601; these are for people."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime

from .models import CustomerGender, CustomerStatus, CustomField, EnumItem, FieldType

DATETIME_FIELDS = ("registered_at", "created_at", "updated_at")
DATE_FIELDS = ("birthday",)


def format_datetime(value) -> str | None:
    """A datetime (or its ISO text) as local ``Y-m-d H:i:s``; other text is returned as it is."""
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            return value
        value = parsed
    if not isinstance(value, datetime):
        return value
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


def format_date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return formats.date_format(value, "DATE_FORMAT")
    return value


def format_number(value, places: int | None = None):
    """``919007.5`` → ``919,007.5``; with ``places=2`` → ``919,007.50``. Non-numbers are returned as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    if places is None and number == number.to_integral_value():
        places = 0
    return formats.number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


def standard_enum_labels() -> dict[str, dict[str, str]]:
    """Labels of the standard enum fields: gender and status (fixed choices) and the configurable
    source, customer type and lifecycle stage (their enum groups), as {field: {code: label}}."""
    from .cleaning import STANDARD_ENUMS

    out: dict[str, dict[str, str]] = {
        "gender": {k: str(v) for k, v in CustomerGender.choices if k},
        "status": {k: str(v) for k, v in CustomerStatus.choices},
    }
    by_group = {code: field for field, code in STANDARD_ENUMS.items()}
    for field in STANDARD_ENUMS:
        out[field] = {}
    for group_code, code, label in (EnumItem.objects.filter(group__code__in=by_group)
                                    .values_list("group__code", "code", "label")):
        out[by_group[group_code]][code] = label
    return out


def custom_enum_labels(definitions) -> dict[int, dict[str, str]]:
    """{enum group id: {code: label}} for the enum groups of ``definitions``."""
    group_ids = {d.enum_group_id for d in definitions if d.enum_group_id}
    labels: dict[int, dict[str, str]] = {}
    for group_id, code, label in EnumItem.objects.filter(group_id__in=group_ids).values_list("group_id", "code",
                                                                                            "label"):
        labels.setdefault(group_id, {})[code] = label
    return labels


def standard_value(name: str, value, labels: dict[str, dict[str, str]] | None = None):
    """A standard field's value as shown (None for empty)."""
    if value in (None, ""):
        return None
    if name in DATETIME_FIELDS:
        return format_datetime(value)
    if name in DATE_FIELDS:
        return format_date(value)
    if labels is not None and name in labels:
        return labels[name].get(value, value)
    return value


def custom_value(definition: CustomField | None, value, enum_labels: dict | None = None):
    """A stored custom value as shown: enum codes → labels, booleans → Yes/No, datetimes local,
    money with two decimals and decimals grouped (None for empty)."""
    from django.utils.translation import gettext as _

    if value is None or value == "" or value == []:
        return None
    if definition is not None:
        kind = definition.type
        labels = (enum_labels or {}).get(definition.enum_group_id, {})
        if kind == FieldType.BOOLEAN:
            return _("Yes") if value else _("No")
        if kind == FieldType.ENUM:
            return labels.get(value, value)
        if kind == FieldType.MULTI_ENUM and isinstance(value, list):
            return ", ".join(str(labels.get(v, v)) for v in value)
        if kind == FieldType.DATETIME:
            return format_datetime(value)
        if kind == FieldType.MONEY:
            return format_number(value, 2)
        if kind == FieldType.DECIMAL:
            return format_number(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value
