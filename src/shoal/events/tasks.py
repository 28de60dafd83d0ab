"""The worker's side of event processing: ``process_events`` drains the queue of accepted events.

Ingestion calls :func:`request_processing` after its transaction commits: it enqueues the task unless
one is already waiting to start (that one will see the new events; a running one may have looked
already, so it does not count). Should the enqueue fail, the minutely ``events.process`` job picks the
events up. Processing is idempotent and safe on several workers (see ``services.processing``)."""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger("shoal.events")
TASK_PATH = "shoal.events.tasks.process_events"
MAX_SECONDS = 50.0  # then the task hands over to a new one (other queued work gets a turn)


@task()
def process_events() -> dict:
    from .services.processing import process_pending

    result = process_pending(max_seconds=MAX_SECONDS)
    if result["left"]:
        request_processing()
    return result


def request_processing() -> None:
    """Enqueue ``process_events`` unless one is already waiting."""
    from django.db import connection
    from django_tasks_db.models import DBTaskResult

    table = connection.ops.quote_name(DBTaskResult._meta.db_table)
    try:
        with connection.cursor() as cursor:  # a plain query: this runs after every ingest request
            cursor.execute(f"SELECT 1 FROM {table} WHERE status = 'READY' AND task_path = %s LIMIT 1", [TASK_PATH])
            if cursor.fetchone() is not None:
                return
        process_events.enqueue()
    except Exception:  # the events are durable and queued; the minutely job processes them anyway
        logger.exception("could not enqueue event processing")
