"""The import pipeline: read → convert and classify each row → match identities in bulk → write per batch.

Rows are classified as empty, invalid, duplicate (an earlier row of the file has the same identity; the
first one wins), or else create, update or unchanged. A batch's writes (customers, group memberships, tags,
timeline) and the run's progress commit together, so a run whose worker died resumes after its last
batch and ends with the same counts, creating nothing twice."""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from shoal.core.actors import is_system
from shoal.core.batching import batched
from shoal.core.db import ids_subquery, insert_rows
from shoal.core.errors import ShoalError
from shoal.customers import identity, masking
from shoal.customers.models import Customer, CustomerGroupMembership, TimelineEntry, TimelineKind
from shoal.customers.services.timeline import actor_name, is_user
from shoal.customers.signals import send_changed

from . import mapping as M
from .models import COUNT_KEYS, ImportMode, ImportRun
from .reading import Table

BATCH = {ImportMode.FAST: 20000, ImportMode.NORMAL: 5000}
MAX_REPORTED = 200_000  # error report lines kept (the counts stay exact)


class LostClaim(Exception):
    """Another worker took the run over (this one was thought dead): stop without writing."""


@dataclass
class RowError:
    row: int
    column: str
    value: str
    reason: str
    kind: str  # "invalid" | "duplicate"


class Candidate(NamedTuple):
    row: int
    std: dict
    attrs: dict
    uniques: list[tuple[str, str]]


@dataclass
class Result:
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list[RowError] = field(default_factory=list)
    sample: list[list[str]] = field(default_factory=list)
    last_row: int = 0


class Classifier:
    """Per-row conversion and in-file duplicate detection (no database)."""

    def __init__(self, mapping: M.Mapping):
        cache: dict = {}
        self.header = mapping.header
        self.columns = [(i, t.key, t.custom is not None, M.converter(t, cache))
                        for i, t in enumerate(mapping.columns) if t is not None]
        self.identity = [f for f in identity.identity_fields() if f in M.UNIQUE]
        self.uniques = [k for _, k, custom, _ in self.columns if not custom and k in M.UNIQUE]
        self.first_identity_header = next((mapping.header[i] for i, k, c, _ in self.columns
                                           if not c and k in self.identity), "")
        self.seen: dict[tuple[str, str], int] = {}
        self.labels = {t.key: t.label for t in M.targets()}
        self.labels.update({t.key: t.label for t in mapping.columns if t is not None})
        self.index_of = {k: i for i, k, c, _ in self.columns if not c}

    def classify(self, number: int, cells: list[str], result: Result) -> Candidate | None:
        counts = result.counts
        counts["rows"] += 1
        for cell in cells:
            if cell and not cell.isspace():
                break
        else:
            counts["empty"] += 1
            return None
        std: dict = {}
        attrs: dict = {}
        width = len(cells)
        for index, key, custom, convert in self.columns:
            raw = cells[index] if index < width else ""
            if not raw or raw.isspace():
                continue
            try:
                value = convert(raw)
            except ShoalError as exc:
                return self._fail(result, number, self.header[index], raw, self._worded(key, exc.message))
            if value is None:
                continue
            if custom:
                attrs[key] = value
            else:
                std[key] = value
        uniques = [(k, std[k]) for k in self.uniques if std.get(k)]
        if not any(k in self.identity for k, _ in uniques):
            return self._fail(result, number, self.first_identity_header, "",
                              gettext("No identity value: fill in one of %(fields)s")
                              % {"fields": ", ".join(self.labels.get(f, f) for f in self.identity)})
        seen = self.seen
        for key, value in uniques:
            earlier = seen.get((key, value))
            if earlier is not None:
                if key in self.identity:
                    counts["duplicate"] += 1
                    result.errors.append(RowError(number, self._header_of(key), cells[self.index_of[key]],
                                                  gettext("Same %(field)s as row %(row)s (the first row is imported)")
                                                  % {"field": self.labels.get(key, key), "row": earlier}, "duplicate"))
                    return None
                return self._fail(result, number, self._header_of(key), cells[self.index_of[key]],
                                  gettext("Same %(field)s as row %(row)s, which is another customer")
                                  % {"field": self.labels.get(key, key), "row": earlier})
        for pair in uniques:
            seen[pair] = number
        return Candidate(number, std, attrs, uniques)

    def classify_batch(self, batch: list[tuple[int, list[str]]], result: Result) -> list[Candidate]:
        """``classify`` for a batch of rows, with the same answers: each column's cells converted as a list
        (no per-row dispatch), then the rows put together in order (duplicates need the file's order)."""
        if not batch:
            return []
        counts = result.counts
        counts["rows"] += len(batch)
        rows = [cells for _, cells in batch]
        width = min(map(len, rows))
        first_bad: dict[int, tuple[int, str, str]] = {}  # row position -> (column position, raw, message)
        std_cols, std_keys, attr_cols, attr_keys = [], [], [], []
        for position, (index, key, custom, convert) in enumerate(self.columns):
            if index < width:
                column = [cells[index] for cells in rows]
            else:
                column = [cells[index] if index < len(cells) else "" for cells in rows]
            values, bad = _convert_column(column, convert, key)
            for r, message in bad:
                if r not in first_bad:
                    first_bad[r] = (position, column[r], message)
            (attr_cols if custom else std_cols).append(values)
            (attr_keys if custom else std_keys).append(key)
        std_rows = list(zip(*std_cols, strict=True)) if std_cols else [()] * len(rows)
        attr_rows = list(zip(*attr_cols, strict=True)) if attr_cols else [()] * len(rows)
        identity_fields = self.identity
        unique_keys = self.uniques
        seen = self.seen
        candidates = []
        for r, (number, cells) in enumerate(batch):
            joined = "".join(cells)
            if not joined or joined.isspace():
                counts["empty"] += 1
                continue
            bad = first_bad.get(r)
            if bad is not None:
                position, raw, message = bad
                index, key = self.columns[position][:2]
                self._fail(result, number, self.header[index], raw, self._worded(key, message))
                continue
            std = {k: v for k, v in zip(std_keys, std_rows[r], strict=True) if v is not None}
            attrs = {k: v for k, v in zip(attr_keys, attr_rows[r], strict=True) if v is not None}
            uniques = [(k, std[k]) for k in unique_keys if std.get(k)]
            for k, _ in uniques:
                if k in identity_fields:
                    break
            else:
                self._fail(result, number, self.first_identity_header, "",
                           gettext("No identity value: fill in one of %(fields)s")
                           % {"fields": ", ".join(self.labels.get(f, f) for f in identity_fields)})
                continue
            clash = False
            for key, value in uniques:
                earlier = seen.get((key, value))
                if earlier is not None:
                    clash = True
                    if key in identity_fields:
                        counts["duplicate"] += 1
                        result.errors.append(RowError(
                            number, self._header_of(key), cells[self.index_of[key]],
                            gettext("Same %(field)s as row %(row)s (the first row is imported)")
                            % {"field": self.labels.get(key, key), "row": earlier}, "duplicate"))
                    else:
                        self._fail(result, number, self._header_of(key), cells[self.index_of[key]],
                                   gettext("Same %(field)s as row %(row)s, which is another customer")
                                   % {"field": self.labels.get(key, key), "row": earlier})
                    break
            if clash:
                continue
            for pair in uniques:
                seen[pair] = number
            candidates.append(Candidate(number, std, attrs, uniques))
        return candidates

    def _worded(self, key: str, message: str) -> str:
        """"mobile: not a valid…" → "手机号: not a valid…": the field's label, not its key."""
        for sep in (":", "："):
            if message.startswith(key + sep):
                return self.labels.get(key, key) + message[len(key):]
        return message

    def _header_of(self, key: str) -> str:
        return next((self.header[i] for i, k, c, _ in self.columns if k == key and not c), key)

    def _fail(self, result: Result, number: int, column: str, value: str, reason: str) -> None:
        result.counts["invalid"] += 1
        result.errors.append(RowError(number, column, value, reason, "invalid"))
        return None


def _convert_column(column: list[str], convert, key: str) -> tuple[list, list[tuple[int, str]]]:
    """The converted values of a column's cells (None for a blank cell) and its bad cells (position, message)."""
    values: list = [None] * len(column)
    bad: list[tuple[int, str]] = []
    fast = identity.cn_mobile_fast_path() if key == "mobile" and getattr(convert, "plain_mobile", False) else None
    seen = getattr(convert, "seen", None)
    for r, raw in enumerate(column):
        if not raw or raw.isspace():
            continue
        if fast is not None and len(raw) == 11 and raw[0] == "1" and raw.isascii() and raw.isdigit() and fast(raw):
            values[r] = "+86" + raw  # what normalise_mobile answers for these (its own fast path)
            continue
        if seen is not None:
            hit = seen.get(raw, _MISSING)
            if hit is not _MISSING and not isinstance(hit, ShoalError):
                values[r] = hit
                continue
        try:
            values[r] = convert(raw)
        except ShoalError as exc:
            bad.append((r, exc.message))
    return values, bad


_MISSING = object()


# -- matching against the database ------------------------------------------------------------------------
def _holders(field_name: str, values: list[str]) -> dict[str, int]:
    """{value: customer id} of the customers holding these values of a unique field (one query)."""
    if not values:
        return {}
    table = connection.ops.quote_name(Customer._meta.db_table)
    column = connection.ops.quote_name(field_name)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # the values as one JSON text (psycopg dumps a list parameter value by value, in Python)
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(ARRAY("
                           f"SELECT jsonb_array_elements_text(%s::jsonb)))", [json.dumps(values)])
        else:
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} IN (SELECT value FROM json_each(%s))",
                           [json.dumps(values)])
        return dict(cursor.fetchall())


@dataclass
class Plan:
    creates: list[Candidate] = field(default_factory=list)
    updates: list[tuple[Candidate, int]] = field(default_factory=list)
    prepared: list[list] | None = None  # a bulk load: the new rows' file columns made by the reader (Writer.file_values)


class Matcher:
    def __init__(self, actor, classifier: Classifier):
        self.empty = False  # a bulk load into an empty table: nobody holds any identity value
        self.actor = actor
        self.classifier = classifier
        self.scoped = not _unrestricted(actor)

    def plan(self, candidates: list[Candidate], result: Result, required=None) -> Plan:
        by_field: dict[str, list[str]] = {}
        for c in candidates:
            for key, value in c.uniques:
                by_field.setdefault(key, []).append(value)
        holders = {} if self.empty else {key: _holders(key, values) for key, values in by_field.items()}
        identity_fields = self.classifier.identity
        plan = Plan()
        if self.empty:
            holders = {key: {} for key in by_field}
        if not any(holders.values()) and required is None:  # none of them is known: all new
            plan.creates = list(candidates)
            return plan
        targets: list[tuple[Candidate, int]] = []
        for c in candidates:
            found = {key: holders[key].get(value) for key, value in c.uniques}
            matched = {pk for key, pk in found.items() if pk is not None and key in identity_fields}
            if len(matched) > 1:
                self.classifier._fail(result, c.row, "", "", gettext(
                    "The identity values point at %(n)s different customers") % {"n": len(matched)})
                continue
            target = next(iter(matched), None)
            clash = next((key for key, pk in found.items() if pk is not None and pk != target), None)
            if clash is not None:
                self.classifier._fail(result, c.row, self.classifier._header_of(clash), dict(c.uniques)[clash],
                                      gettext("Another customer already has this %(field)s")
                                      % {"field": self.classifier.labels.get(clash, clash)})
                continue
            if target is None:
                missing = required(c) if required is not None else None
                if missing is not None:  # a new customer needs the required custom fields
                    self.classifier._fail(result, c.row, missing, "", gettext("%(field)s is required")
                                          % {"field": self.classifier.labels.get(missing, missing)})
                    continue
                plan.creates.append(c)
            else:
                targets.append((c, target))
        if targets and self.scoped:
            from shoal.customers.selectors import customer_queryset

            visible = set(customer_queryset(actor=self.actor).filter(pk__in=[t for _, t in targets])
                          .values_list("pk", flat=True))
            kept = []
            for c, target in targets:
                if target in visible:
                    kept.append((c, target))
                else:
                    self.classifier._fail(result, c.row, "", "", gettext(
                        "A customer outside your data scope has this identity"))
            targets = kept
        plan.updates = targets
        return plan


def _unrestricted(actor) -> bool:
    from shoal.accounts.models import DataScope

    if is_system(actor):
        return True
    return is_user(actor) and actor.data_scope() == DataScope.ALL


# -- writing ------------------------------------------------------------------------------------------------
class Writer:
    """Builds the database rows of a batch and writes them (in the caller's transaction)."""

    def __init__(self, run: ImportRun, actor, classifier: Classifier, *, write_timeline: bool):
        self.run = run
        self.actor = actor
        self.write_timeline = write_timeline
        self.user_id = actor.pk if is_user(actor) else None
        self.actor_name = actor_name(actor)
        opts = Customer._meta
        self.std_keys = [k for _, k, custom, _ in classifier.columns if not custom]
        self.has_attrs = any(custom for _, _, custom, _ in classifier.columns)
        fields = [f for f in opts.concrete_fields if not f.primary_key]
        self.fields = fields
        self.columns = [f.column for f in fields]
        self.defaults = {f.attname: f.get_default() for f in fields}
        self.preps = {f.attname: self._prep(f) for f in fields}
        from shoal.customers.models import CustomField

        self.attr_defaults: dict = {}
        self.required: list[str] = []
        for d in CustomField.objects.filter(enabled=True):
            if d.default is not None:
                from shoal.customers.cleaning import coerce_custom_value

                try:
                    self.attr_defaults[d.key] = coerce_custom_value(d, d.default)
                except Exception:  # a stale default never blocks an import
                    pass
            if d.required:
                self.required.append(d.key)
        self.tags = []
        if run.tag_ids:
            from shoal.tags.models import Tag
            from shoal.tags.refresh import expiry_for

            self.tags = list(Tag.objects.filter(pk__in=run.tag_ids))
            self._expiry_for = expiry_for

    @staticmethod
    def _prep(f):
        plain = (str, int, bool, float, type(None))
        pg = connection.vendor == "postgresql"

        def prep(value):
            if type(value) in plain:
                return value
            if pg and isinstance(value, datetime) and value.tzinfo is not None:
                return value
            return f.get_db_prep_save(value, connection)
        return prep

    def missing_required(self, c: Candidate) -> str | None:
        for key in self.required:
            if c.attrs.get(key) is None and self.attr_defaults.get(key) is None:
                return key
        return None

    def write(self, plan: Plan, result: Result, now: datetime) -> tuple[list[int], list[int], int]:
        """Insert and update; returns (created ids, updated ids, unchanged count)."""
        created = self._insert(plan.creates, now, prepared=plan.prepared)
        updated, unchanged, touched = self._update(plan.updates, now)
        everyone = created + touched
        if self.run.group_id and everyone:
            self._join_group(everyone, now)
        for tag in self.tags:
            from shoal.tags import store

            store.tag_customers(tag.pk, everyone, source="import", at=now, expires_at=self._expiry_for(tag, now),
                                actor_id=self.user_id, actor_name=self.actor_name)
        if self.write_timeline:
            send_changed(created + updated)
        return created, updated, unchanged

    def file_values(self, creates: list[Candidate]) -> list[list]:
        """The database values of the new customers' imported columns, a list per column: each standard field of
        the file (``std_keys`` order), then the attributes JSON. Made by the reader process in a bulk load."""
        slots = [(self._value_prep(k), self.preps[k](self.defaults[k])) for k in self.std_keys]
        dump = self._attrs_prep()
        attr_defaults = self.attr_defaults
        stds = [c.std for c in creates]
        values = [[default if v is None else prep(v) for v in [std.get(key) for std in stds]]
                  for (prep, default), key in zip(slots, self.std_keys, strict=True)]
        attrs = [c.attrs for c in creates]
        values.append([dump({**attr_defaults, **a}) for a in attrs] if attr_defaults else [dump(a) for a in attrs])
        return values

    def _insert(self, creates: list[Candidate], now: datetime, *, prepared: list[list] | None = None) -> list[int]:
        if prepared is None:
            if not creates:
                return []
            prepared = self.file_values(creates)
        count = len(prepared[-1])
        if not count:
            return []
        names = [f.attname for f in self.fields]
        position = {n: i for i, n in enumerate(names)}
        base = dict(self.defaults)
        base["created_at"] = base["updated_at"] = now
        template = [self.preps[n](base[n]) for n in names]  # the same for every row: prepared once
        attrs_at = position["attributes"]
        file_at = [position[k] for k in self.std_keys] + [attrs_at]  # where the file's columns go (file_values)
        # built a column at a time: constants shared, each imported column one list
        values = [[constant] * count for constant in template]
        for at, column in zip(file_at, prepared, strict=True):
            values[at] = column
        ids = _insert_customers(self.columns, values, constants=set(range(len(names))) - set(file_at))
        if self.write_timeline:
            entries = [TimelineEntry(customer_id=pk, kind=TimelineKind.CREATED, actor_id=self.user_id,
                                     actor_name=self.actor_name, created_at=now,
                                     detail={"import": self.run.pk, "file": self.run.file_name})
                       for pk in ids]
            TimelineEntry.objects.bulk_create(entries, batch_size=2000)
        return ids

    def _value_prep(self, key: str):
        """Database form of a converted value: text as it is; dates and times through the field."""
        prep = self.preps[key]
        if connection.vendor == "sqlite" and key == "birthday":
            return lambda v: v if type(v) is str else v.isoformat()
        return (lambda v: v if type(v) is str else prep(v))

    def _attrs_prep(self):
        # JSON text (PostgreSQL: COPY text into the jsonb column): json.dumps(…, ensure_ascii=False), made once
        encode = json.JSONEncoder(ensure_ascii=False).encode
        return lambda attrs: encode(attrs) if attrs else "{}"

    def _update(self, updates: list[tuple[Candidate, int]], now: datetime) -> tuple[list[int], int, list[int]]:
        if not updates:
            return [], 0, []
        keys = self.std_keys
        existing = self.current(updates)
        statements = []
        entries = []
        updated: list[int] = []
        touched: list[int] = []
        unchanged = 0
        for c, pk in updates:
            old = existing.get(pk)
            if old is None:  # deleted meanwhile: nothing to update (counted unchanged)
                unchanged += 1
                continue
            touched.append(pk)
            changes, attr_changes = self.changes(c, old)
            attrs = None
            if self.has_attrs:
                attrs = {**(old.get("attributes") or {}), **attr_changes}
            if not changes and not attr_changes:
                unchanged += 1
                continue
            updated.append(pk)
            new = {k: c.std.get(k, old.get(k)) for k in keys}
            row = [self.preps[k](new[k]) for k in keys]
            if self.has_attrs:
                row.append(self.preps["attributes"](attrs))
            row += [self.preps["updated_at"](now), pk]
            statements.append(row)
            if self.write_timeline:
                for k, v in changes.items():
                    entries.append(TimelineEntry(customer_id=pk, kind=TimelineKind.CHANGED, field=k, old=_json(old.get(k)),
                                                 new=_json(v), actor_id=self.user_id, actor_name=self.actor_name,
                                                 created_at=now, detail={"import": self.run.pk}))
                for k, v in attr_changes.items():
                    entries.append(TimelineEntry(customer_id=pk, kind=TimelineKind.CHANGED, field=k,
                                                 old=(old.get("attributes") or {}).get(k), new=v, actor_id=self.user_id,
                                                 actor_name=self.actor_name, created_at=now,
                                                 detail={"import": self.run.pk, "custom": True}))
        if statements:
            qn = connection.ops.quote_name
            sets = [f"{qn(Customer._meta.get_field(k).column)} = %s" for k in keys]
            if self.has_attrs:
                sets.append(f"{qn('attributes')} = %s")
            sets.append(f"{qn('updated_at')} = %s")
            sql = f"UPDATE {qn(Customer._meta.db_table)} SET {', '.join(sets)} WHERE id = %s"
            with connection.cursor() as cursor:
                cursor.executemany(sql, statements)
        if entries:
            TimelineEntry.objects.bulk_create(entries, batch_size=2000)
        return updated, unchanged, touched

    def current(self, updates: list[tuple[Candidate, int]]) -> dict[int, dict]:
        """The stored values of the imported columns of these customers, by id (one query)."""
        wanted = ["id", *self.std_keys] + (["attributes"] if self.has_attrs else [])
        rows = Customer.objects.filter(pk__in=ids_subquery([pk for _, pk in updates])).values(*wanted)
        return {row["id"]: row for row in rows}

    @staticmethod
    def changes(c: Candidate, old: dict) -> tuple[dict, dict]:
        """(standard fields, custom fields) whose imported value differs from the stored one."""
        attrs = old.get("attributes") or {}
        return ({k: v for k, v in c.std.items() if old.get(k) != v},
                {k: v for k, v in c.attrs.items() if attrs.get(k) != v})

    def _join_group(self, ids: list[int], now: datetime) -> None:
        """Put the customers in the target group (those already there keep their salesperson)."""
        present = set(CustomerGroupMembership.objects.filter(group_id=self.run.group_id, customer_id__in=ids)
                      .values_list("customer_id", flat=True))
        rows = [[pk, self.run.group_id, None, None, now] for pk in ids if pk not in present]
        if rows:
            insert_rows(CustomerGroupMembership._meta.db_table,
                        ["customer_id", "group_id", "salesperson_id", "assigned_at", "created_at"], rows)
        if self.write_timeline and rows:
            from shoal.customers.models import CustomerGroup

            name = CustomerGroup.objects.filter(pk=self.run.group_id).values_list("name", flat=True).first()
            TimelineEntry.objects.bulk_create(
                [TimelineEntry(customer_id=r[0], kind=TimelineKind.GROUP, actor_id=self.user_id,
                               actor_name=self.actor_name, created_at=now,
                               detail={"group": name, "reason": "import", "import": self.run.pk}) for r in rows],
                batch_size=2000)


def _insert_customers(columns: list[str], values: list[list], *, constants: set[int] = frozenset()) -> list[int]:
    """Insert customer rows given as ``values``, one list per column; their new ids in order. SQLite: ids from
    the table's high mark and one executemany (the caller's transaction already holds the write lock: nobody
    inserts in between); the ``constants`` columns (positions of columns holding one of Shoal's own values for
    every row, never the file's) are written as literals of the statement, not bound for every row (binding was
    a third of the statement's time)."""
    if connection.vendor == "postgresql":
        texts = [_copy_column(column) for column in values]
        if all(t is not None for t in texts):
            return _copy_customers(columns, texts)
    if connection.vendor != "sqlite":
        return insert_rows(Customer._meta.db_table, columns, list(zip(*values, strict=True)), returning="id")
    from shoal.customers.demo import _first_id

    qn = connection.ops.quote_name
    literals = {}
    for at in constants:
        column = values[at]
        literal = _sqlite_literal(column[0]) if column else None
        if literal is not None and column.count(column[0]) == len(column):
            literals[at] = literal
    bound = [at for at in range(len(columns)) if at not in literals]
    with connection.cursor() as cursor:
        first = _first_id(cursor)
        ids = list(range(first, first + len(values[0])))
        names = ", ".join(qn(c) for c in [*(columns[at] for at in bound), *(columns[at] for at in literals), "id"])
        slots = ", ".join(["%s"] * len(bound) + list(literals.values()) + ["%s"])
        cursor.executemany(f"INSERT INTO {qn(Customer._meta.db_table)} ({names}) VALUES ({slots})",
                           zip(*(values[at] for at in bound), ids, strict=True))
    return ids


def _sqlite_literal(value) -> str | None:
    """SQL text of one of Shoal's own constants (a default, the batch's time) for an SQLite statement run with
    %s parameters; None for a value that is to be bound instead."""
    if value is None:
        return "NULL"
    if type(value) is bool:
        return "1" if value else "0"
    if type(value) is int:
        return str(value)
    if type(value) is str and value.isprintable() and len(value) < 100:
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    return None


_COPY_SPECIAL = ("\\", "\t", "\n", "\r")


def _copy_escaped(values: list[str]) -> list[str]:
    """Text for COPY's text format: backslash, tab, newline and carriage return escaped (a column at a time:
    most columns have none of them and are kept as they are)."""
    joined = "".join(values)
    if not any(c in joined for c in _COPY_SPECIAL):
        return values
    return [v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            for v in values]


def _copy_column(column: list) -> list[str] | None:
    """A column of database-ready values as COPY text (NULL as \\N); None for a kind of value not handled
    here (the rows then go through psycopg's own COPY formatting)."""
    from psycopg.types.json import Jsonb

    n = len(column)
    kinds = set(map(type, column))
    kinds.discard(type(None))
    if not kinds:
        return ["\\N"] * n
    if len(kinds) > 1:
        return None
    kind = kinds.pop()
    if issubclass(kind, bool):
        def text(v):
            return "t" if v else "f"
    elif issubclass(kind, int):
        text = int.__repr__
    elif kind is str:
        text = None
    elif issubclass(kind, str):  # text choices
        text = str.__str__
    elif kind is date:
        text = date.isoformat
    elif kind is datetime and all(v is None or v.tzinfo is not None for v in column):
        text = datetime.isoformat
    elif kind is Jsonb:
        encode = json.JSONEncoder(ensure_ascii=False).encode

        def text(v):
            return encode(v.obj)
    else:
        return None
    first = column[0]
    if first is not None and column.count(first) == n:  # a constant: converted once
        return _copy_escaped([first if text is None else text(first)]) * n
    present = [v for v in column if v is not None]
    escaped = _copy_escaped(present if text is None else [text(v) for v in present])
    if len(present) == n:
        return escaped
    it = iter(escaped)
    return ["\\N" if v is None else next(it) for v in column]


def _copy_customers(columns: list[str], texts: list[list[str]]) -> list[int]:
    """PostgreSQL: the rows written as one COPY text built a column at a time; their new ids in order."""
    table = Customer._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [table, len(texts[0])])
        ids = sorted(pk for (pk,) in cursor.fetchall())
    texts = [*texts, list(map(str, ids))]
    data = "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"
    names = ", ".join(qn(c) for c in [*columns, "id"])
    with connection.cursor() as cursor, connection.wrap_database_errors, \
            cursor.cursor.copy(f"COPY {qn(table)} ({names}) FROM STDIN") as copy:
        copy.write(data)
    return ids


def _json(value):
    return M.as_text(value) if not isinstance(value, str | int | float | bool | type(None)) else value


# -- the run ------------------------------------------------------------------------------------------------
def process(run: ImportRun, table: Table, *, actor, write: bool, worker: str = "",
            progress: Callable[[int, int], None] | None = None, sample: int = 0,
            report: Callable[[list[RowError]], None] | None = None) -> Result:
    """Go through the whole file. ``write``: import (batch by batch, resuming after ``run.rows_done``);
    else only count what would happen. ``report(errors)`` receives each batch's bad rows once written."""
    from shoal.core import parameters
    from shoal.core.db import sqlite_page_cache

    # the phone region, identity fields…: read once, not once per cell; SQLite: the customers' indexes cached
    with parameters.cached(), (sqlite_page_cache(PAGE_CACHE_KIB) if write else contextlib.nullcontext()), \
            _gc_paused():
        return _process(run, table, actor=actor, write=write, worker=worker, progress=progress, sample=sample,
                        report=report)


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while importing: a batch makes hundreds of thousands of containers (no
    cycles) and each collection walked them all (a third of unpickling a batch). Restored after, collected once."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            gc.collect()


@dataclass
class Chunk:
    """One batch of the file, classified: what the writing side needs of it."""
    last_row: int
    candidates: list
    errors: list
    counts: dict
    sample: list
    progress: tuple
    prepared: list | None = None  # a bulk load: Writer.file_values of the candidates (then sent without them)


def _chunks(table: Table, classifier: Classifier, *, size: int, resume_after: int, sample: int,
            prepare: Callable[[list[Candidate]], list[list]] | None = None) -> Iterator[Chunk]:
    """The file's batches, classified. ``prepare``: a bulk load's new rows made here (in the reader process,
    the second core) instead of by the importing process: the chunk carries them instead of the candidates."""
    sampled = 0
    for batch in batched(table.rows(), size):
        last = batch[-1][0]
        if resume_after and batch[-1][0] <= resume_after:  # committed before: only remember its identities
            classifier.classify_batch(batch, Result())
            continue
        part = Result()
        done = 0
        if resume_after:  # the batch's rows committed before: only remember their identities
            while done < len(batch) and batch[done][0] <= resume_after:
                done += 1
            classifier.classify_batch(batch[:done], Result())
            batch = batch[done:]
        if sampled < sample:
            part.sample.extend(list(cells) for _, cells in batch[:sample - sampled])
            sampled += len(part.sample)
        candidates = classifier.classify_batch(batch, part)
        if prepare is not None:
            yield Chunk(last, [], part.errors, part.counts, part.sample, table.progress(), prepare(candidates))
            continue
        yield Chunk(last, candidates, part.errors, part.counts, part.sample, table.progress())


PAGE_CACHE_KIB = 131072  # 128 MB
PARALLEL_FROM = 8 * 1024 * 1024  # files above this size are read and classified in a forked process


def _produce(make, sender, receiver) -> None:
    # The parent may have a SIGTERM handler (a task worker's): this child must die on terminate().
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    receiver.close()  # only the parent reads: when it dies the pipe breaks and this process ends
    from django.db import connections

    gc.disable()  # this process lives for one import and makes no cycles worth collecting
    gc.freeze()
    kept = []  # the parent's database connections: never used nor closed here (closing would end the parent's)
    for conn in connections.all(initialized_only=True):
        kept.append(conn.connection)
        conn.connection = None
    try:
        try:
            for chunk in make():  # a blocking pipe: at most one chunk ahead; a dead parent breaks the pipe
                chunk.candidates = [tuple(c) for c in chunk.candidates]  # plain tuples: pickled several times faster
                sender.send_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            sender.send_bytes(b"")
        except ShoalError as exc:
            sender.send_bytes(pickle.dumps(("error", exc.code, exc.message, exc.detail, exc.status)))
        except Exception as exc:  # noqa: BLE001 (handed to the parent, which records it on the run)
            sender.send_bytes(pickle.dumps(("error", "import_failed", f"{type(exc).__name__}: {exc}", {}, 500)))
    except OSError:  # the importing process is gone
        pass
    os._exit(0)


class _Forked:
    """Chunks made in a forked process (the second core) while this one matches and writes."""

    def __init__(self, make):
        ctx = multiprocessing.get_context("fork")
        self.receiver, sender = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_produce, args=(make, sender, self.receiver), daemon=True)
        self.proc.start()
        sender.close()

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            if not self.receiver.poll(5):
                if not self.proc.is_alive() and not self.receiver.poll(0):
                    raise ShoalError("import_failed", gettext("The file reader stopped unexpectedly"))
                continue
            try:
                data = self.receiver.recv_bytes()
            except EOFError:
                raise ShoalError("import_failed", gettext("The file reader stopped unexpectedly")) from None
            if not data:
                return
            item = pickle.loads(data)
            if isinstance(item, tuple):
                _, code, message, detail, status = item
                raise ShoalError(code, message, detail, status=status)
            item.candidates = [Candidate._make(t) for t in item.candidates]
            yield item

    def close(self) -> None:
        self.receiver.close()
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _source(table: Table, classifier: Classifier, *, size: int, resume_after: int, sample: int, size_bytes: int,
            prepare=None):
    def make():
        return _chunks(table, classifier, size=size, resume_after=resume_after, sample=sample, prepare=prepare)
    if (size_bytes >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1):
        return _Forked(make)
    return None, make()


def _process(run, table, *, actor, write, worker, progress, sample, report) -> Result:
    mapping = M.build_mapping(table.header, run.mapping)
    classifier = Classifier(mapping)
    matcher = Matcher(actor, classifier)
    writer = Writer(run, actor, classifier, write_timeline=run.mode == ImportMode.NORMAL)
    result = Result()
    resume_after = run.rows_done if write else 0
    if resume_after:
        result.counts.update({k: int(v) for k, v in (run.counts or {}).items() if k in result.counts})
    last_tick = 0.0
    size = BATCH.get(run.mode, 5000)
    bulk = write and not resume_after and (run.size or 0) >= BULK_FROM and not Customer.objects.exists()
    matcher.empty = bulk
    # a bulk load without required custom fields: every candidate is created, its row made by the reader
    prepare = writer.file_values if bulk and not writer.required else None
    source = _source(table, classifier, size=size, resume_after=resume_after, sample=sample,
                     size_bytes=run.size or 0, prepare=prepare)
    forked = source if isinstance(source, _Forked) else None
    chunks = forked if forked is not None else source[1]
    position = (0, 1)
    try:
        with contextlib.ExitStack() as stack:  # bulk: indexes rebuilt and all committed when it ends
            if bulk:
                stack.enter_context(_bulk_load(run, worker))
            for chunk in chunks:
                errors_before = len(result.errors)
                for key, value in chunk.counts.items():
                    result.counts[key] += value
                result.errors.extend(chunk.errors)
                result.sample.extend(chunk.sample)
                result.last_row = chunk.last_row
                position = chunk.progress
                if write:
                    _write_batch(run, writer, matcher, chunk.candidates, result, worker,
                                 prepared=chunk.prepared)
                else:
                    with transaction.atomic():
                        plan = matcher.plan(chunk.candidates, result,
                                            required=writer.missing_required if writer.required else None)
                        result.counts["created"] += len(plan.creates)
                        _count_dry_updates(writer, plan, result)
                if report is not None:
                    report(result.errors[errors_before:])
                    if len(result.errors) > 1000:
                        del result.errors[:]
                if progress is not None and time.monotonic() - last_tick > 0.5:
                    last_tick = time.monotonic()
                    progress(*position)
    finally:
        if forked is not None:
            forked.close()
    if progress is not None:
        progress(position[1], position[1])
    return result


BULK_FROM = 8 * 1024 * 1024  # a file this large into an empty customer table: loaded as one bulk transaction
BULK_GRACE = timedelta(minutes=30)  # how long a bulk load may run before its worker is thought dead


@contextlib.contextmanager
def _bulk_load(run: ImportRun, worker: str):
    """Into an empty customer table: one transaction with the table's secondary indexes dropped (as the demo
    loader does; maintaining 11 indexes row by row was most of the time). Nobody else writes customers
    meanwhile (SQLite: the write lock; PostgreSQL: an EXCLUSIVE table lock, reads go on), so identities need no
    look-up: the file's own duplicates are already out, and the unique indexes, built again before the commit,
    would refuse any left (the whole import then rolls back: nothing half-done). A worker killed meanwhile
    leaves nothing; the run starts again from its first row.

    The other indexes are built after the commit (``build_pending_indexes``: PostgreSQL from two connections at
    once); the run records them (``pending_indexes``) in the transaction of its rows, so a worker that dies
    before they exist leaves them to the recovery."""
    from shoal.core.db import is_unique_index, secondary_indexes

    # committed first: the run is not taken for stalled while the transaction hides its heartbeats
    ImportRun.objects.filter(pk=run.pk, worker=worker).update(heartbeat_at=timezone.now() + BULK_GRACE)
    table = Customer._meta.db_table
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {qn(table)} IN EXCLUSIVE MODE")
        if Customer.objects.exists():  # someone was quicker: no bulk load after all
            raise ShoalError("import_retry", gettext("Customers arrived meanwhile; start the import again"))
        dropped = secondary_indexes(cursor, table)
        for name, _ in dropped:
            cursor.execute(f"DROP INDEX {qn(name)}")
        yield
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # CREATE INDEX refuses pending FK checks
        for _, sql in dropped:
            if is_unique_index(sql):  # identities stay unique from the commit on
                cursor.execute(sql)
        later = [[name, sql] for name, sql in dropped if not is_unique_index(sql)]
        if not ImportRun.objects.filter(pk=run.pk, worker=worker).update(pending_indexes=later,
                                                                        heartbeat_at=timezone.now()):
            raise LostClaim()


def build_pending_indexes(run: ImportRun, worker: str) -> None:
    """Build the customer indexes a bulk load left to build after its commit (and those a worker that died
    left), then clear the run's ``pending_indexes``. Safe twice: indexes that exist are kept."""
    from shoal.core.db import build_indexes, sqlite_page_cache

    pending = ImportRun.objects.filter(pk=run.pk).values_list("pending_indexes", flat=True).first()
    if not pending:
        return

    def beat() -> None:
        if not ImportRun.objects.filter(pk=run.pk, worker=worker).update(heartbeat_at=timezone.now()):
            raise LostClaim()

    with sqlite_page_cache(PAGE_CACHE_KIB):  # SQLite: as while loading
        build_indexes([(name, sql) for name, sql in pending], parallel=INDEX_BUILDERS, beat=beat)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Customer._meta.db_table)}")
    if not ImportRun.objects.filter(pk=run.pk, worker=worker).update(pending_indexes=[],
                                                                    heartbeat_at=timezone.now()):
        raise LostClaim()
    run.pending_indexes = []


INDEX_BUILDERS = 2  # connections building a bulk load's indexes at once (PostgreSQL)


def _count_dry_updates(writer: Writer, plan: Plan, result: Result) -> None:
    existing = writer.current(plan.updates)
    for c, pk in plan.updates:
        changes, attr_changes = writer.changes(c, existing.get(pk) or {})
        result.counts["updated" if changes or attr_changes else "unchanged"] += 1


def _write_batch(run: ImportRun, writer: Writer, matcher: Matcher, candidates: list[Candidate], result: Result,
                 worker: str, *, prepared: list | None = None) -> None:
    counts_before = dict(result.counts)
    errors_before = len(result.errors)
    try:
        with transaction.atomic():
            now = timezone.now()
            # first a write: on SQLite it takes the write lock, so the customers' ids are ours to hand out
            if not ImportRun.objects.filter(pk=run.pk, worker=worker).update(heartbeat_at=now):
                raise LostClaim()
            if prepared is not None:  # a bulk load: the reader made the rows, every one new
                plan = Plan(prepared=prepared)
            else:
                plan = matcher.plan(candidates, result,
                                    required=writer.missing_required if writer.required else None)
            created, updated, unchanged = writer.write(plan, result, now)
            result.counts["created"] += len(created)
            result.counts["updated"] += len(updated)
            result.counts["unchanged"] += unchanged
            claimed = ImportRun.objects.filter(pk=run.pk, worker=worker).update(
                rows_done=result.last_row, counts=result.counts, heartbeat_at=now)
            if not claimed:
                raise LostClaim()
    except Exception:
        result.counts.clear()
        result.counts.update(counts_before)
        del result.errors[errors_before:]
        raise
    run.rows_done = result.last_row


# -- error report -------------------------------------------------------------------------------------------
class Report:
    """The CSV of bad rows (UTF-8 with BOM: Excel opens it), values masked as the importing user sees them."""

    def __init__(self, path: Path, actor, mapping_fields: dict[str, str], *, keep_up_to: int = 0):
        self.path = path
        self.count = 0
        masked = masked_keys(actor)
        self.masked_headers = {header: key for header, key in mapping_fields.items() if key in masked}
        kept: list[list[str]] = []
        if keep_up_to and path.exists():  # resuming: keep the lines of the batches already committed
            with path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh)
                next(reader, None)
                kept = [line for line in reader if line and line[0].isdigit() and int(line[0]) <= keep_up_to]
        self.fh = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh)
        with translation.override(getattr(actor, "language", None) or translation.get_language()):
            self.writer.writerow([pgettext("import errors", "Row"), pgettext("import errors", "Column"),
                                  pgettext("import errors", "Value"), pgettext("import errors", "Reason")])
        for line in kept:
            self.writer.writerow(line)
        self.count = len(kept)

    def __call__(self, errors: list[RowError]) -> None:
        for e in errors:
            if self.count >= MAX_REPORTED:
                return
            value = e.value
            key = self.masked_headers.get(e.column)
            if key and value:
                value = masking._mask_value(_mask_kind(key), value) or value
            self.writer.writerow([e.row, e.column, _neutral(value), e.reason])
            self.count += 1

    def close(self) -> None:
        self.fh.close()


def masked_keys(actor) -> frozenset[str]:
    """The fields whose values are masked for ``actor`` where customers are listed (the customer list masks
    for every user when masking is on): the error report and the preview show rows the same way."""
    if not is_user(actor) or not masking.should_mask(viewer=actor, customer=None, context="list"):
        return frozenset()
    return frozenset(masking.MASKED_FIELDS) | frozenset(masking.sensitive_custom_fields())


def _mask_kind(key: str) -> str:
    if key == "email":
        return "email"
    sensitive = masking.sensitive_custom_fields()
    return sensitive.get(key, "phone")


def _neutral(value: str) -> str:
    """A value a spreadsheet would run as a formula is shown as text."""
    return "'" + value if value and value[0] in "=+-@\t\r" else value
