"""Customer create and update, where a new customer is placed, and the identity/uniqueness rules
both check."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.actors import SYSTEM
from shoal.core.errors import Conflict, ShoalError
from shoal.core.oplog import log_operation

from .. import cleaning, standard
from ..identity import identity_fields, identity_values
from ..models import Customer, CustomerGroupMembership, TimelineEntry, TimelineKind
from ..signals import send_changed
from .timeline import actor_name, is_user, timeline_entry

UNIQUE_FIELDS = standard.IDENTITY_FIELDS


def visible_ids(actor, ids) -> set[int]:
    """The customers among ``ids`` that ``actor`` may see: errors name only those. Systems and
    applications see every customer."""
    ids = {pk for pk in ids if pk is not None}
    if not ids or not is_user(actor):
        return ids
    from ..selectors import customer_queryset

    return set(customer_queryset(actor=actor).filter(pk__in=ids).values_list("pk", flat=True))


def duplicate_conflict(f: str, holder_pk: int | None, *, visible: bool) -> Conflict:
    """409 ``duplicate_value``: the holder is named only when the caller may see it (never the value)."""
    if not visible:
        return Conflict("duplicate_value",
                        gettext("This %(field)s belongs to a customer you cannot see") % {"field": f}, {"field": f})
    return Conflict("duplicate_value", gettext("Another customer already has this %(f)s") % {"f": f},
                    {"field": f, "customer_id": holder_pk})


def check_unique(values: dict, *, exclude_pk: int | None = None, actor=SYSTEM) -> None:
    """Refuse values of unique fields (mobile, email, ent_user_id) already held by another customer."""
    cond = Q()
    present = {f: v for f, v in values.items() if f in UNIQUE_FIELDS and v}
    for f, v in present.items():
        cond |= Q(**{f: v})
    if not present:
        return
    qs = Customer.objects.filter(cond)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    for row in qs.values("pk", *UNIQUE_FIELDS)[:5]:
        for f, v in present.items():
            if row[f] == v:
                raise duplicate_conflict(f, row["pk"], visible=bool(visible_ids(actor, [row["pk"]])))


def require_identity(values: dict) -> None:
    if not identity_values(values):
        fields = list(identity_fields())
        raise ShoalError("identity_required", gettext("At least one identity field is needed: %(fields)s") % {"fields": ", ".join(fields)},
                         {"fields": fields})


# -- customers ---------------------------------------------------------------------------------------
def customer_create(*, actor, data: dict, definitions: dict | None = None, log: bool = True) -> Customer:
    cleaned = cleaning.clean_customer_data(data, creating=True, definitions=definitions)
    require_identity(cleaned)
    check_unique(cleaned, actor=actor)
    try:
        with transaction.atomic():
            customer = Customer.objects.create(**cleaned)
            timeline_entry(customer, TimelineKind.CREATED, actor=actor).save()
            _place_for_creator(customer, actor)
            send_changed([customer.pk])
    except IntegrityError:
        raise Conflict("duplicate_value", gettext("Another customer already has one of these identity values"),
                       {"fields": [f for f in UNIQUE_FIELDS if cleaned.get(f)]})
    if log:
        log_operation(actor=actor if is_user(actor) else actor_name(actor), action="customer.create",
                      obj=customer)
    return customer


def creator_placement(actor):
    """(group, salesperson or None) where a customer created by ``actor`` goes, or None: see
    :func:`_place_for_creator`."""
    from shoal.accounts.models import DataScope

    from ..models import CustomerGroup

    if not is_user(actor) or actor.data_scope() == DataScope.ALL:
        return None
    group = CustomerGroup.objects.filter(salespeople=actor).order_by("id").first()
    salesperson = actor if group is not None else None
    if group is None:
        group = CustomerGroup.objects.filter(admins=actor).order_by("id").first()
    if group is None:
        return None
    return group, salesperson


def placement_rows(customer: Customer, actor, placement) -> tuple[CustomerGroupMembership, TimelineEntry]:
    group, salesperson = placement
    membership = CustomerGroupMembership(customer=customer, group=group, salesperson=salesperson,
                                         assigned_at=timezone.now() if salesperson else None)
    entry = timeline_entry(customer, TimelineKind.GROUP, actor=actor,
                           detail={"group": group.name, "salesperson": actor.username if salesperson else None,
                                   "reason": "created"})
    return membership, entry


def _place_for_creator(customer: Customer, actor) -> None:
    """A customer created by someone whose data scope would not show it goes where they can work it:
    a salesperson's own private sea in their first group, else the public sea of a group they manage.
    Otherwise (admins, systems, users in no group) it stays in the company public sea."""
    placement = creator_placement(actor)
    if placement is None:
        return
    membership, entry = placement_rows(customer, actor, placement)
    membership.save()
    entry.save()


def apply_changes(customer: Customer, cleaned: dict, *, actor) -> tuple[list[str], list[TimelineEntry]]:
    changed: list[str] = []
    entries: list[TimelineEntry] = []
    for name, new in cleaned.items():
        if name == "attributes":
            old_attrs = customer.attributes or {}
            for key in sorted(set(old_attrs) | set(new)):
                if old_attrs.get(key) != new.get(key):
                    changed.append(key)
                    entries.append(timeline_entry(customer, TimelineKind.CHANGED, actor=actor, field_name=key,
                                                  old=old_attrs.get(key), new=new.get(key), detail={"custom": True}))
            if new != old_attrs:
                customer.attributes = new
            continue
        if name == "invited_by_id" and new is not None and new == customer.pk:
            raise ShoalError("invalid_value", gettext("invited_by: a customer cannot invite itself"),
                             {"field": "invited_by"})
        old = getattr(customer, name)
        if old != new:
            changed.append(name)
            entries.append(timeline_entry(customer, TimelineKind.CHANGED, actor=actor, field_name=name, old=old, new=new))
            setattr(customer, name, new)
    return changed, entries


def customer_update(*, actor, customer: Customer, data: dict, definitions: dict | None = None,
                    log: bool = True) -> list[str]:
    """Update ``customer`` in place; a timeline entry per changed field. Returns the changed fields."""
    cleaned = cleaning.clean_customer_data(data, existing_attributes=customer.attributes, creating=False,
                                    definitions=definitions)
    if any(f in cleaned for f in UNIQUE_FIELDS):
        after = {f: cleaned.get(f, getattr(customer, f)) for f in UNIQUE_FIELDS}
        require_identity(after)
        check_unique({f: cleaned[f] for f in UNIQUE_FIELDS if f in cleaned}, exclude_pk=customer.pk, actor=actor)
    changed, entries = apply_changes(customer, cleaned, actor=actor)
    if not changed:
        return []
    std = [c for c in changed if c in cleaning.STANDARD_FIELDS or c in cleaning.COLUMN_FIELDS]
    update_fields = std + (["attributes"] if len(std) < len(changed) else []) + ["updated_at"]
    try:
        with transaction.atomic():
            customer.save(update_fields=update_fields)
            TimelineEntry.objects.bulk_create(entries)
            send_changed([customer.pk])
    except IntegrityError:
        raise Conflict("duplicate_value", gettext("Another customer already has one of these identity values"),
                       {"fields": [f for f in UNIQUE_FIELDS if f in changed]})
    if log:
        log_operation(actor=actor if is_user(actor) else actor_name(actor), action="customer.update",
                      obj=customer, detail={"fields": changed})
    return changed

