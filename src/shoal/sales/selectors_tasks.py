"""Reads of the task center (任务中心): the data scope of tasks, who a user may assign a task to, the lists
and the grouped views (by date in the user's time zone, by progress, by priority), and tasks as shown.

Data scope of tasks (from the data scope of the user's roles, ``User.data_scope()``):

- everyone sees the tasks they own (负责人) or created (创建人);
- group scope: also the tasks owned by the salespeople and admins of the customer groups they administer,
  and the tasks of those groups (``Task.group``);
- department scope: the above, and the tasks owned by the users of their departments and every department
  below them;
- all: every task. The system (``SYSTEM``) sees every task.

A task outside the scope is "not found" (404), like a customer.

May assign to (负责人 a user may choose): themselves, the users of their departments (and below), the
salespeople and admins of the groups they administer; a user with the "all" scope: any enabled user.
Disabled users are never a choice."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import DataScope, User
from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.customers.masking import mask_customer_rows
from shoal.customers.models import CustomerGroup
from shoal.customers.selectors import customers_by_ids, department_user_ids

from .models import OPEN_PROGRESS, PRIORITY_CODES, PRIORITY_VALUES, Task, TaskPriority, TaskProgress, TaskType

MENU = "sales.tasks"
VIEW, CREATE, EDIT, DELETE = f"{MENU}.view", f"{MENU}.create", f"{MENU}.edit", f"{MENU}.delete"
GROUP_LIMIT = 50  # tasks shown in one group of a grouped view (its count is the full count)
VIEWS = ("mine", "created", "all")
GROUP_BYS = ("date", "progress", "priority")
DATE_KEYS = ("overdue", "today", "tomorrow", "this_week", "later", "none")
PRIORITY_KEYS = ("urgent", "high", "medium", "low")  # most pressing first
SORTS = {"due_at": "due_at", "-due_at": "-due_at", "priority": "priority", "-priority": "-priority",
         "created_at": "created_at", "-created_at": "-created_at", "name": "name", "-name": "-name"}


def require(actor, code: str) -> None:
    if is_system(actor):
        return
    if not user_can(actor, code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)


# -- time: the user's day -------------------------------------------------------------------------------
def user_zone(actor) -> tzinfo:
    """The user's time zone: their own when the account has one (``time_zone``), else the current one (the
    server's TIME_ZONE, Asia/Shanghai by default)."""
    name = getattr(actor, "time_zone", "") or ""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.get_current_timezone()


EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


def aware(value, tz: tzinfo, field: str) -> datetime:
    """A time given with or without a time zone (then in ``tz``, the user's), between the years 1900 and 9999:
    outside them a 400 naming the field (a database cannot hold the first and last hours a datetime can)."""
    if not isinstance(value, datetime):
        raise ShoalError("invalid", _("Not a date and time"), {"field": field})
    try:
        value = value.replace(tzinfo=tz) if timezone.is_naive(value) else value
        in_range = EARLIEST <= value.astimezone(UTC) < LATEST
    except (OverflowError, ValueError):
        in_range = False
    if not in_range:
        raise ShoalError("invalid", _("The time is out of range (years 1900 to 9998)"), {"field": field})
    return value


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def day_end(day: date, tz: tzinfo) -> datetime:
    """The last second of a local day (a deadline "by the end of the day": 23:59:59)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


@dataclass(frozen=True)
class DayBounds:
    """The edges of the date groups, in the user's time zone: overdue before ``now``, today until
    ``tomorrow``, tomorrow until ``day_after``, this week (Monday to Sunday) until ``week_end`` (the next
    Monday, never before ``day_after``), later from there."""

    now: datetime
    tz: tzinfo
    today: date
    tomorrow: datetime
    day_after: datetime
    week_end: datetime

    @classmethod
    def at(cls, now: datetime | None = None, tz: tzinfo | None = None) -> DayBounds:
        tz = tz or timezone.get_current_timezone()
        now = now or timezone.now()
        today = now.astimezone(tz).date()
        next_monday = today + timedelta(days=7 - today.weekday())
        tomorrow, day_after = _day_start(today + timedelta(days=1), tz), _day_start(today + timedelta(days=2), tz)
        return cls(now=now, tz=tz, today=today, tomorrow=tomorrow, day_after=day_after,
                   week_end=max(_day_start(next_monday, tz), day_after))

    def q(self, key: str) -> Q:
        """The open tasks of one date group."""
        return {
            "overdue": Q(due_at__lt=self.now),
            "today": Q(due_at__gte=self.now, due_at__lt=self.tomorrow),
            "tomorrow": Q(due_at__gte=self.tomorrow, due_at__lt=self.day_after),
            "this_week": Q(due_at__gte=self.day_after, due_at__lt=self.week_end),
            "later": Q(due_at__gte=self.week_end),
            "none": Q(due_at__isnull=True),
        }[key]

    def bucket(self) -> Case:
        """The date group of a task as an SQL expression: :meth:`q`'s groups as one CASE over the group edges in
        order (five parameters, not nine: the expression is compiled three times in the grouped view's query)."""
        edges = (("overdue", self.now), ("today", self.tomorrow), ("tomorrow", self.day_after),
                 ("this_week", self.week_end))
        return Case(When(due_at__isnull=True, then=Value("none")),
                    *[When(due_at__lt=edge, then=Value(key)) for key, edge in edges],
                    default=Value("later"), output_field=CharField())

    def key_of(self, due_at: datetime | None) -> str:
        if due_at is None:
            return "none"
        if due_at < self.now:
            return "overdue"
        for key, edge in (("today", self.tomorrow), ("tomorrow", self.day_after), ("this_week", self.week_end)):
            if due_at < edge:
                return key
        return "later"

    def drop_deadline(self, key: str, current: datetime | None, day: date | None = None) -> datetime | None:
        """The deadline a task dropped into a date group gets: today / tomorrow → the end of that day, this
        week → the end of Sunday, later → kept when it is already later, else the end of ``day`` (a day of the
        later group) or of the group's first day, no deadline → None. Overdue takes no drop."""
        if key == "today":
            return day_end(self.today, self.tz)
        if key == "tomorrow":
            return day_end(self.today + timedelta(days=1), self.tz)
        if key == "this_week":
            return day_end(self.week_end.astimezone(self.tz).date() - timedelta(days=1), self.tz)
        if key == "later":
            first = self.week_end.astimezone(self.tz).date()
            if day is not None:
                if day < first:
                    raise ShoalError("invalid", _("Choose a day from %(day)s on") % {"day": first.isoformat()},
                                     {"field": "due_date"})
                return day_end(day, self.tz)
            if current is not None and current >= self.week_end:
                return current
            return day_end(first, self.tz)
        if key == "none":
            return None
        raise ShoalError("invalid", _("A task cannot be dropped there"), {"field": "key", "value": key})


def date_labels() -> dict[str, str]:
    return {"overdue": _("Overdue"), "today": _("Today"), "tomorrow": _("Tomorrow"), "this_week": _("This week"),
            "later": _("Later"), "none": _("No deadline")}


def group_labels(group_by: str) -> dict[str, str]:
    if group_by == "date":
        return date_labels()
    if group_by == "progress":
        return {value: str(label) for value, label in TaskProgress.choices}
    return {PRIORITY_CODES[TaskPriority(value)]: str(label) for value, label in TaskPriority.choices}


# -- scope ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Team:
    """The people (and groups) whose tasks a user sees beyond their own: None for everyone (scope "all")."""

    users: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()


def task_team(*, actor) -> Team | None:
    if is_system(actor):
        return None
    if not isinstance(actor, User) or not actor.is_active:
        return Team()
    scope = actor.data_scope()
    if scope == DataScope.ALL:
        return None
    users: set[int] = set()
    groups: list[int] = []
    if scope in (DataScope.GROUPS, DataScope.DEPARTMENTS):
        groups = sorted(CustomerGroup.objects.filter(admins=actor).values_list("pk", flat=True))
        users |= _group_member_ids(groups)
    if scope == DataScope.DEPARTMENTS:
        users |= set(department_user_ids(actor))
    users.discard(actor.pk)
    return Team(users=tuple(sorted(users)), groups=tuple(groups))


def _group_member_ids(group_ids) -> set[int]:
    if not group_ids:
        return set()
    through_sales = CustomerGroup.salespeople.through.objects.filter(customergroup_id__in=group_ids)
    through_admins = CustomerGroup.admins.through.objects.filter(customergroup_id__in=group_ids)
    return (set(through_sales.values_list("user_id", flat=True))
            | set(through_admins.values_list("user_id", flat=True)))


def team_q(team: Team) -> Q:
    """The tasks a user sees through their team (not as owner or creator)."""
    q = Q(pk__in=[])
    if team.users:
        q |= Q(owner_id__in=team.users)
    if team.groups:
        q |= Q(group_id__in=team.groups)
    return q


def task_scope_q(*, actor) -> Q | None:
    """The data scope of tasks as a condition (None: every task). See the module's docstring."""
    team = task_team(actor=actor)
    if team is None:
        return None
    if not isinstance(actor, User):
        return Q(pk__in=[])
    return Q(owner_id=actor.pk) | Q(creator_id=actor.pk) | team_q(team)


def task_queryset(*, actor) -> QuerySet[Task]:
    """Every task ``actor`` may see (the ``sales.tasks.view`` permission checked)."""
    require(actor, VIEW)
    q = task_scope_q(actor=actor)
    return Task.objects.all() if q is None else Task.objects.filter(q)


def task_get(*, actor, pk) -> Task:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(_("Task not found"))
    task = task_queryset(actor=actor).select_related("owner", "creator").filter(pk=pk).first()
    if task is None:
        raise NotFound(_("Task not found"))
    return task


def manages(*, actor, task: Task) -> bool:
    """The actor sees the task through their team (or sees every task), not only as its owner."""
    team = task_team(actor=actor)
    if team is None:
        return True
    return task.owner_id in team.users or (task.group_id is not None and task.group_id in team.groups)


# -- may assign to -----------------------------------------------------------------------------------
def assignable_user_ids(*, actor) -> set[int] | None:
    """Who ``actor`` may make the owner of a task (None: any enabled user). See the module's docstring."""
    if is_system(actor):
        return None
    if not isinstance(actor, User) or not actor.is_active:
        return set()
    if actor.data_scope() == DataScope.ALL:
        return None
    groups = list(CustomerGroup.objects.filter(admins=actor).values_list("pk", flat=True))
    return {actor.pk} | set(department_user_ids(actor)) | _group_member_ids(groups)


def assignable_users(*, actor) -> QuerySet[User]:
    ids = assignable_user_ids(actor=actor)
    qs = User.objects.filter(is_active=True)
    if ids is not None:
        qs = qs.filter(pk__in=sorted(ids))
    return qs.order_by("name", "username", "pk")


def may_assign(*, actor, user_id: int) -> bool:
    ids = assignable_user_ids(actor=actor)
    if ids is not None and user_id not in ids:
        return False
    return User.objects.filter(pk=user_id, is_active=True).exists()


# -- lists ------------------------------------------------------------------------------------------
@dataclass
class TaskFilter:
    view: str = "mine"  # mine (I own) · created (I created) · all (every task I see)
    progress: str = ""  # a progress, or "open" (not started or in progress)
    priority: str = ""  # a priority code
    type: str = ""
    owner_id: int | None = None
    customer_id: int | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    q: str = ""  # in the name
    sort: str = ""


def task_search(*, actor, where: TaskFilter) -> QuerySet[Task]:
    """The tasks of a view with its filters. "mine" and "created" read task_owner_idx / task_creator_idx
    alone (owning or creating a task puts it in the scope)."""
    require(actor, VIEW)
    if where.view not in VIEWS:
        raise ShoalError("invalid", _("Unknown view %(value)s") % {"value": where.view}, {"field": "view"})
    if where.view == "all":
        qs = task_queryset(actor=actor)
    elif not isinstance(actor, User):
        qs = Task.objects.none()
    else:
        qs = Task.objects.filter(**{"owner_id" if where.view == "mine" else "creator_id": actor.pk})
    if where.progress == "open":
        qs = qs.filter(progress__in=OPEN_PROGRESS)
    elif where.progress:
        if where.progress not in TaskProgress.values:
            raise ShoalError("invalid", _("Unknown progress %(value)s") % {"value": where.progress},
                             {"field": "progress"})
        qs = qs.filter(progress=where.progress)
    if where.priority:
        if where.priority not in PRIORITY_VALUES:
            raise ShoalError("invalid", _("Unknown priority %(value)s") % {"value": where.priority},
                             {"field": "priority"})
        qs = qs.filter(priority=PRIORITY_VALUES[where.priority])
    if where.type:
        if where.type not in TaskType.values:
            raise ShoalError("invalid", _("Unknown task type %(value)s") % {"value": where.type}, {"field": "type"})
        qs = qs.filter(type=where.type)
    if where.owner_id is not None:
        qs = qs.filter(owner_id=where.owner_id)
    if where.customer_id is not None:
        qs = qs.filter(customer_id=where.customer_id)
    tz = user_zone(actor)
    if where.due_after is not None:
        qs = qs.filter(due_at__gte=aware(where.due_after, tz, "due_after"))
    if where.due_before is not None:
        qs = qs.filter(due_at__lt=aware(where.due_before, tz, "due_before"))
    q = where.q.replace("\x00", "").strip()[:100]
    if q:
        qs = qs.filter(name__icontains=q)
    if where.sort and where.sort not in SORTS:
        raise ShoalError("invalid", _("Unknown sort %(value)s") % {"value": where.sort}, {"field": "sort"})
    return qs.order_by(*_order(where.sort))


def _order(sort: str) -> list:
    if not sort or sort == "due_at":
        return [F("due_at").asc(nulls_last=True), "id"]
    if sort == "-due_at":
        return [F("due_at").desc(nulls_first=True), "-id"]
    return [SORTS[sort], "-id"]


def task_groups(*, actor, qs: QuerySet[Task], group_by: str, limit: int = GROUP_LIMIT,
                bounds: DayBounds | None = None) -> list[dict]:
    """The tasks of ``qs`` in groups: ``[{"key", "label", "count", "items": [Task…]}]``, at most ``limit`` tasks a
    group (``count`` is the group's full count), each group by deadline (soonest first; the same deadline: newest
    first). By date and by priority: the open tasks (the to-do); by progress: every task (done and cancelled:
    latest deadline first, then those without one).

    By date and by priority one query ranks the open tasks in their groups (a window over the owner's open tasks:
    the counts and the first ``limit`` ids of every group), one reads those tasks. By progress (thousands done) one
    query counts (task_owner_idx alone), then one query a group reads its first tasks in the index's order."""
    if group_by not in GROUP_BYS:
        raise ShoalError("invalid", _("Unknown grouping %(value)s") % {"value": group_by}, {"field": "group_by"})
    labels = group_labels(group_by)
    qs = qs.order_by()
    if group_by == "progress":
        keys = tuple(TaskProgress.values)
        counts = dict(qs.values_list("progress").annotate(n=Count("*")).values_list("progress", "n"))
        items = {key: _progress_items(qs, key, limit) for key in keys if counts.get(key) and limit}
    else:
        qs = qs.filter(progress__in=OPEN_PROGRESS)
        if group_by == "date":
            bounds = bounds or DayBounds.at(tz=user_zone(actor))
            bucket = bounds.bucket()
            keys = DATE_KEYS
        else:
            bucket = Case(*[When(priority=PRIORITY_VALUES[code], then=Value(code)) for code in PRIORITY_KEYS],
                          output_field=CharField())
            keys = PRIORITY_KEYS
        counts, items = _ranked(qs, bucket, limit)
    return [{"key": key, "label": labels[key], "count": counts.get(key, 0) or 0, "items": items.get(key, [])}
            for key in keys]


def _ranked(qs: QuerySet[Task], bucket, limit: int) -> tuple[dict[str, int], dict[str, list[Task]]]:
    """Every task of ``qs`` in its bucket: the count of each bucket and its first ``limit`` tasks."""
    annotated = qs.annotate(bucket=bucket)
    if not limit:
        return dict(annotated.values_list("bucket").annotate(n=Count("*")).values_list("bucket", "n")), {}
    order = [F("due_at").asc(nulls_last=True), F("id").desc()]
    ranked = list(annotated.annotate(
        rank=Window(RowNumber(), partition_by=[F("bucket")], order_by=order),
        total=Window(Count("*"), partition_by=[F("bucket")]),
    ).filter(rank__lte=limit).values_list("pk", "bucket", "rank", "total"))
    counts = {key: total for _pk, key, _rank, total in ranked}
    # the tasks in a second query: the window sorts narrow rows (the whole rows cost SQLite half as much again)
    tasks = Task.objects.in_bulk([pk for pk, *_ in ranked])
    items: dict[str, list[Task]] = {}
    for pk, key, _rank, _total in sorted(ranked, key=lambda row: (row[1], row[2])):
        if pk in tasks:
            items.setdefault(key, []).append(tasks[pk])
    return counts, items


def _progress_items(qs: QuerySet[Task], progress: str, limit: int) -> list[Task]:
    """The first tasks of one progress, read in task_owner_idx's order (owner, progress, due_at)."""
    one = qs.filter(progress=progress)
    if progress in OPEN_PROGRESS:
        return list(one.order_by(F("due_at").asc(nulls_last=True), "-id")[:limit])
    # closed: latest deadline first (a backward read of the index, past the tasks without one), then those
    dated = list(one.filter(due_at__isnull=False).order_by("-due_at")[:limit])
    if len(dated) < limit:
        dated += list(one.filter(due_at__isnull=True)[:limit - len(dated)])
    return dated


# -- tasks as shown ---------------------------------------------------------------------------------
def shown_customers(*, actor, customer_ids) -> dict[int, dict]:
    """The linked customers the actor may see, masked as lists mask them: ``{id: {"id", "name", "mobile"}}``.
    A customer outside the actor's scope is left out (shown by its id alone)."""
    ids = sorted({int(i) for i in customer_ids if i is not None})
    if not ids:
        return {}
    # probed per id (a page holds a few hundred); the two fields shown, read and masked alone
    rows = list(customers_by_ids(actor=actor, ids=ids).only("id", "name", "mobile").order_by())
    shown = mask_customer_rows(rows, viewer=actor, context="list", fields=("name", "mobile"))
    return {c.pk: {"id": c.pk, "name": s.get("name") or "", "mobile": s.get("mobile") or ""}
            for c, s in zip(rows, shown, strict=True)}


def task_dict(task: Task, *, customers: dict[int, dict], names: dict[int, str],
              bounds: DayBounds | None = None) -> dict:
    """A task's output (the API's shape; the priority as its code, times as stored)."""
    bounds = bounds or DayBounds.at()
    return {
        "id": task.pk, "name": task.name, "type": task.type,
        "customer_id": task.customer_id, "customer": customers.get(task.customer_id) if task.customer_id else None,
        "group_id": task.group_id, "owner_id": task.owner_id, "owner": names.get(task.owner_id, ""),
        "creator_id": task.creator_id, "creator": names.get(task.creator_id, "") if task.creator_id else "",
        "due_at": task.due_at, "priority": task.priority_code, "progress": task.progress,
        "remind_at": task.remind_at, "details": task.details,
        "created_at": task.created_at, "updated_at": task.updated_at, "done_at": task.done_at,
        "overdue": task.is_open and task.due_at is not None and task.due_at < bounds.now,
    }


def user_names(user_ids, *, known: User | None = None) -> dict[int, str]:
    """user id → name (or user name); ``known``: a user at hand (the viewer: their own tasks need no query)."""
    ids = sorted({int(i) for i in user_ids if i is not None})
    names = {known.pk: known.name or known.username} if isinstance(known, User) and known.pk in ids else {}
    ids = [pk for pk in ids if pk not in names]
    if ids:
        names.update((pk, name or username) for pk, name, username in
                     User.objects.filter(pk__in=ids).values_list("pk", "name", "username"))
    return names


def task_rows(tasks, *, actor, bounds: DayBounds | None = None) -> list[dict]:
    """Tasks as shown (pages and API): one query for the linked customers of all of them (scoped, masked), one for
    the names of their owners and creators (a handful of people: no join per task)."""
    tasks = list(tasks)
    customers = shown_customers(actor=actor, customer_ids=[t.customer_id for t in tasks])
    names = user_names([t.owner_id for t in tasks] + [t.creator_id for t in tasks], known=actor)
    bounds = bounds or DayBounds.at(tz=user_zone(actor))
    return [task_dict(t, customers=customers, names=names, bounds=bounds) for t in tasks]

