"""Events → strategy tasks: the event processor the events worker calls with each batch of accepted events,
inside the batch's transaction (``shoal.events.hooks.register_event_processor``). It calls nothing out: it
writes what to do, and the batch commits it with the events or not at all, so an event becomes each
action of a strategy exactly once (the unique key (strategy, action, event) backs this up).

Per batch, set-based:
1. the enabled, approved strategies of the batch's event types are read once and compiled (event
   conditions → a Python predicate, customer conditions → a ``Q``);
2. every event is matched in memory: its type, the validity window (on the time it was received), the
   event conditions;
3. customer conditions: one query per strategy over the batch's matched customers;
4. one multi-row INSERT each of the event-history results (a "matched" row per event and strategy, a row
   per action: pending, or skipped when its time has passed), of the tasks (``ON CONFLICT DO NOTHING``),
   and of the per-day counters.
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

from shoal.core.actors import SYSTEM
from shoal.core.db import ids_subquery, insert_rows
from shoal.core.errors import ShoalError

from .. import sql
from ..conditions import compile_predicate, parse_event_tree
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


def load_strategies(type_ids, *, now: datetime) -> dict[int, list[Compiled]]:
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
    for s in rows:
        try:
            predicate = (compile_predicate(parse_event_tree(s.conditions, s.event_type.fields), now=now)
                         if s.conditions is not None else None)
            customer_q = None
            if s.customer_conditions is not None:
                catalog = catalog if catalog is not None else field_catalog()
                customer_q = compile_query(s.customer_conditions, catalog)
        except ShoalError as exc:
            logger.warning("strategy %s is skipped: its conditions no longer fit (%s)", s.pk, exc.message)
            continue
        if actions.get(s.pk):
            out[s.event_type_id].append(Compiled(s.pk, s.name, s.event_type_id, s.valid_from, s.valid_to, predicate,
                                                 customer_q, tuple(actions[s.pk])))
    return out


def match(events, strategies: dict[int, list[Compiled]]) -> list[tuple]:
    """(event, strategy) pairs whose type, window and event conditions fit, customer conditions aside."""
    pairs = []
    for e in events:
        for s in strategies.get(e.event_type_id, ()):
            if s.valid_from is not None and e.received_at < s.valid_from:
                continue
            if s.valid_to is not None and e.received_at > s.valid_to:
                continue
            if s.predicate is None or s.predicate(e.data):
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


RESULT_COLUMNS = ("event_id", "event_received_at", "strategy_id", "strategy_name", "matched", "reason", "processor",
                  "status", "response_code", "error", "duration_ms", "attempt", "created_at")
TASK_COLUMNS = ("strategy_id", "action_id", "event_id", "event_received_at", "customer_id", "due_at", "status",
                "claim", "attempts", "result_id", "error", "created_at", "finished_at")
TASK_TYPES = ("bigint", "bigint", "bigint", "timestamptz", "bigint", "timestamptz", "text", "text", "integer",
              "bigint", "text", "timestamptz", "timestamptz")


def _result_table() -> str:
    from shoal.events.models import EventResult

    return EventResult._meta.db_table


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
    matched_rows, action_rows, planned = [], [], []
    for e, s in pairs:
        matched_rows.append((e.id, e.received_at, s.id, s.name[:200], True, "", "", "", None, "", None, 1, now))
        for a in s.actions:
            if a.run_at is not None:
                due, late = a.run_at, a.run_at <= now
            else:
                due, late = e.received_at + timedelta(hours=a.delay_hours or 0), False
            status = TaskStatus.SKIPPED if late else TaskStatus.PENDING
            action_rows.append((e.id, e.received_at, s.id, s.name[:200], True, SKIPPED_LATE if late else "",
                                a.processor, "skipped" if late else "pending", None, "", None, 1, now))
            planned.append([s.id, a.id, e.id, e.received_at, e.customer_id, due, status, "", 0, None,
                            SKIPPED_LATE if late else "", now, now if late else None])
    table = _result_table()
    result_ids = insert_rows(table, RESULT_COLUMNS, action_rows, returning="id")
    for row, result_id in zip(planned, result_ids, strict=True):
        row[9] = result_id
    written = sql.insert_ignore(StrategyTask._meta.db_table, TASK_COLUMNS, TASK_TYPES, planned,
                                returning=("result_id",))
    if len(written) < len(planned):  # an event already turned into tasks: its history rows are not written twice
        kept = {r for (r,) in written}
        _drop_results([r for r in result_ids if r not in kept])
        planned = [row for row in planned if row[9] in kept]
        done = {(row[2], row[0]) for row in planned}
        matched_rows = [row for row in matched_rows if (row[0], row[2]) in done]
    insert_rows(table, RESULT_COLUMNS, matched_rows)
    stats: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    days: dict[datetime, object] = {}
    for row in matched_rows:
        day = days.get(row[1]) or days.setdefault(row[1], timezone.localdate(row[1]))
        stats[(row[2], day)][0] += 1
    for row in planned:
        if row[6] == TaskStatus.SKIPPED:
            stats[(row[0], timezone.localdate(row[3]))][1] += 1
    sql.add_counts(StrategyStat._meta.db_table, ("strategy_id", "day"), ("bigint", "date"), ("matched", "skipped"),
                   {key: tuple(v) for key, v in stats.items()})
    due_now = any(row[6] == TaskStatus.PENDING and row[5] <= now for row in planned)
    if due_now:
        from ..tasks import request_run

        transaction.on_commit(request_run)
    return {"matched": len(matched_rows), "tasks": len(written)}


def _drop_results(ids: list[int]) -> None:
    from shoal.events.models import EventResult

    for start in range(0, len(ids), 5000):
        EventResult.objects.filter(pk__in=ids[start:start + 5000]).delete()
