"""The worker's side of strategy tasks: ``run_strategy_tasks`` runs the due ones.

The event processor asks for a run after a batch that made tasks due now commits (``request_run``): it
enqueues the task unless one is already waiting to start. The minutely ``strategies.run_due`` job runs
the delayed ones as they fall due (and anything an enqueue missed). Any number of these may run at once
on any number of workers: the claims keep each task to one of them (see ``services.execution``)."""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger("shoal.strategies")
TASK_PATH = "shoal.marketing.strategy_tasks.run_strategy_tasks"
MAX_SECONDS = 50.0  # then the task hands over to a new one (other queued work gets a turn)


@task()
def run_strategy_tasks() -> dict:
    from .services.execution import run_due

    result = run_due(max_seconds=MAX_SECONDS, on_full_batch=request_run)
    if result["left"]:
        request_run()
    return result


def request_run() -> None:
    """Enqueue ``run_strategy_tasks`` unless one is already waiting (a running one does not count: it
    may have looked already)."""
    from django_tasks_db.models import DBTaskResult

    try:
        if DBTaskResult.objects.filter(status="READY", task_path=TASK_PATH).exists():
            return
        run_strategy_tasks.enqueue()
    except Exception:  # the tasks are durable rows; the minutely job runs them anyway
        logger.exception("could not enqueue the strategy tasks run")
