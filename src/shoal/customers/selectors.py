"""Reads of customers. Every read goes through :func:`customer_queryset`, which applies the
actor's data scope; a customer outside it is "not found"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext

from shoal.accounts.models import DataScope, Department, User
from shoal.core import request_memo
from shoal.core.actors import is_system
from shoal.core.errors import NotFound, ShoalError

from . import cleaning, standard
from .identity import try_normalise_mobile
from .models import Customer, CustomerGroup, CustomerGroupMembership, CustomField, EnumItem, FieldType
from .quality import score_page_ids

LIST_FIELDS = tuple(n for n in standard.names() if n != "company")  # company: by company_id


def department_user_ids(actor: User) -> list[int]:
    """Users of the actor's departments and every department below them (a literal list), in one query: the
    departments below by a recursive CTE (every page and board of a department manager asks, some of them thrice)."""
    if not isinstance(actor, User) or actor.pk is None:
        return []
    quote = connection.ops.quote_name
    members = quote(User.departments.through._meta.db_table)
    departments = quote(Department._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE below(id) AS (SELECT department_id FROM {members} WHERE user_id = %s "
            f"UNION SELECT d.id FROM {departments} d JOIN below ON d.parent_id = below.id) "
            f"SELECT DISTINCT user_id FROM {members} WHERE department_id IN (SELECT id FROM below) ORDER BY user_id",
            [actor.pk])
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True)
class MembershipScope:
    """An actor's data scope on the membership side, as three disjoint kinds of memberships:

    - ``admin_groups``: every membership of these groups;
    - ``users``: memberships with one of these users as salesperson, in any other group;
    - ``sea_groups``: the group public sea (no salesperson) of these groups (none of them in ``admin_groups``).
    """

    users: tuple[int, ...] = ()
    admin_groups: tuple[int, ...] = ()
    sea_groups: tuple[int, ...] = ()

    def q(self) -> Q:
        if not (self.users or self.admin_groups or self.sea_groups):
            return Q(pk__in=[])
        cond = Q(salesperson_id__in=self.users) if len(self.users) != 1 else Q(salesperson_id=self.users[0])
        if self.admin_groups:
            cond |= Q(group_id__in=self.admin_groups)
        if self.sea_groups:
            cond |= Q(group_id__in=self.sea_groups, salesperson__isnull=True)
        return cond

    def id_pieces(self) -> list[QuerySet]:
        """``customer_id`` of the scope's memberships as covering index reads (they may overlap; for ``IN``)."""
        members = CustomerGroupMembership.objects.order_by()
        pieces = []
        if self.users:
            pieces.append(members.filter(salesperson_id__in=self.users))
        if self.admin_groups:
            pieces.append(members.filter(group_id__in=self.admin_groups))
        if self.sea_groups:
            pieces.append(members.filter(group_id__in=self.sea_groups, salesperson__isnull=True))
        return [p.values_list("customer_id", flat=True) for p in pieces]

    def user_groups(self) -> list[int]:
        """The groups (outside ``admin_groups``) where one of ``users`` is the salesperson of a membership:
        one probe of membership_group_cust_idx per group."""
        if not self.users:
            return []
        probe = CustomerGroupMembership.objects.filter(group_id=OuterRef("pk"), salesperson_id__in=self.users)
        return sorted(CustomerGroup.objects.exclude(pk__in=self.admin_groups).filter(Exists(probe))
                      .values_list("pk", flat=True))

    def count(self) -> int:
        """How many customers the scope holds, exactly. A customer is in a group at most once, so when the
        matching memberships all lie in one group each of the three kinds is counted alone from the indexes
        (no DISTINCT); otherwise a customer may match in several groups and the customers are counted DISTINCT."""
        members = CustomerGroupMembership.objects.order_by()
        user_groups = self.user_groups()
        pieces = []  # disjoint sets of memberships, each read from membership_group_cust_idx alone
        if self.admin_groups:
            pieces.append(members.filter(group_id__in=self.admin_groups))
        if user_groups:
            pieces.append(members.filter(group_id__in=user_groups, salesperson_id__in=self.users))
        if self.sea_groups:
            pieces.append(members.filter(group_id__in=self.sea_groups, salesperson__isnull=True))
        if not pieces:
            return 0
        if len(set(self.admin_groups) | set(self.sea_groups) | set(user_groups)) == 1:
            return sum(piece.count() for piece in pieces)
        # several groups: distinct customers. SQLite reads membership_customer_idx in customer order (no temp
        # B-tree, ~0.2 µs a membership); a UNION of the pieces would sort them (~1 µs each) — slower past ~20%.
        if connection.vendor != "postgresql":
            return members.filter(self.q()).values("customer_id").distinct().count()
        # PostgreSQL: COUNT(DISTINCT) (a sort in memory) over index-only scans of each piece; an OR reads the
        # heap (bitmap scans) and a DISTINCT subquery hashes to disk past work_mem
        pieces = [piece.query.sql_with_params() for piece in self.id_pieces()]
        sql = ('SELECT COUNT(DISTINCT "customer_id") FROM (' + " UNION ALL ".join(p[0] for p in pieces)
               + ') AS "scope"')
        with connection.cursor() as cursor:
            cursor.execute(sql, [v for p in pieces for v in p[1]])
            return cursor.fetchone()[0]


def membership_scope(*, actor) -> MembershipScope | None:
    """The data scope of ``actor`` on group memberships, or None when the actor sees every customer. A customer
    is in scope when one of its memberships matches.

    - a salesperson (every scope): their private sea (memberships with them as salesperson) and the public
      sea (memberships with no salesperson) of each group they are a salesperson of that shows its public
      sea to its salespeople (``CustomerGroup.public_sea_visible``);
    - group scope (and department scope): every membership of the groups they administer;
    - department scope: memberships whose salesperson is in their departments (or below);
    - all: everything.

    The small sets (the actor's groups, the department's users) are resolved here into literal id lists,
    so the database gets plain ``IN (…)`` lists it can look up in the membership indexes
    (membership_sales_idx (salesperson, customer), membership_group_cust_idx (group, salesperson, customer)).
    An actor who sees nothing gets an empty scope."""
    if is_system(actor):
        return None
    if not isinstance(actor, User) or not actor.is_active:
        return MembershipScope()
    # read once per list request (the queryset, the paginator's count and pages each ask)
    return request_memo.memo(("membership_scope", actor.pk), lambda: _membership_scope(actor))


def _membership_scope(actor: User) -> MembershipScope | None:
    scope = actor.data_scope()
    if scope == DataScope.ALL:
        return None
    users = {actor.pk}
    admin_groups: list[int] = []
    if scope in (DataScope.GROUPS, DataScope.DEPARTMENTS):
        admin_groups = sorted(CustomerGroup.objects.filter(admins=actor).values_list("pk", flat=True))
    if scope == DataScope.DEPARTMENTS:
        users.update(department_user_ids(actor))
    sea_groups = sorted(set(CustomerGroup.objects.filter(salespeople=actor, public_sea_visible=True)
                            .values_list("pk", flat=True)) - set(admin_groups))
    return MembershipScope(users=tuple(sorted(users)), admin_groups=tuple(admin_groups), sea_groups=tuple(sea_groups))


def scope_memberships(*, actor) -> Q | None:
    """The data scope as a condition on group memberships (``CustomerGroupMembership``), or None when the
    actor sees every customer (see :func:`membership_scope`). An actor who sees nothing gets ``Q(pk__in=[])``."""
    scope = membership_scope(actor=actor)
    return None if scope is None else scope.q()


def scoped_membership_ids(*, actor):
    """``customer_id`` values of the memberships in the actor's scope (a subquery; may repeat a customer
    who is in several groups), or None when the actor sees every customer."""
    cond = scope_memberships(actor=actor)
    if cond is None:
        return None
    return CustomerGroupMembership.objects.filter(cond).order_by().values("customer_id")


def customer_queryset(*, actor) -> QuerySet[Customer]:
    """All customers ``actor`` may see (see :func:`scope_memberships`). The system (``SYSTEM``) sees them
    all. Customers in the recycle bin are not treated apart: whoever sees their membership sees them (and
    ALL sees every one)."""
    qs = Customer.objects.all()
    if is_system(actor):
        return qs
    if not isinstance(actor, User) or not actor.is_active:
        return qs.none()
    ids = scoped_membership_ids(actor=actor)
    return qs if ids is None else qs.filter(pk__in=ids)


def customers_by_ids(*, actor, ids) -> QuerySet[Customer]:
    """The customers among ``ids`` (a short list: a page's linked customers) that ``actor`` may see: the same
    answer as ``customer_queryset(actor=...).filter(pk__in=ids)``, but each id's memberships are probed
    (membership_customer_idx) instead of the whole scope being listed (a group public sea of 100,000)."""
    qs = Customer.objects.filter(pk__in=list(ids))
    if is_system(actor):
        return qs
    if not isinstance(actor, User) or not actor.is_active:
        return qs.none()
    cond = scope_memberships(actor=actor)
    if cond is None:
        return qs
    return qs.filter(Exists(CustomerGroupMembership.objects.filter(cond, customer_id=OuterRef("pk"))))


def customer_get(*, actor, pk) -> Customer:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(gettext("Customer not found"))
    customer = customer_queryset(actor=actor).select_related("company").filter(pk=pk).first()
    if customer is None:
        raise NotFound(gettext("Customer not found"))
    return customer


def customer_search_q(q: str) -> Q:
    """Keyword search over id, name, mobile, email, ent_user_id and Telegram username.

    Identity fields match exactly (normalised), so masked values cannot be probed digit by digit.
    A keyword that is a mobile number, an email or a number is looked up by those indexed fields
    only: ORing them with ``name LIKE '%q%'`` would make every search a full scan.
    """
    q = (q or "").strip()
    exact = Q(ent_user_id=q)
    email_like = "@" in q.lstrip("@")
    handle = q.startswith("@") and len(q) > 1 and not email_like  # "@name" is a Telegram username
    if email_like:
        exact |= Q(email=q.lower())
    if handle:
        exact |= Q(telegram__iexact=q[1:])
    if q.isdigit() and len(q) <= 18:
        exact |= Q(pk=int(q))
    mobile = try_normalise_mobile(q) if any(c.isdigit() for c in q) else None
    if mobile:
        exact |= Q(mobile=mobile)
    identity_like = (mobile is not None or email_like or handle
                     or q.lstrip("+").replace(" ", "").replace("-", "").isdigit())
    if identity_like:
        return exact
    name_or_handle = exact | Q(name__icontains=q)
    return name_or_handle | Q(telegram__iexact=q.lstrip("@")) if q.lstrip("@") else name_or_handle


def customer_list(*, actor, q: str = "", status: str | None = None, source: str | None = None,
                  created_from=None, created_to=None, in_recycle_bin: bool | None = None) -> QuerySet[Customer]:
    qs = customer_queryset(actor=actor)
    if q and q.strip():
        qs = qs.filter(customer_search_q(q))
    if status:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(source=source)
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    if in_recycle_bin is not None:
        qs = qs.filter(in_recycle_bin=in_recycle_bin)
    return qs.order_by("-created_at", "-id")


# -- a page of a scoped list, fast at a million customers -----------------------------------------------
DEFAULT_ORDER = ("-created_at", "-id")
REVERSED_ORDER = ("created_at", "id")


def customer_count(*, actor, qs: QuerySet[Customer] | None = None, plain: bool = False,
                   scope: MembershipScope | None = None) -> int:
    """How many customers a list shows. ``plain``: the list is the actor's whole scope (no search, no filter),
    counted on the membership side (distinct customers of the matching memberships, read from the membership
    indexes) instead of joining the customer table."""
    if plain:
        scope = scope or membership_scope(actor=actor)
        return Customer.objects.count() if scope is None else scope.count()
    assert qs is not None
    return qs.order_by().count()


def _ordering(qs: QuerySet) -> tuple[str, ...]:
    order = tuple(qs.query.order_by) or tuple(qs.model._meta.ordering)
    while order and order[-1] in ("-pk", "pk") and len(order) > 2:
        order = order[:-1]
    return order


def customer_page_rows(*, actor, qs: QuerySet[Customer], offset: int, limit: int, total: int | None = None,
                       plain: bool = False, scope: MembershipScope | None = None) -> list[Customer]:
    """The customers of one page of ``qs`` (a scoped, filtered and ordered customer queryset).

    - The page's ids first, read from the indexes alone, then those rows (a deferred join): rows skipped by
      the offset are never read whole.
    - In the default order (newest first) a page past the middle of the list (``total`` known) is read from the
      other end in the opposite order: page 5,000 of 6,000 skips 1,000 pages instead of 4,999.
    - Sorted by quality score: read from the score index's nearer end (``quality.score_page_ids``) when it can.
    - ``plain`` (the whole scope, no filter) on SQLite: a page near either end walks the customers in created
      order (customer_created_idx) probing each one's memberships (an EXISTS on membership_customer_idx), where
      ``id IN (scope)`` would read and sort the whole scope first; deeper pages keep ``IN`` (SQLite reads the
      scope's ids from the membership indexes, looks the customers up and sorts them).
    """
    start, stop, reverse = offset, offset + limit, False
    order = _ordering(qs)
    ids = score_page_ids(qs, start, stop)  # sorted by score: the score index walked from the page's end
    if ids is not None:
        return _rows(ids, qs)
    ids_qs = qs
    if order == DEFAULT_ORDER and total is not None:
        if offset >= total:
            return []
        if offset > total // 2:
            start, stop, reverse = max(0, total - offset - limit), total - offset, True
            ids_qs = qs.order_by(*REVERSED_ORDER)
        scope = (scope or membership_scope(actor=actor)) if plain else None
        if scope is not None and isinstance(actor, User) and actor.is_active:
            newest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            walked = (stop + 1) * newest / max(total, 1)  # customers looked at before the page is full
            if walked > total // 2:  # deep: the scope's ids hashed once, then walk customer_created_idx
                return _rows(_walk_ids(scope, start, stop - start, reverse), qs)
            if connection.vendor == "sqlite":  # near an end: probe each customer's memberships
                return _rows(_sqlite_probe_walk_ids(scope, start, stop - start, reverse), qs)
    ids = list(ids_qs.values_list("pk", flat=True)[start:stop])
    if reverse:
        ids.reverse()
    return _rows(ids, qs)


def _walk_ids(scope: MembershipScope, offset: int, limit: int, reverse: bool) -> list[int]:
    """A page of the scope's customer ids in the default order (``reverse``: the opposite, then turned back): the
    scope's ids (the covering membership reads, ``UNION ALL``) go once into a hash / temporary index, and
    customer_created_idx (created_at DESC, id DESC) is walked from the nearer end, probing it — neither the
    customer rows nor a sort of the whole scope. SQLite is told the index (``INDEXED BY``); PostgreSQL gets the
    ``IN`` as a filter (``… IS TRUE``: a hashed subplan, not a join that would fetch every scoped customer and
    sort them), with room in work_mem to hash it."""
    pieces = [piece.query.sql_with_params() for piece in scope.id_pieces()]
    if not pieces:
        return []
    table = connection.ops.quote_name(Customer._meta.db_table)
    direction = "ASC" if reverse else "DESC"
    scope_sql = " UNION ALL ".join(p[0] for p in pieces)
    if connection.vendor == "sqlite":
        where = f'FROM {table} INDEXED BY customer_created_idx WHERE "id" IN ({scope_sql})'
    else:
        where = f'FROM {table} WHERE ("id" IN ({scope_sql})) IS TRUE'
    sql = f'SELECT "id" {where} ORDER BY "created_at" {direction}, "id" {direction} LIMIT %s OFFSET %s'
    params = [v for p in pieces for v in p[1]] + [limit, offset]
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '128MB'")  # the hashed subplan needs the scope in memory
            return _fetch_ids(sql, params, reverse)
    return _fetch_ids(sql, params, reverse)  # no transaction: on SQLite ours begin IMMEDIATE (a write lock)


def _fetch_ids(sql: str, params: list, reverse: bool) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if reverse:
        ids.reverse()
    return ids


def _sqlite_probe_walk_ids(scope: MembershipScope, offset: int, limit: int, reverse: bool) -> list[int]:
    """A page near an end of the scope on SQLite: walk customer_created_idx and probe each customer's memberships
    (``EXISTS`` on membership_customer_idx, told by ``INDEXED BY``: left alone SQLite seeks
    membership_sales_idx once per salesperson of the scope for every customer, ~6× slower for a department)."""
    conds, params = [], []
    if scope.users:
        conds.append(f'"salesperson_id" IN ({", ".join(["%s"] * len(scope.users))})')
        params += scope.users
    if scope.admin_groups:
        conds.append(f'"group_id" IN ({", ".join(["%s"] * len(scope.admin_groups))})')
        params += scope.admin_groups
    if scope.sea_groups:
        conds.append(f'("group_id" IN ({", ".join(["%s"] * len(scope.sea_groups))}) AND "salesperson_id" IS NULL)')
        params += scope.sea_groups
    if not conds:
        return []
    customers = connection.ops.quote_name(Customer._meta.db_table)
    members = connection.ops.quote_name(CustomerGroupMembership._meta.db_table)
    direction = "ASC" if reverse else "DESC"
    sql = (f'SELECT "id" FROM {customers} INDEXED BY customer_created_idx WHERE EXISTS (SELECT 1 FROM {members} '
           f'INDEXED BY membership_customer_idx WHERE {members}."customer_id" = {customers}."id" AND ('
           + " OR ".join(conds)
           + f')) ORDER BY "created_at" {direction}, "id" {direction} LIMIT %s OFFSET %s')
    return _fetch_ids(sql, [*params, limit, offset], reverse)


def _rows(ids: list[int], qs: QuerySet[Customer]) -> list[Customer]:
    if not ids:
        return []
    rows = Customer.objects.filter(pk__in=ids)
    rows.query.select_related = qs.query.select_related
    by_id = {c.pk: c for c in rows}
    return [by_id[i] for i in ids if i in by_id]


def customer_dict(customer: Customer) -> dict:
    """The plain (unmasked) output of a customer; pass it through ``masking.mask_customer``."""
    data = {f: getattr(customer, f) for f in LIST_FIELDS}
    data["attributes"] = dict(customer.attributes or {})
    data["quality_score"] = customer.quality_score
    return data


def customer_detail_dict(customer: Customer) -> dict:
    data = customer_dict(customer)
    company = customer.company
    data["company"] = {"id": company.pk, "name": company.name} if company else None
    data["contacts"] = [
        {"id": c.pk, "name": c.name, "relation": c.relation, "phone": c.phone, "email": c.email, "notes": c.notes}
        for c in customer.contacts.all()
    ]
    data["groups"] = [
        {"group_id": m.group_id, "group": m.group.name, "salesperson_id": m.salesperson_id,
         "salesperson": (m.salesperson.name or m.salesperson.username) if m.salesperson else None,
         "assigned_at": m.assigned_at}
        for m in customer.memberships.select_related("group", "salesperson")
    ]
    return data


def list_columns() -> list[CustomField]:
    return list(CustomField.objects.filter(enabled=True, show_in_list=True))


def get_or_404(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


# -- custom fields and enums ------------------------------------------------------------------------
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
            new = cleaning.coerce_custom_value(definition, _stored_as_input(old, definition.type), cache=cache)
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


def enum_item_usage(item: EnumItem, *, limit: int = 100) -> list[int]:
    """Ids of customers (at most ``limit``) whose values use ``item``."""
    used: list[int] = []
    for field_name, group_code in cleaning.STANDARD_ENUMS.items():
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
