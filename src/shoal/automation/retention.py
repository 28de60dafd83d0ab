"""Retention of the automation logs (AUTOMATION_LOG_RETENTION_DAYS, 180 days by default): processor calls
(with their webhook delivery attempts), SMS log and email log entries older than that are removed in chunks by
the daily ``automation.prune`` job (or ``shoal automation prune``), as the event history is
(``shoal.core.retention``). A webhook call still pending or running (its retries are not over) stays."""

from __future__ import annotations

from django.db.models import Q

from shoal.core.retention import cutoff_of, delete_before

from .models import CallStatus, Channel, DeliveryAttempt, MessageLog, ProcessorCall
from .params import LOG_RETENTION_DAYS


def prune_logs(*, days: int | None = None, now=None) -> dict:
    """Remove the automation logs older than the retention (``days``, or the parameter); how many went."""
    cutoff = cutoff_of(LOG_RETENTION_DAYS.code, days=days, now=now)
    calls = delete_before(ProcessorCall, "created_at", cutoff,
                          where=~Q(status__in=[CallStatus.PENDING, CallStatus.RUNNING]),
                          dependents=[(DeliveryAttempt, "call_id")])
    sms = delete_before(MessageLog, "created_at", cutoff, where=Q(channel=Channel.SMS))
    email = delete_before(MessageLog, "created_at", cutoff, where=Q(channel=Channel.EMAIL))
    return {"cutoff": cutoff.isoformat(), "calls_deleted": calls[ProcessorCall],
            "attempts_deleted": calls[DeliveryAttempt], "sms_deleted": sms[MessageLog],
            "emails_deleted": email[MessageLog]}
