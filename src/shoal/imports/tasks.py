"""The worker's side of a customer import: ``run_import(run_id)`` re-fetches the run and executes it.

``services.import_start`` enqueues it after its transaction commits. Executing is idempotent: a run another
worker holds, or one already finished, is skipped (``import_execute`` returns None)."""

from __future__ import annotations

import logging
import time

from django_tasks import task

logger = logging.getLogger("shoal.imports")
LOG_EVERY = 30.0  # seconds between progress lines in the worker's log


class _ProgressLog:
    """``progress(done, total)``: a line in the worker's log now and then (the run's own row keeps the
    committed progress that the pages and the API show)."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.last = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if now - self.last >= LOG_EVERY:
            self.last = now
            logger.info("import %s: %s of %s bytes read", self.run_id, done, total if total is not None else "?")


@task()
def run_import(run_id: int) -> str:
    """Worker entry point: run the queued (or stalled) import ``run_id``."""
    from . import services

    run = services.import_execute(run_id, progress=_ProgressLog(run_id))
    return "skipped" if run is None else run.status
