"""Merge two customers, ban/enable, delete."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation

from .. import standard
from ..models import Contact, Customer, CustomerGroupMembership, CustomerStatus, TimelineEntry, TimelineKind
from ..signals import customers_deleting, send_changed
from .timeline import timeline_entry

# Sent inside the merge transaction before ``other`` is deleted, so later apps (tags, events,
# follow-ups…) move their rows from ``other`` to ``keep``.
customer_merging = Signal()  # kwargs: keep, other, actor



MERGE_FIELDS = standard.names(merge=True)


@transaction.atomic
def customer_merge(*, actor, keep: Customer, other: Customer) -> Customer:
    """Merge ``other`` into ``keep``: fill keep's empty fields, move relations, delete ``other``."""
    if keep.pk == other.pk:
        raise ShoalError("invalid", gettext("A customer cannot be merged into itself"), {"ids": [keep.pk]})
    keep = Customer.objects.select_for_update().get(pk=keep.pk)
    other = Customer.objects.select_for_update().get(pk=other.pk)
    taken = [f for f in MERGE_FIELDS if getattr(keep, f) in (None, "") and getattr(other, f) not in (None, "")]
    values = {f: getattr(other, f) for f in taken}
    attrs = {**(other.attributes or {}), **(keep.attributes or {})}
    taken_attrs = sorted(set(attrs) - set(keep.attributes or {}))
    if other.created_at < keep.created_at:
        values["created_at"] = other.created_at
    for m in CustomerGroupMembership.objects.filter(customer=other):
        mine = CustomerGroupMembership.objects.filter(customer=keep, group_id=m.group_id).first()
        if mine is None:
            m.customer = keep
            m.save(update_fields=["customer"])
        else:
            if mine.salesperson_id is None and m.salesperson_id is not None:
                mine.salesperson_id, mine.assigned_at = m.salesperson_id, m.assigned_at
                mine.save(update_fields=["salesperson", "assigned_at"])
            m.delete()
    Contact.objects.filter(customer=other).update(customer=keep)
    TimelineEntry.objects.filter(customer=other).update(customer=keep)
    customer_merging.send(sender=Customer, keep=keep, other=other, actor=actor)
    other_id, other_repr = other.pk, str(other)
    customers_deleting.send(sender=Customer, customer_ids=[other_id])
    other.delete()  # frees its identity values before keep takes them
    for f, v in values.items():
        setattr(keep, f, v)
    keep.attributes = attrs
    # only what the merge changed: other columns (e.g. the quality score, kept by the tags app while the
    # merge signal ran) stay as stored
    keep.save(update_fields=[*values, "attributes", "updated_at"])
    send_changed([keep.pk])
    timeline_entry(keep, TimelineKind.MERGED, actor=actor,
                   detail={"merged_id": other_id, "fields": taken, "attributes": taken_attrs}).save()
    log_operation(actor=actor, action="customer.merge", obj=keep,
                  detail={"merged_id": other_id, "merged": other_repr, "fields": taken + taken_attrs})
    return keep


@transaction.atomic
def customers_set_status(*, actor, customer_ids: list[int], status: str) -> int:
    """Ban / enable (data kept). Returns how many customers changed."""
    if status not in CustomerStatus.values:
        raise ShoalError("invalid_value", gettext("Unknown status"), {"field": "status", "choices": CustomerStatus.values})
    rows = list(Customer.objects.filter(pk__in=customer_ids).exclude(status=status).only("pk", "status"))
    if not rows:
        return 0
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(status=status, updated_at=timezone.now())
    send_changed(c.pk for c in rows)
    TimelineEntry.objects.bulk_create(
        [timeline_entry(c, TimelineKind.STATUS, actor=actor, field_name="status", old=c.status, new=status) for c in rows])
    log_operation(actor=actor, action=f"customer.status.{status}", object_type="customer",
                  object_id=",".join(str(c.pk) for c in rows[:50]), detail={"count": len(rows), "status": status})
    return len(rows)


@transaction.atomic
def customers_delete(*, actor, customer_ids: list[int]) -> int:
    """Delete customers with their related rows (irreversible; callers confirm first)."""
    ids = list(Customer.objects.filter(pk__in=customer_ids).values_list("pk", flat=True))
    if not ids:
        return 0
    customers_deleting.send(sender=Customer, customer_ids=ids)
    Customer.objects.filter(pk__in=ids).delete()
    log_operation(actor=actor, action="customer.delete", object_type="customer",
                  object_id=",".join(str(i) for i in ids[:50]), detail={"count": len(ids), "ids": ids[:1000]})
    return len(ids)


def customer_delete(*, actor, customer: Customer) -> None:
    customers_delete(actor=actor, customer_ids=[customer.pk])

