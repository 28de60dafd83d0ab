"""External tag import (导入外部标签): a CSV of ``identity value, tag name[, expiry date]`` → taggings with
source ``import``.

- The identity value is a mobile, an email or an ``ent_user_id``, as the identity fields are configured
  (``customers.identity``), or one field chosen by the caller. Customers outside the actor's data scope are
  unknown customers.
- The tag name is an existing enabled manual customer tag, matched by name; a name several categories use
  is written ``category/name``, else the row is reported.
- The expiry date (``YYYY-MM-DD``, also ``/`` or ``.``) ends the tagging at 00:00 local time of that
  date; without one the tag's validity applies.
- UTF-8 (with or without BOM) or GB18030, detected; comma or tab separated; the first row may be a header.

Set-based: rows are read in batches of ``BATCH_ROWS``; each batch resolves its identity values in one
query and writes its taggings, history, quality scores and tag counts with ``tags.store`` (one statement
per tag and expiry, not per row), in one transaction. A customer that already has the tag keeps it as it
is, so importing a file twice changes nothing the second time. Memory stays flat: the report keeps at
most ``REPORT_LIMIT`` values of each kind (the counts are complete)."""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from shoal.core import parameters
from shoal.core.actors import is_system
from shoal.core.batching import batched
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.identity import NORMALISERS, identity_fields
from shoal.customers.selectors import customer_queryset
from shoal.customers.services.timeline import actor_name

from . import services, store
from .models import ObjectType, Tag, TagHistory, TagKind, TagSource
from .refresh import expiry_for

BATCH_ROWS = 4000
REPORT_LIMIT = 10_000
SNIFF_BYTES = 64 * 1024
ENCODINGS = ("auto", "utf-8", "gb18030")
HEADER_WORDS = {"tag", "tags", "tag name", "label", "标签", "标签名", "标签名称", "mobile", "phone", "手机", "手机号",
                "手机号码", "email", "e-mail", "邮箱", "ent_user_id", "user id", "用户id", "企业用户id", "identity",
                "标识", "主键", "expiry", "expires", "expiry date", "有效期", "过期日期", "到期日期", "失效日期",
                "customer", "客户"}
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?")


@dataclass
class ImportReport:
    """What an import did. Every data row ends in exactly one of: tagged, already had the tag, unknown
    customer, unknown tag, bad row."""

    encoding: str = ""
    header: bool = False
    rows: int = 0
    tagged: int = 0
    already: int = 0
    unknown_customer_rows: int = 0
    unknown_tag_rows: int = 0
    bad_row_count: int = 0
    unknown_customers: dict[str, int] = field(default_factory=dict)  # value → its first line
    unknown_tags: dict[str, int] = field(default_factory=dict)  # name → rows
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, the row as read)
    error: str = ""  # the file could not be read to its end (the rows before were imported)
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"rows": self.rows, "tagged": self.tagged, "already": self.already,
                "unknown_customers": self.unknown_customer_rows, "unknown_tags": self.unknown_tag_rows,
                "bad_rows": self.bad_row_count, "encoding": self.encoding, "header": self.header,
                "unknown_tag_names": sorted(self.unknown_tags)[:100], "error": self.error,
                "seconds": round(self.seconds, 3)}

    def _unknown_customer(self, line: int, value: str) -> None:
        self.unknown_customer_rows += 1
        if len(self.unknown_customers) < REPORT_LIMIT:
            self.unknown_customers.setdefault(value, line)

    def _unknown_tag(self, name: str) -> None:
        self.unknown_tag_rows += 1
        if name in self.unknown_tags or len(self.unknown_tags) < REPORT_LIMIT:
            self.unknown_tags[name] = self.unknown_tags.get(name, 0) + 1

    def _bad(self, line: int, reason: str, cells: list[str]) -> None:
        self.bad_row_count += 1
        if len(self.bad_rows) < REPORT_LIMIT:
            self.bad_rows.append((line, reason, ",".join(cells)[:500]))

    def csv_text(self) -> str:
        """The report as CSV (UTF-8 with BOM, so that spreadsheet programs read the Chinese right)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([_("Section"), _("Line"), pgettext("tag import report", "Value"), _("Detail")])
        for label, value in [(_("Rows read"), self.rows), (_("Tagged"), self.tagged),
                             (_("Already had the tag"), self.already),
                             (_("Unknown customers"), self.unknown_customer_rows),
                             (_("Unknown tags"), self.unknown_tag_rows), (_("Bad rows"), self.bad_row_count)]:
            writer.writerow([_("Summary"), "", label, value])
        if self.error:
            writer.writerow([_("Error"), "", "", self.error])
        for value, line in self.unknown_customers.items():
            writer.writerow([_("Unknown customer"), line, value, ""])
        for name, rows in self.unknown_tags.items():
            writer.writerow([_("Unknown tag"), "", name, _("%(n)d rows") % {"n": rows}])
        for line, reason, raw in self.bad_rows:
            writer.writerow([_("Bad row"), line, raw, reason])
        return "\ufeff" + out.getvalue()


# -- reading the file -------------------------------------------------------------------------------------
def detect_encoding(binary) -> str:
    """UTF-8 (BOM or not) when the file decodes as UTF-8, else GB18030. A seekable file is read through to
    its end (a GB18030 character may come late), then put back at its start; a stream by its first bytes."""
    sample = binary.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ShoalError("bad_encoding", _("The file is UTF-16: save it as UTF-8 or GB18030 CSV."))
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        if not binary.seekable():
            decoder.decode(sample, final=False)  # a character cut at the end of the sample is fine
            return "utf-8"
        start = binary.tell()
        try:
            while chunk := binary.read(1 << 20):
                decoder.decode(chunk, final=False)
            decoder.decode(b"", final=True)
        finally:
            binary.seek(start)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _rows(binary, encoding: str) -> tuple[str, Iterator[tuple[int, list[str]]]]:
    """The encoding used, and ``(line, cells)`` of the non-blank rows."""
    if encoding not in ENCODINGS:
        raise ShoalError("invalid", _("The encoding must be auto, utf-8 or gb18030"), {"field": "encoding"})
    buffered = io.BufferedReader(binary) if not hasattr(binary, "peek") else binary
    if encoding == "auto":
        encoding = detect_encoding(buffered)
    sample = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    first_line = sample.split(b"\n", 1)[0]
    delimiter = "\t" if b"\t" in first_line and b"," not in first_line else ","
    text = io.TextIOWrapper(buffered, encoding=encoding, newline="")

    def rows():
        reader = csv.reader(text, delimiter=delimiter)
        for cells in reader:
            cells = [c.strip() for c in cells]
            if any(cells):
                yield reader.line_num, cells

    return encoding, rows()


def parse_expiry(text: str) -> datetime:
    """00:00 local time of the date ``text`` (``2025-06-30``, ``2025/6/30``, ``2025.06.30``)."""
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day = date(*map(int, match.groups()))
    return timezone.make_aware(datetime(day.year, day.month, day.day), timezone.get_current_timezone())


# -- resolving tag names and identity values --------------------------------------------------------------------
class _Tags:
    """Tag names → the customer tags they may mean (loaded once per import)."""

    def __init__(self):
        self.by_name: dict[str, list[Tag]] = defaultdict(list)
        self.by_path: dict[str, Tag] = {}
        for tag in (Tag.objects.filter(category__object_type=ObjectType.CUSTOMER).exclude(kind=TagKind.PERSONAL)
                    .select_related("category")):
            self.by_name[tag.name].append(tag)
            self.by_path[f"{tag.category.name}/{tag.name}"] = tag

    def known(self, name: str) -> bool:
        return name in self.by_name or name in self.by_path

    def resolve(self, name: str) -> Tag | str | None:
        """The tag, a reason the row is bad, or None (unknown)."""
        found = self.by_name.get(name) or ([self.by_path[name]] if name in self.by_path else [])
        if not found:
            return None
        manual = [t for t in found if t.kind == TagKind.MANUAL]
        if len(manual) > 1:
            return _("%(n)d categories have a tag named %(name)s: write it as category/name") % {
                "n": len(manual), "name": name}
        if not manual:
            return _("%(name)s is an auto tag: its rules decide who has it") % {"name": name}
        if not manual[0].enabled:
            return _("%(name)s is disabled") % {"name": name}
        return manual[0]


def _candidates(value: str, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(field, canonical value)`` pairs a value may be."""
    out = []
    for name in fields:
        if name == "email" and "@" not in value:
            continue
        try:
            out.append((name, NORMALISERS[name](value)))
        except ShoalError:
            continue
    return out


def _resolve_customers(actor, wanted: dict[str, set[str]]) -> dict[tuple[str, str], set[int]]:
    """(field, value) → the customers (in the actor's scope) with that value: one query."""
    cond = Q()
    for name, values in wanted.items():
        if values:
            cond |= Q(**{f"{name}__in": sorted(values)})
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    if not cond:
        return found
    names = [n for n, values in wanted.items() if values]
    for pk, *values in customer_queryset(actor=actor).filter(cond).order_by().values_list("pk", *names):
        for name, value in zip(names, values, strict=True):
            if value in wanted[name]:
                found[(name, value)].add(pk)
    return found


# -- the import ------------------------------------------------------------------------------------------------
def import_tags(*, actor, file, encoding: str = "auto", field_name: str | None = None,
                progress: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Import the CSV ``file`` (a binary file object). Returns the report; ``progress`` is called after each
    batch with the report so far."""
    with parameters.cached():  # the identity fields and the phone region: read once, not per row
        return _import(actor, file, encoding, field_name, progress)


def _import(actor, file, encoding, field_name, progress) -> ImportReport:
    started = time.monotonic()
    fields = identity_fields()
    if field_name:
        if field_name not in NORMALISERS:
            raise ShoalError("invalid", _("The identity field must be mobile, email or ent_user_id"),
                             {"field": "field"})
        fields = (field_name,)
    report = ImportReport()
    report.encoding, rows = _rows(file, encoding)
    tags = _Tags()
    first = True
    try:
        for batch in batched(rows, BATCH_ROWS):
            if first:
                first = False
                if _is_header(batch[0][1], tags):
                    report.header = True
                    batch = batch[1:]
            _import_batch(actor, batch, tags, fields, report)
            if progress is not None:
                progress(report)
    except UnicodeDecodeError:
        report.error = _("The file is not valid %(encoding)s after row %(row)d; the rows before it were imported.") % {
            "encoding": report.encoding, "row": report.rows + int(report.header)}
    except csv.Error as exc:
        report.error = _("The file is not a readable CSV after row %(row)d (%(reason)s); the rows before it were "
                         "imported.") % {"row": report.rows + int(report.header), "reason": exc}
    report.seconds = time.monotonic() - started
    log_operation(actor=actor, action="tag.import", object_type="tag", detail=report.summary())
    return report


def _is_header(cells: list[str], tags: _Tags) -> bool:
    """A first row is a header when its tag name is no tag and it reads like titles (or holds no digit or @)."""
    if len(cells) < 2 or tags.known(cells[1]):
        return False
    words = {c.lower() for c in cells}
    return bool(words & HEADER_WORDS) or not re.search(r"[0-9@]", cells[0])


def _import_batch(actor, batch: list[tuple[int, list[str]]], tags: _Tags, fields, report: ImportReport) -> None:
    now = timezone.now()
    parsed = []  # (line, value, candidates, tag, expires_at)
    wanted: dict[str, set[str]] = {name: set() for name in fields}
    for line, cells in batch:
        report.rows += 1
        if len(cells) < 2 or not cells[0] or not cells[1]:
            report._bad(line, _("A row needs an identity value and a tag name"), cells)
            continue
        if any(cells[3:]):
            report._bad(line, _("Too many columns: identity value, tag name and an optional expiry date"), cells)
            continue
        tag = tags.resolve(cells[1])
        if tag is None:
            report._unknown_tag(cells[1])
            continue
        if isinstance(tag, str):
            report._bad(line, tag, cells)
            continue
        expires_at = expiry_for(tag, now)
        if len(cells) > 2 and cells[2]:
            try:
                expires_at = parse_expiry(cells[2])
            except ValueError:
                report._bad(line, _("%(value)s is not a date (YYYY-MM-DD)") % {"value": cells[2]}, cells)
                continue
            if expires_at <= now:
                report._bad(line, _("The expiry date %(value)s has passed") % {"value": cells[2]}, cells)
                continue
        candidates = _candidates(cells[0], fields)
        if not candidates:
            report._unknown_customer(line, cells[0])
            continue
        for name, value in candidates:
            wanted[name].add(value)
        parsed.append((line, cells, candidates, tag, expires_at))

    found = _resolve_customers(actor, wanted)
    groups: dict[tuple[int, datetime | None], list[int]] = defaultdict(list)
    for line, cells, candidates, tag, expires_at in parsed:
        customers = set().union(*(found.get(c, set()) for c in candidates))
        if not customers:
            report._unknown_customer(line, cells[0])
        elif len(customers) > 1:
            report._bad(line, _("%(value)s identifies %(n)d customers") % {"value": cells[0], "n": len(customers)},
                        cells)
        else:
            groups[(tag.pk, expires_at)].append(customers.pop())
    if groups:
        added = _write(actor, groups, now)
        report.tagged += added
        report.already += sum(map(len, groups.values())) - added


def _write(actor, groups: dict[tuple[int, datetime | None], list[int]], now) -> int:
    """Insert the taggings of one batch with their history, scores and tag counts; how many were new."""
    user_id = None if is_system(actor) or not getattr(actor, "is_authenticated", False) else actor.pk
    name = actor_name(actor)
    new_by_tag: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        for (tag_id, expires_at), customer_ids in groups.items():
            new = store.insert_taggings(tag_id, customer_ids, source=TagSource.IMPORT, at=now, expires_at=expires_at)
            if new:
                store.insert_history(tag_id, new, action=TagHistory.ADD, source=TagSource.IMPORT, at=now,
                                     actor_id=user_id, actor_name=name)
                new_by_tag[tag_id].extend(new)
        scores = store.locked_scores(new_by_tag)  # as stored now, rows locked: a score edit cannot slip between
        deltas: dict[int, int] = defaultdict(int)
        for tag_id, customer_ids in new_by_tag.items():
            for customer_id in customer_ids:
                deltas[customer_id] += scores.get(tag_id, 0)
            Tag.objects.filter(pk=tag_id).update(customer_count=F("customer_count") + len(customer_ids))
        store.add_scores(deltas)
        changed = sorted({c for ids in new_by_tag.values() for c in ids})
        if changed:
            transaction.on_commit(lambda: services.customers_changed(changed))
    return sum(map(len, new_by_tag.values()))
