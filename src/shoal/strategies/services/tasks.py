"""Cancelling strategy tasks (策略任务): one, a selection, or all the pending ones of strategies (when a
strategy is disabled, changed or deleted). Only a pending task can be cancelled: a conditional UPDATE
(``status = 'pending'``), so a task a worker has just claimed is not cancelled behind its back, and a
cancelled one is never claimed. The event history's row of each cancelled task says so too."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.core import batch_sql as sql
from shoal.core.db import insert_rows
from shoal.core.errors import Conflict
from shoal.core.oplog import log_operation

from ..models import StrategyTask, TaskStatus
from ..permissions import TASKS_CANCEL, require

CHUNK = 5000


def _cancel(where: str, params: list, reason: str) -> int:
    """Cancel the pending tasks matching ``where`` and say so in the event history; how many."""
    from ..history import RESULT_COLUMNS, result_table
    from ..models import Strategy, StrategyAction

    table = connection.ops.quote_name(StrategyTask._meta.db_table)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now) if connection.vendor == "sqlite" else now
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = %s, finished_at = %s, error = %s "
                       f"WHERE status = %s AND {where} RETURNING strategy_id, action_id, event_id, event_received_at",
                       [TaskStatus.CANCELLED, stamp, reason, TaskStatus.PENDING, *params])
        rows = cursor.fetchall()
    if rows:
        names = dict(Strategy.objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "name"))
        codes = dict(StrategyAction.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "processor"))
        insert_rows(result_table(), RESULT_COLUMNS, [
            (event_id, sql.aware(received), strategy_id, names.get(strategy_id, "")[:200], True, "",
             codes.get(action_id, ""), "cancelled", None, reason, None, 1, now)
            for strategy_id, action_id, event_id, received in rows])
    return len(rows)


def cancel_pending(*, strategy_ids: list[int], reason: str) -> int:
    """Cancel every pending task of these strategies (set-based); how many."""
    if not strategy_ids:
        return 0
    marks = ", ".join(["%s"] * len(strategy_ids))
    with transaction.atomic():
        return _cancel(f"strategy_id IN ({marks})", [int(i) for i in strategy_ids], reason)


def tasks_cancel(*, actor, ids: list[int]) -> int:
    """Cancel the pending tasks among ``ids`` (others are left as they are); how many were cancelled."""
    require(actor, TASKS_CANCEL)
    ids = sorted({int(i) for i in ids})
    cancelled = 0
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            cancelled += _cancel(f"id IN ({', '.join(['%s'] * len(chunk))})", chunk, "cancelled")
        if cancelled:
            log_operation(actor=actor, action="strategy_task.cancel", object_type="strategytask",
                          object_id=ids[0] if len(ids) == 1 else "", object_repr=f"{cancelled}",
                          detail={"ids": ids[:100], "count": cancelled})
    return cancelled


def task_cancel(*, actor, task_id: int) -> None:
    """Cancel one task: 409 unless it is pending."""
    if tasks_cancel(actor=actor, ids=[task_id]) == 0:
        status = StrategyTask.objects.filter(pk=task_id).values_list("status", flat=True).first()
        raise Conflict("not_pending", _("Only a pending task can be cancelled (this one is %(status)s)")
                       % {"status": TaskStatus(status).label if status in TaskStatus.values else status},
                       {"status": status})
