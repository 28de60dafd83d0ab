"""Customer export (导出): the customers of a query, a selection or the whole data scope, as CSV or .xlsx.

One code path for the API (``GET /api/v1/exports``), the pages (customer list action, advanced query) and
the CLI (``shoal export``): :func:`export_customers` checks everything first (permission, fields, format,
query) and raises ``ShoalError`` (4xx) before a byte is written; the returned :class:`CustomerExport` then
produces the file.

- **Customers**: always ``customer_queryset(actor=...)`` (the data scope), narrowed by a condition tree /
  custom SQL / keyword as the advanced query accepts them (``segments.selectors.segment_queryset``: the same
  checks, masked fields usable only exactly), by ids, or by a queryset a page already built from it.
- **Fields**: standard fields, custom fields (values in ``Customer.attributes``), tags (names of the tags
  the actor sees: global ones and their own personal tags), quality score, groups and salespeople.
  :func:`export_fields` lists them with their labels in the active language (the header row).
- **Values** read as on the pages: enum labels, local times ``YYYY-MM-DD HH:MM:SS``, dates ``YYYY-MM-DD``,
  Yes/No; numbers stay numbers (xlsx number cells). Mobiles of the default region without ``+86``.
- **Masking** as on the customer list (``masking.should_mask(context="list")``: with masking on, lists and
  exports always mask; the detail page is the only place that reveals).
- **Formulas**: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``; xlsx
  cells are written with ``write_string`` / ``write_number``, never as formulas.
- **Memory stays flat**: customers are read by keyset on the primary key in chunks of :data:`CHUNK` (only
  the columns needed, ``values_list``), their tags and memberships with one query per chunk, and each chunk
  is written out before the next is read. CSV streams as it is produced; xlsx is built with XlsxWriter's
  ``constant_memory`` mode into a temporary file.
- Each export is recorded in the operation log (``customer.export``: rows, fields, format).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shoal.accounts.models import User
from shoal.core import parameters
from shoal.core.actors import is_system
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.customers import display, masking, standard
from shoal.customers.identity import default_region
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, CustomField, FieldType
from shoal.customers.selectors import customer_queryset

EXPORT_PERMISSION = "customers.customers.export"
CHUNK = 5000
FORMATS = ("csv", "xlsx")
ENCODINGS = ("utf-8", "gb18030")
ENCODING_ALIASES = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "gb18030": "gb18030", "gbk": "gb18030",
                    "gb2312": "gb18030"}
MAX_FIELDS = 300
XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet, the header included; more go on to the next sheet
XLSX_MAX_TEXT = 32_767
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CHARS = frozenset(FORMULA_STARTS)
CUSTOM_PREFIX = "cf:"  # a custom field may always be named cf:<key> (needed when its key is taken)
CONTENT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SEPARATOR = ", "  # between the tags, groups, salespeople and multiple-choice labels of one cell

GROUP_LABELS = {
    "standard": gettext_lazy("Standard fields"),
    "custom": gettext_lazy("Custom fields"),
    "tags": gettext_lazy("Tags and quality score"),
    "ownership": gettext_lazy("Groups and salespeople"),
}


# -- the fields ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportField:
    key: str  # as the caller names it
    label: str  # the header, in the active language
    group: str  # standard | custom | tags | ownership
    kind: str  # how the value is read and shown (see _cell_function)
    column: str | None = None  # the values_list column (None: from attributes, tags or memberships)
    definition: CustomField | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "group": self.group, "group_label": str(GROUP_LABELS[self.group])}


STANDARD_KINDS = {"id": "number", "mobile": "mobile", "phone": "phone", "email": "email", "gender": "enum",
                  "status": "enum", "source": "enum", "customer_type": "enum", "lifecycle_stage": "enum",
                  "birthday": "date", "created_at": "datetime", "updated_at": "datetime",
                  "registered_at": "datetime", "company": "text", "in_recycle_bin": "flag"}
EXTRA_FIELDS = ("tags", "quality_score", "groups", "salespeople")


def _standard_label(name: str) -> str:
    if name == "id":
        return _("ID")
    if name == "company":
        return _("company")
    return str(Customer._meta.get_field(name).verbose_name)


def export_fields(*, definitions: list[CustomField] | None = None) -> list[ExportField]:
    """Every exportable field, in order: standard, tags and score, groups and salespeople, custom fields."""
    fields = []
    for spec in standard.FIELDS:
        if spec.name == "company_id":
            continue
        column = "company__name" if spec.name == "company" else spec.name
        fields.append(ExportField(spec.name, _standard_label(spec.name), "standard",
                                  STANDARD_KINDS.get(spec.name, "text"), column))
    fields.append(ExportField("tags", _("Tags"), "tags", "tags"))
    fields.append(ExportField("quality_score", _("Quality score"), "tags", "number", "quality_score"))
    fields.append(ExportField("groups", _("Customer groups"), "ownership", "groups"))
    fields.append(ExportField("salespeople", _("Salespeople"), "ownership", "salespeople"))
    taken = {f.key for f in fields}
    if definitions is None:
        definitions = list(CustomField.objects.filter(enabled=True).order_by("order", "id"))
    for definition in definitions:
        key = definition.key if definition.key not in taken else CUSTOM_PREFIX + definition.key
        fields.append(ExportField(key, definition.label, "custom", "custom", None, definition))
    return fields


def resolve_fields(keys: list[str] | None, *, actor=None) -> list[ExportField]:
    """The fields named by ``keys`` (in that order, repeats dropped); None or empty: the actor's list columns.
    Unknown keys: ShoalError ``invalid_fields`` naming them."""
    catalog = export_fields()
    by_key = {f.key: f for f in catalog}
    by_key.update({CUSTOM_PREFIX + f.definition.key: f for f in catalog if f.definition is not None})
    if not keys:
        keys = default_field_keys(actor=actor, catalog=catalog)
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
        raise ShoalError("invalid_fields", _("Give the fields as a list of field keys"), {"field": "fields"})
    keys = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ShoalError("invalid_fields", _("Unknown fields: %(keys)s") % {"keys": ", ".join(unknown[:20])},
                         {"field": "fields", "unknown": unknown[:100]})
    if len(keys) > MAX_FIELDS:
        raise ShoalError("invalid_fields", _("At most %(n)d fields may be exported") % {"n": MAX_FIELDS},
                         {"field": "fields"})
    chosen = list(dict.fromkeys(by_key[k] for k in keys))
    if not chosen:
        raise ShoalError("invalid_fields", _("Choose at least one field"), {"field": "fields"})
    return chosen


def default_field_keys(*, actor=None, catalog: list[ExportField] | None = None) -> list[str]:
    """The columns the actor's customer list shows (their choice, else the defaults), as export keys."""
    from shoal.customers import columns

    catalog = export_fields() if catalog is None else catalog
    known = {f.key for f in catalog}
    custom = {f.definition.key: f.key for f in catalog if f.definition is not None}
    codes = columns.user_columns(actor) if isinstance(actor, User) else columns.default_columns(
        [c["code"] for c in columns.available()])
    keys = []
    for code in codes:
        if code.startswith(columns.CUSTOM_PREFIX):
            code = custom.get(code[len(columns.CUSTOM_PREFIX):], "")
        if code in known:
            keys.append(code)
    return keys or ["id", "name", "mobile", "email"]


def split_keys(value: str | list | None) -> list[str]:
    """``"name, mobile,cf:plan"`` → ``["name", "mobile", "cf:plan"]``."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


# -- cells ---------------------------------------------------------------------------------------------
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
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")


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


def _attributes(value) -> dict:
    """The attributes column as the database returned it (JSON text, or already decoded) as a dict."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
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
    return value.isoformat() if isinstance(value, date) else _text(value)


class RowMaker:
    """Turns a chunk of database rows into rows of cells (None, a number, or neutralised text) with one generated
    function: a list comprehension with one expression per field. A function per cell costs more than all the
    rest of the work at a million rows. Only generated names and integer positions are written into the code;
    every value it uses (labels, helpers) is in its namespace."""

    def __init__(self, fields: list[ExportField], *, index: dict[str, int], mask: bool, sensitive: dict[str, str],
                 labels: dict, custom_labels: dict, times: LocalTimes, region: str):
        self.env: dict[str, Any] = {}
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
        if kind == "enum":
            names = {code: neutralise(str(label)) for code, label in self.labels.get(field.column, {}).items()}
            return f"({self._name(names)}.get({cell}) or {self._name(_text)}({cell}))"
        if kind == "mobile" or (kind == "phone" and self.mask):
            show = self._name(masking.mask_phone if self.mask else masking.domestic_phone)
            return f"({self._name(_text)}({show}({cell}, {self._name(self.region)})) if {cell} else None)"
        if kind == "email" and self.mask:
            return f"({self._name(_text)}({self._name(masking.mask_email)}({cell})) if {cell} else None)"
        # a text column: str or NULL from the database; neutralised inline (the commonest cell)
        return f"((\"'\" + {cell} if {cell}[0] in {self._name(FORMULA_CHARS)} else {cell}) if {cell} else None)"

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
                    return _text(SEPARATOR.join(str(one(v)) for v in value if v))
                return _text(one(value))

            return contact
        if kind in (FieldType.INTEGER, FieldType.DECIMAL):
            return lambda attrs: _number(attrs.get(key))
        if kind == FieldType.MONEY:
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
                    return _text(SEPARATOR.join(str(names.get(v, v)) for v in value))
                return _text(names.get(value, value) if isinstance(value, str | int) else value)

            return choice
        return lambda attrs: _text(attrs.get(key))


# -- the export ----------------------------------------------------------------------------------------
class CustomerExport:
    """A checked export, ready to produce its file: :meth:`stream` (bytes, for a response) or :meth:`write`
    (into a binary file). ``rows`` counts the customers written so far."""

    def __init__(self, *, actor, fields: list[ExportField], fmt: str, encoding: str, queryset: QuerySet,
                 ids: list[int] | None, guard: bool, source: str, selection: str,
                 progress: Callable[[int, int | None], None] | None = None):
        self.actor, self.fields, self.fmt, self.encoding = actor, fields, fmt, encoding
        self.queryset, self.ids, self.guard, self.source, self.selection = queryset, ids, guard, source, selection
        self.progress = progress
        self.rows = 0
        self.total: int | None = None
        self.seconds = 0.0
        self.complete = False
        self._logged = False
        self.language = translation.get_language()  # the header and labels: the caller's language
        self.tz = timezone.get_current_timezone()
        now = timezone.localtime()
        self.filename = f"customers-{now:%Y%m%d-%H%M}.{fmt}"
        charset = "utf-8" if encoding == "utf-8" else "gb18030"
        self.content_type = f"{CONTENT_TYPES['csv']}; charset={charset}" if fmt == "csv" else CONTENT_TYPES["xlsx"]

    def prepare(self) -> None:
        """Run the query once before anything is written (a query the database refuses is a 400 now, not a
        broken file later); counts the customers (for the progress, and to choose how to read them)."""
        with self._guarded():
            if self.ids is None:
                self.total = self.queryset.order_by().count()
            else:
                list(self.queryset.order_by().filter(pk__in=self.ids[:CHUNK]).values_list("pk")[:1])

    # the header and the rows
    def header(self) -> list[str]:
        return [f.label for f in self.fields]

    def _columns(self) -> tuple[list[str], list]:
        """The columns to read (names) and what ``values_list`` reads for each: times as their UTC text."""
        names = ["id"]
        specs: list = ["id"]
        for f in self.fields:
            if f.column and f.column not in names:
                names.append(f.column)
                specs.append(Cast(f.column, TextField()) if f.kind == "datetime" else f.column)
        if any(f.kind == "custom" for f in self.fields):
            names.append("attributes")
            specs.append("attributes")
        return names, specs

    def _guarded(self):
        from contextlib import nullcontext

        if not self.guard:
            return nullcontext()
        from shoal.segments.sql import guarded

        return guarded()

    def _fetch(self, columns: list) -> Iterator[list[tuple]]:
        """The customers' rows in chunks, by keyset on the primary key (ids: those ids, in chunks), as the
        database returns them (Django's per-value converters skipped: the cells read the raw values)."""
        from shoal.customers.jsonkeys import plain_key_paths

        qs = self.queryset.order_by()
        if self.ids is not None:
            ids = sorted(set(self.ids))
            for start in range(0, len(ids), CHUNK):
                rows = self._raw(qs.filter(pk__in=ids[start:start + CHUNK]).order_by("pk").values_list(*columns))
                if rows:
                    yield rows
            return
        # SQLite has no statistics for the JSON expression indexes: over many matches, walking the primary key
        # beats fetching every match through such an index and sorting them, once per chunk
        many = connection.vendor == "sqlite" and (self.total is None or self.total > CHUNK)
        last = None
        while True:
            chunk_qs = (qs if last is None else qs.filter(pk__gt=last)).order_by("pk").values_list(*columns)[:CHUNK]
            if many:
                with plain_key_paths():
                    rows = self._raw(chunk_qs)
            else:
                rows = self._raw(chunk_qs)
            if not rows:
                return
            yield rows
            if len(rows) < CHUNK:
                return
            last = rows[-1][0]

    def _raw(self, qs: QuerySet) -> list[tuple]:
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. ids IN () or a scope that is empty by construction
            return []
        with self._guarded(), connections[qs.db].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _extras(self, rows: list[tuple], context: dict) -> tuple[dict, dict, dict]:
        """Tags, groups and salespeople (cell text) of a chunk's customers by id: one query each (a range of
        ids, or the ids)."""
        from shoal.tags.models import Tagging

        ids = [r[0] for r in rows]
        tags: dict[int, str] = {}
        groups: dict[int, str] = {}
        salespeople: dict[int, str] = {}
        lo, hi = ids[0], ids[-1]
        dense = hi - lo < 4 * len(ids)
        wanted = set(ids)

        def of(model, *cols):
            qs = model.objects.filter(customer_id__gte=lo, customer_id__lte=hi) if dense else model.objects.filter(
                customer_id__in=ids)
            return qs.order_by().values_list("customer_id", *cols)

        if context["tags"] is not None:
            visible = context["tags"]
            found: dict[int, list] = {}
            for customer_id, tag_id in of(Tagging, "tag_id"):
                tag = visible.get(tag_id)
                if tag is not None and customer_id in wanted:
                    found.setdefault(customer_id, []).append(tag)
            tags = {pk: _text(SEPARATOR.join(t[1] for t in sorted(found_tags))) for pk, found_tags in found.items()}
        if context["groups"] is not None:
            group_names, users = context["groups"], context["users"]
            in_groups: dict[int, list] = {}
            selling: dict[int, list] = {}
            for customer_id, group_id, salesperson_id in of(CustomerGroupMembership, "group_id", "salesperson_id"):
                if customer_id not in wanted:
                    continue
                in_groups.setdefault(customer_id, []).append(group_names.get(group_id, ""))
                if salesperson_id is not None:
                    selling.setdefault(customer_id, []).append(users.get(salesperson_id, ""))
            groups = {pk: _text(SEPARATOR.join(sorted(names))) for pk, names in in_groups.items()}
            salespeople = {pk: _text(SEPARATOR.join(sorted(dict.fromkeys(names)))) for pk, names in selling.items()}
        return tags, groups, salespeople

    def _context(self) -> dict:
        from shoal.tags.models import ObjectType
        from shoal.tags.selectors import visible_tags

        kinds = {f.kind for f in self.fields}
        context: dict[str, Any] = {"tags": None, "groups": None, "users": None}
        if "tags" in kinds:
            rows = (visible_tags(actor=self.actor).filter(category__object_type=ObjectType.CUSTOMER)
                    .values_list("pk", "name", "category__order"))
            # sorted as on the pages: category order, then name, then id
            context["tags"] = {pk: ((order, name, pk), name) for pk, name, order in rows}
        if kinds & {"groups", "salespeople"}:
            context["groups"] = dict(CustomerGroup.objects.values_list("pk", "name"))
            context["users"] = {pk: name or username for pk, name, username in
                                User.objects.values_list("pk", "name", "username")}
        return context

    def batches(self) -> Iterator[list[list]]:
        """The rows (lists of cells: None, str or a number) chunk by chunk; counts ``rows`` and logs the export
        when the last one has been produced (or when the consumer stops early)."""
        started = time.monotonic()
        try:
            with parameters.cached(), translation.override(self.language):
                mask = masking.should_mask(viewer=self.actor, customer=None, context="list")
                sensitive = masking.sensitive_custom_fields() if mask else {}
                labels = display.standard_enum_labels()
                definitions = [f.definition for f in self.fields if f.definition is not None]
                custom_labels = display.custom_enum_labels(definitions)
                context = self._context()
                names, specs = self._columns()
                maker = RowMaker(self.fields, index={c: i for i, c in enumerate(names)}, mask=mask,
                                 sensitive=sensitive, labels=labels, custom_labels=custom_labels,
                                 times=LocalTimes(self.tz), region=default_region())
            need_extras = context["tags"] is not None or context["groups"] is not None
            none: dict = {}
            for rows in self._fetch(specs):
                with parameters.cached():
                    tags, groups, salespeople = self._extras(rows, context) if need_extras else (none, none, none)
                    out = maker.make(rows, tags, groups, salespeople)
                self.rows += len(out)
                yield out
                if self.progress is not None:
                    self.progress(self.rows, self.total)
            self.complete = True
        finally:
            self.seconds = time.monotonic() - started
            self._log()

    def _log(self) -> None:
        if self._logged:
            return
        self._logged = True
        log_operation(actor=self.actor, action="customer.export", object_type="customer", detail={
            "rows": self.rows, "fields": [f.key for f in self.fields], "format": self.fmt,
            "encoding": self.encoding if self.fmt == "csv" else "", "selection": self.selection,
            "source": self.source, "complete": self.complete, "seconds": round(self.seconds, 3)})

    # CSV
    def csv_chunks(self) -> Iterator[bytes]:
        """The CSV file in pieces (one per chunk of customers), encoded; UTF-8 starts with a BOM."""
        codec = "utf-8" if self.encoding == "utf-8" else "gb18030"
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if codec == "utf-8":
            buffer.write("\ufeff")
        writer.writerow([neutralise(h) for h in self.header()])
        yield buffer.getvalue().encode(codec, errors="replace")
        for rows in self.batches():
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(rows)  # cells are None (written empty), numbers or neutralised text
            yield buffer.getvalue().encode(codec, errors="replace")

    # xlsx
    def write_xlsx(self, out: BinaryIO | str) -> None:
        """The .xlsx file into ``out`` (a path or a binary file open for writing and seeking)."""
        import xlsxwriter

        workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "tmpdir": _tmpdir(),
                                             "strings_to_numbers": False, "strings_to_formulas": False,
                                             "strings_to_urls": False})
        try:
            bold = workbook.add_format({"bold": True})
            decimal_format = workbook.add_format({"num_format": "0.00"})
            header = [neutralise(h) for h in self.header()]
            with translation.override(self.language):
                sheet_name = _("Customers")
            sheets = 1
            sheet, row_no = self._sheet(workbook, sheet_name, header, bold), 1
            for rows in self.batches():
                for row in rows:
                    if row_no >= XLSX_MAX_ROWS:
                        sheets += 1
                        sheet, row_no = self._sheet(workbook, f"{sheet_name} {sheets}", header, bold), 1
                    for col, value in enumerate(row):
                        if value is None:
                            continue
                        if isinstance(value, str):  # neutralised already
                            sheet.write_string(row_no, col, value[:XLSX_MAX_TEXT])
                        elif isinstance(value, bool):
                            sheet.write_string(row_no, col, _("Yes") if value else _("No"))
                        elif isinstance(value, int) and abs(value) < 2**53:
                            sheet.write_number(row_no, col, value)
                        elif isinstance(value, Decimal):
                            sheet.write_number(row_no, col, float(value),
                                               decimal_format if value.as_tuple().exponent == -2 else None)
                        elif isinstance(value, float):
                            sheet.write_number(row_no, col, value)
                        else:
                            sheet.write_string(row_no, col, neutralise(str(value))[:XLSX_MAX_TEXT])
                    row_no += 1
        finally:
            workbook.close()

    @staticmethod
    def _sheet(workbook, name: str, header: list[str], bold):
        sheet = workbook.add_worksheet(name[:31])
        for col, label in enumerate(header):
            sheet.write_string(0, col, label, bold)
        sheet.freeze_panes(1, 0)
        return sheet

    # both
    def write(self, out: BinaryIO) -> int:
        """The whole file into ``out`` (binary, writable; seekable for xlsx). Returns the rows written."""
        if self.fmt == "xlsx":
            self.write_xlsx(out)
        else:
            for piece in self.csv_chunks():
                out.write(piece)
        return self.rows

    def stream(self) -> Iterator[bytes]:
        """The file's bytes for a response: CSV as it is produced; xlsx built first into a temporary file."""
        if self.fmt == "csv":
            return self.csv_chunks()
        return _file_blocks(self.xlsx_file())

    def xlsx_file(self) -> BinaryIO:
        """The .xlsx built into an anonymous temporary file (gone when closed), positioned at its start."""
        handle = tempfile.TemporaryFile(dir=_tmpdir())
        try:
            self.write_xlsx(handle)
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        return handle


def _file_blocks(handle: BinaryIO, size: int = 256 * 1024) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()


def _tmpdir() -> str:
    from django.conf import settings

    path = os.path.join(settings.DATA_DIR, "tmp")
    os.makedirs(path, exist_ok=True)
    return path


# -- the service ---------------------------------------------------------------------------------------
def check_permission(actor) -> None:
    """403 unless the actor may export customers (the system may)."""
    if is_system(actor):
        return
    if not (isinstance(actor, User) and actor.is_active and actor.has_shoal_perm(EXPORT_PERMISSION)):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": EXPORT_PERMISSION},
                         {"permission": EXPORT_PERMISSION}, status=403)


def _clean_ids(ids) -> list[int]:
    if not isinstance(ids, list | tuple | set):
        raise ShoalError("invalid_ids", _("Give the customer ids as a list of numbers"), {"field": "ids"})
    out = []
    for value in ids:
        if isinstance(value, bool):
            raise ShoalError("invalid_ids", _("Give the customer ids as a list of numbers"), {"field": "ids"})
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ShoalError("invalid_ids", _("Give the customer ids as a list of numbers"), {"field": "ids"})
        if not 0 < number < 2**63:
            raise ShoalError("invalid_ids", _("Give the customer ids as a list of numbers"), {"field": "ids"})
        out.append(number)
    return out


def export_customers(*, actor, fields: list[str] | None = None, fmt: str = "csv", encoding: str = "utf-8",
                     query: dict | None = None, sql: str | None = None, keyword: str | None = None,
                     ids: list[int] | None = None, saved_query_id: int | None = None, within: QuerySet | None = None,
                     source: str = "api", out: BinaryIO | None = None,
                     progress: Callable[[int, int | None], None] | None = None) -> CustomerExport:
    """Check an export and return it ready to produce (with ``out``: write it there first).

    The customers: those of ``actor``'s data scope; with ``query`` (a condition tree) / ``sql`` / ``keyword``
    (as the advanced query takes them) or ``saved_query_id`` (a saved query the actor sees), those matching;
    with ``ids``, those of the ids; with ``within`` (a customer queryset a page built, e.g. the list's
    filters), those in it too. ``fields``: keys from :func:`export_fields` (None: the actor's list columns).
    ``fmt`` "csv" | "xlsx"; ``encoding`` "utf-8" (with BOM) | "gb18030" (CSV only). Bad input: ShoalError
    (400; 403 without the permission ``customers.customers.export``; 404 for an unknown saved query)."""
    check_permission(actor)
    fmt = (fmt or "csv").strip().lower() if isinstance(fmt, str) else fmt
    if fmt not in FORMATS:
        raise ShoalError("invalid_format", _("The format must be csv or xlsx"), {"field": "format",
                                                                                "allowed": list(FORMATS)})
    chosen_encoding = ENCODING_ALIASES.get((encoding or "utf-8").strip().lower()) if isinstance(encoding, str) else None
    if chosen_encoding is None:
        raise ShoalError("invalid_encoding", _("The encoding must be utf-8 or gb18030"),
                         {"field": "encoding", "allowed": list(ENCODINGS)})
    chosen = resolve_fields(fields, actor=actor)
    selection = "all"
    if saved_query_id is not None:
        from shoal.segments.services import saved_query_get

        if query is not None or sql:
            raise ShoalError("invalid_query", _("Give a saved query or a query, not both"), {"field": "saved_query"})
        saved = saved_query_get(actor=actor, pk=saved_query_id)
        query, sql = saved.query, saved.sql or None
        selection = "saved_query"
    if query is not None and not isinstance(query, dict):
        raise ShoalError("invalid_query", _("The query must be a condition tree (a JSON object)"), {"field": "query"})
    if sql is not None and not isinstance(sql, str):
        raise ShoalError("invalid_query", _("The custom SQL must be text"), {"field": "sql"})
    if keyword is not None and not isinstance(keyword, str):
        raise ShoalError("invalid_query", _("The keyword must be text"), {"field": "keyword"})
    sql = sql.strip() if sql else None
    keyword = keyword.strip() if keyword else None
    if query is not None or sql or keyword:
        from shoal.segments.selectors import segment_queryset

        if sql:
            from shoal.segments.sql import guarded

            with guarded():  # checks the SQL now (a 400 before any byte), read-only and time-limited
                queryset = segment_queryset(actor=actor, query=query, sql=sql, keyword=keyword)
        else:
            queryset = segment_queryset(actor=actor, query=query, keyword=keyword)
        selection = "query" if selection == "all" else selection
    else:
        queryset = customer_queryset(actor=actor)
    if within is not None:
        if within.model is not Customer:
            raise ValueError("within must be a customer queryset")
        queryset = queryset & within.order_by()
        selection = "page" if selection == "all" else selection
    clean_ids = None
    if ids is not None:
        clean_ids = _clean_ids(ids)
        selection = "ids" if selection == "all" else selection
    export = CustomerExport(actor=actor, fields=chosen, fmt=fmt, encoding=chosen_encoding, queryset=queryset,
                            ids=clean_ids, guard=bool(sql), source=source, selection=selection, progress=progress)
    with parameters.cached():
        export.prepare()
    if out is not None:
        export.write(out)
    return export
