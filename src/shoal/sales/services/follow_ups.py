"""Follow-ups (跟进记录) and the follow-up workspace (客户跟进任务). Keyword-only, with an explicit ``actor``.

Recording a follow-up closes the salesperson's open follow-up tasks for the customer, updates the
customer's last follow-up time and count, and the follow-up times of the memberships the salesperson holds
(which the recycle rules read); with a next follow-up time it opens the next follow-up task (due and reminded
then). Maturity and invitation type are item codes of two enums (``follow_up_maturity``,
``follow_up_invitation_type``: customers migration 0013, edited under 枚举管理).

The workspace lists the salesperson's open follow-up tasks, urgent first and then the best customers
(``Customer.quality_score``); "request new tasks" asks the group for customers (``pools`` request-task
settings), the day's limit answered as 429."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import User
from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMembership,
    EnumItem,
    TimelineEntry,
    TimelineKind,
)
from shoal.customers.quality import quality_expr
from shoal.customers.selectors import customer_queryset, membership_scope
from shoal.customers.services.timeline import actor_name

from ..models import (
    OPEN_PROGRESS,
    FollowUp,
    FollowUpMethod,
    FollowUpStatus,
    Task,
    TaskPriority,
    TaskProgress,
    TaskType,
)

FOLLOW_UP_CREATE = "sales.follow_ups.create"
FOLLOW_UP_VIEW = "sales.follow_ups.view"
REQUEST_TASKS = "pools.seas.claim"  # requesting customers is claiming them (pools.services.requests)
SUMMARY_MAX = 5000
CALL_SECONDS_MAX = 24 * 3600
MATURITY_ENUM = "follow_up_maturity"
INVITATION_TYPE_ENUM = "follow_up_invitation_type"
ENUM_FIELDS = {"maturity": MATURITY_ENUM, "invitation_type": INVITATION_TYPE_ENUM}


def _require(actor, code: str) -> None:
    if is_system(actor):
        return
    if not user_can(actor, code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)


def _invalid(field: str, message: str) -> ShoalError:
    return ShoalError("invalid", message, {"field": field})


# -- the enums: maturity and invitation type ---------------------------------------------------------------
def follow_up_options() -> dict[str, list[tuple[str, str]]]:
    """The choosable items of the two enums, ``{"maturity": [(code, label)], "invitation_type": [...]}``, in
    their order, labels in the user's language (a seeded English label is translated, an admin's as written)."""
    out: dict[str, list[tuple[str, str]]] = {field: [] for field in ENUM_FIELDS}
    by_group = {group: field for field, group in ENUM_FIELDS.items()}
    for group, code, label in (EnumItem.objects.filter(group__code__in=by_group, enabled=True)
                               .order_by("group_id", "order", "id").values_list("group__code", "code", "label")):
        out[by_group[group]].append((code, _(label)))
    return out


def follow_up_labels() -> dict[str, dict[str, str]]:
    """``{"maturity": {code: label}, "invitation_type": {...}}`` of every item, disabled ones too (old records
    keep their words)."""
    out: dict[str, dict[str, str]] = {field: {} for field in ENUM_FIELDS}
    by_group = {group: field for field, group in ENUM_FIELDS.items()}
    for group, code, label in (EnumItem.objects.filter(group__code__in=by_group)
                               .values_list("group__code", "code", "label")):
        out[by_group[group]][code] = _(label)
    return out


def _enum_code(field: str, value) -> str:
    """``value`` as an enabled item code of the field's enum ("" for none); 400 naming the field otherwise."""
    code = "" if value is None else str(value).strip()
    if not code:
        return ""
    if not EnumItem.objects.filter(group__code=ENUM_FIELDS[field], code=code, enabled=True).exists():
        label = {"maturity": _("maturity"), "invitation_type": _("invitation type")}[field]
        raise _invalid(field, _("Unknown %(field)s %(value)s") % {"field": label, "value": code[:64]})
    return code


def call_duration_text(seconds: int | None) -> str:
    """A call duration as ``mm:ss`` (``75:03`` past the hour); "" for none."""
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def parse_call_duration(raw) -> int | None:
    """``"3:05"`` (mm:ss), ``"1:02:03"`` (h:mm:ss) or ``"185"`` (seconds) as seconds; None when empty; 400 on
    anything else."""
    text = str(raw or "").strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) <= 3 and all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts) \
            and all(int(p) < 60 for p in parts[1:]):
        seconds = 0
        for part in parts:
            seconds = seconds * 60 + int(part)
        if seconds <= CALL_SECONDS_MAX:
            return seconds
    raise _invalid("call_seconds", _("Give the call duration as minutes:seconds (for example 3:05)."))


def _next_time(value: datetime) -> datetime:
    """An aware next follow-up time (a naive one in the current time zone) between 1970 and 9998, as the
    databases store it; 400 otherwise."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        in_utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        in_utc = None
    if in_utc is None or not 1970 <= in_utc.year <= 9998:
        raise _invalid("next_follow_up_at", _("The next follow-up time is out of range"))
    return value


# -- follow-ups ------------------------------------------------------------------------------------------
def follow_up_create(*, actor, customer_id: int, method: str = FollowUpMethod.PHONE,
                     status: str = FollowUpStatus.REACHED, effective: bool = False, summary: str = "",
                     next_follow_up_at: datetime | None = None, maturity: str | None = "",
                     invitation_type: str | None = "", call_seconds: int | None = None) -> FollowUp:
    """Record the actor's follow-up of a customer in their data scope (404 outside it). It completes the
    actor's open follow-up tasks of the customer; with ``next_follow_up_at`` it opens the next
    one: the actor's, same customer and group, due and reminded at that time (a past time gives a task overdue
    at once)."""
    _require(actor, FOLLOW_UP_CREATE)
    if method not in FollowUpMethod.values:
        raise _invalid("method", _("Unknown follow-up method %(value)s") % {"value": str(method)[:64]})
    if status not in FollowUpStatus.values:
        raise _invalid("status", _("Unknown follow-up status %(value)s") % {"value": str(status)[:64]})
    summary = (summary or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise _invalid("summary", _("The summary has at most %(n)d characters") % {"n": SUMMARY_MAX})
    maturity = _enum_code("maturity", maturity)
    invitation_type = _enum_code("invitation_type", invitation_type)
    if call_seconds is not None and (isinstance(call_seconds, bool) or not isinstance(call_seconds, int)
                                     or not 0 <= call_seconds <= CALL_SECONDS_MAX):
        raise _invalid("call_seconds", _("The call duration is a number of seconds from 0 to %(n)d")
                       % {"n": CALL_SECONDS_MAX})
    now = timezone.now()
    if next_follow_up_at is not None:
        next_follow_up_at = _next_time(next_follow_up_at)
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError, OverflowError):
        raise NotFound(_("Customer not found"))
    if not customer_queryset(actor=actor).filter(pk=customer_id).exists():
        raise NotFound(_("Customer not found"))
    user_id = actor.pk if isinstance(actor, User) else None
    facts = {"method": method, "status": status, "effective": bool(effective), "maturity": maturity,
             "invitation_type": invitation_type, "call_seconds": call_seconds}
    with transaction.atomic():
        follow_up = FollowUp.objects.create(customer_id=customer_id, salesperson_id=user_id, summary=summary,
                                            next_follow_up_at=next_follow_up_at, created_at=now, **facts)
        Customer.objects.filter(pk=customer_id).update(last_follow_up_at=now, follow_up_count=F("follow_up_count") + 1,
                                                       updated_at=now)
        next_task = None
        if user_id is not None:
            memberships = CustomerGroupMembership.objects.filter(customer_id=customer_id, salesperson_id=user_id)
            memberships.update(last_follow_up_at=now, **({"last_effective_follow_up_at": now} if effective else {}))
            open_tasks = Task.objects.filter(customer_id=customer_id, owner_id=user_id, type=TaskType.FOLLOW_UP,
                                             progress__in=OPEN_PROGRESS)
            done = list(open_tasks.order_by("-priority", "due_at", "id").values("group_id", "priority")[:1])
            open_tasks.update(progress=TaskProgress.DONE, done_at=now, updated_at=now)
            if next_follow_up_at is not None:
                group_id = (done[0]["group_id"] if done else
                            memberships.order_by("group_id").values_list("group_id", flat=True).first())
                next_task = Task.objects.create(
                    type=TaskType.FOLLOW_UP, owner_id=user_id, creator_id=user_id, customer_id=customer_id,
                    group_id=group_id, due_at=next_follow_up_at, remind_at=next_follow_up_at,
                    priority=done[0]["priority"] if done else TaskPriority.MEDIUM, created_at=now, updated_at=now)
        TimelineEntry.objects.create(
            customer_id=customer_id, kind=TimelineKind.FOLLOW_UP, new=summary[:500],
            actor_id=user_id, actor_name=actor_name(actor), created_at=now,
            detail={"follow_up_id": follow_up.pk, **facts})
        log_operation(actor=actor, action="follow_up.create", object_type="customer", object_id=customer_id,
                      object_repr=str(customer_id),
                      detail={"follow_up_id": follow_up.pk, **facts,
                              **({"next_task_id": next_task.pk} if next_task is not None else {})})
    # the stored row, so the answer reads as every later read does (times in UTC, as stored)
    follow_up = FollowUp.objects.select_related("salesperson").get(pk=follow_up.pk)
    follow_up.next_task = next_task
    return follow_up


def follow_up_list(*, actor, customer_id: int | None = None, salesperson_id: int | None = None) -> QuerySet[FollowUp]:
    """Follow-up records of customers in the actor's data scope, newest first."""
    _require(actor, FOLLOW_UP_VIEW)
    qs = FollowUp.objects.filter(customer_id__in=customer_queryset(actor=actor).values("pk"))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if salesperson_id is not None:
        qs = qs.filter(salesperson_id=salesperson_id)
    return qs.select_related("salesperson")


def follow_up_dict(f: FollowUp) -> dict:
    sp = f.salesperson
    return {"id": f.pk, "customer_id": f.customer_id, "salesperson_id": f.salesperson_id,
            "salesperson": (sp.name or sp.username) if sp else "", "method": f.method, "status": f.status,
            "effective": f.effective, "summary": f.summary, "next_follow_up_at": f.next_follow_up_at,
            "maturity": f.maturity, "invitation_type": f.invitation_type, "call_seconds": f.call_seconds,
            "created_at": f.created_at}


def follow_up_rows(follow_ups, *, labels: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """Follow-up records as the pages show them (跟进记录): :func:`follow_up_dict` with the labels of method,
    status, maturity and invitation type, and the call duration as mm:ss (times stay aware: templates show
    them in the user's time zone)."""
    labels = follow_up_labels() if labels is None else labels
    methods, statuses = dict(FollowUpMethod.choices), dict(FollowUpStatus.choices)
    return [{**follow_up_dict(f), "method_label": methods.get(f.method, f.method),
             "status_label": statuses.get(f.status, f.status),
             "maturity_label": labels["maturity"].get(f.maturity, f.maturity),
             "invitation_type_label": labels["invitation_type"].get(f.invitation_type, f.invitation_type),
             "call_duration": call_duration_text(f.call_seconds)} for f in follow_ups]


# -- the workspace (客户跟进任务) -------------------------------------------------------------------------------
def workspace_tasks(*, actor) -> QuerySet[Task]:
    """The actor's open follow-up tasks of customers in their data scope: urgent first, then the best customers
    (``quality_score``), then by due time. Read from task_owner_idx (owner, progress, due_at); the scope: the
    actor's own customers (membership_sales_idx, read once), else a probe of membership_customer_idx (a customer
    has few memberships). Pages: the ids first
    (``values_list("pk")``), then :func:`tasks_with_customers`."""
    _require(actor, FOLLOW_UP_VIEW)
    if not isinstance(actor, User):
        return Task.objects.none()
    qs = Task.objects.filter(owner=actor, progress__in=OPEN_PROGRESS, type=TaskType.FOLLOW_UP,
                             customer__isnull=False)
    scope = membership_scope(actor=actor)
    if scope is not None:
        # the actor's own customers are in every scope: one read of membership_sales_idx (a hashed list) answers
        # for nearly every task; only the others are probed against the whole scope
        held = CustomerGroupMembership.objects.filter(salesperson_id=actor.pk).order_by().values("customer_id")
        in_scope = Exists(CustomerGroupMembership.objects.filter(scope.q(), customer_id=OuterRef("customer_id")))
        qs = qs.filter(Q(customer_id__in=held) | in_scope)
    return (qs.annotate(customer_quality=quality_expr("customer_id"))
            .order_by("-priority", "-customer_quality", F("due_at").asc(nulls_last=True), "id"))


def tasks_with_customers(task_ids) -> list[Task]:
    """The tasks ``task_ids`` (a page of :func:`workspace_tasks`, read as ids so that the sort handles narrow
    rows) with their customers, in the order of the ids."""
    ids = list(task_ids)
    by_id = Task.objects.select_related("customer").in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def last_follow_ups(customer_ids) -> dict[int, dict]:
    """customer id → the method and status of their latest follow-up (one query for a page of customers)."""
    latest = FollowUp.objects.filter(customer_id=OuterRef("pk")).order_by("-created_at", "-id")
    rows = (Customer.objects.filter(pk__in=list(customer_ids))
            .annotate(last_method=Subquery(latest.values("method")[:1]),
                      last_status=Subquery(latest.values("status")[:1]))
            .values_list("pk", "last_method", "last_status"))
    methods, statuses = dict(FollowUpMethod.choices), dict(FollowUpStatus.choices)
    return {pk: {"method": m or "", "status": s or "", "method_label": methods.get(m, m or ""),
                 "status_label": statuses.get(s, s or "")} for pk, m, s in rows}


def request_groups(*, actor) -> QuerySet[CustomerGroup]:
    """The groups that let the actor request customers: they are one of its salespeople, the setting is on."""
    if not isinstance(actor, User):
        return CustomerGroup.objects.none()
    return CustomerGroup.objects.filter(salespeople=actor, request_tasks=True, enabled=True).order_by("name", "pk")


def follow_up_tasks_request(*, actor, group_id: int | None = None) -> dict:
    """Request new follow-up tasks (请求新任务) in a group by its request-task settings (``customers_request``:
    no open follow-up task left, the group's size a request, its times a day). ``group_id`` may be left out when
    the actor requests in one group only. ``{"items": [the new tasks], "assigned", "requests_left", "group_id"}``;
    the day's limit reached is a 429 (``request_limit``), the other refusals as the pools service answers them."""
    from shoal.pools.services.requests import customers_request

    _require(actor, REQUEST_TASKS)
    if not isinstance(actor, User):
        raise ShoalError("permission_denied", _("Only a user may request customers"), status=403)
    if group_id is None:
        groups = list(request_groups(actor=actor).values_list("pk", flat=True)[:2])
        if not groups:
            raise ShoalError("requests_off", _("None of your groups lets its salespeople request customers"),
                             status=403)
        if len(groups) > 1:
            raise _invalid("group_id", _("You may request customers in several groups: choose one"))
        group_id = groups[0]
    started = timezone.now()
    try:
        out = customers_request(actor=actor, group_id=group_id)
    except ShoalError as error:
        if error.code == "request_limit":
            raise ShoalError(error.code, error.message, {**error.detail, "requests_left": 0}, status=429)
        raise
    items = tasks_with_customers(workspace_tasks(actor=actor).filter(group_id=group_id, created_at__gte=started)
                                 .values_list("pk", flat=True))
    return {"items": items, "assigned": out["assigned"], "requests_left": out["requests_left"],
            "group_id": int(group_id)}
