"""Validation and conversion of customer values: standard fields and custom fields by type.

Every write path (API, pages, identify, import later) goes through :func:`clean_customer_data`,
so a wrong type is refused the same way everywhere: ``ShoalError`` 400 naming the field and the
expected type.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

from shoal.core.errors import ShoalError

from . import identity
from . import standard as S
from .models import CustomerGender, CustomerStatus, CustomField, EnumItem, FieldType

# Fields of the Customer table (and reserved names) that a custom field key may not take.
STANDARD_FIELDS = tuple(n for n in S.names() if n not in ("id", "in_recycle_bin"))
RESERVED_KEYS = set(STANDARD_FIELDS) | {"id", "pk", "attributes", "tags", "groups", "contacts", "timeline",
                                        "in_recycle_bin", "memberships", "customer", "q"}
# Standard fields whose values come from an enum group (configurable lists), when it has items.
STANDARD_ENUMS = S.ENUM_GROUPS
TEXT_LIMITS = {f.name: f.max_length for f in S.FIELDS if f.max_length and not f.identity}
KEY_RE = S.KEY_RE
# invited_by (pools, MGM): the inviting customer's id, stored as the column invited_by_id
INVITED_BY = "invited_by"
COLUMN_FIELDS = ("invited_by_id",)  # columns written from keys that are not standard fields
WRITABLE_FIELDS = frozenset(S.names(writable=True)) | {INVITED_BY}
_url_validator = URLValidator(schemes=["http", "https"])
_TRUE = {"1", "true", "yes", "y", "on", "是", "真"}
_FALSE = {"0", "false", "no", "n", "off", "否", "假"}


def _bad(field: str, expected: str, message: str | None = None) -> ShoalError:
    return ShoalError("invalid_value", message or gettext("%(field)s: expected a value of type %(expected)s") % {"field": field, "expected": expected},
                      {"field": field, "expected": expected})


def _is_empty(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, list) and not raw)


# -- scalar converters --------------------------------------------------------------------------
def to_text(raw, field: str, limit: int = 255, expected: str = "text") -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise _bad(field, expected)
    value = str(raw).strip()
    if len(value) > limit:
        raise ShoalError("invalid_value", gettext("%(field)s: at most %(limit)s characters") % {"field": field, "limit": limit},
                         {"field": field, "expected": expected, "max_length": limit})
    return value


def to_integer(raw, field: str) -> int:
    if isinstance(raw, bool):
        raise _bad(field, "integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float | Decimal):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise _bad(field, "integer")
        if raw != int(raw):
            raise _bad(field, "integer")
        return int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*[-+]?\d+\s*", raw):
        return int(raw)
    raise _bad(field, "integer")


def to_decimal(raw, field: str, *, places: int | None = None, expected: str = "decimal") -> float | int:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise _bad(field, expected)
    try:
        value = Decimal(str(raw).strip().replace(",", "")) if isinstance(raw, str) else Decimal(str(raw))
    except InvalidOperation:
        raise _bad(field, expected)
    if not value.is_finite() or abs(value) >= Decimal(10) ** 15:
        raise _bad(field, expected)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(value) if value == value.to_integral_value() else float(value)


def to_date(raw, field: str) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            parsed = parse_date(raw.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    raise _bad(field, "date", gettext("%(field)s: expected a date (YYYY-MM-DD)") % {"field": field})


def to_datetime(raw, field: str) -> datetime:
    value = None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, date):
        value = datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            value = parse_datetime(text)
            if value is None and parse_date(text) is not None:
                d = parse_date(text)
                value = datetime(d.year, d.month, d.day)
        except ValueError:
            value = None
    if value is None:
        raise _bad(field, "datetime", gettext("%(field)s: expected a date and time (ISO 8601)") % {"field": field})
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        value.astimezone(UTC)  # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-14:00 have no UTC time
    except (OverflowError, ValueError):
        raise _bad(field, "datetime", gettext("%(field)s: the date and time is out of range") % {"field": field})
    return value


def to_boolean(raw, field: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _bad(field, "boolean")


def to_url(raw, field: str) -> str:
    if not isinstance(raw, str):
        raise _bad(field, "url")
    value = raw.strip()
    try:
        _url_validator(value)
    except ValidationError:
        raise _bad(field, "url", gettext("%(field)s: expected an absolute http(s) URL") % {"field": field})
    if len(value) > 500:
        raise ShoalError("invalid_value", gettext("%(field)s: at most 500 characters") % {"field": field}, {"field": field, "expected": "url"})
    return value


def _enum_lookup(group_id: int | None, cache: dict) -> dict[str, str]:
    """Enabled items of a group as {code: code, label: code} (cached per call)."""
    if group_id is None:
        return {}
    if group_id not in cache:
        mapping = {}
        for code, label in EnumItem.objects.filter(group_id=group_id, enabled=True).values_list("code", "label"):
            mapping.setdefault(label, code)
        for code in EnumItem.objects.filter(group_id=group_id, enabled=True).values_list("code", flat=True):
            mapping[code] = code
        cache[group_id] = mapping
    return cache[group_id]


def to_enum(raw, field: str, group_id: int | None, cache: dict) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _bad(field, "enum", gettext("%(field)s: expected one of the enum's options") % {"field": field})
    mapping = _enum_lookup(group_id, cache)
    code = mapping.get(str(raw).strip())
    if code is None:
        raise ShoalError("invalid_value", gettext("%(field)s: not one of the enum's options") % {"field": field},
                         {"field": field, "expected": "enum", "choices": sorted(set(mapping.values()))})
    return code


def to_multi_enum(raw, field: str, group_id: int | None, cache: dict) -> list[str]:
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[,，;；]", raw) if p.strip()]
    if not isinstance(raw, list | tuple):
        raise _bad(field, "multi_enum", gettext("%(field)s: expected a list of enum options") % {"field": field})
    return list(dict.fromkeys(to_enum(item, field, group_id, cache) for item in raw))


def coerce_custom_value(definition: CustomField, raw, *, cache: dict | None = None):
    """The stored (JSON) form of ``raw`` for a custom field, None for empty; ShoalError if wrong type."""
    try:
        return _coerce(definition, raw, {} if cache is None else cache)
    except ShoalError as exc:
        exc.detail = {**exc.detail, "field": definition.key, "expected": definition.type}
        raise


def _coerce(definition: CustomField, raw, cache: dict):
    field, kind = definition.key, definition.type
    if _is_empty(raw):
        return None
    if kind == FieldType.TEXT:
        return to_text(raw, field, 255)
    if kind == FieldType.LONG_TEXT:
        return to_text(raw, field, 20000, expected="long_text")
    if kind == FieldType.INTEGER:
        return to_integer(raw, field)
    if kind == FieldType.DECIMAL:
        return to_decimal(raw, field)
    if kind == FieldType.MONEY:
        return to_decimal(raw, field, places=2, expected="money")
    if kind == FieldType.DATE:
        return to_date(raw, field).isoformat()
    if kind == FieldType.DATETIME:
        value = to_datetime(raw, field).astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == FieldType.BOOLEAN:
        return to_boolean(raw, field)
    if kind == FieldType.ENUM:
        return to_enum(raw, field, definition.enum_group_id, cache)
    if kind == FieldType.MULTI_ENUM:
        return to_multi_enum(raw, field, definition.enum_group_id, cache) or None
    if kind == FieldType.PHONE:
        return identity.normalise_phone(raw, field=field)
    if kind == FieldType.EMAIL:
        return identity.normalise_email(raw, field=field)
    if kind == FieldType.URL:
        return to_url(raw, field)
    raise ShoalError("invalid_field", gettext("%(field)s: unknown field type %(kind)s") % {"field": field, "kind": kind}, {"field": field})


# -- whole-record cleaning -------------------------------------------------------------------------
def enabled_definitions() -> dict[str, CustomField]:
    return {f.key: f for f in CustomField.objects.filter(enabled=True)}


def _standard_enum_groups() -> dict[str, int]:
    from .models import EnumGroup

    ids = dict(EnumGroup.objects.filter(code__in=STANDARD_ENUMS.values()).values_list("code", "id"))
    return {field: ids[code] for field, code in STANDARD_ENUMS.items() if code in ids}


_STANDARD_GROUPS = "standard_enum_groups"  # key of the standard enum groups in a ``cache`` dict


def _normalise_identity(field: str, raw, cache: dict):
    """``identity.NORMALISERS[field](raw)``, remembered in ``cache`` (a batch cleans each identity
    value twice: once to match, once with the whole item)."""
    if not isinstance(raw, str | int):
        return identity.NORMALISERS[field](raw, field=field)
    key = ("identity", field, type(raw), raw)
    hit = cache.get(key)
    if hit is None:
        try:
            hit = cache[key] = (identity.NORMALISERS[field](raw, field=field), None)
        except ShoalError as exc:
            hit = cache[key] = (None, exc)
    value, error = hit
    if error is not None:
        raise ShoalError(error.code, error.message, dict(error.detail), status=error.status)
    return value


def clean_standard(data: dict, *, cache: dict | None = None) -> dict:
    """Normalise the standard fields present in ``data``; unknown keys are refused.

    ``cache`` (optional) keeps enum options, the standard enum groups and which companies exist
    across calls, e.g. for the items of one batch; by default each call reads them afresh."""
    out: dict = {}
    cache = {} if cache is None else cache
    enum_groups = cache.get(_STANDARD_GROUPS)
    for field, raw in data.items():
        if field not in WRITABLE_FIELDS:
            raise ShoalError("unknown_field", gettext("Unknown customer field %(field)s") % {"field": field}, {"field": field})
        if field in ("mobile", "email", "ent_user_id"):
            out[field] = None if _is_empty(raw) else _normalise_identity(field, raw, cache)
            if field == "ent_user_id" and out[field] == "":
                out[field] = None
        elif field == "gender":
            value = "" if _is_empty(raw) else raw
            if value not in CustomerGender.values:
                raise ShoalError("invalid_value", gettext("gender: expected male, female or empty"),
                                 {"field": field, "expected": "enum", "choices": ["male", "female", ""]})
            out[field] = value
        elif field == "status":
            if raw not in CustomerStatus.values:
                raise ShoalError("invalid_value", gettext("status: expected one of %(choices)s") % {"choices": ", ".join(CustomerStatus.values)},
                                 {"field": field, "expected": "enum", "choices": list(CustomerStatus.values)})
            out[field] = raw
        elif field == "birthday":
            out[field] = None if _is_empty(raw) else to_date(raw, field)
        elif field == "registered_at":
            out[field] = None if _is_empty(raw) else to_datetime(raw, field)
        elif field == "avatar_url":
            out[field] = "" if _is_empty(raw) else to_url(raw, field)
        elif field == INVITED_BY:
            if _is_empty(raw):
                out["invited_by_id"] = None
            else:
                pk = to_integer(raw, field)
                exists = cache.get(("customer", pk))
                if exists is None:
                    from .models import Customer

                    exists = cache[("customer", pk)] = abs(pk) < 2**63 and Customer.objects.filter(pk=pk).exists()
                if not exists:
                    raise ShoalError("invalid_value", gettext("invited_by: no such customer"), {"field": field})
                out["invited_by_id"] = pk
        elif field == "company_id":
            from .models import Company

            if _is_empty(raw):
                out[field] = None
            else:
                pk = to_integer(raw, field)
                exists = cache.get(("company", pk))
                if exists is None:
                    exists = cache[("company", pk)] = Company.objects.filter(pk=pk).exists()
                if not exists:
                    raise ShoalError("invalid_value", gettext("company_id: no such company"), {"field": field})
                out[field] = pk
        else:
            value = "" if _is_empty(raw) else to_text(raw, field, TEXT_LIMITS.get(field, 255))
            if field == "telegram":
                value = value.lstrip("@")
            if field in STANDARD_ENUMS and value:
                if enum_groups is None:
                    enum_groups = cache[_STANDARD_GROUPS] = _standard_enum_groups()
                group_id = enum_groups.get(field)
                if group_id is not None and _enum_lookup(group_id, cache):
                    value = to_enum(value, field, group_id, cache)
            out[field] = value
    return out


def clean_attributes(raw: dict, *, existing: dict | None, creating: bool,
                     definitions: dict[str, CustomField] | None = None, cache: dict | None = None) -> dict:
    """The full new ``attributes`` dict: ``existing`` updated by ``raw`` (validated by type).

    Unknown or disabled keys are refused. On create, defaults fill missing fields and required
    fields must end up with a value; on update a required field cannot be emptied. ``cache``
    (optional) keeps enum options across calls.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ShoalError("invalid_value", gettext("attributes: expected an object"), {"field": "attributes",
                                                                             "expected": "object"})
    definitions = enabled_definitions() if definitions is None else definitions
    result = dict(existing or {})
    cache = {} if cache is None else cache
    for key, value in raw.items():
        definition = definitions.get(key)
        if definition is None:
            raise ShoalError("unknown_field", gettext("Unknown custom field %(key)s") % {"key": key}, {"field": key})
        cleaned = coerce_custom_value(definition, value, cache=cache)
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    if creating:
        for key, definition in definitions.items():
            if key not in result and definition.default is not None:
                result[key] = coerce_custom_value(definition, definition.default, cache=cache)
    for key, definition in definitions.items():
        if definition.required and result.get(key) is None and (creating or key in raw):
            raise ShoalError("required", gettext("%(key)s (%(label)s) is required") % {"key": key, "label": definition.label},
                             {"field": key, "expected": definition.type})
    return result


def clean_customer_data(data: dict, *, existing_attributes: dict | None = None, creating: bool,
                        definitions: dict[str, CustomField] | None = None, cache: dict | None = None) -> dict:
    """Standard fields normalised plus, when given (or creating), the full new ``attributes``.

    ``cache`` (optional): a dict kept across the calls of one batch (enum options, standard enum
    groups, existing companies), so they are read once per batch instead of once per item."""
    data = dict(data)
    attrs = data.pop("attributes", None)
    cleaned = clean_standard(data, cache=cache)
    if attrs is not None or creating:
        cleaned["attributes"] = clean_attributes(attrs or {}, existing=existing_attributes, creating=creating,
                                                 definitions=definitions, cache=cache)
    return cleaned


def validate_key(key: str) -> str:
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise ShoalError("invalid_key", gettext("Key must start with a letter and use a-z, 0-9 and _ (at most 63)"),
                         {"field": "key"})
    if key in RESERVED_KEYS:
        raise ShoalError("key_clash", gettext("%(key)s is a standard customer field") % {"key": key}, {"field": "key", "key": key})
    if key in lookup_names():
        raise ShoalError("key_clash", gettext("%(key)s is the name of a query operation; choose another key")
                         % {"key": key}, {"field": "key", "key": key})
    return key


def lookup_names() -> set[str]:
    """Every lookup and transform name Django knows for the field types a query may reach
    (``gt``, ``isnull``, ``exact``, ``in``, ``contains``, ``regex``, ``year``, ``has_key``…): a key
    named like one reads as that operation in ``attributes__<key>``."""
    from django.db import models
    from django.db.models.fields.json import KeyTextTransform, KeyTransform

    classes = (models.Field, models.CharField, models.TextField, models.IntegerField, models.FloatField,
               models.DecimalField, models.BooleanField, models.DateField, models.DateTimeField,
               models.TimeField, models.DurationField, models.UUIDField, models.JSONField, models.ForeignKey,
               KeyTransform, KeyTextTransform)
    return {name for cls in classes for name in cls.get_lookups()}
