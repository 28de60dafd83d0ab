"""The per-customer event statistics when customers go: deleted with them, combined on a merge."""

from __future__ import annotations

from django.db import transaction

from ..models import EventStat


def delete_customer_stats(customer_ids) -> int:
    ids = list(customer_ids)
    if not ids:
        return 0
    return EventStat.objects.filter(customer_id__in=ids).delete()[0]


def merge_customer_stats(*, source_id: int, target_id: int) -> None:
    """The kept customer (``target_id``) takes the other's statistics: counts add up, the first time is the
    earlier, the last time and data the later."""
    with transaction.atomic():
        theirs = {s.event_type_id: s for s in EventStat.objects.filter(customer_id=source_id)}
        if not theirs:
            return
        mine = {s.event_type_id: s for s in EventStat.objects.filter(customer_id=target_id,
                                                                     event_type_id__in=list(theirs))}
        for type_id, other in theirs.items():
            kept = mine.get(type_id)
            if kept is None:
                EventStat.objects.filter(customer_id=source_id, event_type_id=type_id).update(customer_id=target_id)
                continue
            later = other if other.last_at > kept.last_at else kept
            EventStat.objects.filter(customer_id=target_id, event_type_id=type_id).update(
                count=kept.count + other.count, first_at=min(kept.first_at, other.first_at), last_at=later.last_at,
                last_data=later.last_data)
            EventStat.objects.filter(customer_id=source_id, event_type_id=type_id).delete()
