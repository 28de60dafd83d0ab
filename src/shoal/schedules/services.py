"""Scheduling: sync the registry to the database, claim due jobs exactly once, run them.

The claim is a conditional UPDATE (``next_run_at`` still equal to the slot we saw), so two
schedulers on one database — on one host or several — enqueue each due slot once. A unique
constraint on (job, scheduled_for) backs it up.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from croniter import croniter
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.actors import SYSTEM
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from .execution import execute_run
from .models import JobRun, RunStatus, ScheduledJob
from .registry import JOBS
from .tasks import run_job

logger = logging.getLogger("shoal.scheduler")


def validate_cron(expr: str) -> str:
    expr = " ".join((expr or "").split())
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        raise ShoalError("invalid_cron", gettext("A cron expression has five fields: minute hour day month weekday "
                                                 "(e.g. '30 5 * * *')"), {"field": "cron", "value": expr})
    return expr


def next_run(expr: str, after: datetime) -> datetime:
    base = timezone.localtime(after)
    return croniter(expr, base).get_next(datetime)


def sync_registry(now: datetime | None = None) -> int:
    """Create a schedule row for every registered job that has none. Returns how many were created."""
    now = now or timezone.now()
    existing = set(ScheduledJob.objects.values_list("name", flat=True))
    created = 0
    for spec in JOBS.values():
        if spec.name in existing:
            continue
        try:
            with transaction.atomic():
                ScheduledJob.objects.create(name=spec.name, description=spec.description, cron=spec.cron,
                                            enabled=spec.enabled, next_run_at=next_run(spec.cron, now))
            created += 1
        except IntegrityError:  # another scheduler created it first
            pass
    return created


def due_jobs(now: datetime) -> list[ScheduledJob]:
    return list(ScheduledJob.objects.filter(enabled=True, next_run_at__lte=now, name__in=list(JOBS)))


def claim(job: ScheduledJob, now: datetime) -> JobRun | None:
    """Claim the due slot of ``job`` as read; None when another scheduler claimed it first."""
    slot = job.next_run_at
    with transaction.atomic():
        won = ScheduledJob.objects.filter(pk=job.pk, enabled=True, next_run_at=slot).update(
            next_run_at=next_run(job.cron, now), last_status=RunStatus.QUEUED)
        if won != 1:
            return None
        try:
            with transaction.atomic():
                run = JobRun.objects.create(job=job, trigger="schedule", scheduled_for=slot)
        except IntegrityError:
            return None
        transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


def tick(now: datetime | None = None) -> list[JobRun]:
    """One pass of the scheduler: claim and enqueue every due job. A failing job does not stop the rest."""
    now = now or timezone.now()
    claimed = []
    for job in due_jobs(now):
        try:
            run = claim(job, now)
        except Exception:  # a bad row (e.g. a cron edited outside the app) must not stop the others
            logger.exception("could not schedule %s", job.name)
            continue
        if run is not None:
            claimed.append(run)
            logger.info("queued %s (slot %s)", job.name, run.scheduled_for)
    return claimed


def run_scheduler(*, interval: float = 5.0, max_ticks: int | None = None, stop=None) -> None:
    sync_registry()
    ticks = 0
    while stop is None or not stop.is_set():
        close_old_connections()
        try:
            tick()
        except Exception:
            logger.exception("scheduler tick failed")
        ticks += 1
        if max_ticks is not None and ticks >= max_ticks:
            return
        if stop is not None:
            stop.wait(interval)
        else:
            time.sleep(interval)


def enqueue_run(run_id: int) -> None:
    run_job.enqueue(run_id)


def job_get(name: str) -> ScheduledJob:
    sync_registry()
    job = ScheduledJob.objects.filter(name=name).first()
    if job is None:
        raise NotFound(gettext("No job named %(name)s") % {"name": name}, {"name": name, "known": sorted(JOBS)})
    return job


def run_now(*, job: ScheduledJob, actor=SYSTEM, trigger: str = "manual", params: dict | None = None) -> JobRun:
    """Queue a run for the worker now (the 立即执行 button); ``params``: keyword arguments for the job."""
    if job.name not in JOBS:
        raise ShoalError("unknown_job", gettext("The job %(name)s is not registered in this version") % {"name": job.name}, {"name": job.name})
    with transaction.atomic():
        run = JobRun.objects.create(job=job, trigger=trigger, params=params,
                                    queued_by=actor if getattr(actor, "is_authenticated", False) else None)
        ScheduledJob.objects.filter(pk=job.pk).update(last_status=RunStatus.QUEUED)
        transaction.on_commit(lambda: enqueue_run(run.pk))
    log_operation(actor=actor, action="job.run_now", obj=job)
    return run


def run_inline(*, job: ScheduledJob, actor=SYSTEM) -> JobRun:
    """Run a job in this process (``shoal jobs run NAME``) and record it like any other run."""
    if job.name not in JOBS:
        raise ShoalError("unknown_job", gettext("The job %(name)s is not registered in this version") % {"name": job.name}, {"name": job.name})
    run = JobRun.objects.create(job=job, trigger="cli")
    log_operation(actor=actor, action="job.run_now", obj=job, detail={"trigger": "cli"})
    return execute_run(run.pk)


def job_update(*, actor, job: ScheduledJob, cron: str | None = None, enabled: bool | None = None) -> ScheduledJob:
    values = {} if enabled is None else {"enabled": enabled}
    if cron is not None:
        values["cron"] = validate_cron(cron)
    values["next_run_at"] = next_run(values.get("cron", job.cron), timezone.now())
    model_update(instance=job, fields=("cron", "enabled", "next_run_at"), data=values)
    log_operation(actor=actor, action="job.update", obj=job, detail={"cron": job.cron, "enabled": job.enabled})
    return job
