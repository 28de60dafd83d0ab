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

import time
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from shoal.customers.models import Customer
from shoal.segments.catalog import field_catalog

from . import rules as rule_logic
from . import store
from .models import Tag, Tagging, TagHistory, TagKind, TagSource

RANGE = 50_000  # customer ids per range
IN_BATCH = 2_000  # candidate ids per query in incremental mode
CLAIM_MINUTES = 30
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
    claimed = set()
    for pk in tag_ids:
        if Tag.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=pk).update(
                claim=token, claimed_until=now + timedelta(minutes=CLAIM_MINUTES)):
            claimed.add(pk)
    return claimed


def release(tag_ids, token: str) -> None:
    Tag.objects.filter(pk__in=list(tag_ids), claim=token).update(claim="", claimed_until=None)


# -- what to re-read --------------------------------------------------------------------------------
def changed_customers(since: datetime) -> set[int]:
    return set(Customer.objects.filter(updated_at__gte=since).order_by().values_list("pk", flat=True))


def tag_changes(tag_ids, since: datetime, watermark: datetime) -> set[int]:
    """Customers whose ``tag_ids`` changed since ``since``, except by the run that set ``watermark`` (the
    tag read them in that same run)."""
    if not tag_ids:
        return set()
    return set(TagHistory.objects.filter(tag_id__in=list(tag_ids), at__gte=since).order_by()
               .exclude(at=watermark, source=TagSource.RULE).values_list("customer_id", flat=True))


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
        self.rules = {t.pk: list(t.rules.all()) for t in tags}
        self.queries = {t.pk: [(r.pk, rule_logic.rule_q(r, self.catalog)) for r in self.rules[t.pk]] for t in tags}
        self.deps = {pk: d for pk, d in rule_logic.dependency_map([t.pk for t in tags]).items()}
        self.levels = rule_logic.order_by_dependencies(tags, self.deps)
        self.added = self.removed = 0
        self.evaluated: set[int] = set()  # customers re-read by incremental tags
        self.evaluated_full = 0

    # evaluation (reads, outside any transaction)
    def _match(self, tag: Tag, base: Q) -> dict[int, int]:
        """customer id → the first rule (by id) that matches it. The ORM builds the SQL; the rows come
        through the cursor (a million ids through a queryset cost seconds of Python)."""
        matched: dict[int, int] = {}
        for rule_id, q in self.queries[tag.pk]:
            sql, params = Customer.objects.filter(base).filter(q).order_by().values_list("pk").query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                for (pk,) in cursor.fetchall():
                    matched.setdefault(pk, rule_id)
        return matched

    def _current(self, tag: Tag, lo: int | None = None, hi: int | None = None, ids: list[int] | None = None):
        """customer id → source of the tag's taggings in [lo, hi) or among ``ids``."""
        with connection.cursor() as cursor:
            if ids is None:
                cursor.execute(f"SELECT customer_id, source FROM {store.TAGGING} WHERE tag_id = %s "
                               f"AND customer_id >= %s AND customer_id < %s", [tag.pk, lo, hi])
                return dict(cursor.fetchall())
            current = {}
            for start in range(0, len(ids), IN_BATCH):
                chunk = ids[start:start + IN_BATCH]
                cursor.execute(f"SELECT customer_id, source FROM {store.TAGGING} WHERE tag_id = %s "
                               f"AND customer_id IN ({', '.join(['%s'] * len(chunk))})", [tag.pk, *chunk])
                current.update(cursor.fetchall())
            return current

    def run(self) -> None:
        bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        if bounds["lo"] is None:
            ranges = []
        else:
            ranges = [(lo, min(lo + RANGE, bounds["hi"] + 1)) for lo in range(bounds["lo"], bounds["hi"] + 1, RANGE)]
        if self.restrict is not None:
            ranges = [(min(self.restrict), max(self.restrict) + 1)] if self.restrict else []
        for done, (lo, hi) in enumerate(ranges, 1):
            self._range(lo, hi)
            if self.progress:
                self.progress(done, len(ranges))

    def _slice(self, ids: list[int], lo: int, hi: int) -> list[int]:
        return ids[bisect_left(ids, lo):bisect_left(ids, hi)]

    def _range(self, lo: int, hi: int) -> None:
        changed_here: dict[int, set[int]] = {}
        if self.full_ids:
            self.evaluated_full += Customer.objects.filter(pk__gte=lo, pk__lt=hi).count()
        for level in self.levels:
            plans = []
            for tag in level:
                if tag.pk in self.full_ids:
                    plans.append((tag, self._match(tag, Q(pk__gte=lo, pk__lt=hi)), None, (lo, hi)))
                    continue
                ids = set(self._slice(self.candidates.get(tag.pk, []), lo, hi))
                for dep in self.deps.get(tag.pk, ()):
                    ids |= changed_here.get(dep, set())
                if not ids:
                    continue
                self.evaluated |= ids
                ordered = sorted(ids)
                matched: dict[int, int] = {}
                for start in range(0, len(ordered), IN_BATCH):
                    matched.update(self._match(tag, Q(pk__in=ordered[start:start + IN_BATCH])))
                plans.append((tag, matched, ordered, None))
            if plans:
                self._write(plans, changed_here)

    def _write(self, plans, changed_here: dict[int, set[int]]) -> None:
        deltas: dict[int, int] = defaultdict(int)
        with transaction.atomic():
            for tag, matched, ordered, bounds in plans:
                current = self._current(tag, *bounds) if ordered is None else self._current(tag, ids=ordered)
                removes = [c for c, source in current.items() if source == TagSource.RULE and c not in matched]
                adds = [c for c in matched if c not in current]
                removed = store.delete_taggings(tag.pk, removes, sources=[TagSource.RULE]) if removes else []
                added = store.insert_taggings(tag.pk, adds, source=TagSource.RULE, at=self.now,
                                              expires_at=expiry_for(tag, self.now)) if adds else []
                if removed:
                    store.insert_history(tag.pk, removed, action=TagHistory.REMOVE, source=TagSource.RULE, at=self.now)
                by_rule: dict[int, list[int]] = defaultdict(list)
                for c in added:
                    by_rule[matched[c]].append(c)
                for rule_id, ids in by_rule.items():
                    store.insert_history(tag.pk, ids, action=TagHistory.ADD, source=TagSource.RULE, at=self.now,
                                         rule_id=rule_id)
                if tag.score:
                    for c in added:
                        deltas[c] += tag.score
                    for c in removed:
                        deltas[c] -= tag.score
                if added or removed:
                    changed_here.setdefault(tag.pk, set()).update(added, removed)
                    Tag.objects.filter(pk=tag.pk).update(customer_count=F("customer_count") + len(added) - len(removed))
                self.added += len(added)
                self.removed += len(removed)
            store.add_scores(deltas)


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
                ids = changed_cache[since] | tag_changes(deps.get(tag.pk, ()), since, tag.refreshed_at)
                if len(ids) > max(FULL_SWITCH * total, RANGE):
                    full_ids.add(tag.pk)
                else:
                    candidates[tag.pk] = sorted(ids)
        run = Run(tags, full_ids=full_ids, candidates=candidates, progress=progress, now=now, restrict=restrict)
        run.run()
        if customer_ids is None:
            for tag in tags:
                Tag.objects.filter(pk=tag.pk).update(
                    refreshed_at=now, needs_full=False,
                    relative=any(rule_logic.rule_is_relative(r) for r in run.rules[tag.pk]))
            store.recount(full_ids)  # incremental runs keep the counts with F() updates
    finally:
        release([t.pk for t in tags], token)
    evaluated = run.evaluated_full if full_ids else len(run.evaluated)
    return {"tags": len(tags), "evaluated": evaluated, "added": run.added, "removed": run.removed,
            "seconds": round(time.monotonic() - started, 3), "skipped": skipped}


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
                removed = store.delete_taggings(tag.pk, ids)
                store.insert_history(tag.pk, removed, action=TagHistory.REMOVE, source=TagSource.EXPIRY, at=now)
                store.add_scores({c: -tag.score for c in removed})
                Tag.objects.filter(pk=tag.pk).update(customer_count=F("customer_count") - len(removed))
            removed_total += len(removed)
    return {"tags": len(tag_ids), "removed": removed_total}
