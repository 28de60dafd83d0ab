"""Events (事件): the registry of event types, the received events (the history), the dedup keys, the
queue of events waiting for the workers, the per-customer statistics, and the results that strategies
write per event.

Storage plan (see docs/events.md):

- ``Event`` is written append-only (one INSERT per received event, never updated) and on PostgreSQL is a
  table range-partitioned by month on ``received_at`` (migration 0001 creates it; ``partitions.py`` keeps
  the months ahead and drops the expired ones). Its primary key there is ``(id, received_at)``.
- A resent event is recognised by ``EventKey``: ``(source, client_id)`` is the table's primary key, kept
  for ever (not pruned with the history), so "duplicate" does not depend on a time window and holds
  across partitions.
- ``PendingEvent`` is the work queue of accepted events: the worker deletes a batch of rows and updates
  the statistics in the same transaction, so a worker killed mid-batch leaves its rows in the queue and
  a batch is applied exactly once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EventFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Boolean")
    DATE = "date", pgettext_lazy("field type", "Date")
    DATETIME = "datetime", _("Date and time")
    OBJECT = "object", _("Object")
    LIST = "list", _("List")


class EventType(models.Model):
    """An event type of the registry (事件注册中心). ``fields``: ``[{"key", "type", "label", "required",
    "remarks"}]`` (checked by ``services.types.clean_fields``)."""

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    remarks = models.CharField(_("remarks"), max_length=255, blank=True)
    create_customers = models.BooleanField(
        _("create unknown customers"), default=True,
        help_text=_("An event for a customer that is not found creates the customer (source: api)."))
    fields = models.JSONField(_("fields"), default=list, blank=True)
    builtin = models.CharField(_("built-in"), max_length=32, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("event type")
        verbose_name_plural = _("event types")

    def __str__(self):
        return f"{self.name} [{self.code}]"


class EventStatus(models.TextChoices):
    SUCCESS = "success", _("Succeeded")
    FAILED = "failed", _("Failed")


class EventSource(models.TextChoices):
    API = "api", _("API")
    SNIPPET = "snippet", _("Page snippet")
    CLI = "cli", _("Command line")


class Event(models.Model):
    """One received event, accepted or refused (事件历史). Append-only; partitioned by month on PostgreSQL.

    ``payload`` is the event object as it was received (``event``, ``id``, ``timestamp``, ``customer``,
    ``data``); ``reason`` says why a refused event was refused (a code, shown in the reader's language)."""

    id = models.BigAutoField(primary_key=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    occurred_at = models.DateTimeField(_("event time"), null=True, blank=True)
    # no foreign-key constraints (a deleted application or type leaves its history) and no single-column
    # indexes: the (…, received_at) indexes below serve both
    application = models.ForeignKey("accounts.Application", null=True, blank=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, db_index=False, related_name="+",
                                    verbose_name=_("application"))
    event_type = models.ForeignKey(EventType, null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, db_index=False, related_name="+", verbose_name=_("event type"))
    event_code = models.CharField(_("event code"), max_length=64, blank=True)
    client_id = models.CharField(_("event id"), max_length=128, blank=True)
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    customer_created = models.BooleanField(_("customer created"), default=False)
    status = models.CharField(_("status"), max_length=8, choices=EventStatus.choices)
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    reason_detail = models.JSONField(_("reason detail"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=EventSource.choices, default=EventSource.API)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    payload = models.JSONField(_("source data"), default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["received_at"], name="event_received_idx"),
            models.Index(fields=["event_type", "received_at"], name="event_type_received_idx"),
            models.Index(fields=["application", "received_at"], name="event_app_received_idx"),
            # refused events are few: a partial index finds them (succeeded ones: the received_at index)
            models.Index(fields=["received_at"], condition=models.Q(status="failed"), name="event_failed_received_idx"),
            models.Index(fields=["customer_id", "received_at"], name="event_customer_received_idx"),
        ]

    def __str__(self):
        return f"{self.event_code} #{self.pk}"


class EventKey(models.Model):
    """The dedup key of an accepted event: ``source`` is the application's id (0: sent by a user or the
    command line without an application), ``client_id`` the sender's event id. Kept for ever."""

    pk = models.CompositePrimaryKey("source", "client_id")
    source = models.BigIntegerField()
    client_id = models.CharField(max_length=128)

    class Meta:
        verbose_name = _("event key")


class PendingEvent(models.Model):
    """An accepted event that the workers have not processed yet (stats, then strategies)."""

    event_id = models.BigIntegerField(primary_key=True)
    received_at = models.DateTimeField()

    class Meta:
        verbose_name = _("pending event")


class EventStat(models.Model):
    """Per customer and event type: how many, the first and the last event time, the last event's data."""

    pk = models.CompositePrimaryKey("customer_id", "event_type")
    customer_id = models.BigIntegerField()
    event_type = models.ForeignKey(EventType, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                                   related_name="+")
    count = models.BigIntegerField(_("count"), default=0)
    first_at = models.DateTimeField(_("first time"))
    last_at = models.DateTimeField(_("last time"))
    last_data = models.JSONField(_("last data"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("event statistics")
        indexes = [models.Index(fields=["event_type", "last_at"], name="eventstat_type_last_idx")]


class EventResult(models.Model):
    """What a strategy did with an event (written by the automation app, read by the event history).

    One row per event and strategy with ``processor`` empty: did the strategy match (``matched``) and, when
    not, why (``reason``). Then one row per processor call (a retried call: one row per ``attempt``):
    ``status`` (success, failed, pending, skipped, cancelled), ``response_code``, ``error``,
    ``duration_ms``. ``event_received_at`` lets the history retention prune them with their event."""

    event_id = models.BigIntegerField(db_index=True)
    event_received_at = models.DateTimeField()
    strategy_id = models.BigIntegerField(null=True, blank=True)
    strategy_name = models.CharField(_("strategy"), max_length=200, blank=True)
    matched = models.BooleanField(_("matched"), default=False)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    processor = models.CharField(_("processor"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=16, blank=True)
    response_code = models.IntegerField(_("response code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.IntegerField(_("duration (ms)"), null=True, blank=True)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["event_id", "strategy_id", "id"]
        verbose_name = _("event result")
        indexes = [models.Index(fields=["event_received_at"], name="eventresult_received_idx")]


class RateWindow(models.Model):
    """Events accepted per ``bucket`` (an application) and second (``slot``), one row per web process
    (``worker``), so that processes do not queue on one hot row; the limit applies to the sum."""

    pk = models.CompositePrimaryKey("bucket", "slot", "worker")
    bucket = models.CharField(max_length=32)
    slot = models.BigIntegerField()
    worker = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("rate window")
