"""Reads of the seas and the pool logs, each in the actor's data scope (``customer_queryset(actor=)``).

- company public sea: customers in no group, not in the recycle bin;
- group public sea: a group's memberships without salesperson;
- my customers: the actor's private sea across groups, with last follow-up, follow-up count and the
  earliest open follow-up task;
- recycle bin: ``in_recycle_bin``;
- the logs (group log, assignment log, recycle history, transfer records): filtered by local days (today by
  default, on the pages), group, salesperson and kind; rows about customers outside the scope are left out.

Customer values shown from here go through ``customers.masking`` (list context) in :func:`customer_cells`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from shoal.accounts.models import DataScope, User
from shoal.core.actors import is_system
from shoal.customers import masking
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.quality import with_quality
from shoal.customers.selectors import customer_queryset, customer_search_q

from .models import AssignmentKind, AssignmentLog, GroupLog, RecycleRule, Transfer

# assignment-log kinds that take a customer back from a salesperson or out of the seas: 回收历史
RECYCLE_KINDS = (AssignmentKind.RECYCLE, AssignmentKind.RETURN_GROUP_SEA, AssignmentKind.RETURN_COMPANY_SEA,
                 AssignmentKind.RECYCLE_BIN, AssignmentKind.RESTORE)


def _sees_all(actor) -> bool:
    return is_system(actor) or (isinstance(actor, User) and actor.is_active and actor.data_scope() == DataScope.ALL)


def _search(qs: QuerySet[Customer], q: str) -> QuerySet[Customer]:
    q = (q or "").strip()[:100]
    return qs.filter(customer_search_q(q)) if q else qs


# -- the seas -------------------------------------------------------------------------------------------
def company_sea(*, actor, q: str = "") -> QuerySet[Customer]:
    """公司公海: customers of the actor's scope in no group and not in the recycle bin, newest first."""
    in_group = CustomerGroupMembership.objects.filter(customer_id=OuterRef("pk"))
    qs = customer_queryset(actor=actor).filter(in_recycle_bin=False).filter(~Exists(in_group))
    return with_quality(_search(qs, q)).order_by("-created_at", "-id")


def group_sea(*, actor, group_id: int, q: str = "") -> QuerySet[Customer]:
    """小组公海 of ``group_id``: its customers without salesperson, in the actor's scope, best first."""
    members = CustomerGroupMembership.objects.filter(group_id=group_id, salesperson__isnull=True)
    qs = customer_queryset(actor=actor).filter(in_recycle_bin=False, pk__in=members.values("customer_id"))
    return with_quality(_search(qs, q)).order_by("-quality_score", "-id")


def my_customers(*, actor, q: str = "", group_id: int | None = None) -> QuerySet[Customer]:
    """我的客户: the actor's private sea across groups, with ``open_task_due`` (the earliest due open
    follow-up task of the actor for the customer) and ``my_assigned_at`` (the latest assignment)."""
    from shoal.sales.models import OPEN_PROGRESS, Task, TaskType

    mine = CustomerGroupMembership.objects.filter(salesperson=actor)
    if group_id:
        mine = mine.filter(group_id=group_id)
    tasks = (Task.objects.filter(owner=actor, customer_id=OuterRef("pk"), type=TaskType.FOLLOW_UP, progress__in=OPEN_PROGRESS)
             .order_by().values("customer_id").annotate(due=Min("due_at")).values("due"))
    assigned = mine.filter(customer_id=OuterRef("pk")).order_by("-assigned_at").values("assigned_at")[:1]
    qs = (customer_queryset(actor=actor).filter(in_recycle_bin=False, pk__in=mine.values("customer_id"))
          .annotate(open_task_due=Subquery(tasks), my_assigned_at=Subquery(assigned)))
    return with_quality(_search(qs, q)).order_by(F("my_assigned_at").desc(nulls_last=True), "-id")


def recycle_bin(*, actor, q: str = "") -> QuerySet[Customer]:
    """回收站客户 of the actor's scope, most recently changed first."""
    qs = customer_queryset(actor=actor).filter(in_recycle_bin=True)
    return with_quality(_search(qs, q)).order_by("-updated_at", "-id")


def visible_groups(*, actor) -> QuerySet[CustomerGroup]:
    """The groups whose public sea the actor may open: all (scope ALL), else those they administer and those
    they sell in that show their public sea to their salespeople."""
    qs = CustomerGroup.objects.filter(enabled=True)
    if _sees_all(actor):
        return qs.order_by("name", "pk")
    if not isinstance(actor, User) or not actor.is_active:
        return qs.none()
    return qs.filter(Q(admins=actor) | Q(salespeople=actor, public_sea_visible=True)).distinct().order_by("name", "pk")


def administered_group_ids(*, actor) -> set[int]:
    """Groups the actor may hand customers out in (assign): all (scope ALL) or those they administer."""
    if _sees_all(actor):
        return set(CustomerGroup.objects.values_list("pk", flat=True))
    if not isinstance(actor, User):
        return set()
    return set(CustomerGroup.objects.filter(admins=actor).values_list("pk", flat=True))


def group_salespeople(*, group_ids) -> dict[int, list[User]]:
    out: dict[int, list[User]] = {g: [] for g in group_ids}
    through = CustomerGroup.salespeople.through
    rows = through.objects.filter(customergroup_id__in=list(group_ids)).select_related("user").order_by("user__username")
    for row in rows:
        if row.user.is_active:
            out[row.customergroup_id].append(row.user)
    return out


def sales_users(*, actor) -> QuerySet[User]:
    """People a transfer may name (from / to): every active salesperson of a group (scope ALL), else those of the
    groups the actor administers."""
    groups = CustomerGroup.objects.all() if _sees_all(actor) else CustomerGroup.objects.filter(admins=actor)
    ids = CustomerGroup.salespeople.through.objects.filter(customergroup__in=groups).values("user_id")
    return User.objects.filter(pk__in=ids, is_active=True).order_by("username")


# -- cells of a page of customers ------------------------------------------------------------------------
def customer_cells(customers, *, actor) -> list[dict]:
    """One page of customers as shown: masked values (list context) and their groups with salesperson."""
    customers = list(customers)
    shown = masking.mask_customer_rows(customers, viewer=actor, context="list")
    groups: dict[int, list[dict]] = {c.pk: [] for c in customers}
    memberships = (CustomerGroupMembership.objects.filter(customer_id__in=list(groups))
                   .select_related("group", "salesperson").order_by("group__name", "group_id"))
    for m in memberships:
        groups[m.customer_id].append({
            "group_id": m.group_id, "group": m.group.name, "salesperson_id": m.salesperson_id,
            "salesperson": _user_name(m.salesperson), "assigned_at": m.assigned_at})
    return [{"customer": c, "shown": s, "groups": groups[c.pk]} for c, s in zip(customers, shown, strict=True)]


def _user_name(user) -> str:
    return (user.name or user.username) if user is not None else ""


# -- logs -----------------------------------------------------------------------------------------------
@dataclass
class LogFilter:
    start: date | None = None
    end: date | None = None
    group_id: int | None = None
    salesperson_id: int | None = None
    kind: str = ""
    customer: str = ""  # an id or a keyword (name, mobile, email…)


def day_start(day: date) -> datetime:
    """The start of a local day (the server's time zone, Asia/Shanghai by default)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def today() -> date:
    return timezone.localdate()


def _dates(qs, where: LogFilter, field: str = "at"):
    if where.start:
        qs = qs.filter(**{f"{field}__gte": day_start(where.start)})
    if where.end:
        qs = qs.filter(**{f"{field}__lt": day_start(where.end + timedelta(days=1))})
    return qs


def _in_scope(qs, *, actor, where: LogFilter):
    """Rows about customers of the actor's scope (and, with a customer keyword, about those customers)."""
    scope = customer_queryset(actor=actor)
    customer = (where.customer or "").strip()[:100]
    if customer:
        scope = scope.filter(customer_search_q(customer))
    if customer or scope.query.where:  # everything visible: no sub-select needed
        qs = qs.filter(customer_id__in=scope.values("pk"))
    return qs


def group_log(*, actor, where: LogFilter) -> QuerySet[GroupLog]:
    """分组日志, newest first. ``kind``: "auto" or "manual"; ``group_id``: from or to that group;
    ``salesperson_id``: the operator."""
    qs = _dates(GroupLog.objects.all(), where)
    if where.group_id:
        qs = qs.filter(Q(from_group_id=where.group_id) | Q(to_group_id=where.group_id))
    if where.salesperson_id:
        qs = qs.filter(operator_id=where.salesperson_id)
    if where.kind in ("auto", "manual"):
        qs = qs.filter(auto=where.kind == "auto")
    return _in_scope(qs, actor=actor, where=where).select_related("from_group", "to_group", "rule", "operator")


def assignment_log(*, actor, where: LogFilter, kinds=None) -> QuerySet[AssignmentLog]:
    """分配日志, newest first. ``kind``: an assignment kind; ``salesperson_id``: the new or the previous
    salesperson."""
    qs = _dates(AssignmentLog.objects.all(), where)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    if where.kind in AssignmentKind.values:
        qs = qs.filter(kind=where.kind)
    if where.group_id:
        qs = qs.filter(group_id=where.group_id)
    if where.salesperson_id:
        qs = qs.filter(Q(salesperson_id=where.salesperson_id) | Q(previous_salesperson_id=where.salesperson_id))
    return (_in_scope(qs, actor=actor, where=where)
            .select_related("group", "salesperson", "previous_salesperson", "operator"))


def recycle_log(*, actor, where: LogFilter) -> QuerySet[AssignmentLog]:
    """回收历史: customers taken back from salespeople (by recycle rules or by hand), returned to the group or
    the company public sea, put in and restored from the recycle bin."""
    return assignment_log(actor=actor, where=where, kinds=RECYCLE_KINDS)


def transfer_records(*, actor, where: LogFilter) -> QuerySet[Transfer]:
    """转移记录, newest first: all (scope ALL); else the transfers the actor made or was named in, and
    those between salespeople of the groups they administer."""
    qs = _dates(Transfer.objects.all(), where).select_related("from_user", "to_user", "operator")
    if where.salesperson_id:
        qs = qs.filter(Q(from_user_id=where.salesperson_id) | Q(to_user_id=where.salesperson_id))
    if _sees_all(actor):
        return qs
    if not isinstance(actor, User) or not actor.is_active:
        return qs.none()
    mine = Q(operator=actor) | Q(from_user=actor) | Q(to_user=actor)
    managed = CustomerGroup.salespeople.through.objects.filter(customergroup__admins=actor).values("user_id")
    return qs.filter(mine | Q(from_user_id__in=managed) | Q(to_user_id__in=managed))


def log_customers(rows, *, actor) -> dict[int, dict]:
    """The customers of a page of log rows: {id: masked output (list context)}."""
    ids = {r.customer_id for r in rows}
    customers = list(Customer.objects.filter(pk__in=ids))
    shown = masking.mask_customer_rows(customers, viewer=actor, context="list")
    return {c.pk: s for c, s in zip(customers, shown, strict=True)}


def next_rule_order(model, **scope) -> int:
    """The order a new rule takes by default: after the last rule of its scope (``group=`` for assignment and
    recycle rules; all group rules), 1 when there is none."""
    from django.db.models import Max

    last = model.objects.filter(**scope).aggregate(last=Max("order"))["last"]
    return 1 if last is None else last + 1


def first_group_id() -> int | None:
    """The first group as the group pickers list them (by name), for a form's default."""
    return CustomerGroup.objects.order_by("name", "pk").values_list("pk", flat=True).first()


def inviter_shown(*, actor, customer) -> dict | None:
    """The customer's inviter as the detail page shows it: {"id": its id when ``actor`` may open it, else None,
    "name": its name as the customer list shows it (masked per the actor's policy)}; None: no inviter."""
    pk = customer.invited_by_id
    inviter = Customer.objects.filter(pk=pk).first() if pk else None
    if inviter is None:
        return None
    shown = masking.mask_customer_rows([inviter], viewer=actor, context="list")[0]
    visible = customer_queryset(actor=actor).filter(pk=pk).exists()
    return {"id": pk if visible else None, "name": shown.get("name") or f"#{pk}"}


def rule_names(rows) -> dict[tuple[str, int], str]:
    """Names of the rules named by assignment-log rows: {("assign"|"recycle", id): name}."""
    from .models import AssignmentRule

    recycle_ids = {r.rule_id for r in rows if r.rule_id and r.kind in RECYCLE_KINDS}
    assign_ids = {r.rule_id for r in rows if r.rule_id and r.kind not in RECYCLE_KINDS}
    out = {("recycle", pk): name for pk, name in RecycleRule.objects.filter(pk__in=recycle_ids).values_list("pk", "name")}
    out.update({("assign", pk): name for pk, name in
                AssignmentRule.objects.filter(pk__in=assign_ids).values_list("pk", "name")})
    return out

