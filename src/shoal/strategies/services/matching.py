"""Events → strategy tasks: the event processor the events worker calls with each batch of accepted events,
inside the batch's transaction (``shoal.events.hooks.register_event_processor``). It calls nothing out: it
writes what to do, and the batch commits it with the events or not at all, so an event becomes each
action of a strategy exactly once (the unique key (strategy, action, event) backs this up).

Per batch, set-based:
1. the enabled, approved strategies of the batch's event types are read once and compiled (event
   conditions → a Python predicate, customer conditions → a ``Q``);
2. every event is matched in memory: its type, the validity window (on the time it was received), the
   event conditions (answered once per distinct values of the fields they read: ``Dispatch.fitting``);
3. customer conditions: one query per strategy over the batch's matched customers;
4. one statement each for the event-history results (a "matched" row per event and strategy, a row per
   skipped action), the tasks (PostgreSQL: COPY in a savepoint, ``ON CONFLICT DO NOTHING`` should a key
   exist; SQLite: ``ON CONFLICT DO NOTHING``) and the per-day counters.
Tasks due now are run by the tasks job right after the commit (``transaction.on_commit``), never here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from shoal.core import batch_sql as sql
from shoal.core.actors import SYSTEM
from shoal.core.db import ids_subquery
from shoal.core.errors import ShoalError

from ..conditions import READERS, compile_predicate, field_keys, index_key, parse_event_tree
from ..history import RESULT_COLUMNS, result_table
from ..models import Strategy, StrategyAction, StrategyStat, StrategyTask, TaskStatus

logger = logging.getLogger("shoal.strategies")
SKIPPED_LATE = "time_passed"  # the reason of an action whose time had passed when the event came


@dataclass(frozen=True)
class Action:
    id: int
    processor: str
    delay_hours: float | None
    run_at: datetime | None


@dataclass(frozen=True)
class Compiled:
    id: int
    name: str
    event_type_id: int
    valid_from: datetime | None
    valid_to: datetime | None
    predicate: Callable[[dict], bool] | None
    customer_q: Q | None
    actions: tuple[Action, ...]
    position: int = 0  # in the order of the strategies
    key: tuple | None = None  # (field, type, values) of an eq/in leaf that must hold (``conditions.index_key``)
    fields: frozenset = frozenset()  # the keys of the event's fields its conditions read


class Dispatch:
    """The strategies of one event type, looked up by the value of a field an ``eq`` of theirs needs (20
    strategies on ``kind`` cost a dictionary look-up, not 20 predicates), the others tried one by one.

    ``fitting(data)``: the strategies whose event conditions hold, in order. The answer depends only on the
    values of the fields the conditions read, so it is kept per distinct tuple of those values (with their
    types: ``1``, ``1.0`` and ``True`` are not the same value to a condition) for the batch: events that
    agree on them (the same sku, channel…) cost one look-up. Values that cannot be a key (lists, objects)
    are evaluated each time."""

    MEMO = 4096  # distinct value tuples kept per batch

    def __init__(self, strategies: list[Compiled]):
        self.rest: list[Compiled] = []
        self.index: dict[str, tuple] = {}
        self.fields = tuple(sorted({f for s in strategies for f in s.fields}))
        self.memo: dict[tuple, list[Compiled]] = {}
        for s in strategies:
            if s.key is None:
                self.rest.append(s)
                continue
            field, kind, values = s.key
            by_value = self.index.setdefault(field, (READERS[kind], defaultdict(list)))[1]
            for value in dict.fromkeys(values):
                by_value[value].append(s)

    def candidates(self, data: dict) -> list[Compiled]:
        found = list(self.rest)
        for field, (read, by_value) in self.index.items():
            hits = by_value.get(read(data.get(field)))
            if hits:
                found += hits
        if len(found) > 1:
            found.sort(key=lambda s: s.position)
        return found

    def fitting(self, data: dict) -> list[Compiled]:
        values = tuple(map(data.get, self.fields))
        key = (values, tuple(map(type, values)))
        try:
            return self.memo[key]
        except KeyError:
            pass
        except TypeError:  # a list or an object among the values
            key = None
        found = [s for s in self.candidates(data) if s.predicate is None or s.predicate(data)]
        if key is not None and len(self.memo) < self.MEMO:
            self.memo[key] = found
        return found


def load_strategies(type_ids, *, now: datetime) -> dict[int, Dispatch]:
    """The enabled, approved strategies of these event types, compiled, in order, by event type id. A
    strategy whose conditions no longer fit its event type (a field removed) is left out and logged."""
    from shoal.segments.catalog import field_catalog
    from shoal.segments.compiler import compile_query

    rows = list(Strategy.objects.filter(enabled=True, event_type_id__in=list(type_ids),
                                        approved_revision=F("revision"))
                .select_related("event_type").order_by("order", "id"))
    if not rows:
        return {}
    actions: dict[int, list[Action]] = defaultdict(list)
    for a in StrategyAction.objects.filter(strategy_id__in=[s.pk for s in rows], active=True).order_by(
            "position", "id"):
        actions[a.strategy_id].append(Action(a.pk, a.processor, a.delay_hours, a.run_at))
    catalog = None
    out: dict[int, list[Compiled]] = defaultdict(list)
    for position, s in enumerate(rows):
        try:
            tree = parse_event_tree(s.conditions, s.event_type.fields) if s.conditions is not None else None
            predicate = compile_predicate(tree, now=now) if tree is not None else None
            customer_q = None
            if s.customer_conditions is not None:
                catalog = catalog if catalog is not None else field_catalog()
                customer_q = compile_query(s.customer_conditions, catalog)
        except ShoalError as exc:
            logger.warning("strategy %s is skipped: its conditions no longer fit (%s)", s.pk, exc.message)
            continue
        if actions.get(s.pk):
            out[s.event_type_id].append(Compiled(s.pk, s.name, s.event_type_id, s.valid_from, s.valid_to, predicate,
                                                 customer_q, tuple(actions[s.pk]), position,
                                                 index_key(tree) if tree is not None else None,
                                                 field_keys(tree) if tree is not None else frozenset()))
    return {type_id: Dispatch(compiled) for type_id, compiled in out.items()}


def match(events, strategies: dict[int, Dispatch]) -> list[tuple]:
    """(event, strategy) pairs whose type, window and event conditions fit, customer conditions aside."""
    pairs = []
    for e in events:
        dispatch = strategies.get(e.event_type_id)
        if dispatch is None:
            continue
        for s in dispatch.fitting(e.data):
            if s.valid_from is not None and e.received_at < s.valid_from:
                continue
            if s.valid_to is not None and e.received_at > s.valid_to:
                continue
            pairs.append((e, s))
    return pairs


def check_customers(pairs: list[tuple]) -> list[tuple]:
    """Keep the pairs whose customer fits the strategy's customer conditions: one query per strategy."""
    from shoal.customers.selectors import customer_queryset

    wanted: dict[int, set[int]] = defaultdict(set)
    conditions: dict[int, Q] = {}
    for e, s in pairs:
        if s.customer_q is not None:
            wanted[s.id].add(e.customer_id)
            conditions[s.id] = s.customer_q
    fits = {sid: set(customer_queryset(actor=SYSTEM).filter(pk__in=ids_subquery(sorted(ids)))
                     .filter(conditions[sid]).values_list("pk", flat=True)) for sid, ids in wanted.items()}
    return [(e, s) for e, s in pairs if s.customer_q is None or e.customer_id in fits[s.id]]


TASK_COLUMNS = ("strategy_id", "action_id", "event_id", "event_received_at", "customer_id", "due_at", "status",
                "claim", "attempts", "error", "created_at", "finished_at")
TASK_TYPES = ("bigint", "bigint", "bigint", "timestamptz", "bigint", "timestamptz", "text", "text", "integer",
              "text", "timestamptz", "timestamptz")


def plan(pairs: list[tuple], now: datetime) -> tuple[list, list, list]:
    """(task rows, the history's "matched" rows, its rows of skipped actions) of the matched pairs."""
    tasks, matched, skipped = [], [], []
    for e, s in pairs:
        matched.append((e.id, e.received_at, s.id, s.name[:200], True, "", "", "", None, "", None, 1, now))
        for a in s.actions:
            if a.run_at is not None:
                due, late = a.run_at, a.run_at <= now
            elif a.delay_hours:
                due, late = e.received_at + timedelta(hours=a.delay_hours), False
            else:
                due, late = e.received_at, False
            if late:
                skipped.append((e.id, e.received_at, s.id, s.name[:200], True, "", a.processor, "skipped", None,
                                SKIPPED_LATE, None, 1, now))
                tasks.append((s.id, a.id, e.id, e.received_at, e.customer_id, due, TaskStatus.SKIPPED, "", 0,
                              SKIPPED_LATE, now, now))
            else:
                tasks.append((s.id, a.id, e.id, e.received_at, e.customer_id, due, TaskStatus.PENDING, "", 0, "",
                              now, None))
    return tasks, matched, skipped


def process_events(events) -> dict:
    """The event processor (see the module's text). Returns counts (for the benchmark and the tests)."""
    if not events:
        return {"matched": 0, "tasks": 0}
    now = timezone.now()
    strategies = load_strategies({e.event_type_id for e in events}, now=now)
    if not strategies:
        return {"matched": 0, "tasks": 0}
    pairs = check_customers(match(events, strategies))
    if not pairs:
        return {"matched": 0, "tasks": 0}
    tasks, matched, skipped = plan(pairs, now)
    written = sql.insert_new(StrategyTask._meta.db_table, TASK_COLUMNS, TASK_TYPES, tasks)
    if written < len(tasks):  # some events had been turned into tasks already: their history is not written twice
        fresh = set(StrategyTask.objects.filter(event_id__in={row[2] for row in tasks}, created_at=now)
                    .values_list("strategy_id", "action_id", "event_id"))
        tasks = [row for row in tasks if row[:3] in fresh]
        done = {(row[2], row[0]) for row in tasks}
        matched = [row for row in matched if (row[0], row[2]) in done]
        skipped = [row for row in skipped if (row[0], row[2]) in done]
    sql.insert_rows(result_table(), RESULT_COLUMNS, matched + skipped)
    stats: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    days: dict = {}
    for row in matched:
        day = days.get(row[1]) or days.setdefault(row[1], timezone.localdate(row[1]))
        stats[(row[2], day)][0] += 1
    for row in tasks:
        if row[6] == TaskStatus.SKIPPED:
            stats[(row[0], timezone.localdate(row[3]))][1] += 1
    sql.add_counts(StrategyStat._meta.db_table, ("strategy_id", "day"), ("bigint", "date"), ("matched", "skipped"),
                   {key: tuple(v) for key, v in stats.items()})
    if any(row[6] == TaskStatus.PENDING and row[5] <= now for row in tasks):
        from ..tasks import request_run

        transaction.on_commit(request_run)
    return {"matched": len(matched), "tasks": len(tasks)}


