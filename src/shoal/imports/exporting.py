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
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from decimal import Decimal
from typing import Any, BinaryIO

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from shoal.accounts.models import User
from shoal.core import parameters
from shoal.core.actors import is_system
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.customers import display, masking
from shoal.customers.identity import default_region
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.selectors import customer_queryset

from .export_cells import SEPARATOR, LocalTimes, RowMaker, neutralise, text_cell
from .export_fields import (
    GROUP_LABELS,
    ExportField,
    default_field_keys,
    export_fields,
    resolve_fields,
    split_keys,
)

__all__ = ["EXPORT_PERMISSION", "GROUP_LABELS", "CustomerExport", "ExportField", "check_permission",
           "default_field_keys", "export_customers", "export_fields", "neutralise", "resolve_fields", "split_keys"]

EXPORT_PERMISSION = "customers.customers.export"
CHUNK = 5000
READ_AHEAD = 2  # chunks a second thread reads ahead (0: none)
FORMATS = ("csv", "xlsx")
ENCODINGS = ("utf-8", "gb18030")
ENCODING_ALIASES = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "gb18030": "gb18030", "gbk": "gb18030",
                    "gb2312": "gb18030"}
XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet, the header included; more go on to the next sheet
XLSX_MAX_TEXT = 32_767
CONTENT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


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
                if f.column == "quality_score":  # kept outside the customers table
                    from shoal.customers.quality import quality_expr

                    specs.append(quality_expr())
                else:
                    specs.append(Cast(f.column, TextField()) if f.kind == "datetime" else f.column)
        if any(f.kind == "custom" for f in self.fields):
            names.append("attributes")
            specs.append("attributes")
        return names, specs

    def _guarded(self):
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

    def _raw(self, qs: QuerySet, guard: bool = True) -> list[tuple]:
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. ids IN () or a scope that is empty by construction
            return []
        with self._guarded() if guard else nullcontext(), connections[qs.db].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _chunks(self, specs: list, context: dict) -> Iterator[tuple]:
        """(rows, tags, groups, salespeople) of each chunk of customers."""
        need_extras = context["tags"] is not None or context["groups"] is not None
        none: dict = {}
        for rows in self._fetch(specs):
            yield (rows, *self._extras(rows, context)) if need_extras else (rows, none, none, none)

    def _read_ahead(self, chunks: Callable[[], Iterator[tuple]]) -> Iterator[tuple]:
        """The chunks, the next one read by a second thread (its own database connection) while this one writes
        the current one: the database's work and the cells' overlap. At most :data:`READ_AHEAD` chunks wait, so
        memory stays flat. Inside a transaction (a test's, a caller's) another connection would not see its
        writes: then the chunks are read here."""
        if not READ_AHEAD or connection.in_atomic_block or (self.total is not None and self.total <= CHUNK):
            yield from chunks()
            return
        waiting: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    waiting.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                for chunk in chunks():
                    if not put(("chunk", chunk)):
                        return
                put(("end", None))
            except BaseException as exc:  # handed to the writer, which raises it
                put(("error", exc))
            finally:
                connections.close_all()  # this thread's connections

        reader = threading.Thread(target=produce, name="export-read-ahead", daemon=True)
        reader.start()
        try:
            while True:
                kind, item = waiting.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item
        finally:
            stop.set()
            reader.join(timeout=60)

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
            return self._raw(qs.order_by().values_list("customer_id", *cols), guard=False)

        if context["tags"] is not None:
            visible, texts = context["tags"], context["tag_texts"]
            found: dict[int, list] = {}
            for customer_id, tag_id in of(Tagging, "tag_id"):
                if tag_id in visible and customer_id in wanted:
                    found.setdefault(customer_id, []).append(tag_id)
            for pk, tag_ids in found.items():
                combination = tuple(tag_ids)  # many customers have the same tags: each text is made once
                text = texts.get(combination)
                if text is None:
                    if len(texts) > 100_000:
                        texts.clear()
                    text = texts[combination] = text_cell(SEPARATOR.join(
                        name for _key, name in sorted(visible[t] for t in tag_ids)))
                tags[pk] = text
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
            groups = {pk: text_cell(SEPARATOR.join(sorted(names))) for pk, names in in_groups.items()}
            salespeople = {pk: text_cell(SEPARATOR.join(sorted(dict.fromkeys(names)))) for pk, names in selling.items()}
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
            context["tag_texts"] = {}
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
                                 times=LocalTimes(self.tz), region=default_region(), fmt=self.fmt)
            for rows, tags, groups, salespeople in self._read_ahead(lambda: self._chunks(specs, context)):
                with parameters.cached():
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
                sheet_name = pgettext("worksheet name", "Customers")
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
