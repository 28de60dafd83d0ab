"""Built-in housekeeping jobs."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_noop

from .registry import register_job


@register_job("system.prune_job_history", cron="15 3 * * *",
              description=gettext_noop("Delete job runs and finished task results older than 30 days"))
def prune_job_history():
    from django_tasks_db.models import DBTaskResult

    from .models import JobRun

    cutoff = timezone.now() - timedelta(days=30)
    runs, _ = JobRun.objects.filter(queued_at__lt=cutoff).exclude(status__in=["queued", "running"]).delete()
    results, _ = DBTaskResult.objects.filter(finished_at__lt=cutoff).delete()
    return {"job_runs_deleted": runs, "task_results_deleted": results}


@register_job("system.clear_expired_sessions", cron="0 4 * * *", description=gettext_noop("Remove expired login sessions"))
def clear_expired_sessions():
    from django.contrib.sessions.models import Session

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"sessions_deleted": deleted}
