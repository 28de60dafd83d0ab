"""Identify: upsert one customer by its identity values."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.errors import Conflict

from .. import cleaning
from ..identity import identity_values
from ..models import Customer
from .customer_write import UNIQUE_FIELDS, customer_create, customer_update, require_identity, visible_ids
from .timeline import is_user


@dataclass
class IdentifyResult:
    customer: Customer
    created: bool
    changed: list[str] = field(default_factory=list)


def _match(values: dict) -> tuple[list[tuple[str, int]], dict[int, Customer]]:
    """The (field, customer id) pairs of the customers holding ``values``, and those customers."""
    cond = Q()
    for f, v in values.items():
        cond |= Q(**{f: v})
    customers = {c.pk: c for c in Customer.objects.filter(cond)}
    found = []
    for customer in customers.values():
        for f, v in values.items():
            if getattr(customer, f) == v:
                found.append((f, customer.pk))
    return found, customers


def identity_conflict(found: list[tuple[str, int]], *, visible: set[int]) -> Conflict:
    """409 ``identity_conflict``, naming only the customers in ``visible`` (the caller's scope)."""
    hidden = sorted(f for f, pk in found if pk not in visible)
    message = gettext("The identity values belong to different customers")
    if hidden:
        message = gettext("The identity values belong to different customers; %(fields)s belongs to a "
                          "customer you cannot see") % {"fields": ", ".join(hidden)}
    return Conflict("identity_conflict", message,
                    {"customer_ids": sorted({pk for _, pk in found if pk in visible}),
                     "fields": {f: pk if pk in visible else None for f, pk in found}})


def out_of_scope_conflict(found_fields) -> Conflict:
    return Conflict("identity_out_of_scope", gettext("These identity values belong to a customer outside your data scope"),
                    {"fields": sorted(set(found_fields))})


def customer_identify(*, actor, data: dict, definitions: dict | None = None, log: bool = True) -> IdentifyResult:
    """Upsert by identity. Identity values pointing at two customers → 409 ``identity_conflict``."""
    # The identity fields and the phone region are read once per call; the write and its operation
    # log entry commit together.
    with parameters.cached(), transaction.atomic():
        return _identify_one(actor=actor, data=data, definitions=definitions, log=log)


def _identify_one(*, actor, data: dict, definitions: dict | None, log: bool) -> IdentifyResult:
    data = dict(data)
    standard = cleaning.clean_standard({k: v for k, v in data.items() if k in UNIQUE_FIELDS})
    values = identity_values(standard)
    require_identity(values)
    for attempt in range(2):
        found, customers = _match(values)
        if len(customers) > 1:
            raise identity_conflict(found, visible=visible_ids(actor, customers))
        if customers:
            customer = next(iter(customers.values()))
            if is_user(actor):
                from ..selectors import customer_queryset

                if not customer_queryset(actor=actor).filter(pk=customer.pk).exists():
                    raise out_of_scope_conflict(f for f, _ in found)
            # customer_update writes in its own transaction
            changed = customer_update(actor=actor, customer=customer, data=data, definitions=definitions, log=log)
            return IdentifyResult(customer, False, changed)
        try:
            customer = customer_create(actor=actor, data=data, definitions=definitions, log=log)
            return IdentifyResult(customer, True, [])
        except Conflict as exc:
            if attempt or exc.code != "duplicate_value":
                raise
            # Someone created the customer between our match and insert: match again.
    raise AssertionError("unreachable")

