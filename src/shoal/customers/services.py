"""Writes of customers, custom fields, enums and companies. Each writes the timeline and/or the
operation log. Reads go through :mod:`shoal.customers.selectors`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.db.models.base import ModelState
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core import parameters
from shoal.core.db import copy_rows
from shoal.core.errors import Conflict, NotFound, ShoalError
from shoal.core.oplog import log_operation

from . import fields as F
from . import indexes
from .identity import identity_fields, identity_values
from .models import (
    Company,
    Contact,
    Customer,
    CustomerGroupMembership,
    CustomerStatus,
    CustomField,
    EnumGroup,
    EnumItem,
    FieldType,
    TimelineEntry,
    TimelineKind,
)

UNIQUE_FIELDS = ("mobile", "email", "ent_user_id")
BATCH_LIMIT = 1000

# Sent inside the merge transaction before ``other`` is deleted, so later apps (tags, events,
# follow-ups…) move their rows from ``other`` to ``keep``.
customer_merging = Signal()  # kwargs: keep, other, actor


# -- helpers ---------------------------------------------------------------------------------------
def _is_user(actor) -> bool:
    from shoal.accounts.models import User

    return isinstance(actor, User)


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if _is_user(actor):
        return actor.get_username()
    return str(actor)[:150]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _entry(customer: Customer, kind: str, *, actor, field_name: str = "", old=None, new=None,
           detail: dict | None = None) -> TimelineEntry:
    detail = dict(detail or {})
    if actor is not None and not _is_user(actor):
        detail.setdefault("application", str(actor))
    return TimelineEntry(customer=customer, kind=kind, field=field_name, old=_jsonable(old), new=_jsonable(new),
                         actor=actor if _is_user(actor) else None, actor_name=_actor_name(actor), detail=detail)


def _visible_ids(actor, ids) -> set[int]:
    """The customers among ``ids`` that ``actor`` may see: errors name only those. Systems and
    applications see every customer."""
    ids = {pk for pk in ids if pk is not None}
    if not ids or not _is_user(actor):
        return ids
    from .selectors import customer_queryset

    return set(customer_queryset(actor=actor).filter(pk__in=ids).values_list("pk", flat=True))


def _duplicate(f: str, holder_pk: int | None, *, visible: bool) -> Conflict:
    """409 ``duplicate_value``: the holder is named only when the caller may see it (never the value)."""
    if not visible:
        return Conflict("duplicate_value",
                        gettext("This %(field)s belongs to a customer you cannot see") % {"field": f}, {"field": f})
    return Conflict("duplicate_value", gettext("Another customer already has this %(f)s") % {"f": f},
                    {"field": f, "customer_id": holder_pk})


def _check_unique(values: dict, *, exclude_pk: int | None = None, actor=None) -> None:
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
                raise _duplicate(f, row["pk"], visible=bool(_visible_ids(actor, [row["pk"]])))


def _require_identity(values: dict) -> None:
    if not identity_values(values):
        fields = list(identity_fields())
        raise ShoalError("identity_required", gettext("At least one identity field is needed: %(fields)s") % {"fields": ", ".join(fields)},
                         {"fields": fields})


# -- customers ---------------------------------------------------------------------------------------
def customer_create(*, actor, data: dict, definitions: dict | None = None, log: bool = True) -> Customer:
    cleaned = F.clean_customer_data(data, creating=True, definitions=definitions)
    _require_identity(cleaned)
    _check_unique(cleaned, actor=actor)
    try:
        with transaction.atomic():
            customer = Customer.objects.create(**cleaned)
            _entry(customer, TimelineKind.CREATED, actor=actor).save()
            _place_for_creator(customer, actor)
    except IntegrityError:
        raise Conflict("duplicate_value", gettext("Another customer already has one of these identity values"),
                       {"fields": [f for f in UNIQUE_FIELDS if cleaned.get(f)]})
    if log:
        log_operation(actor=actor if _is_user(actor) else _actor_name(actor), action="customer.create",
                      obj=customer)
    return customer


def _creator_placement(actor):
    """(group, salesperson or None) where a customer created by ``actor`` goes, or None: see
    :func:`_place_for_creator`."""
    from shoal.accounts.models import DataScope

    from .models import CustomerGroup

    if not _is_user(actor) or actor.data_scope() == DataScope.ALL:
        return None
    group = CustomerGroup.objects.filter(salespeople=actor).order_by("id").first()
    salesperson = actor if group is not None else None
    if group is None:
        group = CustomerGroup.objects.filter(admins=actor).order_by("id").first()
    if group is None:
        return None
    return group, salesperson


def _placement_rows(customer: Customer, actor, placement) -> tuple[CustomerGroupMembership, TimelineEntry]:
    group, salesperson = placement
    membership = CustomerGroupMembership(customer=customer, group=group, salesperson=salesperson,
                                         assigned_at=timezone.now() if salesperson else None)
    entry = _entry(customer, TimelineKind.GROUP, actor=actor,
                   detail={"group": group.name, "salesperson": actor.username if salesperson else None,
                           "reason": "created"})
    return membership, entry


def _place_for_creator(customer: Customer, actor) -> None:
    """A customer created by someone whose data scope would not show it goes where they can work it:
    a salesperson's own private sea in their first group, else the public sea of a group they manage.
    Otherwise (admins, systems, users in no group) it stays in the company public sea."""
    placement = _creator_placement(actor)
    if placement is None:
        return
    membership, entry = _placement_rows(customer, actor, placement)
    membership.save()
    entry.save()


def _apply_changes(customer: Customer, cleaned: dict, *, actor) -> tuple[list[str], list[TimelineEntry]]:
    changed: list[str] = []
    entries: list[TimelineEntry] = []
    for name, new in cleaned.items():
        if name == "attributes":
            old_attrs = customer.attributes or {}
            for key in sorted(set(old_attrs) | set(new)):
                if old_attrs.get(key) != new.get(key):
                    changed.append(key)
                    entries.append(_entry(customer, TimelineKind.CHANGED, actor=actor, field_name=key,
                                          old=old_attrs.get(key), new=new.get(key), detail={"custom": True}))
            if new != old_attrs:
                customer.attributes = new
            continue
        old = getattr(customer, name)
        if old != new:
            changed.append(name)
            entries.append(_entry(customer, TimelineKind.CHANGED, actor=actor, field_name=name, old=old, new=new))
            setattr(customer, name, new)
    return changed, entries


def customer_update(*, actor, customer: Customer, data: dict, definitions: dict | None = None,
                    log: bool = True) -> list[str]:
    """Update ``customer`` in place; a timeline entry per changed field. Returns the changed fields."""
    cleaned = F.clean_customer_data(data, existing_attributes=customer.attributes, creating=False,
                                    definitions=definitions)
    if any(f in cleaned for f in UNIQUE_FIELDS):
        after = {f: cleaned.get(f, getattr(customer, f)) for f in UNIQUE_FIELDS}
        _require_identity(after)
        _check_unique({f: cleaned[f] for f in UNIQUE_FIELDS if f in cleaned}, exclude_pk=customer.pk, actor=actor)
    changed, entries = _apply_changes(customer, cleaned, actor=actor)
    if not changed:
        return []
    std = [c for c in changed if c in F.STANDARD_FIELDS]
    update_fields = std + (["attributes"] if len(std) < len(changed) else []) + ["updated_at"]
    try:
        with transaction.atomic():
            customer.save(update_fields=update_fields)
            TimelineEntry.objects.bulk_create(entries)
    except IntegrityError:
        raise Conflict("duplicate_value", gettext("Another customer already has one of these identity values"),
                       {"fields": [f for f in UNIQUE_FIELDS if f in changed]})
    if log:
        log_operation(actor=actor if _is_user(actor) else _actor_name(actor), action="customer.update",
                      obj=customer, detail={"fields": changed})
    return changed


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


def _identity_conflict(found: list[tuple[str, int]], *, visible: set[int]) -> Conflict:
    """409 ``identity_conflict``, naming only the customers in ``visible`` (the caller's scope)."""
    hidden = sorted(f for f, pk in found if pk not in visible)
    message = gettext("The identity values belong to different customers")
    if hidden:
        message = gettext("The identity values belong to different customers; %(fields)s belongs to a "
                          "customer you cannot see") % {"fields": ", ".join(hidden)}
    return Conflict("identity_conflict", message,
                    {"customer_ids": sorted({pk for _, pk in found if pk in visible}),
                     "fields": {f: pk if pk in visible else None for f, pk in found}})


def _out_of_scope(found_fields) -> Conflict:
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
    standard = F.clean_standard({k: v for k, v in data.items() if k in UNIQUE_FIELDS})
    values = identity_values(standard)
    _require_identity(values)
    for attempt in range(2):
        found, customers = _match(values)
        if len(customers) > 1:
            raise _identity_conflict(found, visible=_visible_ids(actor, customers))
        if customers:
            customer = next(iter(customers.values()))
            if _is_user(actor):
                from .selectors import customer_queryset

                if not customer_queryset(actor=actor).filter(pk=customer.pk).exists():
                    raise _out_of_scope(f for f, _ in found)
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


def _max_params() -> int:
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return connection.features.max_query_params
    return 65535 if connection.vendor == "postgresql" else (connection.features.max_query_params or 999)


_PLAIN = (str, int, bool, type(None))


def _insert(model, objs: list, *, returning: bool) -> None:
    """``model.objects.bulk_create(objs)`` with less per-value overhead: the values go through each
    field's ``pre_save``/``get_db_prep_save`` (plain strings, numbers and None of non-JSON fields as
    they are), in as few multi-row INSERT statements as the database's parameter limit allows (PostgreSQL:
    COPY)."""
    if not objs:
        return
    if returning and not connection.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objs)
        return
    from django.db.models import JSONField

    conn = connections[connection.alias]  # the connection itself, not the proxy (many look-ups below)
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk]
    passthrough = [not isinstance(f, JSONField) for f in fields]
    pg = connection.vendor == "postgresql"
    as_is = (*_PLAIN, date) if pg else _PLAIN  # psycopg takes dates and aware datetimes as they are (so does Django)

    def prep(f, value):
        if pg and type(value) is datetime and value.tzinfo is not None:
            return value
        return f.get_db_prep_save(value, conn)

    def values(chunk):
        return [[value if plain and type(value) in as_is else prep(f, value)
                 for f, plain in zip(fields, passthrough, strict=True) for value in (f.pre_save(obj, True),)]
                for obj in chunk]

    columns = [f.column for f in fields]
    if pg:
        # COPY (psycopg's C row formatting; an INSERT of arrays spent most of its time turning the Python
        # lists into array literals). New ids, when wanted, come from the table's sequence first (one query).
        rows, ids = values(objs), None
        if returning:
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [opts.db_table, opts.pk.column, len(objs)])
                ids = sorted(pk for (pk,) in cursor.fetchall())
            columns.append(opts.pk.column)
            for row, pk in zip(rows, ids, strict=True):
                row.append(pk)
        copy_rows(opts.db_table, columns, rows)
        _mark_saved(objs, ids)
        return
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(c) for c in columns)}) "
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = f" RETURNING {qn(opts.db_table)}.{qn(opts.pk.column)}" if returning else ""
    per_statement = max(1, _max_params() // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            rows = values(chunk)
            cursor.execute(f"{head}VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                           [value for row in rows for value in row])
            _mark_saved(chunk, [pk for (pk,) in cursor.fetchall()] if returning else None)


def _mark_saved(objs: list, ids: list[int] | None) -> None:
    for index, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[index]
        obj._state.adding = False
        obj._state.db = connection.alias


def _write_changes(dirty: list[tuple[Customer, set[str]]]) -> None:
    """Write the changed fields of existing customers: each field is set only on the customers that
    changed it, the others keep their stored value (as ``save(update_fields=…)`` per customer would).
    PostgreSQL: one UPDATE … FROM UNNEST(arrays); elsewhere one UPDATE per customer (executemany)."""
    conn = connections[connection.alias]
    now = timezone.now()
    names = sorted(set().union(*(fields for _, fields in dirty)))
    columns = [(name, Customer._meta.get_field(name)) for name in names]
    updated_at, pk = Customer._meta.get_field("updated_at"), Customer._meta.pk
    qn = connection.ops.quote_name
    table = qn(Customer._meta.db_table)
    stamp = updated_at.get_db_prep_save(now, conn)
    rows = []
    for customer, fields in dirty:
        params: list = [customer.pk]
        for name, f in columns:
            if name in fields:
                params += [True, f.get_db_prep_save(getattr(customer, f.attname), conn)]
            else:
                params += [False, None]
        rows.append(params)
        customer.updated_at = now
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [pk.db_type(conn).split("(")[0]]
            for _, f in columns:
                types += ["boolean", f.db_type(conn).split("(")[0]]
            aliases = ["pk"] + [x for i in range(len(columns)) for x in (f"s{i}", f"v{i}")]
            sets = [f"{qn(f.column)} = CASE WHEN v.s{i} THEN v.v{i} ELSE t.{qn(f.column)} END"
                    for i, (_, f) in enumerate(columns)]
            sql = (f"UPDATE {table} AS t SET {', '.join(sets + [f'{qn(updated_at.column)} = %s'])} "
                   f"FROM UNNEST({', '.join(f'(%s)::{t}[]' for t in types)}) AS v({', '.join(aliases)}) "
                   f"WHERE t.{qn(pk.column)} = v.pk")
            cursor.execute(sql, [stamp, *(list(col) for col in zip(*rows, strict=True))])
        else:
            sets = [f"{qn(f.column)} = CASE WHEN %s THEN %s ELSE {qn(f.column)} END" for _, f in columns]
            sql = f"UPDATE {table} SET {', '.join(sets + [f'{qn(updated_at.column)} = %s'])} WHERE {qn(pk.column)} = %s"
            cursor.executemany(sql, [[*row[1:], stamp, row[0]] for row in rows])


class _BatchIdentify:
    """One batch, applied in order to in-memory customers; ``flush`` writes what is pending."""

    def __init__(self, actor, items: list, definitions: dict):
        self.actor = actor
        self.definitions = definitions
        self.cache: dict = {}  # enum options, standard enum groups, companies (fields.clean_*)
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
            return F.clean_standard({k: v for k, v in item.items() if k in UNIQUE_FIELDS}, cache=self.cache)
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
            from .models import Company

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
        if not _is_user(self.actor):
            return  # systems and applications see every customer
        from .selectors import customer_queryset

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
            self._placement = _creator_placement(self.actor)
        return self._placement

    # -- the rules of customer_identify, customer_create and customer_update, in memory
    def identify(self, index: int, item) -> tuple[Customer, bool, list[str]]:
        if not isinstance(item, dict):
            raise ShoalError("invalid_value", gettext("Each item must be an object"), {})
        data = dict(item)
        standard = self.unique[index]
        if isinstance(standard, ShoalError):
            raise standard
        values = {f: standard[f] for f in self.identity if standard.get(f)}  # identity_values()
        if not values:
            _require_identity(values)
        found = [(f, c) for f, v in values.items() if (c := self._holder(f, v)) is not None]
        customers = list({id(c): c for _, c in found}.values())
        if len(customers) > 1:
            if any(c.pk is None for c in customers):
                self.flush()
            raise _identity_conflict([(f, c.pk) for f, c in found],
                                     visible={c.pk for c in customers if self._in_scope(c)})
        if customers:
            customer = customers[0]
            if not self._in_scope(customer):
                raise _out_of_scope(f for f, _ in found)
            return customer, False, self._update(customer, data)
        return self._create(data), True, []

    def _check_unique(self, values: dict, *, exclude: Customer | None = None) -> None:
        """As :func:`_check_unique`, against the in-memory holders."""
        present = {f: v for f, v in values.items() if f in UNIQUE_FIELDS and v}
        held = [(f, c) for f, v in present.items() if (c := self._holder(f, v)) is not None and c is not exclude]
        if not held:
            return
        if len({id(c) for _, c in held}) > 1:
            # Several other customers: which field is named depends on the database's row order.
            self.flush()
            _check_unique(values, exclude_pk=None if exclude is None else exclude.pk, actor=self.actor)
        f, holder = held[0]
        if holder.pk is None:  # new in this batch: written first, so it has an id to name
            self.flush()
        raise _duplicate(f, holder.pk, visible=self._in_scope(holder))

    def _create(self, data: dict) -> Customer:
        cleaned = F.clean_customer_data(data, creating=True, definitions=self.definitions, cache=self.cache)
        if not any(cleaned.get(f) for f in self.identity):
            _require_identity(cleaned)
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
            membership, entry = _placement_rows(customer, self.actor, placement)
            self.memberships.append(membership)
            self.entries.append(entry)
        return customer

    def _created_entry(self, customer: Customer) -> TimelineEntry:
        """``_entry(customer, CREATED, actor=self.actor)``: the first one made so, the others cloned."""
        if self.created_template is None:
            self.created_template = _entry(customer, TimelineKind.CREATED, actor=self.actor)
            return self.created_template
        entry = _clone(self.created_template, customer_id=customer.pk, created_at=timezone.now(),
                       detail=dict(self.created_template.detail))
        entry._state.fields_cache["customer"] = customer
        return entry

    def _update(self, customer: Customer, data: dict) -> list[str]:
        cleaned = F.clean_customer_data(data, existing_attributes=customer.attributes, creating=False,
                                        definitions=self.definitions, cache=self.cache)
        if any(f in cleaned for f in UNIQUE_FIELDS):
            after = {f: cleaned.get(f, getattr(customer, f)) for f in UNIQUE_FIELDS}
            if not any(after.get(f) for f in self.identity):
                _require_identity(after)
            self._check_unique({f: cleaned[f] for f in UNIQUE_FIELDS if f in cleaned}, exclude=customer)
        before = {f: getattr(customer, f) for f in UNIQUE_FIELDS}
        if customer.pk is not None and any(
                cleaned.get(f) and cleaned[f] != before[f]
                and self.freed.get((f, cleaned[f]), customer) is not customer for f in UNIQUE_FIELDS if f in cleaned):
            # It takes a value another stored customer gave up since the last write: write that first,
            # so the UPDATE that gives it to this one cannot meet the old holder in the unique index.
            self.flush()
        changed, entries = _apply_changes(customer, cleaned, actor=self.actor)
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
            std = [c for c in changed if c in F.STANDARD_FIELDS]
            fields = self.dirty.setdefault(customer.pk, (customer, set()))[1]
            fields.update(std)
            if len(std) < len(changed):
                fields.add("attributes")
        self.entries.extend(entries)
        return changed

    # -- writing
    def flush(self) -> None:
        if self.dirty:  # first, so values given up by stored customers are free for the new ones
            _write_changes(list(self.dirty.values()))
            self.dirty = {}
        if self.new:
            _insert(Customer, self.new, returning=True)
            for customer in self.new:
                self.by_pk[customer.pk] = customer
            self.new = []
        for rows in (self.memberships, self.entries):
            for row in rows:  # the customers they belong to have ids now
                row.customer_id = row.customer.pk
        _insert(CustomerGroupMembership, self.memberships, returning=False)
        _insert(TimelineEntry, self.entries, returning=False)
        self.memberships, self.entries = [], []
        self.freed = {}


def _identify_set_based(actor, items: list, definitions: dict) -> list[dict]:
    with transaction.atomic():
        batch = _BatchIdentify(actor, items, definitions)
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
        definitions = F.enabled_definitions()
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
    log_operation(actor=actor if _is_user(actor) else _actor_name(actor), action="customer.identify_batch",
                  object_type="customer", detail={"count": len(items), "created": created, "updated": updated,
                                                  "failed": failed})
    return results


MERGE_FIELDS = ("name", "mobile", "phone", "email", "ent_user_id", "gender", "birthday", "city", "qq", "wechat",
                "telegram", "avatar_url", "source", "customer_type", "lifecycle_stage", "notes", "registered_at",
                "company_id")


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
    other.delete()  # frees its identity values before keep takes them
    for f, v in values.items():
        setattr(keep, f, v)
    keep.attributes = attrs
    keep.save()
    _entry(keep, TimelineKind.MERGED, actor=actor,
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
    TimelineEntry.objects.bulk_create(
        [_entry(c, TimelineKind.STATUS, actor=actor, field_name="status", old=c.status, new=status) for c in rows])
    log_operation(actor=actor, action=f"customer.status.{status}", object_type="customer",
                  object_id=",".join(str(c.pk) for c in rows[:50]), detail={"count": len(rows), "status": status})
    return len(rows)


@transaction.atomic
def customers_delete(*, actor, customer_ids: list[int]) -> int:
    """Delete customers with their related rows (irreversible; callers confirm first)."""
    ids = list(Customer.objects.filter(pk__in=customer_ids).values_list("pk", flat=True))
    if not ids:
        return 0
    Customer.objects.filter(pk__in=ids).delete()
    log_operation(actor=actor, action="customer.delete", object_type="customer",
                  object_id=",".join(str(i) for i in ids[:50]), detail={"count": len(ids), "ids": ids[:1000]})
    return len(ids)


def customer_delete(*, actor, customer: Customer) -> None:
    customers_delete(actor=actor, customer_ids=[customer.pk])


# -- custom fields ----------------------------------------------------------------------------------
FIELD_ATTRS = ("label", "required", "default", "show_in_filter", "show_in_list", "order", "enabled")


def _generate_key(kind: str) -> str:
    n = CustomField.objects.filter(key__startswith=f"extra_{kind}_").count() + 1
    while CustomField.objects.filter(key=f"extra_{kind}_{n}").exists():
        n += 1
    return f"extra_{kind}_{n}"


def _check_definition(definition: CustomField) -> None:
    if definition.type not in FieldType.values:
        raise ShoalError("invalid_value", gettext("Unknown field type"), {"field": "type", "choices": FieldType.values})
    if not (definition.label or "").strip():
        raise ShoalError("invalid_value", gettext("Label is required"), {"field": "label"})
    is_enum = definition.type in (FieldType.ENUM, FieldType.MULTI_ENUM)
    if is_enum and definition.enum_group_id is None:
        raise ShoalError("invalid_value", gettext("An enum field needs an enum group"), {"field": "enum_group_id"})
    if not is_enum:
        definition.enum_group_id = None
    if definition.enum_group_id is not None and not EnumGroup.objects.filter(pk=definition.enum_group_id).exists():
        raise ShoalError("invalid_value", gettext("No such enum group"), {"field": "enum_group_id"})
    if definition.default is not None:
        try:
            definition.default = F.coerce_custom_value(definition, definition.default)
        except ShoalError as exc:
            raise ShoalError("invalid_value", gettext("default: %(message)s") % {"message": exc.message},
                             {"field": "default", "expected": definition.type})


def custom_field_create(*, actor, label: str, type: str, key: str | None = None, enum_group_id: int | None = None,
                        **attrs) -> CustomField:
    key = F.validate_key(key) if key else _generate_key(type)
    if CustomField.objects.filter(key=key).exists():
        raise Conflict("duplicate", gettext("A custom field with this key exists"), {"field": "key", "key": key})
    definition = CustomField(key=key, label=(label or "").strip(), type=type, enum_group_id=enum_group_id,
                             **{k: v for k, v in attrs.items() if k in FIELD_ATTRS and v is not None})
    _check_definition(definition)
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError:
        raise Conflict("duplicate", gettext("A custom field with this key exists"), {"field": "key", "key": key})
    indexes.sync_field_index(definition)
    log_operation(actor=actor, action="custom_field.create", obj=definition)
    return definition


def _stored_as_input(value, new_type: str):
    """A stored value in a form the new type's converter may accept."""
    if new_type in (FieldType.TEXT, FieldType.LONG_TEXT):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
    if new_type == FieldType.MULTI_ENUM and not isinstance(value, list):
        return [value]
    return value


def plan_conversion(definition: CustomField) -> dict[int, Any]:
    """The new value of every stored value converted to ``definition``'s type (only those that change),
    or ShoalError ``type_change_refused`` naming the customers whose values do not convert."""
    key = definition.key
    failing: list[int] = []
    updates: dict[int, Any] = {}
    cache: dict = {}
    qs = Customer.objects.filter(attributes__has_key=key).values_list("pk", "attributes").order_by("pk")
    for pk, attrs in qs.iterator(chunk_size=2000):
        old = (attrs or {}).get(key)
        try:
            new = F.coerce_custom_value(definition, _stored_as_input(old, definition.type), cache=cache)
        except ShoalError:
            failing.append(pk)
            continue
        if new != old:
            updates[pk] = new
    if failing:
        raise ShoalError("type_change_refused",
                         gettext("%(count)d customers have values of %(key)s that do not convert to %(type)s")
                         % {"count": len(failing), "key": key, "type": definition.type},
                         {"field": key, "expected": definition.type, "failing_count": len(failing),
                          "failing_customer_ids": failing[:100]})
    return updates


def _convert_values(definition: CustomField) -> None:
    key = definition.key
    updates = plan_conversion(definition)
    pks = list(updates)
    for start in range(0, len(pks), 1000):
        chunk = list(Customer.objects.filter(pk__in=pks[start:start + 1000]).only("pk", "attributes"))
        for customer in chunk:
            attrs = dict(customer.attributes or {})
            if updates[customer.pk] is None:
                attrs.pop(key, None)
            else:
                attrs[key] = updates[customer.pk]
            customer.attributes = attrs
        Customer.objects.bulk_update(chunk, ["attributes"])


@transaction.atomic
def custom_field_update(*, actor, definition: CustomField, data: dict) -> CustomField:
    if "key" in data and data["key"] not in (None, definition.key):
        raise ShoalError("key_immutable", gettext("The key of a custom field cannot change"), {"field": "key"})
    old_type, old_group = definition.type, definition.enum_group_id
    if data.get("type") is not None:
        definition.type = data["type"]
    if "enum_group_id" in data:
        definition.enum_group_id = data["enum_group_id"]
    for attr in FIELD_ATTRS:
        if attr in data and (data[attr] is not None or attr == "default"):
            setattr(definition, attr, data[attr].strip() if attr == "label" else data[attr])
    _check_definition(definition)
    if definition.type != old_type or definition.enum_group_id != old_group:
        _convert_values(definition)
    definition.save()
    indexes.sync_field_index(definition)
    log_operation(actor=actor, action="custom_field.update", obj=definition,
                  detail={"fields": sorted(data), "old_type": old_type, "type": definition.type})
    return definition


@transaction.atomic
def custom_field_delete(*, actor, definition: CustomField) -> None:
    key = definition.key
    indexes.sync_field_index(definition, deleted=True)
    pks = list(Customer.objects.filter(attributes__has_key=key).values_list("pk", flat=True))
    for start in range(0, len(pks), 1000):
        chunk = list(Customer.objects.filter(pk__in=pks[start:start + 1000]).only("pk", "attributes"))
        for customer in chunk:
            customer.attributes = {k: v for k, v in (customer.attributes or {}).items() if k != key}
        Customer.objects.bulk_update(chunk, ["attributes"])
    log_operation(actor=actor, action="custom_field.delete", obj=definition, detail={"customers": len(pks)})
    definition.delete()


# -- enums ----------------------------------------------------------------------------------------------
def enum_item_usage(item: EnumItem, *, limit: int = 100) -> list[int]:
    """Ids of customers (at most ``limit``) whose values use ``item``."""
    used: list[int] = []
    for field_name, group_code in F.STANDARD_ENUMS.items():
        if item.group.code == group_code:
            used += list(Customer.objects.filter(**{field_name: item.code}).values_list("pk", flat=True)[:limit])
    for definition in CustomField.objects.filter(enum_group_id=item.group_id):
        if definition.type == FieldType.ENUM:
            used += list(Customer.objects.filter(**{f"attributes__{definition.key}": item.code})
                         .values_list("pk", flat=True)[:limit])
        elif definition.type == FieldType.MULTI_ENUM:
            qs = Customer.objects.filter(attributes__has_key=definition.key).values_list("pk", "attributes")
            for pk, attrs in qs.iterator(chunk_size=2000):
                value = (attrs or {}).get(definition.key)
                if isinstance(value, list) and item.code in value:
                    used.append(pk)
                    if len(used) >= limit:
                        break
    return sorted(set(used))[:limit]


def _item_fields(data: dict) -> dict:
    out = {}
    if "code" in data and data["code"] is not None:
        code = str(data["code"]).strip()
        if not code or len(code) > 64:
            raise ShoalError("invalid_value", gettext("Item code is required (at most 64 characters)"), {"field": "code"})
        out["code"] = code
    if "label" in data and data["label"] is not None:
        label = str(data["label"]).strip()
        if not label:
            raise ShoalError("invalid_value", gettext("Item label is required"), {"field": "label"})
        out["label"] = label
    for attr in ("order", "enabled"):
        if data.get(attr) is not None:
            out[attr] = data[attr]
    return out


@transaction.atomic
def enum_group_create(*, actor, code: str, name: str, description: str = "",
                      items: list[dict] | None = None) -> EnumGroup:
    code = (code or "").strip()
    if not code or not (name or "").strip():
        raise ShoalError("invalid_value", gettext("Code and name are required"), {"fields": ["code", "name"]})
    if EnumGroup.objects.filter(code=code).exists():
        raise Conflict("duplicate", gettext("An enum with this code exists"), {"field": "code"})
    group = EnumGroup.objects.create(code=code, name=name.strip(), description=description or "")
    for i, item in enumerate(items or []):
        enum_item_create(actor=None, group=group, data={"order": i, **item}, log=False)
    log_operation(actor=actor, action="enum.create", obj=group)
    return group


def enum_group_update(*, actor, group: EnumGroup, data: dict) -> EnumGroup:
    if data.get("code") not in (None, group.code):
        if CustomField.objects.filter(enum_group=group).exists() or group.code in F.STANDARD_ENUMS.values():
            raise Conflict("in_use", gettext("The code of an enum in use cannot change"), {"field": "code"})
        if EnumGroup.objects.filter(code=data["code"]).exclude(pk=group.pk).exists():
            raise Conflict("duplicate", gettext("An enum with this code exists"), {"field": "code"})
        group.code = data["code"].strip()
    for attr in ("name", "description"):
        if data.get(attr) is not None:
            setattr(group, attr, data[attr].strip())
    group.save()
    log_operation(actor=actor, action="enum.update", obj=group, detail={"fields": sorted(data)})
    return group


@transaction.atomic
def enum_group_delete(*, actor, group: EnumGroup) -> None:
    fields = list(CustomField.objects.filter(enum_group=group).values_list("key", flat=True))
    if fields:
        raise Conflict("in_use", gettext("Custom fields use this enum"), {"fields": fields})
    for item in group.items.all():
        used = enum_item_usage(item, limit=10)
        if used:
            raise Conflict("in_use", gettext("Customers use the item %(code)s") % {"code": item.code}, {"item": item.code, "customer_ids": used})
    log_operation(actor=actor, action="enum.delete", obj=group)
    group.delete()


def enum_item_create(*, actor, group: EnumGroup, data: dict, log: bool = True) -> EnumItem:
    values = _item_fields(data)
    if "code" not in values or "label" not in values:
        raise ShoalError("invalid_value", gettext("Item code and label are required"), {"fields": ["code", "label"]})
    if EnumItem.objects.filter(group=group, code=values["code"]).exists():
        raise Conflict("duplicate", gettext("The enum already has an item %(code)s") % {"code": values['code']}, {"field": "code"})
    item = EnumItem.objects.create(group=group, **values)
    if log:
        log_operation(actor=actor, action="enum.item.create", obj=item, detail={"group": group.code})
    return item


@transaction.atomic
def enum_item_update(*, actor, item: EnumItem, data: dict) -> EnumItem:
    values = _item_fields(data)
    if values.get("code", item.code) != item.code:
        used = enum_item_usage(item)
        if used:
            raise Conflict("in_use", gettext("Customers use this item; its code cannot change"),
                           {"item": item.code, "customer_ids": used})
        if EnumItem.objects.filter(group_id=item.group_id, code=values["code"]).exclude(pk=item.pk).exists():
            raise Conflict("duplicate", gettext("The enum already has an item with this code"), {"field": "code"})
    for k, v in values.items():
        setattr(item, k, v)
    item.save()
    log_operation(actor=actor, action="enum.item.update", obj=item, detail={"fields": sorted(values)})
    return item


@transaction.atomic
def enum_item_delete(*, actor, item: EnumItem) -> None:
    used = enum_item_usage(item)
    if used:
        raise Conflict("in_use", gettext("Customers use the item %(code)s; disable it instead") % {"code": item.code},
                       {"item": item.code, "customer_ids": used})
    log_operation(actor=actor, action="enum.item.delete", obj=item)
    item.delete()


# -- companies --------------------------------------------------------------------------------------
COMPANY_FIELDS = ("name", "phone", "email", "website", "country", "province", "city", "address")


def _clean_company(data: dict, *, creating: bool) -> dict:
    out = {}
    for k, v in data.items():
        if k not in COMPANY_FIELDS:
            raise ShoalError("unknown_field", gettext("Unknown company field %(k)s") % {"k": k}, {"field": k})
        if v is None:
            continue
        if k == "website":
            out[k] = "" if not str(v).strip() else F.to_url(v, k)
        elif k == "email":
            from .identity import normalise_email

            out[k] = "" if not str(v).strip() else normalise_email(v, field=k)
        else:
            out[k] = F.to_text(v, k, 200 if k == "name" else 255)
    if (creating or "name" in out) and not out.get("name"):
        raise ShoalError("invalid_value", gettext("Company name is required"), {"field": "name"})
    return out


def company_create(*, actor, data: dict) -> Company:
    company = Company.objects.create(**_clean_company(data, creating=True))
    log_operation(actor=actor, action="company.create", obj=company)
    return company


def company_update(*, actor, company: Company, data: dict) -> Company:
    for k, v in _clean_company(data, creating=False).items():
        setattr(company, k, v)
    company.save()
    log_operation(actor=actor, action="company.update", obj=company, detail={"fields": sorted(data)})
    return company


def company_delete(*, actor, company: Company) -> None:
    log_operation(actor=actor, action="company.delete", obj=company)
    company.delete()


def get_or_404(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj
