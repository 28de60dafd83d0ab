from django.db import models
from django.utils.translation import gettext_lazy as _


class RunStatus(models.TextChoices):
    NEVER = "", _("Never run")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ScheduledJob(models.Model):
    """A registered job's schedule (任务调度): cron expression, enabled flag, last and next run."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    cron = models.CharField(_("cron expression"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_status = models.CharField(_("last status"), max_length=16, choices=RunStatus.choices, blank=True, default="")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self):
        return self.name


class JobRun(models.Model):
    """One run of a job: when, how long, and its result or error."""

    job = models.ForeignKey(ScheduledJob, on_delete=models.CASCADE, related_name="runs", verbose_name=_("job"))
    trigger = models.CharField(_("trigger"), max_length=16, default="schedule")  # schedule | manual | cli
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    queued_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    params = models.JSONField(_("parameters"), null=True, blank=True)  # keyword arguments of a run queued with them
    progress = models.JSONField(_("progress"), null=True, blank=True)  # {"done", "total"} while it runs
    queued_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("queued by"))  # may follow its progress
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        constraints = [
            # A due slot of a job is enqueued once, however many schedulers run.
            models.UniqueConstraint(fields=["job", "scheduled_for"], condition=models.Q(trigger="schedule"),
                                    name="jobrun_once_per_slot"),
        ]

    def __str__(self):
        return f"{self.job} {self.status}"
