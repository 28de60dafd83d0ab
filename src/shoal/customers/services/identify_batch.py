"""Identify many customers at once, set-based (the answers ``customer_identify`` would give)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.db import insert_objects, write_changes
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation

from .. import cleaning
from ..identity import identity_fields
from ..models import Customer, CustomerGroupMembership, TimelineEntry, TimelineKind
from ..signals import send_changed
from .customer_write import (
    UNIQUE_FIELDS,
    apply_changes,
    check_unique,
    creator_placement,
    duplicate_conflict,
    placement_rows,
    require_identity,
)
from .identify import customer_identify, identity_conflict, out_of_scope_conflict
from .timeline import actor_name, is_user, timeline_entry

BATCH_LIMIT = 1000


# -- batch identify ------------------------------------------------------------------------------------
# ``customer_identify_batch`` gives, item by item and in order, the answers ``customer_identify``
# would give, but set-based: the customers holding any identity value of the batch are read with one
# query per unique field, the items are then applied in order to those in-memory customers (new ones
# included, so a later item sees what an earlier one did), and the result is written at the end with
# bulk inserts and one UPDATE statement run for every changed customer, in one transaction.
_IN_CHUNK = 900  # values per IN (...) (SQLite's default limit is 999 variables per statement)


def _as_stored(customer: Customer) -> None:
    """Values as the database gives them back (datetimes in UTC), so timeline entries of later items
    of the batch read the same old values as a customer fetched from the database would have."""
    if customer.registered_at is not None:
        customer.registered_at = customer.registered_at.astimezone(UTC)


def _clone(instance, **attrs):
    """A new unsaved copy of the unsaved model ``instance`` with ``attrs`` (attribute names) replaced.

    Much cheaper than the model's ``__init__`` when a batch makes a thousand instances alike; callers
    pass every attribute whose default is made per instance (times, dicts)."""
    obj = instance.__class__.__new__(instance.__class__)
    values = instance.__dict__.copy()
    values["_state"] = ModelState()
    values.update(attrs)
    obj.__dict__ = values
    return obj


_CUSTOMER_ATTNAMES = None


def _new_customer(template: Customer, cleaned: dict) -> Customer:
    """``Customer(**cleaned)``, cloned from ``template`` (a ``Customer()``) when it can be."""
    global _CUSTOMER_ATTNAMES
    if _CUSTOMER_ATTNAMES is None:
        _CUSTOMER_ATTNAMES = {f.attname for f in Customer._meta.concrete_fields} - {"id", "created_at"}
    if "attributes" not in cleaned or not _CUSTOMER_ATTNAMES.issuperset(cleaned):
        return Customer(**cleaned)
    return _clone(template, created_at=timezone.now(), **cleaned)



class BatchIdentify:
    """One batch, applied in order to in-memory customers; ``flush`` writes what is pending."""

    def __init__(self, actor, items: list, definitions: dict):
        self.actor = actor
        self.definitions = definitions
        self.cache: dict = {}  # enum options, standard enum groups, companies (cleaning.clean_*)
        self.by_pk: dict[int, Customer] = {}  # stored customers the batch has seen
        # unique field → value → the customer holding it now (None: nobody)
        self.holders: dict[str, dict[str, Customer | None]] = {f: {} for f in UNIQUE_FIELDS}
        self.new: list[Customer] = []  # created, not yet inserted
        self.dirty: dict[int, tuple[Customer, set[str]]] = {}  # stored customers changed, not yet written
        self.entries: list[TimelineEntry] = []
        self.memberships: list[CustomerGroupMembership] = []
        self.freed: dict[tuple[str, str], Customer] = {}  # values released by a stored customer since the flush
        self.scope: dict[int, bool] | None = None  # customer id → within the actor's data scope
        self._placement: Any = ...
        self.customer_template: Customer | None = None
        self.created_template: TimelineEntry | None = None
        self.items = items
        self.identity = identity_fields()
        self.unique = [self._clean_unique(item) for item in items]
        self._preload()
        self._init_scope()

    # -- reading, once per batch
    def _clean_unique(self, item):
        if not isinstance(item, dict):
            return None
        try:
            return cleaning.clean_standard({k: v for k, v in item.items() if k in UNIQUE_FIELDS}, cache=self.cache)
        except ShoalError as exc:
            return exc

    def _preload(self) -> None:
        wanted: dict[str, set[str]] = {f: set() for f in UNIQUE_FIELDS}
        companies = set()
        for item, cleaned in zip(self.items, self.unique, strict=True):
            if isinstance(cleaned, dict):
                for f, v in cleaned.items():
                    if v:
                        wanted[f].add(v)
            if isinstance(item, dict) and isinstance(item.get("company_id"), int) \
                    and not isinstance(item["company_id"], bool):
                companies.add(item["company_id"])
        for f, values in wanted.items():
            self.holders[f].update(dict.fromkeys(values))
        for f, values in wanted.items():
            ordered = sorted(values)
            for start in range(0, len(ordered), _IN_CHUNK):
                for customer in Customer.objects.filter(**{f"{f}__in": ordered[start:start + _IN_CHUNK]}):
                    self._remember(customer)
        if companies:
            from ..models import Company

            present = set(Company.objects.filter(pk__in=companies).values_list("pk", flat=True))
            for pk in companies:
                self.cache[("company", pk)] = pk in present

    def _remember(self, customer: Customer) -> Customer:
        known = self.by_pk.get(customer.pk)
        if known is not None:
            return known
        self.by_pk[customer.pk] = customer
        for f in UNIQUE_FIELDS:
            v = getattr(customer, f)
            if v:
                self.holders[f][v] = customer
        return customer

    def _holder(self, f: str, v: str) -> Customer | None:
        values = self.holders[f]
        if v not in values:  # not among the batch's values (cannot happen): ask the database
            self.flush()
            found = Customer.objects.filter(**{f: v}).first()
            values[v] = None if found is None else self._remember(found)
        return values[v]

    def _init_scope(self) -> None:
        if not is_user(self.actor):
            return  # systems and applications see every customer
        from ..selectors import customer_queryset

        self._scoped = customer_queryset(actor=self.actor)
        if self._scoped.query.where:  # otherwise the actor sees all customers
            self.scope = {}

    def _in_scope(self, customer: Customer) -> bool:
        if self.scope is None:
            return True
        if customer.pk is None:
            self.flush()
        if customer.pk not in self.scope:
            pks = [pk for pk in self.by_pk if pk not in self.scope]
            visible = set()
            for start in range(0, len(pks), _IN_CHUNK):
                visible |= set(self._scoped.filter(pk__in=pks[start:start + _IN_CHUNK]).values_list("pk", flat=True))
            for pk in pks:
                self.scope[pk] = pk in visible
        return self.scope[customer.pk]

    def placement(self):
        if self._placement is ...:
            self._placement = creator_placement(self.actor)
        return self._placement

    # -- the rules of customer_identify, customer_create and customer_update, in memory
    def find(self, index: int) -> Customer | None:
        """The customer item ``index`` identifies (one created earlier in the batch included: its id comes
        with ``flush``), or None; the errors ``identify`` gives (no identity value, values of different
        customers, a customer outside the actor's scope)."""
        standard = self.unique[index]
        if isinstance(standard, ShoalError):
            raise standard
        values = {f: standard[f] for f in self.identity if standard.get(f)}  # identity_values()
        if not values:
            require_identity(values)
        found = [(f, c) for f, v in values.items() if (c := self._holder(f, v)) is not None]
        customers = list({id(c): c for _, c in found}.values())
        if len(customers) > 1:
            if any(c.pk is None for c in customers):
                self.flush()
            raise identity_conflict([(f, c.pk) for f, c in found],
                                     visible={c.pk for c in customers if self._in_scope(c)})
        if customers:
            if not self._in_scope(customers[0]):
                raise out_of_scope_conflict(f for f, _ in found)
            return customers[0]
        return None

    def identify(self, index: int, item) -> tuple[Customer, bool, list[str]]:
        if not isinstance(item, dict):
            raise ShoalError("invalid_value", gettext("Each item must be an object"), {})
        customer = self.find(index)
        if customer is not None:
            return customer, False, self._update(customer, dict(item))
        return self._create(dict(item)), True, []

    def _check_unique(self, values: dict, *, exclude: Customer | None = None) -> None:
        """As :func:`check_unique`, against the in-memory holders."""
        present = {f: v for f, v in values.items() if f in UNIQUE_FIELDS and v}
        held = [(f, c) for f, v in present.items() if (c := self._holder(f, v)) is not None and c is not exclude]
        if not held:
            return
        if len({id(c) for _, c in held}) > 1:
            # Several other customers: which field is named depends on the database's row order.
            self.flush()
            check_unique(values, exclude_pk=None if exclude is None else exclude.pk, actor=self.actor)
        f, holder = held[0]
        if holder.pk is None:  # new in this batch: written first, so it has an id to name
            self.flush()
        raise duplicate_conflict(f, holder.pk, visible=self._in_scope(holder))

    def _create(self, data: dict) -> Customer:
        cleaned = cleaning.clean_customer_data(data, creating=True, definitions=self.definitions, cache=self.cache)
        if not any(cleaned.get(f) for f in self.identity):
            require_identity(cleaned)
        self._check_unique(cleaned)
        if self.customer_template is None:
            self.customer_template = Customer()
        customer = _new_customer(self.customer_template, cleaned)
        _as_stored(customer)
        for f in UNIQUE_FIELDS:
            v = getattr(customer, f)
            if v:
                self.holders[f][v] = customer
        self.new.append(customer)
        self.entries.append(self._created_entry(customer))
        placement = self.placement()
        if placement is not None:
            membership, entry = placement_rows(customer, self.actor, placement)
            self.memberships.append(membership)
            self.entries.append(entry)
        return customer

    def _created_entry(self, customer: Customer) -> TimelineEntry:
        """``timeline_entry(customer, CREATED, actor=self.actor)``: the first one made so, the others cloned."""
        if self.created_template is None:
            self.created_template = timeline_entry(customer, TimelineKind.CREATED, actor=self.actor)
            return self.created_template
        entry = _clone(self.created_template, customer_id=customer.pk, created_at=timezone.now(),
                       detail=dict(self.created_template.detail))
        entry._state.fields_cache["customer"] = customer
        return entry

    def _update(self, customer: Customer, data: dict) -> list[str]:
        cleaned = cleaning.clean_customer_data(data, existing_attributes=customer.attributes, creating=False,
                                        definitions=self.definitions, cache=self.cache)
        if any(f in cleaned for f in UNIQUE_FIELDS):
            after = {f: cleaned.get(f, getattr(customer, f)) for f in UNIQUE_FIELDS}
            if not any(after.get(f) for f in self.identity):
                require_identity(after)
            self._check_unique({f: cleaned[f] for f in UNIQUE_FIELDS if f in cleaned}, exclude=customer)
        before = {f: getattr(customer, f) for f in UNIQUE_FIELDS}
        if customer.pk is not None and any(
                cleaned.get(f) and cleaned[f] != before[f]
                and self.freed.get((f, cleaned[f]), customer) is not customer for f in UNIQUE_FIELDS if f in cleaned):
            # It takes a value another stored customer gave up since the last write: write that first,
            # so the UPDATE that gives it to this one cannot meet the old holder in the unique index.
            self.flush()
        changed, entries = apply_changes(customer, cleaned, actor=self.actor)
        if not changed:
            return []
        _as_stored(customer)
        for f in UNIQUE_FIELDS:
            old, new = before[f], getattr(customer, f)
            if old == new:
                continue
            if old:
                self.holders[f][old] = None
                if customer.pk is not None:
                    self.freed[(f, old)] = customer
            if new:
                self.holders[f][new] = customer
        if customer.pk is not None:
            std = [c for c in changed if c in cleaning.STANDARD_FIELDS or c in cleaning.COLUMN_FIELDS]
            fields = self.dirty.setdefault(customer.pk, (customer, set()))[1]
            fields.update(std)
            if len(std) < len(changed):
                fields.add("attributes")
        self.entries.extend(entries)
        return changed

    # -- writing
    def flush(self) -> None:
        if self.dirty:  # first, so values given up by stored customers are free for the new ones
            write_changes(Customer, list(self.dirty.values()))
            send_changed(c.pk for c, _fields in self.dirty.values())
            self.dirty = {}
        if self.new:
            insert_objects(Customer, self.new, returning=True)
            for customer in self.new:
                self.by_pk[customer.pk] = customer
            send_changed(c.pk for c in self.new)
            self.new = []
        for rows in (self.memberships, self.entries):
            for row in rows:  # the customers they belong to have ids now
                row.customer_id = row.customer.pk
        insert_objects(CustomerGroupMembership, self.memberships, returning=False)
        insert_objects(TimelineEntry, self.entries, returning=False)
        self.memberships, self.entries = [], []
        self.freed = {}


def _identify_set_based(actor, items: list, definitions: dict) -> list[dict]:
    with transaction.atomic():
        batch = BatchIdentify(actor, items, definitions)
        outcomes: list = []
        for index, item in enumerate(items):
            try:
                outcomes.append(batch.identify(index, item))
            except ShoalError as exc:
                outcomes.append(exc.as_dict())
        batch.flush()
        return [o if isinstance(o, dict) else {"id": o[0].pk, "created": o[1], "changed": o[2]} for o in outcomes]


def _identify_item_by_item(actor, items: list, definitions: dict) -> list[dict]:
    results: list[dict] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ShoalError("invalid_value", gettext("Each item must be an object"), {})
            with transaction.atomic():
                res = customer_identify(actor=actor, data=item, definitions=definitions, log=False)
            results.append({"id": res.customer.pk, "created": res.created, "changed": res.changed})
        except ShoalError as exc:
            results.append(exc.as_dict())
    return results


def customer_identify_batch(*, actor, items: list[dict]) -> list[dict]:
    """Identify up to 1000 customers; a result per item, one bad item does not stop the others.

    Each item gets the answer ``customer_identify`` would give it if the items were identified one
    after the other (an item sees what earlier items of the batch created or changed), but the batch
    is matched, checked and written set-based in one transaction."""
    if len(items) > BATCH_LIMIT:
        raise ShoalError("too_many", gettext("At most %(limit)s customers per batch") % {"limit": BATCH_LIMIT},
                         {"max": BATCH_LIMIT, "count": len(items)})
    with parameters.cached():
        definitions = cleaning.enabled_definitions()
        results = None
        for _attempt in range(2):
            try:
                results = _identify_set_based(actor, items, definitions)
                break
            except IntegrityError:
                # Another writer took one of the values between our read and our write: read again.
                continue
        if results is None:
            results = _identify_item_by_item(actor, items, definitions)
    created = sum(1 for r in results if r.get("created") is True)
    updated = sum(1 for r in results if r.get("created") is False and r.get("changed"))
    failed = sum(1 for r in results if "error" in r)
    log_operation(actor=actor if is_user(actor) else actor_name(actor), action="customer.identify_batch",
                  object_type="customer", detail={"count": len(items), "created": created, "updated": updated,
                                                  "failed": failed})
    return results
