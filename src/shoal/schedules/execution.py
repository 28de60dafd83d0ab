"""Running one queued job run: what the worker's task calls (claims the run, records the result)."""

from __future__ import annotations

import json
import logging
import time
import traceback

from django.utils import timezone

from shoal.core.errors import ShoalError

from .models import JobRun, RunStatus, ScheduledJob
from .registry import JOBS

logger = logging.getLogger("shoal.scheduler")


def execute_run(run_id: int) -> JobRun | None:
    """Run a queued JobRun once. Safe to call twice or from two workers: only one claims it."""
    if JobRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now()) != 1:
        return None
    run = JobRun.objects.select_related("job").get(pk=run_id)
    ScheduledJob.objects.filter(pk=run.job_id).update(last_status=RunStatus.RUNNING)
    spec = JOBS.get(run.job.name)
    started = time.monotonic()
    try:
        if spec is None:
            raise ShoalError("unknown_job", f"The job {run.job.name} is not registered")
        result = spec.func()
        run.status, run.result, run.error = RunStatus.SUCCEEDED, _jsonable(result), ""
    except Exception as exc:  # the job's error is recorded; the worker goes on
        logger.exception("job %s failed", run.job.name)
        run.status = RunStatus.FAILED
        run.error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"[:20000]
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save(update_fields=["status", "result", "error", "finished_at", "duration_ms"])
    ScheduledJob.objects.filter(pk=run.job_id).update(last_run_at=run.started_at, last_status=run.status)
    return run


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
