"""Automation strategies (自动化策略管理) and their tasks (策略任务).

- ``StrategyGroup``: a named group of strategies (策略组).
- ``Strategy``: an event type, a validity window, conditions over the event's fields and over the
  customer, ordered. Enabled only after review: ``revision`` counts the changes of what it does,
  ``approved_revision`` is the revision a reviewer approved; a change makes them differ and disables it.
- ``StrategyAction``: a processor with its parameters, run now, after ``delay_hours`` or at ``run_at``.
  An edit of the actions retires the old rows (``active`` false) so that tasks keep what they ran.
- ``StrategyTask``: one action to run for one event (now ones too: due at once), unique per
  (strategy, action, event); claimed by the workers (``status`` pending → running with a ``claim``
  token) and run once (see ``services.execution``).
- ``StrategyStat``: per strategy and day (the server's zone): events matched, actions run, succeeded,
  failed, skipped: the results chart, kept as counters (upserted per batch) rather than counted from
  millions of task rows.

The tables the workers write in bulk (tasks, stats) carry no foreign-key constraints (as the events
tables): PostgreSQL would check them row by row at commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StrategyGroup(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.IntegerField(_("order"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("strategy group")
        verbose_name_plural = _("strategy groups")

    def __str__(self):
        return self.name


class Strategy(models.Model):
    name = models.CharField(_("name"), max_length=200)
    group = models.ForeignKey(StrategyGroup, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="strategies", verbose_name=_("strategy group"))
    event_type = models.ForeignKey("events.EventType", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("event"))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    conditions = models.JSONField(_("event conditions"), null=True, blank=True)
    condition_rows = models.JSONField(_("event condition rows"), null=True, blank=True)  # as written on the page
    customer_conditions = models.JSONField(_("customer conditions"), null=True, blank=True)
    customer_condition_rows = models.JSONField(_("customer condition rows"), null=True, blank=True)
    order = models.IntegerField(_("order"), default=1, help_text=_("1 runs first."))
    enabled = models.BooleanField(_("enabled"), default=False)
    revision = models.PositiveIntegerField(_("revision"), default=1)
    approved_revision = models.PositiveIntegerField(_("approved revision"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("last edited by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        indexes = [models.Index(fields=["event_type", "enabled"], name="strategy_event_enabled_idx")]

    def __str__(self):
        return self.name

    @property
    def approved(self) -> bool:
        return self.approved_revision == self.revision


class StrategyAction(models.Model):
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="actions",
                                 verbose_name=_("strategy"))
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    processor = models.CharField(_("processor"), max_length=64)  # a built-in code or a custom processor's code
    processor_id = models.BigIntegerField(_("custom processor"), null=True, blank=True)
    processor_name = models.CharField(_("processor name"), max_length=100, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    delay_hours = models.FloatField(_("delay (hours)"), null=True, blank=True)
    run_at = models.DateTimeField(_("run at"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["strategy", "position", "id"]
        verbose_name = _("strategy action")
        verbose_name_plural = _("strategy actions")

    def __str__(self):
        return f"{self.strategy_id}:{self.position} {self.processor}"


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    EXECUTED = "executed", _("Executed")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class StrategyTask(models.Model):
    id = models.BigAutoField(primary_key=True)
    strategy = models.ForeignKey(Strategy, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                 related_name="+", verbose_name=_("strategy"))
    action = models.ForeignKey(StrategyAction, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                               related_name="+", verbose_name=_("action"))
    event_id = models.BigIntegerField(_("event"))
    event_received_at = models.DateTimeField(_("event received at"))
    customer_id = models.BigIntegerField(_("customer"))
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    claim = models.CharField(max_length=32, blank=True)  # the worker's token while it runs the task
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.IntegerField(_("response code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.IntegerField(_("duration (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("strategy task")
        verbose_name_plural = _("strategy tasks")
        constraints = [
            # an event is turned into each action of a strategy once, whatever runs twice
            models.UniqueConstraint(fields=["strategy", "action", "event_id"], name="strategytask_once"),
        ]
        indexes = [
            models.Index(fields=["due_at", "id"], condition=models.Q(status="pending"), name="strategytask_due_idx"),
            models.Index(fields=["claimed_at"], condition=models.Q(status="running"), name="strategytask_lease_idx"),
            models.Index(fields=["status", "due_at", "id"], name="strategytask_status_idx"),
        ]

    def __str__(self):
        return f"task {self.pk} ({self.status})"


class StrategyStat(models.Model):
    pk = models.CompositePrimaryKey("strategy_id", "day")
    strategy_id = models.BigIntegerField()
    day = models.DateField(_("day"))
    matched = models.BigIntegerField(_("events matched"), default=0, db_default=0)
    run = models.BigIntegerField(_("actions run"), default=0, db_default=0)
    succeeded = models.BigIntegerField(_("succeeded"), default=0, db_default=0)
    failed = models.BigIntegerField(_("failed"), default=0, db_default=0)
    skipped = models.BigIntegerField(_("skipped"), default=0, db_default=0)

    class Meta:
        verbose_name = _("strategy results")
