"""The cells of a customer export: values read as on the pages, masked as on the customer list, text that a
spreadsheet would run as a formula neutralised; and the generated function that makes a chunk's rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from shoal.customers import masking
from shoal.customers.models import CustomField, FieldType

from .export_fields import ExportField

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CHARS = frozenset(FORMULA_STARTS)
SEPARATOR = ", "  # between the tags, groups, salespeople and multiple-choice labels of one cell


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) with a ``'`` before it."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


class LocalTimes:
    """Stored times as local ``YYYY-MM-DD HH:MM:SS``. The database gives them as UTC text (``CAST(… AS
    text)``: ``2026-11-28 01:58:17.123456`` on SQLite, ``…17.123+00`` on PostgreSQL); within an hour whose
    offset is whole hours and does not change, the local text is the local hour plus the minutes and seconds
    as they are, so each hour is converted once (a million times cost seconds otherwise)."""

    CACHE = 100_000

    def __init__(self, tz):
        self.tz = tz
        self.hours: dict[str, str | None] = {}

    def _hour(self, key: str) -> str | None:
        try:
            start = datetime.fromisoformat(key + ":00:00").replace(tzinfo=UTC).astimezone(self.tz)
            end = datetime.fromisoformat(key + ":59:59").replace(tzinfo=UTC).astimezone(self.tz)
        except (ValueError, OverflowError):
            return None
        offset = start.utcoffset()
        if offset != end.utcoffset() or offset.total_seconds() % 3600 or len(key) != 13 or key[10] != " ":
            return None
        if len(self.hours) >= self.CACHE:
            self.hours.clear()
        return start.strftime("%Y-%m-%d %H")

    def __call__(self, value) -> str | None:
        if value is None or value == "":
            return None
        if type(value) is str:
            key = value[:13]
            hour = self.hours.get(key, "")
            if hour == "":
                hour = self.hours[key] = self._hour(key)
            if hour is not None and value[13:14] == ":" and value[16:17] == ":" and value[17:19].isdigit():
                return hour + value[13:19]
            return self.parse(value)
        if isinstance(value, datetime):
            return self.format(value)
        return neutralise(str(value))

    def parse(self, value: str) -> str | None:
        text = value.strip()
        if text.endswith(("+00", "-00")):  # PostgreSQL's UTC suffix
            text += ":00"
        try:
            return self.format(datetime.fromisoformat(text))
        except ValueError:
            return neutralise(value)

    def format(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # the database keeps UTC
        try:
            value = value.astimezone(self.tz)
        except OverflowError:  # the first or last hours a datetime holds: shown in UTC
            pass
        return value.strftime("%Y-%m-%d %H:%M:%S")


def _stored_time(value, times: LocalTimes) -> str | None:
    """A custom datetime value (ISO text ``2026-01-02T03:04:05Z`` as the cleaning stores it) as local text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return times.parse(value)
    return neutralise(str(value))


CENTS = Decimal("0.01")
_INF = float("inf")


def _number(value):
    """A number cell (int, float or Decimal) or, for what is not a number, its (neutralised) text."""
    if value is None or value == "":
        return None
    if type(value) is int or type(value) is float:
        return value if value == value and value not in (_INF, -_INF) else neutralise(str(value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int | Decimal | str):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return neutralise(str(value))
        if not number.is_finite():
            return neutralise(str(value))
        return int(number) if number == number.to_integral_value() and abs(number) < 2**53 else number
    return neutralise(str(value))


def _money(value):
    """Money with two decimals (a Decimal), or what :func:`_number` gives for what is not a number."""
    if type(value) is float and value == value and abs(value) < 1e15:
        return Decimal(value).quantize(CENTS)
    number = _number(value)
    if isinstance(number, int | float | Decimal) and not isinstance(number, bool):
        return Decimal(number).quantize(CENTS)
    return number


_DECODE = json.JSONDecoder().raw_decode


def _money_text(value):
    """Money as CSV text with two decimals (``1234.50``), or what :func:`_number` gives for what is not a number."""
    if (type(value) is float or type(value) is int) and value == value and abs(value) < 1e15:
        return f"{value:.2f}"
    number = _money(value)
    return f"{number:.2f}" if isinstance(number, Decimal) else number


def _attributes(value) -> dict:
    """The attributes column as the database returned it (JSON text, or already decoded) as a dict."""
    if type(value) is str:
        try:
            value = _DECODE(value)[0]  # Django wrote it: an object from the first character
        except ValueError:
            try:
                value = json.loads(value)
            except ValueError:
                return {}
    elif isinstance(value, bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def text_cell(value) -> str | None:
    """Neutralised text, None for empty."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return neutralise(SEPARATOR.join(str(v) for v in value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if type(value) is not str:
        value = str(value)
    return "'" + value if value[0] in FORMULA_CHARS else value


def _date(value) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else text_cell(value)


class RowMaker:
    """Turns a chunk of database rows into rows of cells (None, a number, or neutralised text) with one generated
    function: a list comprehension with one expression per field. A function per cell costs more than all the
    rest of the work at a million rows. Only generated names and integer positions are written into the code;
    every value it uses (labels, helpers) is in its namespace."""

    def __init__(self, fields: list[ExportField], *, index: dict[str, int], mask: bool, sensitive: dict[str, str],
                 labels: dict, custom_labels: dict, times: LocalTimes, region: str, fmt: str = "csv"):
        self.env: dict[str, Any] = {}
        self.fmt = fmt
        self.mask, self.sensitive, self.labels, self.custom_labels = mask, sensitive, labels, custom_labels
        self.times, self.region, self.index = times, region, index
        expressions = [self._expression(f) for f in fields]
        body = "[" + ", ".join(expressions) + "]"
        if "attributes" in index:
            body += f" for row in rows for a in ({self._name(_attributes)}(row[{index['attributes']}]),)"
        else:
            body += " for row in rows"
        source = f"def make(rows, tags, groups, salespeople):\n    return [{body}]\n"
        namespace = dict(self.env)
        exec(compile(source, "<export rows>", "exec"), namespace)  # noqa: S102  (generated from positions only)
        self.make = namespace["make"]

    def _name(self, value) -> str:
        name = f"v{len(self.env)}"
        self.env[name] = value
        return name

    def _expression(self, field: ExportField) -> str:
        kind = field.kind
        if kind in ("tags", "groups", "salespeople"):
            return f"{kind}.get(row[0])"
        if kind == "custom":
            return f"{self._name(self._custom(field.definition))}(a)"
        i = self.index[field.column]
        cell = f"row[{i}]"
        if kind == "number":
            return cell
        if kind == "datetime":
            return f"{self._name(self.times)}({cell})"
        if kind == "date":
            return f"{self._name(_date)}({cell})"
        if kind == "flag":
            return f"({self._name(_('Yes'))} if {cell} else {self._name(_('No'))})"
        formula = self._name(FORMULA_CHARS)
        if kind == "enum":
            names = {code: neutralise(str(label)) for code, label in self.labels.get(field.column, {}).items()}
            return f"({self._name(names)}.get({cell}) or ({self._name(text_cell)}({cell}) if {cell} else None))"
        if kind in ("mobile", "phone", "email") and (kind == "mobile" or self.mask):
            if kind == "email":
                shown = f"{self._name(masking.mask_email)}({cell})"
            else:
                show = masking.mask_phone if self.mask else masking.domestic_phone
                shown = f"{self._name(show)}({cell}, {self._name(self.region)})"
            w = f"w{len(self.env)}"  # the shown value, bound once (a walrus in the comprehension)
            return (f"((\"'\" + {w} if {w}[0] in {formula} else {w}) if {cell} and ({w} := {shown}) else None)")
        # a text column: str or NULL from the database; neutralised inline (the commonest cell)
        return f"((\"'\" + {cell} if {cell}[0] in {formula} else {cell}) if {cell} else None)"

    def _custom(self, definition: CustomField) -> Callable[[dict], Any]:
        """``attributes → cell`` for a custom field."""
        key, kind, region = definition.key, definition.type, self.region
        if kind in (FieldType.PHONE, FieldType.EMAIL):
            masked = self.mask and key in self.sensitive
            if kind == FieldType.PHONE:
                def one(v):
                    return masking.mask_phone(v, region) if masked else masking.domestic_phone(v, region)
            else:
                def one(v):
                    return masking.mask_email(v) if masked else str(v)

            def contact(attrs):
                value = attrs.get(key)
                if value is None or value == "" or value == []:
                    return None
                if isinstance(value, list):
                    return text_cell(SEPARATOR.join(str(one(v)) for v in value if v))
                return text_cell(one(value))

            return contact
        if kind in (FieldType.INTEGER, FieldType.DECIMAL):
            return lambda attrs: _number(attrs.get(key))
        if kind == FieldType.MONEY:
            if self.fmt == "csv":  # the text of the number with two decimals; xlsx: a number cell
                return lambda attrs: _money_text(attrs.get(key))
            return lambda attrs: _money(attrs.get(key))
        if kind == FieldType.DATETIME:
            times = self.times
            return lambda attrs: _stored_time(attrs.get(key), times)
        if kind == FieldType.BOOLEAN:
            yes, no = _("Yes"), _("No")

            def boolean(attrs):
                value = attrs.get(key)
                if value is None or value == "":
                    return None
                return yes if value else no

            return boolean
        if kind in (FieldType.ENUM, FieldType.MULTI_ENUM):
            names = {code: str(label) for code, label in self.custom_labels.get(definition.enum_group_id, {}).items()}

            def choice(attrs):
                value = attrs.get(key)
                if value is None or value == "" or value == []:
                    return None
                if isinstance(value, list):
                    return text_cell(SEPARATOR.join(str(names.get(v, v)) for v in value))
                return text_cell(names.get(value, value) if isinstance(value, str | int) else value)

            return choice
        return lambda attrs: text_cell(attrs.get(key))

