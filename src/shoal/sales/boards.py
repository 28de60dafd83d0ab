"""The sales app's workbench boards: my tasks, my customers (我的客户), yesterday's follow-up ranking
(昨日跟进客户数排名) and yesterday's call time (昨日通话时长); and the figure "follow-ups today" of today's
customer activity (customers app).

Every count reads an index: tasks by task_owner_idx (owner, progress, due_at), follow-ups by followup_sales_idx
(salesperson, -created_at) for an explicit list of people, memberships by membership_sales_idx (salesperson,
customer). Whose work a viewer sees (:func:`team_ids`) follows their data scope: their own (own customers), the
salespeople of the groups they administer (groups), and the people of their departments and below (departments);
everyone (all)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shoal.accounts.models import DataScope, User
from shoal.core.workbench import (
    Board,
    BoardContent,
    Chart,
    Figure,
    FigureSource,
    Tab,
    register_board,
    register_figure,
    shown_count,
    today_bounds,
    week_start,
)
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.selectors import department_user_ids

from .models import OPEN_PROGRESS, FollowUp, Task, TaskType

RANK_SIZE = 10
SEAS_VIEW = "pools.seas.view"


# -- links ------------------------------------------------------------------------------------------------------
def task_center_url(**query) -> str:
    """The task center (任务中心, page ``admin:sales_tasks``) showing the user's tasks grouped by date, narrowed by
    ``query`` (``due=overdue|today``, ``type=follow_up``). Until that page exists, the My customers page (which
    shows each customer's open follow-up task)."""
    try:
        base = reverse("admin:sales_tasks")
    except NoReverseMatch:
        return reverse("admin:pools_my_customers")
    return f"{base}?{urlencode({'view': 'mine', 'group_by': 'date', **query})}"


# -- whose work a viewer sees ------------------------------------------------------------------------------------
def _department_user_ids(actor: User, *, below: bool) -> set[int]:
    """The users of the actor's departments (``below``: and of every department below them), in one query."""
    if below:
        return set(department_user_ids(actor))
    members = User.departments.through.objects
    mine = members.filter(user_id=actor.pk).values("department_id")
    return set(members.filter(department_id__in=mine).values_list("user_id", flat=True))


def team_ids(actor) -> list[int]:
    """The users whose follow-ups the viewer may count: see the module's docstring."""
    if not isinstance(actor, User) or not actor.is_active:
        return []
    scope = actor.data_scope()
    if scope == DataScope.ALL:
        return sorted(User.objects.values_list("pk", flat=True))
    ids = {actor.pk}
    if scope in (DataScope.GROUPS, DataScope.DEPARTMENTS):
        through = CustomerGroup.salespeople.through
        ids |= set(through.objects.filter(customergroup__admins=actor).values_list("user_id", flat=True))
    if scope == DataScope.DEPARTMENTS:
        ids |= _department_user_ids(actor, below=True)
    return sorted(ids)


def _name(user: User) -> str:
    return user.name or user.username


# -- my tasks ------------------------------------------------------------------------------------------------------
def my_tasks(*, actor, params) -> BoardContent:
    """The viewer's own open tasks: overdue (due before now), still due today, all open."""
    now = timezone.now()
    _start, end = today_bounds()
    open_tasks = Task.objects.filter(owner=actor, progress__in=OPEN_PROGRESS)
    return BoardContent(figures=[
        Figure("overdue", _("Overdue"), open_tasks.filter(due_at__lt=now).count(), task_center_url(due="overdue")),
        Figure("today", _("Due today"), open_tasks.filter(due_at__gte=now, due_at__lt=end).count(),
               task_center_url(due="today")),
        Figure("open", _("Open tasks"), open_tasks.count(), task_center_url()),
    ])


# -- my customers ---------------------------------------------------------------------------------------------------
def my_customers(*, actor, params) -> BoardContent:
    """The viewer's private sea: how many customers, how many came to them this week, how many follow-up tasks are
    due by the end of today (overdue ones too)."""
    _start, end = today_bounds()
    mine = CustomerGroupMembership.objects.filter(salesperson=actor).order_by()
    customers = Customer.objects.filter(in_recycle_bin=False)
    held = customers.filter(pk__in=mine.values("customer_id")).count()
    week = customers.filter(pk__in=mine.filter(assigned_at__gte=week_start()).values("customer_id")).count()
    due = Task.objects.filter(owner=actor, progress__in=OPEN_PROGRESS, due_at__lt=end, type=TaskType.FOLLOW_UP).count()
    page = reverse("admin:pools_my_customers")
    return BoardContent(figures=[
        Figure("private_sea", _("My private sea"), held, page),
        Figure("new_this_week", _("New to me this week"), week, page),
        Figure("follow_up_today", _("To follow up today"), due, task_center_url(due="today", type="follow_up")),
    ])


# -- yesterday's ranking ------------------------------------------------------------------------------------------------
MEASURES = {
    "customers": _("Customers followed up"),
    "effective": _("Effective follow-ups"),
    "call_minutes": _("Call time (minutes)"),
}
MINE = {
    "customers": _("Customers I followed up yesterday"),
    "effective": _("My effective follow-ups yesterday"),
    "call_minutes": _("My call minutes yesterday"),
}


RANKING_CACHE_SECONDS = 600  # a past day's figures: read once per 10 minutes and process (late records show then)


def ranking_rows(*, people: list[int], start, end) -> list[dict]:
    """Per salesperson of ``people`` with follow-ups in [start, end): customers followed up (distinct), effective
    follow-ups, call seconds. A window that has ended (yesterday) is kept in the cache for a few minutes: follow-ups
    are recorded at the time they are made, so a past day's figures no longer change."""
    if not people:
        return []
    if end > timezone.now():
        return _ranking_rows(people, start, end)
    people_key = hashlib.sha1(",".join(map(str, sorted(people))).encode()).hexdigest()
    key = f"sales.ranking:{start.isoformat()}:{end.isoformat()}:{people_key}"
    rows = cache.get(key)
    if rows is None:
        rows = _ranking_rows(people, start, end)
        cache.set(key, rows, RANKING_CACHE_SECONDS)
    return [dict(r) for r in rows]


def _ranking_rows(people: list[int], start, end) -> list[dict]:
    # every column from followup_sales_cover_idx (salesperson, created_at, customer, effective, call_seconds): an
    # index-only read (counting "id" made the database read each row from the table: ~17,000 blocks for a day)
    return list(FollowUp.objects.filter(salesperson_id__in=people, created_at__gte=start, created_at__lt=end)
                .order_by().values("salesperson_id")
                .annotate(customers=Count("customer_id", distinct=True),
                          effective=Count("customer_id", filter=Q(effective=True)), seconds=Sum("call_seconds")))


def _measure(row: dict, measure: str) -> int:
    if measure == "call_minutes":
        return round((row["seconds"] or 0) / 60)
    return row[measure]


def _ranking(*, actor, measure: str, tabs: tuple[str, ...]) -> BoardContent:
    start, end = today_bounds(-1)
    scope = actor.data_scope()
    own_only = scope == DataScope.OWN
    # a salesperson (own customers) sees only their own line, and their place among the people of their departments
    people = sorted(_department_user_ids(actor, below=False) | {actor.pk}) if own_only else team_ids(actor)
    rows = ranking_rows(people=people, start=start, end=end)
    rows.sort(key=lambda r: (-_measure(r, measure), r["salesperson_id"]))
    mine = next((r for r in rows if r["salesperson_id"] == actor.pk), None)
    my_value = _measure(mine, measure) if mine else 0
    place = (1 + sum(1 for r in rows if _measure(r, measure) > my_value)) if mine else None
    figures = [Figure("mine", MINE[measure], my_value),
               Figure("rank", _("My place"), f"{place} / {len(rows)}" if place else "—")]
    chart = None
    if not own_only and rows:
        top = rows[:RANK_SIZE]
        names = {u.pk: _name(u) for u in User.objects.filter(pk__in=[r["salesperson_id"] for r in top])
                 .only("pk", "name", "username")}
        labels = [names.get(r["salesperson_id"], "?") for r in top]
        chart = Chart(labels=labels, series=[{"label": MEASURES[measure], "data": [_measure(r, measure) for r in top]}],
                      horizontal=True)
        figures.append(Figure("people", _("Salespeople with follow-ups"), len(rows)))
    return BoardContent(figures=figures, chart=chart,
                        tabs=[Tab(MEASURES[m], f"by={m}", m == measure) for m in tabs] if len(tabs) > 1 else [],
                        empty=_("No follow-ups yesterday."))


def follow_up_ranking(*, actor, params) -> BoardContent:
    measure = params.get("by") if params.get("by") in ("customers", "effective") else "customers"
    return _ranking(actor=actor, measure=measure, tabs=("customers", "effective"))


def call_time_ranking(*, actor, params) -> BoardContent:
    return _ranking(actor=actor, measure="call_minutes", tabs=("call_minutes",))


# -- today's customer activity: follow-ups today ------------------------------------------------------------------------
def follow_ups_today(*, actor) -> Figure | None:
    """Follow-ups recorded today by the people whose work the viewer sees: a count read from followup_sales_idx alone
    (no row is fetched; counted up to a bound)."""
    if not actor.has_shoal_perm("sales.follow_ups.view"):
        return None
    start, end = today_bounds()
    people = team_ids(actor)
    qs = FollowUp.objects.filter(salesperson_id__in=people, created_at__gte=start, created_at__lt=end)
    return Figure("follow_ups", _("Follow-ups today"), shown_count(qs) if people else 0)


register_board(Board("sales.my_tasks", _("My tasks"), my_tasks, order=30, size="sm",
                     description=_("Your open tasks: overdue, due today, all.")))
register_board(Board("sales.my_customers", _("My customers"), my_customers, permission=SEAS_VIEW, order=40, size="sm",
                     description=_("Your private sea, customers new to you this week, follow-ups due today.")))
register_board(Board("sales.follow_up_ranking", _("Yesterday's follow-up ranking"), follow_up_ranking,
                     permission="sales.follow_ups.view", order=50,
                     description=_("Customers followed up and effective follow-ups yesterday, per salesperson.")))
register_board(Board("sales.call_time_ranking", _("Yesterday's call time"), call_time_ranking,
                     permission="sales.follow_ups.view", order=55,
                     description=_("Call minutes of yesterday's follow-ups, per salesperson.")))
register_figure("customers.activity", FigureSource("follow_ups", follow_ups_today, order=20))
