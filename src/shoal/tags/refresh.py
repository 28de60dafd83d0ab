"""Refreshing auto tags: full and incremental, set-based, safe with two workers.

A refresh keeps state per tag: ``refreshed_at`` (the watermark: when its last refresh started) and
``needs_full`` (set when the tag's rules change). A tag's next refresh re-reads only

- customers written since its watermark (``Customer.updated_at``: every write path stamps it), and
- customers whose tags changed since then, for the tags its rules read (the history's (tag, time) index),

minus a safety margin for transactions still open at the watermark. Everything else cannot have changed its
answer. Rules that compare with today (``within_last_days``…) are re-read in full by the daily job.

The work goes range by range of customer ids (memory stays flat as customers grow) and, inside a range, level
by level of dependencies (a tag whose rule reads other auto tags is evaluated after them, and the customers
they changed in this run are re-read for it). Each (range, level) is evaluated with one query per rule and
written in one short transaction: taggings inserted / deleted with RETURNING, history and quality scores
from what actually changed. A tag is claimed in the database for the run (``Tag.claim``): a second worker
skips the tags the first holds, so nothing is written twice."""

from __future__ import annotations

import logging
import re
import time
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Max, Min, Q
from django.utils import timezone

from shoal.core.errors import ShoalError
from shoal.customers.models import Customer
from shoal.segments.catalog import field_catalog

from . import columnar, staging, store
from . import rules as rule_logic
from .models import Tag, TagBulkAdd, Tagging, TagHistory, TagKind, TagSource

log = logging.getLogger(__name__)

RANGE = 50_000  # customer ids per range
IN_BATCH = 5_000  # candidate ids per query in incremental mode (one JSON / array parameter)
CLAIM_MINUTES = 30
CACHE_KIB = 256 * 1024  # SQLite page cache during a full pass
INDEXES_AFTER = 10_000  # customers from which a first full pass builds the taggings' indexes after its rows
EXPIRY_INDEX = "tagging_expiry_idx"  # partial: taggings with an expiry only
READERS = 2  # threads that evaluate the next ranges of a full pass while this one is written
FULL_SWITCH = 0.2  # an incremental refresh that would re-read more than this share of customers goes full


def margin() -> timedelta:
    return timedelta(seconds=getattr(settings, "SHOAL_TAG_CHANGE_MARGIN_SECONDS", 60))


def expiry_for(tag: Tag, at: datetime) -> datetime | None:
    """00:00 local time after ``valid_days`` natural days."""
    if not tag.valid_days:
        return None
    local = timezone.localtime(at)
    day = local.date() + timedelta(days=tag.valid_days)
    return timezone.make_aware(datetime(day.year, day.month, day.day), timezone.get_current_timezone())


# -- claims --------------------------------------------------------------------------------------
def claim(tag_ids, token: str, now: datetime) -> set[int]:
    """Take the tags no other refresh holds (one UPDATE; the database decides who wins)."""
    tag_ids = list(tag_ids)
    if not tag_ids:
        return set()
    Tag.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk__in=tag_ids).update(
        claim=token, claimed_until=now + timedelta(minutes=CLAIM_MINUTES))
    return set(Tag.objects.filter(pk__in=tag_ids, claim=token).values_list("pk", flat=True))


def renew(tag_ids, token: str, now: datetime) -> None:
    """A long refresh keeps its claims: another run would otherwise take the tags once ``CLAIM_MINUTES`` passed."""
    Tag.objects.filter(pk__in=list(tag_ids), claim=token).update(claimed_until=now + timedelta(minutes=CLAIM_MINUTES))


def release(tag_ids, token: str) -> None:
    Tag.objects.filter(pk__in=list(tag_ids), claim=token).update(claim="", claimed_until=None)


# -- what to re-read --------------------------------------------------------------------------------
def changed_customers(since: datetime) -> set[int]:
    return set(Customer.objects.filter(updated_at__gte=since).order_by().values_list("pk", flat=True))


def tag_changes(tag_id: int, tag_ids, since: datetime, watermark: datetime) -> set[int]:
    """Customers whose ``tag_ids`` (the tags a rule reads) changed since ``since``, except by the run that set
    ``watermark`` (its rows have ``at == watermark``: the tag read them in that same run), and customers whose
    tagging of ``tag_id`` itself expired since then (they may match still: the rule gives the tag again).

    Both read index ranges only: the run's own rows (a million after a full pass) are stepped over, not
    filtered out one by one (measured on PostgreSQL: a no-change refresh 9.3 s → 0.4 s)."""
    ids = set(TagHistory.objects.filter(tag_id=tag_id, source=TagSource.EXPIRY, at__gte=since).order_by()
              .values_list("customer_id", flat=True))
    if tag_ids:
        window = Q(at__gte=since, at__lt=watermark) | Q(at__gt=watermark)
        ids |= set(TagHistory.objects.filter(window, tag_id__in=list(tag_ids)).order_by()
                   .values_list("customer_id", flat=True))
        # and the adds of another run's full pass, carried by their taggings (found through its TagBulkAdd)
        window = Q(at__gte=since, at__lt=watermark) | Q(at__gt=watermark)
        for dep, at in TagBulkAdd.objects.filter(window, tag_id__in=list(tag_ids)).values_list("tag_id", "at"):
            ids |= set(Tagging.objects.filter(tag_id=dep, applied_at=at, history_id__isnull=False).order_by()
                       .values_list("customer_id", flat=True))
    return ids


FROM_CUSTOMERS = f' FROM "{Customer._meta.db_table}"'
ID = f'"{Customer._meta.db_table}"."id"'


JSON_CALL = re.compile(r'(JSON_TYPE|JSON_EXTRACT)\("customers_customer"\."attributes", '
                       r"('(?:[^']|'')*')\)", re.IGNORECASE)


COLUMN = re.compile(r'"customers_customer"\."(\w+)"')


def _extract_json_once(sql: str) -> tuple[str, list[str]]:
    """SQLite: every ``JSON_TYPE/JSON_EXTRACT(attributes, '<path>')`` of the rules becomes a column computed once
    per customer (SQLite 3.40 parses the attributes text again on every call, and the compiler's exact semantics
    call them several times per leaf: 50 rules made ~150 parses of each row). The column is the same expression
    on the same row, so every answer is unchanged. Returns the rewritten SQL and the expressions, in column
    order ("_j0", "_j1", …). (Measured alternatives: taking ``attributes -> path`` once and calling the
    functions on that was slower; so was copying whole rows.)"""
    columns: dict[str, str] = {}

    def column(match: re.Match) -> str:
        expression = f'{match.group(1).upper()}("customers_customer"."attributes", {match.group(2)})'
        name = columns.setdefault(expression, f"_j{len(columns)}")
        return f'"customers_customer"."{name}"'

    return JSON_CALL.sub(column, sql), list(columns)


def compile_rules(queries: list[Q]) -> tuple[str, list]:
    """One statement that reads each customer once and answers every rule: for each rule, the sorted ids of
    the customers it matches among ``{ids}`` (a range or a list, see :func:`rules_sql`), as one aggregate per
    rule (``group_concat … FILTER`` on SQLite, ``array_agg … FILTER`` on PostgreSQL): a million rows of 50
    booleans each through Python cost seconds. Compiled once per run: building the Q again with 2,000 ids for
    every rule and batch cost more than the queries (measured: 5 s of 20 s)."""
    names = [f"r{i}" for i in range(len(queries))]
    annotations = {name: ExpressionWrapper(q if q else Q(pk__isnull=False), output_field=BooleanField())
                   for name, q in zip(names, queries, strict=True)}
    sql, params = Customer.objects.order_by().annotate(**annotations).values_list("pk", *names).query.sql_with_params()
    at = sql.index(FROM_CUSTOMERS)  # the outer FROM: the rules' subqueries read other tables
    assert sql[at + len(FROM_CUSTOMERS):] == "", sql
    select = sql[:at]
    if connection.vendor == "sqlite":
        aggregate = ", ".join(f'group_concat("pk") FILTER (WHERE "{name}")' for name in names)
        select, extracted = _extract_json_once(select)
        # Read the customers by id (a range or a list), never through another index. Without statistics its
        # planner takes any index on an equality (``status = 'active'``, a JSON expression index) as selective
        # and walks 900,000 entries to keep the 500 ids asked for (measured: 561 ms instead of 2 ms).
        if extracted:
            # only the columns the rules read (copying whole rows into the temporary table cost more than the
            # JSON it saves); a column left out would be an error, never a different answer
            read = sorted({name for name in COLUMN.findall(select) if not name.startswith("_j")} | {"id"})
            kept = ", ".join(f'"{name}"' for name in read)
            computed = "".join(f', {expression} AS "_j{i}"' for i, expression in enumerate(extracted))
            source = (f'WITH "_customers" AS MATERIALIZED (SELECT {kept}{computed}{FROM_CUSTOMERS} NOT INDEXED '
                      f'WHERE {{ids}}) ')
            inner = select + ' FROM "_customers" AS "customers_customer"'
            return f"{source}SELECT {aggregate} FROM ({inner})", list(params)
        inner = select + FROM_CUSTOMERS + " NOT INDEXED WHERE {ids}"
        return f"SELECT {aggregate} FROM ({inner})", list(params)
    aggregate = ", ".join(f'array_agg("pk") FILTER (WHERE "{name}")' for name in names)
    return f"SELECT {aggregate} FROM ({select}{FROM_CUSTOMERS} WHERE {{ids}}) AS \"_rules\"", list(params)


def rules_sql(compiled: tuple[str, list], *, lo: int | None = None, hi: int | None = None, ids=None):
    sql, params = compiled
    if ids is None:
        where, where_params = f"{ID} >= %s AND {ID} < %s", [lo, hi]
    else:
        where, where_params = store.ids_in(ID), [store.ids_param(ids)]
    if sql.startswith("WITH"):  # the ids are read first, in the WITH
        return sql.replace("{ids}", where, 1), [*where_params, *params]
    return sql.replace("{ids}", where, 1), [*params, *where_params]


def _ids(value) -> list[int]:
    """An aggregate of ids (SQLite: "1,5,9" or NULL; PostgreSQL: a list or None), sorted."""
    if not value:
        return []
    return sorted(map(int, value.split(","))) if isinstance(value, str) else sorted(value)


class Run:
    """One refresh of a set of tags."""

    def __init__(self, tags: list[Tag], *, full_ids: set[int], candidates: dict[int, list[int]],
                 progress: Callable[[int, int], None] | None, now: datetime, restrict: list[int] | None = None):
        self.tags = tags
        self.full_ids = full_ids
        self.candidates = candidates  # incremental tag → sorted customer ids to re-read
        self.restrict = restrict  # only these customers (refresh on change)
        self.progress = progress
        self.now = now
        self.catalog = field_catalog()
        self.failed: dict[int, str] = {}  # tag → why its rules could not run (the others go on)
        self.rules = {t.pk: list(t.rules.all()) for t in tags}
        self.queries = {}
        for t in tags:
            try:
                self.queries[t.pk] = [(r.pk, rule_logic.rule_q(r, self.catalog)) for r in self.rules[t.pk]]
            except ShoalError as error:  # e.g. a field a rule uses was disabled since
                self.failed[t.pk] = error.message
        tags = [t for t in tags if t.pk not in self.failed]
        self.compiled: dict[tuple[int, ...], tuple[str, list]] = {}
        self.deps = {pk: d for pk, d in rule_logic.dependency_map([t.pk for t in tags]).items()}
        self.levels = rule_logic.order_by_dependencies(tags, self.deps)
        self.by_pk = {t.pk: t for t in tags}
        self.added = self.removed = 0
        self.evaluated: set[int] = set()  # customers re-read by incremental tags
        self.evaluated_full = 0
        self.phases: dict[str, float] = defaultdict(float)  # seconds per phase: evaluate, write, history, scores
        self.bulk: set[int] = set()  # tags whose full pass wrote adds carried by their taggings (TagBulkAdd)
        self.fresh_scores = False  # a first pass into empty taggings: the customers' scores are all 0 (refresh())
        self.stage = None  # PostgreSQL, a first pass into a table of its own (tags.staging; refresh())
        # tags whose changes in a range an incremental tag of a later level re-reads (a full tag re-reads all)
        self.watched = {dep for t in tags if t.pk not in full_ids for dep in self.deps.get(t.pk, ())}

    # evaluation (reads, outside any transaction)
    def _match(self, tags: list[Tag], *, lo: int | None = None, hi: int | None = None,
               ids=None) -> dict[int, dict[int, int]]:
        """tag id → {customer id → the first rule (by id) that matches it}, among the customers in [lo, hi) or
        ``ids``: one query for all the tags' rules. The rows come through the cursor (a million rows through
        a queryset cost seconds of Python). A tag whose rule the database refuses is left out (``failed``);
        the others are answered."""
        tags = [t for t in tags if t.pk not in self.failed]
        started = time.perf_counter()
        try:
            return self._match_all(tags, lo=lo, hi=hi, ids=ids)
        except (DatabaseError, ShoalError) as error:
            if len(tags) == 1:
                self.failed[tags[0].pk] = getattr(error, "message", None) or str(error).splitlines()[0][:200]
                return {}
        finally:
            self.phases["evaluate"] += time.perf_counter() - started
        matched: dict[int, dict[int, int]] = {}
        for tag in tags:  # find the tag that fails; answer the others one by one
            matched.update(self._match([tag], lo=lo, hi=hi, ids=ids))
        return matched

    def _match_all(self, tags: list[Tag], *, lo, hi, ids) -> dict[int, dict[int, int]]:
        key = tuple(t.pk for t in tags)
        columns = [(t.pk, rule_id) for t in tags for rule_id, _q in self.queries[t.pk]]
        if key not in self.compiled:
            self.compiled[key] = compile_rules([q for t in tags for _rule_id, q in self.queries[t.pk]])
        matched: dict[int, dict[int, int]] = {t.pk: {} for t in tags}
        if not columns:
            return matched
        with connection.cursor() as cursor:
            cursor.execute(*rules_sql(self.compiled[key], lo=lo, hi=hi, ids=ids))
            row = cursor.fetchone()
        for (tag_id, rule_id), found in zip(columns, row, strict=True):
            found = _ids(found)
            if not matched[tag_id]:  # the first rule (the tag's only one, mostly): one C call
                matched[tag_id] = dict.fromkeys(found, rule_id)
            else:
                for pk in found:
                    matched[tag_id].setdefault(pk, rule_id)
        return matched

    def _current(self, tag: Tag, lo: int, hi: int) -> dict[int, str]:
        """customer id → source of the tag's taggings in [lo, hi) (a range of the key)."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT customer_id, source FROM {store.TAGGING} WHERE tag_id = %s "
                           f"AND customer_id >= %s AND customer_id < %s", [tag.pk, lo, hi])
            return dict(cursor.fetchall())

    def _current_of(self, ids: list[int], tag_ids: set[int]) -> dict[int, dict[int, str]]:
        """tag id → {customer id → source} for these customers: read customer by customer (one seek each in
        (customer, tag)), not tag by tag (one seek per pair: 50× more, measured 6.5 s for 10,000 customers)."""
        current: dict[int, dict[int, str]] = {t: {} for t in tag_ids}
        with connection.cursor() as cursor:
            for start in range(0, len(ids), IN_BATCH):
                cursor.execute(f"SELECT tag_id, customer_id, source FROM {store.TAGGING} "
                               f"WHERE {store.ids_in('customer_id')}", [store.ids_param(ids[start:start + IN_BATCH])])
                for tag_id, customer_id, source in cursor.fetchall():
                    if tag_id in current:
                        current[tag_id][customer_id] = source
        return current

    def run(self) -> None:
        bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        if bounds["lo"] is None:
            ranges = []
        else:
            ranges = [(lo, min(lo + RANGE, bounds["hi"] + 1)) for lo in range(bounds["lo"], bounds["hi"] + 1, RANGE)]
        if self.restrict is not None:
            ranges = [(min(self.restrict), max(self.restrict) + 1)] if self.restrict else []
        elif not self.full_ids and ranges:
            # incremental only: the candidates are few (a full pass is chosen past FULL_SWITCH); one range, so
            # each rule reads them in batches of IN_BATCH rather than a little in each of many ranges
            ranges = [(bounds["lo"], bounds["hi"] + 1)]
        if not self._read_ahead(ranges):
            for done, (lo, hi) in enumerate(ranges, 1):
                self._range(lo, hi)
                if self.progress:
                    self.progress(done, len(ranges))

    def _first_level(self, lo: int, hi: int) -> tuple[tuple[int, int], dict[int, dict[int, int]]]:
        """The customers of [lo, hi) before they are read (:func:`store.customers_between`) and the answers of the
        first dependency level's full tags over them (their rules read no tag this run writes, so they can be
        read before the ranges before it are written)."""
        seen = store.customers_between(lo, hi)
        full = [t for t in self.levels[0] if t.pk in self.full_ids]
        return seen, (columnar.match(self, full, lo, hi) if full else {})

    def _read_ahead(self, ranges: list[tuple[int, int]]) -> bool:
        """A full pass over several ranges: while one range is written, the next range's first level is evaluated
        on another connection, in a thread (the database's C code and numpy release the GIL: on 2 cores the
        evaluation hides behind the writes). Not inside a caller's transaction (the other connection would not
        see its rows), and not when switched off (``SHOAL_TAG_READ_AHEAD``). False: not done so."""
        if (len(ranges) < 2 or not self.full_ids or self.restrict is not None or connection.in_atomic_block
                or not getattr(settings, "SHOAL_TAG_READ_AHEAD", True) or not self.levels):
            return False
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connections

        readers = max(1, min(READERS, len(ranges) - 1))
        pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tags-read-ahead-{n}") for n in range(readers)]
        pending: dict[int, object] = {}  # range number → its evaluation under way
        try:
            for done, (lo, hi) in enumerate(ranges, 1):
                for ahead in range(done, min(done + readers, len(ranges))):  # the next ranges, one per reader
                    if ahead not in pending:
                        pending[ahead] = pools[ahead % readers].submit(self._first_level, *ranges[ahead])
                t0 = time.perf_counter()
                seen, first = pending.pop(done - 1).result() if done > 1 else self._first_level(lo, hi)
                self.phases["wait"] += time.perf_counter() - t0  # the evaluation ahead was not done yet
                self._range(lo, hi, first=first, seen=seen)
                if self.progress:
                    self.progress(done, len(ranges))
        finally:
            for future in pending.values():
                future.cancel()
            for pool in pools:  # each thread's connection (one for the whole pass)
                closed = pool.submit(connections.close_all)
                pool.shutdown()
                if closed.exception() is not None:
                    log.warning("tags read-ahead: closing a connection: %s", closed.exception())
        return True

    def _slice(self, ids: list[int], lo: int, hi: int) -> list[int]:
        return ids[bisect_left(ids, lo):bisect_left(ids, hi)]

    def _range(self, lo: int, hi: int, first: dict[int, dict[int, int]] | None = None,
               seen: tuple[int, int] | None = None) -> None:
        """Refresh the customers of [lo, hi), level by level; ``first``: the first level's full tags' answers,
        read already (``_read_ahead``), ``seen``: the range's customers before they were read."""
        changed_here: dict[int, set[int]] = {}
        if self.full_ids:
            if seen is None:
                seen = store.customers_between(lo, hi)
            self.evaluated_full += seen[0]
        for number, level in enumerate(self.levels):
            plans = []
            full = [t for t in level if t.pk in self.full_ids]
            if full:
                answers = first if number == 0 and first is not None else columnar.match(self, full, lo, hi)
                for tag_id, matched in answers.items():  # in process, or SQL
                    plans.append((self.by_pk[tag_id], matched, None, (lo, hi)))
            groups: dict[tuple[int, ...], list[Tag]] = {}
            for tag in level:
                if tag.pk in self.full_ids:
                    continue
                ids = set(self._slice(self.candidates.get(tag.pk, []), lo, hi))
                for dep in self.deps.get(tag.pk, ()):
                    ids |= changed_here.get(dep, set())
                if ids:
                    self.evaluated |= ids
                    groups.setdefault(tuple(sorted(ids)), []).append(tag)
            for ordered, tags in groups.items():  # tags that re-read the same customers: one query per batch
                matched: dict[int, dict[int, int]] = {t.pk: {} for t in tags}
                for start in range(0, len(ordered), IN_BATCH):
                    for tag_id, found in self._match(tags, ids=list(ordered[start:start + IN_BATCH])).items():
                        matched[tag_id].update(found)
                ordered_ids = list(ordered)  # one list per group: _write reads its taggings once
                plans.extend((t, matched[t.pk], ordered_ids, None) for t in tags if t.pk not in self.failed)
            if plans:
                self._write(plans, changed_here, seen)

    def _rule_of(self, tag: Tag, matched: dict[int, int]) -> dict[int, int] | int:
        """The rule of each add: one rule id for a tag of one rule (most tags: no look-up per customer)."""
        return self.queries[tag.pk][0][0] if len(self.queries[tag.pk]) == 1 else matched

    def _copy_full_adds(self, changes, full_adds: dict[int, list[int]], first_id: int, table: str) -> set[int]:
        """PostgreSQL: a full range's adds of every tag as one COPY (``store.copy_unlogged_taggings``), with the
        history ids the tag-by-tag writes would give them; the tags written (none should a pair exist: then they
        are written tag by tag). ``full_adds`` are sorted in place (the order the ids are given in)."""
        if connection.vendor != "postgresql":
            return set()
        items = []
        for tag, matched, ordered, _removes, _adds in changes:
            if ordered is not None:
                continue
            adds = full_adds[tag.pk]
            adds.sort()
            if adds:
                items.append((tag.pk, adds, self._rule_of(tag, matched), expiry_for(tag, self.now), first_id))
            first_id += len(adds)
        if len(items) < 2 or not store.copy_unlogged_taggings(items, at=self.now, table=table):
            return set()
        return {item[0] for item in items}

    def _write(self, plans, changed_here: dict[int, set[int]], seen: tuple[int, int] | None = None) -> None:
        deltas: dict[int, int] = defaultdict(int)
        counts: dict[int, int] = defaultdict(int)  # tag → customers gained
        clock = time.perf_counter
        started = clock()
        history = 0.0
        stage = self.stage
        table = stage.table if stage is not None else store.TAGGING
        with transaction.atomic():
            # (staged: read once without a lock; the last step checks them under lock, tags.staging)
            scores = (stage.scores_of(t.pk for t, *_rest in plans) if stage is not None
                      else store.locked_scores(t.pk for t, *_rest in plans))
            by_ids: dict[int, dict[int, dict[int, str]]] = {}  # id(ordered) → current taggings of those customers
            changes = []
            for tag, matched, ordered, bounds in plans:
                if tag.pk not in scores:  # deleted meanwhile: nothing of it is written
                    continue
                if ordered is None:
                    current = {} if stage is not None else self._current(tag, *bounds)  # (staged: none yet)
                else:
                    if id(ordered) not in by_ids:
                        by_ids[id(ordered)] = self._current_of(ordered, {t.pk for t, _m, o, _b in plans if o is ordered})
                    current = by_ids[id(ordered)][tag.pk]
                if current:
                    removes = [c for c, source in current.items() if source == TagSource.RULE and c not in matched]
                    adds = [c for c in matched if c not in current]
                else:  # a first pass: no per-customer look-ups (millions of them)
                    removes, adds = [], list(matched)
                changes.append((tag, matched, ordered, removes, adds))
            # A full range: the customers to tag are checked once in this transaction (not joined for each tag).
            # Mostly none went since the range was read: the range's count and sum of ids, as they were before it
            # was read (``seen``), say so at once (ids are never reused, so a range's customers can only go).
            # Otherwise the customers to tag are looked up (11M ids into a set, then looked up: ~2 s at 1M).
            full_bounds = {b for _t, _m, ordered, b in plans if ordered is None}
            span = next(iter(full_bounds)) if len(full_bounds) == 1 else None  # the range of this level's full tags
            gone: set[int] = set()
            now_seen = store.customers_between(*span) if span and seen is not None else None
            if full_bounds and not (span and seen is not None and now_seen == seen):
                wanted = set().union(*(adds for _t, _m, ordered, _r, adds in changes if ordered is None))
                if connection.vendor == "postgresql" and span and wanted:  # read as a range
                    exist = store.existing_customers_between(*span) & wanted
                else:
                    exist = store.existing_customers(sorted(wanted))
                gone = wanted - exist  # deleted since they were read
            # A full range's adds are written without history rows: their taggings carry the history ids reserved
            # here and their rules, and the history reads them as its add rows until they go (store.log_adds).
            # Millions of history rows made most of a first full pass (measured at 1M on SQLite: 26 s of 82 s,
            # plus most of the commit's 17.6 s).
            full_adds = {tag.pk: [c for c in adds if c not in gone] if gone else adds
                         for tag, _m, ordered, _r, adds in changes if ordered is None}
            next_id = store.reserve_history_ids(sum(map(len, full_adds.values())))
            # Score changes: with a full range, summed in one array over its ids (every customer of the level's
            # plans is in it: incremental tags re-read only the range's candidates; 11M customer-by-customer dict
            # updates cost 1.6 s of a 1M first pass); otherwise (a few customers) in a dict.
            range_deltas = np.zeros(span[1] - span[0], dtype=np.int64) if span else None
            copied = self._copy_full_adds(changes, full_adds, next_id, table)
            for tag, matched, ordered, removes, adds in changes:
                removed = store.delete_taggings(tag.pk, removes, sources=[TagSource.RULE]) if removes else []
                by_rule: dict[int, list[int]] = defaultdict(list)
                if ordered is None:
                    adds = full_adds[tag.pk]
                    added = []
                    if adds:
                        if tag.pk not in self.bulk:  # the pass, in the transaction of its first adds
                            if stage is not None:
                                stage.bulk.add(tag.pk)  # written in the last step
                            else:
                                TagBulkAdd.objects.get_or_create(tag_id=tag.pk, at=self.now)
                            self.bulk.add(tag.pk)
                        if tag.pk in copied:
                            added = adds
                        else:
                            added = store.insert_unlogged_taggings(tag.pk, adds, self._rule_of(tag, matched),
                                                                   at=self.now, first_id=next_id,
                                                                   expires_at=expiry_for(tag, self.now), table=table)
                    next_id += len(adds)
                else:
                    added = store.insert_taggings(tag.pk, adds, source=TagSource.RULE, at=self.now,
                                                  expires_at=expiry_for(tag, self.now)) if adds else []
                    for c in added:
                        by_rule[matched[c]].append(c)
                t0 = clock()
                if removed:
                    store.insert_history(tag.pk, removed, action=TagHistory.REMOVE, source=TagSource.RULE, at=self.now)
                if ordered is not None:
                    for rule_id, ids in by_rule.items():
                        store.insert_history(tag.pk, ids, action=TagHistory.ADD, source=TagSource.RULE, at=self.now,
                                             rule_id=rule_id)
                history += clock() - t0
                score = scores.get(tag.pk, 0)
                if score and range_deltas is not None:
                    if added:
                        range_deltas[np.asarray(added, dtype=np.int64) - span[0]] += score
                    if removed:
                        range_deltas[np.asarray(removed, dtype=np.int64) - span[0]] -= score
                elif score:
                    for c in added:
                        deltas[c] += score
                    for c in removed:
                        deltas[c] -= score
                if added or removed:
                    if tag.pk in self.watched:  # a later level re-reads them for a tag that reads this one
                        changed_here.setdefault(tag.pk, set()).update(added, removed)
                    counts[tag.pk] += len(added) - len(removed)
                self.added += len(added)
                self.removed += len(removed)
            t0 = clock()
            if stage is not None:  # counts, scores and the range's customers kept for the last step
                for pk, n in counts.items():
                    stage.counts[pk] += n
                if range_deltas is not None:
                    changed = np.flatnonzero(range_deltas)
                    stage.add_scores(changed + span[0], range_deltas[changed])
                else:
                    stage.add_score_pairs(sorted((c, d) for c, d in deltas.items() if d))
                if span:
                    stage.written(*span, now_seen)
            else:
                if range_deltas is not None:
                    changed = np.flatnonzero(range_deltas)
                    pairs = list(zip((changed + span[0]).tolist(), range_deltas[changed].tolist(), strict=True))
                else:
                    pairs = sorted((c, d) for c, d in deltas.items() if d)
                store.add_counts(counts)  # one statement, not one per tag
                fresh = self.fresh_scores and len(self.levels) == 1  # each customer's score written once in the pass
                if not store.add_score_pairs(pairs, fresh=fresh) and fresh:
                    self.fresh_scores = False  # a score row existed: upserts from now on
            scores_seconds = clock() - t0
            t0 = clock()
        commit = clock() - t0
        self.phases["history"] += history
        self.phases["scores"] += scores_seconds
        self.phases["commit"] += commit
        self.phases["write"] += clock() - started - history - scores_seconds - commit


@contextmanager
def _page_cache(full_ids):
    """SQLite, full passes: a page cache of 256 MB for this connection while the refresh runs (the default 2 MB
    made the inserts into the taggings' (customer, tag) index read and write the same pages again and again:
    measured 91 s → 31 s for 12M taggings); back to what it was afterwards."""
    if not full_ids:
        yield
        return
    from shoal.core.db import sqlite_checkpoints_aside, sqlite_page_cache

    with sqlite_page_cache(CACHE_KIB), sqlite_checkpoints_aside():
        yield


def refresh(*, tag_ids=None, full: bool = False, daily: bool = False, customer_ids=None,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Refresh auto tags (all enabled ones, or ``tag_ids``). ``full``: re-read every customer; ``daily``: full for
    the tags whose rules compare with today; ``customer_ids``: re-read only these customers (refresh on change;
    watermarks stay). Returns ``{"tags", "evaluated", "added", "removed", "seconds", "skipped"}``."""
    started = time.monotonic()
    now = timezone.now()
    tags_qs = Tag.objects.filter(kind=TagKind.AUTO, enabled=True).order_by("pk")
    if tag_ids is not None:
        tags_qs = tags_qs.filter(pk__in=list(tag_ids))
    wanted = list(tags_qs)
    token = str(uuid.uuid4())
    claimed = claim([t.pk for t in wanted], token, now)
    tags = [t for t in wanted if t.pk in claimed]
    skipped = sorted(t.pk for t in wanted if t.pk not in claimed)
    try:
        total = Customer.objects.count()
        full_ids: set[int] = set()
        candidates: dict[int, list[int]] = {}
        restrict = None
        if customer_ids is not None:
            restrict = sorted(set(customer_ids))
            candidates = {t.pk: restrict for t in tags}
        else:
            deps = rule_logic.dependency_map([t.pk for t in tags])
            changed_cache: dict[datetime, set[int]] = {}
            for tag in tags:
                if full or tag.needs_full or tag.refreshed_at is None or (daily and tag.relative):
                    full_ids.add(tag.pk)
                    continue
                since = tag.refreshed_at - margin()
                if since not in changed_cache:
                    changed_cache[since] = changed_customers(since)
                ids = changed_cache[since] | tag_changes(tag.pk, deps.get(tag.pk, ()), since, tag.refreshed_at)
                if len(ids) > max(FULL_SWITCH * total, RANGE):
                    full_ids.add(tag.pk)
                else:
                    candidates[tag.pk] = sorted(ids)
        # Cleared before the rules are read: a rule saved from now on sets it again, for the next run.
        Tag.objects.filter(pk__in=full_ids).update(needs_full=False)
        # A first full pass of every auto tag into an empty taggings table (the first refresh after an install or
        # an import): the secondary indexes (taggings, scores) are built once afterwards, not row by row (as the
        # demo loader does); measured on SQLite at 12M taggings: 31 s with the (customer, tag) index, 15 s + 7 s.
        dropped: list[tuple[str, str]] = []
        first_pass = (restrict is None and full_ids and tag_ids is None and full_ids == {t.pk for t in tags}
                      and not Tagging.objects.exists())
        if first_pass:  # no taggings: every count is 0, and the pass keeps them (store.add_counts), no recount
            Tag.objects.filter(pk__in=full_ids).update(customer_count=0)
        try:
            renewed = [time.monotonic()]

            def beat(done: int, total: int) -> None:  # after each range: the claims renewed every few minutes
                if time.monotonic() - renewed[0] > CLAIM_MINUTES * 60 / 6:
                    renew([t.pk for t in tags], token, timezone.now())
                    renewed[0] = time.monotonic()
                if progress:
                    progress(done, total)

            run = Run(tags, full_ids=full_ids, candidates=candidates, progress=beat, now=now, restrict=restrict)
            stage = None
            if (first_pass and total >= INDEXES_AFTER and staging.enabled() and not connection.in_atomic_block
                    and len(run.levels) == 1 and staging.replaceable()):
                stage = staging.Stage(token, [t.pk for t in tags])
                if not stage.prepare():
                    stage = None
            if first_pass and total >= INDEXES_AFTER and stage is None:
                dropped = store.secondary_indexes()
                if not any(t.valid_days for t in tags):  # no row of the pass enters the partial expiry index: kept
                    dropped = [(name, sql) for name, sql in dropped if name != EXPIRY_INDEX]  # (a scan of every row)
                store.drop_indexes(dropped)
            run.fresh_scores = bool(dropped)  # no taggings: every score is 0 (no row, or rows of 0)
            with _page_cache(full_ids):  # the index builds too: SQLite's sorter takes as much memory as the cache
                try:  # (with the default 2 MB, 11M taggings were sorted in 2 MB runs on disk: 4.0 s instead of 3.5 s)
                    if stage is not None:  # into a table of its own, swapped in at the end (tags.staging)
                        stage.begin()
                        run.stage = stage
                        try:
                            run.run()
                            run.phases.update(stage.finish(at=now))
                        except BaseException:
                            stage.discard()
                            raise
                    else:
                        run.run()
                finally:
                    if dropped:
                        t0 = time.perf_counter()
                        store.create_indexes(dropped)
                        run.phases["indexes"] = time.perf_counter() - t0
        except BaseException:
            Tag.objects.filter(pk__in=full_ids).update(needs_full=True)  # the pass did not finish
            raise
        if customer_ids is None:
            done = [t.pk for t in tags if t.pk not in run.failed]
            Tag.objects.filter(pk__in=done).update(refreshed_at=now)
            Tag.objects.filter(pk__in=list(run.failed)).update(needs_full=True)
            if not first_pass:  # (measured at 1M on PostgreSQL: 1.2 s to count 11M taggings a first pass counted)
                store.recount(full_ids - set(run.failed))  # incremental runs keep the counts with F() updates
            store.prune_bulk_adds(full_ids, keep_at=now)  # this run's passes: their adds were just written
        if full_ids and connection.vendor == "sqlite" and not connection.in_atomic_block:
            # A full pass leaves a WAL of gigabytes; copy it into the database now, without waiting for readers,
            # rather than in the next writer's commit (measured: a no-change refresh right after a full one took
            # 3.8 s instead of 0.3 s, almost all of it the automatic checkpoint).
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            run.phases["checkpoint"] = time.perf_counter() - t0
    finally:
        release([t.pk for t in tags], token)
    evaluated = run.evaluated_full if full_ids else len(run.evaluated)
    result = {"tags": len(tags) - len(run.failed), "evaluated": evaluated, "added": run.added,
              "removed": run.removed, "seconds": round(time.monotonic() - started, 3), "skipped": skipped}
    result["phases"] = {name: round(seconds, 3) for name, seconds in run.phases.items()}
    log.info("tags refresh: %s", result)
    if run.failed:
        result["failed"] = [{"tag": pk, "error": message} for pk, message in sorted(run.failed.items())]
    return result


def expire(*, now: datetime | None = None) -> dict:
    """Remove taggings whose validity has ended, with history (source ``expiry``) and scores."""
    now = now or timezone.now()
    removed_total = 0
    tag_ids = list(Tagging.objects.filter(expires_at__lte=now).order_by().values_list("tag_id", flat=True).distinct())
    for tag in Tag.objects.filter(pk__in=tag_ids):
        while True:
            ids = list(Tagging.objects.filter(tag_id=tag.pk, expires_at__lte=now).order_by()
                       .values_list("customer_id", flat=True)[:store.BATCH])
            if not ids:
                break
            with transaction.atomic():
                removed = store.untag_customers(tag.pk, ids, source=TagSource.EXPIRY, at=now)
            removed_total += len(removed)
    return {"tags": len(tag_ids), "removed": removed_total}
