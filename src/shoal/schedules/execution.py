"""Running one queued job run: what the worker's task calls (claims the run, records the result)."""

from __future__ import annotations

import json
import logging
import time
import traceback
from contextvars import ContextVar

from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.errors import ShoalError

from .models import JobRun, RunStatus, ScheduledJob
from .registry import JOBS

logger = logging.getLogger("shoal.scheduler")
_current_run: ContextVar[int | None] = ContextVar("shoal_job_run", default=None)
_last_report: ContextVar[float] = ContextVar("shoal_job_report", default=0.0)


def report_progress(done: int, total: int) -> None:
    """A running job says how far it is (at most about once a second is written); outside a job: nothing."""
    run_id = _current_run.get()
    if run_id is None:
        return
    now = time.monotonic()
    if done < total and now - _last_report.get() < 1.0:
        return
    _last_report.set(now)
    JobRun.objects.filter(pk=run_id).update(progress={"done": done, "total": total})


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
            raise ShoalError("unknown_job", gettext("The job %(name)s is not registered") % {"name": run.job.name})
        token = _current_run.set(run.pk)
        try:
            result = spec.func(**(run.params or {}))
        finally:
            _current_run.reset(token)
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
