"""Reads of the events app: the event types, the event history (scoped and masked for the reader), a
customer's event statistics."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q, QuerySet

from shoal.accounts.models import Application
from shoal.core.actors import is_system

from .masking import mask_payload
from .models import Event, EventResult, EventSource, EventStat, EventStatus, EventType
from .reasons import reason_text


def event_type_list(*, q: str = "", enabled: bool | None = None) -> QuerySet[EventType]:
    qs = EventType.objects.all().order_by("id")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(remarks__icontains=q))
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    return qs


def _scoped(qs: QuerySet[Event], actor) -> QuerySet[Event]:
    """Events of customers outside the reader's data scope are not shown (events without a customer are)."""
    if is_system(actor):
        return qs
    from shoal.customers.selectors import customer_queryset

    scoped = customer_queryset(actor=actor)
    if not scoped.query.where:
        return qs
    return qs.filter(Q(customer_id__isnull=True) | Q(customer_id__in=scoped.values("pk")))


def history_queryset(*, actor, event: str = "", event_type_id: int | None = None, application_id: int | None = None,
                     status: str = "", received_from: datetime | None = None, received_to: datetime | None = None,
                     customer_id: int | None = None) -> QuerySet[Event]:
    qs = Event.objects.all()
    if event:
        qs = qs.filter(event_code=event)
    if event_type_id is not None:
        qs = qs.filter(event_type_id=event_type_id)
    if application_id is not None:
        qs = qs.filter(application_id=application_id)
    if status in (EventStatus.SUCCESS, EventStatus.FAILED):
        qs = qs.filter(status=status)
    if received_from is not None:
        qs = qs.filter(received_at__gte=received_from)
    if received_to is not None:
        qs = qs.filter(received_at__lt=received_to)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return _scoped(qs, actor).order_by("-received_at", "-id")


def strategy_results(event_ids: list[int]) -> dict[int, list[dict]]:
    """Per event: the strategies the automation recorded, each with its processors' calls."""
    out: dict[int, dict] = defaultdict(dict)
    for r in EventResult.objects.filter(event_id__in=event_ids).order_by("event_id", "strategy_id", "id"):
        strategy = out[r.event_id].setdefault(r.strategy_id, {
            "strategy_id": r.strategy_id, "name": r.strategy_name, "matched": False, "reason": "", "processors": []})
        if not r.processor:
            strategy.update(matched=r.matched, reason=r.reason, name=r.strategy_name or strategy["name"])
        else:
            strategy["processors"].append({"processor": r.processor, "status": r.status,
                                           "response_code": r.response_code, "error": r.error,
                                           "duration_ms": r.duration_ms, "attempt": r.attempt, "at": r.created_at})
    return {event_id: list(strategies.values()) for event_id, strategies in out.items()}


def history_items(events: list[Event], *, viewer, detail: bool = False) -> list[dict]:
    """The history rows as shown: names, reason in words, strategies, and the source data masked for the
    viewer (a list masks always when masking is on; ``detail`` decides per customer, as the customer
    detail page does)."""
    events = list(events)
    apps = dict(Application.objects.filter(pk__in={e.application_id for e in events if e.application_id})
                .values_list("pk", "name"))
    types = dict(EventType.objects.filter(pk__in={e.event_type_id for e in events if e.event_type_id})
                 .values_list("pk", "name"))
    results = strategy_results([e.pk for e in events])
    items = []
    for e in events:
        items.append({
            "id": e.pk, "event": e.event_code, "event_name": types.get(e.event_type_id, ""),
            "application_id": e.application_id, "application": apps.get(e.application_id, ""),
            "status": e.status, "reason_code": e.reason, "reason": reason_text(e.reason, e.reason_detail),
            "customer_id": e.customer_id, "customer_created": e.customer_created, "client_id": e.client_id,
            "received_at": e.received_at, "occurred_at": e.occurred_at, "source": e.source,
            "source_label": str(EventSource(e.source).label) if e.source in EventSource.values else e.source,
            "strategies": results.get(e.pk, []),
            "data": mask_payload(e.payload, viewer=viewer, customer_id=e.customer_id, detail=detail),
        })
    return items


def customer_event_stats(*, customer_id: int, viewer, mask: bool | None = None) -> list[dict]:
    """The customer's statistics per event type (the caller has checked that the viewer may see the
    customer), last data masked as the customer detail masks."""
    rows = list(EventStat.objects.filter(customer_id=customer_id).select_related("event_type")
                .order_by("-last_at"))
    return [{"event": s.event_type.code if s.event_type else "", "name": s.event_type.name if s.event_type else "",
             "count": s.count, "first_at": s.first_at, "last_at": s.last_at,
             "last_data": mask_payload(s.last_data, viewer=viewer, customer_id=customer_id, detail=True, decided=mask)}
            for s in rows]
