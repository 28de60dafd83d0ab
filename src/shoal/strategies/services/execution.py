"""Running due strategy tasks, exactly once, with any number of workers and schedulers.

A worker claims a batch in one statement: ``UPDATE … SET status = 'running', claim = <its token> WHERE id
IN (SELECT … WHERE status = 'pending' AND due_at <= now … LIMIT n [FOR UPDATE SKIP LOCKED])`` — on
PostgreSQL two workers skip each other's locked rows, on SQLite the writes are serialised; either way a
task is claimed by one worker only. The worker runs each task's processor with the delivery id
``strategy-task-<id>`` (the automation app records a call per delivery id before running it, so a second
run of the same id runs nothing and answers the first result), then writes the results of the batch in a
few statements, only where its claim still holds.

A worker that dies leaves its claims ``running``: after ``LEASE`` they go back to pending and are claimed
again; the delivery id keeps the processor from acting twice. A worker that is slow with a batch hands
back the tasks it has not started before its lease is half gone.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from shoal.core import batch_sql as sql
from shoal.core.db import insert_rows

from .. import processors
from ..models import Strategy, StrategyAction, StrategyStat, StrategyTask, TaskStatus

logger = logging.getLogger("shoal.strategies")
LEASE = timedelta(minutes=30)
BATCH = 500
CHUNK = 250  # processor calls recorded, run and closed together
# a processor's result → the task's status and the event history's status
TASK_STATUS = {processors.SUCCEEDED: TaskStatus.EXECUTED, processors.PENDING: TaskStatus.EXECUTED,
               processors.SKIPPED: TaskStatus.SKIPPED, processors.FAILED: TaskStatus.FAILED}
HISTORY_STATUS = {processors.SUCCEEDED: "success", processors.PENDING: "pending", processors.SKIPPED: "skipped",
                  processors.FAILED: "failed"}
CLAIMED = ("id", "strategy_id", "action_id", "event_id", "event_received_at", "customer_id")


def _table() -> str:
    return connection.ops.quote_name(StrategyTask._meta.db_table)


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value) if connection.vendor == "sqlite" else value


def claim(*, token: str, limit: int = BATCH, now: datetime | None = None) -> list[dict]:
    """Claim up to ``limit`` due pending tasks for ``token`` (earliest due first)."""
    now = now or timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    table = _table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claim = %s, claimed_at = %s, attempts = attempts + 1 "
            f"WHERE status = %s AND id IN (SELECT id FROM {table} WHERE status = %s AND due_at <= %s "
            f"ORDER BY due_at, id LIMIT %s{lock}) RETURNING {', '.join(CLAIMED)}",
            [TaskStatus.RUNNING, token, _db_time(now), TaskStatus.PENDING, TaskStatus.PENDING, _db_time(now), limit])
        rows = [dict(zip(CLAIMED, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["event_received_at"] = sql.aware(row["event_received_at"])
    rows.sort(key=lambda r: r["id"])
    return rows


def release(*, token: str, ids: list[int]) -> int:
    """Hand claimed tasks back (not started): pending again, for any worker."""
    if not ids:
        return 0
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET status = %s, claim = '' WHERE status = %s AND claim = %s "
                       f"AND id IN ({marks})", [TaskStatus.PENDING, TaskStatus.RUNNING, token, *ids])
        return cursor.rowcount


def recover_stale(*, now: datetime | None = None) -> int:
    """Claims older than ``LEASE`` (their worker died) go back to pending."""
    now = now or timezone.now()
    return StrategyTask.objects.filter(status=TaskStatus.RUNNING, claimed_at__lt=now - LEASE).update(
        status=TaskStatus.PENDING, claim="")


def _events(claimed: list[dict]) -> dict[int, dict]:
    """The claimed tasks' events as processors take them: ``{"id", "code", "timestamp", "data"}``."""
    from shoal.events.models import Event

    if not claimed:
        return {}
    times = [r["event_received_at"] for r in claimed]
    rows = Event.objects.filter(pk__in=sorted({r["event_id"] for r in claimed}), received_at__gte=min(times),
                                received_at__lte=max(times)).values_list("id", "event_code", "client_id",
                                                                         "occurred_at", "received_at", "payload")
    out = {}
    for pk, code, client_id, occurred, received, payload in rows:
        payload = payload if isinstance(payload, dict) else {}
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        out[pk] = {"id": client_id or str(pk), "code": code, "timestamp": (occurred or received).isoformat(),
                   "data": data}
    return out


def run_claimed(claimed: list[dict], *, token: str, started: float | None = None) -> dict:
    """Run the claimed tasks (a processor call each, built-in ones as a batch) and write their results, only
    where ``token``'s claim holds. A batch that takes too long hands its unstarted tasks back."""
    started = started if started is not None else time.monotonic()
    actions = {a.pk: a for a in StrategyAction.objects.filter(pk__in=sorted({r["action_id"] for r in claimed}))}
    events = _events(claimed)
    done, left = [], []
    for start in range(0, len(claimed), CHUNK):
        if time.monotonic() - started > LEASE.total_seconds() / 2:
            left = [r["id"] for r in claimed[start:]]
            break
        chunk = claimed[start:start + CHUNK]
        items = []
        for row in chunk:
            action, event = actions.get(row["action_id"]), events.get(row["event_id"])
            if action is not None and event is not None:
                items.append(processors.RunItem(delivery_id=f"strategy-task-{row['id']}", code=action.processor,
                                                processor_id=action.processor_id, customer_id=row["customer_id"],
                                                event=event, params=action.params))
        results = processors.run_many(items)
        gone = processors.ProcessorResult(processors.FAILED, error="the action or its event no longer exists")
        done += [(row, results.get(f"strategy-task-{row['id']}", gone), actions.get(row["action_id"]))
                 for row in chunk]
    release(token=token, ids=left)
    return _write(done, token=token) | {"released": len(left)}


def _write(done: list[tuple], *, token: str) -> dict:
    """The results of a batch in one transaction: the tasks (where the claim holds), the event history's
    processor rows, the per-day counters."""
    from django.db import transaction

    from ..history import RESULT_COLUMNS, result_table

    now = timezone.now()
    day = timezone.localdate(now)
    names = dict(Strategy.objects.filter(pk__in={row["strategy_id"] for row, _, _ in done}).values_list("pk", "name"))
    task_rows, history, counts = [], [], defaultdict(lambda: [0, 0, 0, 0])
    for row, result, action in done:
        status = TASK_STATUS.get(result.status, TaskStatus.FAILED)
        error = (result.error or "")[:5000]
        task_rows.append((row["id"], status, now, result.response_code, error, result.duration_ms, ""))
        attempts = (result.detail or {}).get("attempts")
        history.append((row["event_id"], row["event_received_at"], row["strategy_id"],
                        names.get(row["strategy_id"], "")[:200], True, "", action.processor if action else "",
                        HISTORY_STATUS.get(result.status, "failed"), result.response_code, error, result.duration_ms,
                        attempts if isinstance(attempts, int) and attempts > 0 else 1, now))
        c = counts[(row["strategy_id"], day)]
        if status == TaskStatus.SKIPPED:
            c[3] += 1
        else:
            c[0] += 1
            c[1 if status == TaskStatus.EXECUTED else 2] += 1
    with transaction.atomic():
        written = sql.update_by_id(StrategyTask._meta.db_table,
                                   ("status", "finished_at", "response_code", "error", "duration_ms", "claim"),
                                   ("text", "timestamptz", "integer", "text", "integer", "text"), task_rows,
                                   where="t.status = %s AND t.claim = %s", params=(TaskStatus.RUNNING, token))
        if written == len(task_rows):
            insert_rows(result_table(), RESULT_COLUMNS, history)
            sql.add_counts(StrategyStat._meta.db_table, ("strategy_id", "day"), ("bigint", "date"),
                           ("run", "succeeded", "failed", "skipped"), {k: tuple(v) for k, v in counts.items()})
        else:  # some claims were lost (a lease ran out and another worker took them): count what was ours
            kept = set(StrategyTask.objects.filter(pk__in=[r[0] for r in task_rows], claim="", finished_at=now)
                       .values_list("pk", flat=True))
            insert_rows(result_table(), RESULT_COLUMNS,
                        [h for h, (row, _, _) in zip(history, done, strict=True) if row["id"] in kept])
    return {"run": len(done), "written": written}


def run_due(*, max_seconds: float | None = 50.0, limit: int = BATCH, on_full_batch=None) -> dict:
    """Claim and run due tasks until none is due (or ``max_seconds`` have passed). ``on_full_batch``: called
    when a batch came back full (more work waits: another worker may join)."""
    token = uuid.uuid4().hex
    started = time.monotonic()
    recovered = recover_stale()
    total = {"run": 0, "written": 0, "released": 0, "batches": 0, "recovered": recovered}
    while True:
        batch_start = time.monotonic()
        claimed = claim(token=token, limit=limit)
        if not claimed:
            break
        if len(claimed) == limit and on_full_batch is not None:
            on_full_batch()
        result = run_claimed(claimed, token=token, started=batch_start)
        for key in ("run", "written", "released"):
            total[key] += result[key]
        total["batches"] += 1
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    total["left"] = StrategyTask.objects.filter(status=TaskStatus.PENDING, due_at__lte=timezone.now()).exists()
    total["seconds"] = round(time.monotonic() - started, 3)
    return total
