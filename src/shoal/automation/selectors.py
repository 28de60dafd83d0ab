"""Reads of the SMS and email logs: within the reader's data scope, recipients masked per the reader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from shoal.customers.masking import mask_email, mask_phone, masked_field_keys
from shoal.customers.selectors import customer_queryset

from .models import Channel, MessageLog
from .services import check_permission

LOG_MENUS = {Channel.SMS: "system.sms_log", Channel.EMAIL: "system.email_log"}


@dataclass
class LogFilter:
    status: str = ""
    recipient: str = ""
    start: date | None = None
    end: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def message_log(*, actor, channel: str, where: LogFilter | None = None) -> QuerySet[MessageLog]:
    """The channel's log entries the actor may read: about no customer, or a customer in their scope."""
    check_permission(actor, f"{LOG_MENUS[channel]}.view")
    where = where or LogFilter()
    qs = MessageLog.objects.filter(channel=channel).select_related("template")
    visible = customer_queryset(actor=actor)
    qs = qs.filter(Q(customer_id__isnull=True) | Q(customer_id__in=visible.order_by().values("pk")))
    if where.status:
        qs = qs.filter(status=where.status)
    if where.recipient:
        qs = qs.filter(recipient=where.recipient.strip())  # exact only: a prefix search would reveal masked values
    if where.start:
        qs = qs.filter(created_at__gte=_day_start(where.start))
    if where.end:
        qs = qs.filter(created_at__lt=_day_start(where.end + timedelta(days=1)))
    return qs


def shown_recipient(entry: MessageLog, *, masked: frozenset[str]) -> str:
    if entry.channel == Channel.EMAIL:
        return mask_email(entry.recipient) if "email" in masked else entry.recipient
    return mask_phone(entry.recipient) if "mobile" in masked else entry.recipient


def log_rows(entries, *, actor) -> list[dict]:
    """Entries as shown to ``actor``: the recipient masked unless the actor's masking policy reveals it."""
    masked = masked_field_keys(viewer=actor)
    return [{"id": e.pk, "channel": e.channel, "recipient": shown_recipient(e, masked=masked),
             "customer_id": e.customer_id, "template": e.template.name if e.template else e.template_code,
             "template_code": e.template_code, "subject": e.subject, "content": e.content, "status": e.status,
             "status_label": e.get_status_display(), "provider": e.provider, "error": e.error,
             "created_at": e.created_at, "sent_at": e.sent_at} for e in entries]
