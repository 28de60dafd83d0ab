"""The shape of event types and of the events sent for them.

- :func:`clean_fields` checks an event type's field list (key, type, label, required, remarks);
- :func:`check_data` checks an event's ``data`` against its type's fields (missing required field, wrong
  type) and raises :class:`~shoal.events.reasons.Refusal`;
- :func:`parse_timestamp` reads an ISO 8601 date and time (a time without a zone is in the server's zone).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.errors import ShoalError

from .models import EventFieldType as FieldType
from .reasons import Refusal

CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
FIELD_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
MAX_FIELDS = 100
FIELD_TYPES = {t.value for t in FieldType}
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_code(code) -> str:
    if not isinstance(code, str) or not CODE_RE.match(code.strip()):
        raise ShoalError("invalid", gettext("The code must start with a letter and use letters, digits, '_', '.' or "
                                            "'-' (at most 64 characters)"), {"field": "code"})
    return code.strip()


def clean_fields(fields) -> list[dict]:
    """The type's fields as stored: ``[{"key", "type", "label", "required", "remarks"}]``."""
    if fields is None:
        return []
    if not isinstance(fields, list):
        raise ShoalError("invalid", gettext("fields must be a list"), {"field": "fields"})
    if len(fields) > MAX_FIELDS:
        raise ShoalError("invalid", gettext("An event type has at most %(limit)s fields") % {"limit": MAX_FIELDS},
                         {"field": "fields"})
    cleaned, seen = [], set()
    for index, item in enumerate(fields):
        where = {"field": "fields", "index": index}
        if not isinstance(item, dict):
            raise ShoalError("invalid", gettext("Field %(n)s must be an object") % {"n": index + 1}, where)
        key = item.get("key")
        if not isinstance(key, str) or not FIELD_KEY_RE.match(key.strip()):
            raise ShoalError("invalid", gettext("Field %(n)s: the key must start with a letter or '_' and use letters, "
                                                "digits or '_' (at most 32 characters)") % {"n": index + 1}, where)
        key = key.strip()
        if key in seen:
            raise ShoalError("invalid", gettext("The field key %(key)s appears twice") % {"key": key}, where)
        seen.add(key)
        kind = item.get("type", FieldType.TEXT)
        if kind not in FIELD_TYPES:
            raise ShoalError("invalid", gettext("Field %(key)s: unknown type %(type)s") % {"key": key, "type": str(kind)[:20]},
                             {**where, "allowed": sorted(FIELD_TYPES)})
        label = item.get("label", "") or ""
        remarks = item.get("remarks", "") or ""
        required = item.get("required", False)
        if not isinstance(label, str) or len(label) > 100 or not isinstance(remarks, str) or len(remarks) > 255 \
                or not isinstance(required, bool):
            raise ShoalError("invalid", gettext("Field %(key)s: the label (at most 100 characters), remarks (at most "
                                                "255) or required (true/false) are not valid") % {"key": key}, where)
        cleaned.append({"key": key, "type": kind, "label": label.strip(), "required": required,
                        "remarks": remarks.strip()})
    return cleaned


def _is_date(value) -> bool:
    if not isinstance(value, str) or not ISO_DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value) -> bool:
    return isinstance(value, str) and parse_iso(value) is not None


CHECKS = {
    FieldType.TEXT: lambda v: isinstance(v, str),
    FieldType.NUMBER: lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    FieldType.BOOLEAN: lambda v: isinstance(v, bool),
    FieldType.DATE: _is_date,
    FieldType.DATETIME: _is_datetime,
    FieldType.OBJECT: lambda v: isinstance(v, dict),
    FieldType.LIST: lambda v: isinstance(v, list),
}


def check_data(fields: list[dict], data: dict) -> None:
    """Refuse ``data`` (an object) when a required field is missing (absent, null or "") or a field has
    the wrong type. Keys the type does not define are kept as they are."""
    for spec in fields:
        key = spec["key"]
        value = data.get(key)
        if value is None or value == "":
            if spec.get("required"):
                raise Refusal("missing_field", field=key)
            continue
        if not CHECKS[spec["type"]](value):
            raise Refusal("wrong_type", field=key, expected=spec["type"])


def parse_iso(text: str) -> datetime | None:
    """An aware datetime from ISO 8601 text (``Z`` or an offset; none: the server's time zone), else None."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        return None
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if len(raw) == 10:  # a date alone is not a time
        return None
    if timezone.is_naive(value):
        try:
            value = timezone.make_aware(value)
        except (ValueError, OverflowError):
            return None
    if not 1970 <= value.year <= 9998:
        return None
    return value


def parse_timestamp(value) -> datetime | None:
    """The event's time: None when not given; Refusal("bad_timestamp") when not ISO 8601."""
    if value is None or value == "":
        return None
    parsed = parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise Refusal("bad_timestamp", value=str(value)[:40])
    return parsed
