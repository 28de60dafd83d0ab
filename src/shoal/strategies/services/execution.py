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

from .. import processors, sql
from ..models import StrategyAction, StrategyStat, StrategyTask, TaskStatus

logger = logging.getLogger("shoal.strategies")
LEASE = timedelta(minutes=30)
BATCH = 500
# a processor's result → the task's status and the event history's status
TASK_STATUS = {processors.SUCCEEDED: TaskStatus.EXECUTED, processors.PENDING: TaskStatus.EXECUTED,
               processors.SKIPPED: TaskStatus.SKIPPED, processors.FAILED: TaskStatus.FAILED}
HISTORY_STATUS = {processors.SUCCEEDED: "success", processors.PENDING: "pending", processors.SKIPPED: "skipped",
                  processors.FAILED: "failed"}
CLAIMED = ("id", "strategy_id", "action_id", "event_id", "event_received_at", "customer_id", "result_id")


def _table() -> str:
    return connection.ops.quote_name(StrategyTask._meta.db_table)


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value) if connection.vendor == "sqlite" else value


def _aware(value) -> datetime:
    """SQLite hands back naive UTC text or datetimes from raw SQL."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


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
        row["event_received_at"] = _aware(row["event_received_at"])
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
    """Run the claimed tasks and write their results (only where ``token``'s claim holds)."""
    started = started if started is not None else time.monotonic()
    actions = {a.pk: a for a in StrategyAction.objects.filter(pk__in=sorted({r["action_id"] for r in claimed}))}
    events = _events(claimed)
    done, left = [], []
    for index, row in enumerate(claimed):
        if time.monotonic() - started > LEASE.total_seconds() / 2:
            left = [r["id"] for r in claimed[index:]]
            break
        action, event = actions.get(row["action_id"]), events.get(row["event_id"])
        if action is None or event is None:
            result = processors.ProcessorResult(processors.FAILED, error="the action or its event no longer exists")
        else:
            result = processors.run(code=action.processor, processor_id=action.processor_id,
                                    customer_id=row["customer_id"], event=event, params=action.params,
                                    delivery_id=f"strategy-task-{row['id']}")
        done.append((row, result))
    release(token=token, ids=left)
    return _write(done, token=token) | {"released": len(left)}


def _write(done: list[tuple], *, token: str) -> dict:
    from shoal.events.models import EventResult

    now = timezone.now()
    task_rows, result_rows = [], []
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    day = timezone.localdate(now)
    for row, result in done:
        status = TASK_STATUS.get(result.status, TaskStatus.FAILED)
        error = (result.error or "")[:5000]
        task_rows.append((row["id"], status, now, result.response_code, error, result.duration_ms, ""))
        if row["result_id"] is not None:
            attempts = (result.detail or {}).get("attempts")
            result_rows.append((row["result_id"], HISTORY_STATUS.get(result.status, "failed"), result.response_code,
                                error, result.duration_ms, attempts if isinstance(attempts, int) and attempts > 0
                                else 1))
        c = counts[(row["strategy_id"], day)]
        if status == TaskStatus.SKIPPED:
            c[3] += 1
        else:
            c[0] += 1
            c[1 if status == TaskStatus.EXECUTED else 2] += 1
    written = sql.update_by_id(StrategyTask._meta.db_table,
                               ("status", "finished_at", "response_code", "error", "duration_ms", "claim"),
                               ("text", "timestamptz", "integer", "text", "integer", "text"), task_rows,
                               where="t.status = %s AND t.claim = %s", params=(TaskStatus.RUNNING, token))
    sql.update_by_id(EventResult._meta.db_table, ("status", "response_code", "error", "duration_ms", "attempt"),
                     ("text", "integer", "text", "integer", "integer"), result_rows)
    sql.add_counts(StrategyStat._meta.db_table, ("strategy_id", "day"), ("bigint", "date"),
                   ("run", "succeeded", "failed", "skipped"), {k: tuple(v) for k, v in counts.items()})
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
