from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext
from ninja import Router, Schema
from pydantic import ConfigDict

from shoal.core.auth import calling_user, require, user_can
from shoal.core.errors import NotFound
from shoal.core.schemas import DbId

from . import services
from .models import JobRun, ScheduledJob

router = Router(tags=["schedules"])


class JobOut(Schema):
    id: int
    name: str
    description: str
    cron: str
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str

    @staticmethod
    def resolve_description(obj) -> str:
        return gettext(obj.description) if obj.description else ""


class JobPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    cron: str | None = None
    enabled: bool | None = None


class RunOut(Schema):
    id: int
    job: str
    trigger: str
    status: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: str

    @staticmethod
    def resolve_job(obj):
        return obj.job.name


class RunProgressOut(RunOut):
    progress: dict | None
    result: dict | list | str | int | float | bool | None


@router.get("/jobs/{int:run_id}", response=RunProgressOut, summary="One run: status, progress and result")
def get_run(request, run_id: DbId):  # {int:…}: /jobs/<name> (PATCH) is another route
    """A queued or finished run (e.g. the ``job_id`` a tag refresh answers with). Readable by whoever may view
    the schedules and by the user who queued it."""
    run = JobRun.objects.select_related("job").filter(pk=run_id).first()
    user = calling_user(request)
    if run is None or not (user_can(user, "system.schedules.view") or (user and run.queued_by_id == user.pk)):
        raise NotFound(gettext("Job run not found"))
    return run


@router.get("/jobs", response=list[JobOut])
def list_jobs(request):
    require(request, "system.schedules.view")
    services.sync_registry()
    return ScheduledJob.objects.all()


@router.patch("/jobs/{name}", response=JobOut)
def update_job(request, name: str, payload: JobPatch):
    require(request, "system.schedules.edit")
    job = services.job_get(name)
    return services.job_update(actor=request.auth, job=job, **payload.dict(exclude_unset=True))


@router.post("/jobs/{name}/run", response={202: RunOut}, summary="Queue a run now")
def run_job_now(request, name: str):
    require(request, "system.schedules.run")
    return 202, services.run_now(job=services.job_get(name), actor=request.auth)


@router.get("/jobs/{name}/runs", response=list[RunOut])
def list_runs(request, name: str):
    require(request, "system.schedules.view")
    job = services.job_get(name)
    return JobRun.objects.filter(job=job).select_related("job")[:100]
