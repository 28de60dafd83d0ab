"""Tasks (任务中心): normal tasks and follow-up tasks. Keyword-only, with an explicit ``actor``; reads (scope,
lists, grouped views) are in ``shoal.sales.selectors_tasks``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import User
from shoal.core.actors import SYSTEM, is_system
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.models import CustomerGroupMembership
from shoal.customers.selectors import customer_queryset

from .. import selectors_tasks as reads
from ..models import OPEN_PROGRESS, Task, TaskPriority, TaskProgress, TaskType


# -- tasks -----------------------------------------------------------------------------------------------
def task_list(*, actor, status: str | None = "open") -> QuerySet[Task]:
    """The actor's own follow-up tasks (``status`` open, done or None: all), by due time."""
    if not isinstance(actor, User):
        return Task.objects.none()
    if status not in (None, "open", "done"):
        raise ShoalError("invalid", _("Unknown task status %(value)s") % {"value": status}, {"field": "status"})
    qs = Task.objects.filter(owner=actor, type=TaskType.FOLLOW_UP)
    if status == "open":
        qs = qs.filter(progress__in=OPEN_PROGRESS)
    elif status == "done":
        qs = qs.filter(progress=TaskProgress.DONE)
    return qs


def open_task_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Open follow-up tasks per salesperson (for the request-task setting)."""
    from django.db.models import Count

    rows = (Task.objects.filter(owner_id__in=list(user_ids), type=TaskType.FOLLOW_UP, progress__in=OPEN_PROGRESS)
            .values("owner_id").annotate(n=Count("id")).values_list("owner_id", "n"))
    return dict(rows)


# -- the task center: writes ------------------------------------------------------------------------------
NAME_MAX = 200
DETAILS_MAX = 5000
BATCH_MAX = 1000
BATCH_FIELDS = ("owner_id", "priority", "progress", "due_at")
FIELDS = ("name", "type", "customer_id", "due_at", "priority", "progress", "owner_id", "remind_at", "details")


def _aware(value, field: str, tz) -> datetime | None:
    return None if value is None or value == "" else reads.aware(value, tz, field)


def _user_id(actor) -> int | None:
    return actor.pk if isinstance(actor, User) else None


def _clean(*, actor, data: dict, task: Task | None) -> dict:
    """The given fields of ``data`` checked and in stored form (priority as a number, times aware in the user's
    time zone when given without one). Raises ``ShoalError`` (4xx) naming the field."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ShoalError("invalid", _("Unknown fields: %(fields)s") % {"fields": ", ".join(unknown)},
                         {"fields": unknown})
    tz = reads.user_zone(actor)
    out: dict = {}
    if "name" in data:
        name = str(data["name"] or "").replace("\x00", "").strip()  # no NUL: PostgreSQL text holds none
        if not name and (task is None or task.name):
            raise ShoalError("invalid", _("Give the task a name"), {"field": "name"})
        if len(name) > NAME_MAX:
            raise ShoalError("invalid", _("The name has at most %(n)d characters") % {"n": NAME_MAX},
                             {"field": "name"})
        out["name"] = name
    if "type" in data:
        if data["type"] not in TaskType.values:
            raise ShoalError("invalid", _("Unknown task type %(value)s") % {"value": data["type"]}, {"field": "type"})
        out["type"] = data["type"]
    if "priority" in data:
        value = data["priority"]
        if value in reads.PRIORITY_VALUES:
            value = reads.PRIORITY_VALUES[value]
        if isinstance(value, bool) or value not in TaskPriority.values:
            raise ShoalError("invalid", _("Unknown priority %(value)s") % {"value": data["priority"]},
                             {"field": "priority"})
        out["priority"] = int(value)
    if "progress" in data:
        if data["progress"] not in TaskProgress.values:
            raise ShoalError("invalid", _("Unknown progress %(value)s") % {"value": data["progress"]},
                             {"field": "progress"})
        out["progress"] = data["progress"]
    for field in ("due_at", "remind_at"):
        if field in data:
            out[field] = _aware(data[field], field, tz)
    if "details" in data:
        details = str(data["details"] or "").replace("\x00", "")
        if len(details) > DETAILS_MAX:
            raise ShoalError("invalid", _("The details have at most %(n)d characters") % {"n": DETAILS_MAX},
                             {"field": "details"})
        out["details"] = details
    if "customer_id" in data and data["customer_id"] is not None:
        customer_id = _int_or_none(data["customer_id"])
        if task is None or customer_id != task.customer_id:
            if customer_id is None or not customer_queryset(actor=actor).filter(pk=customer_id).exists():
                raise NotFound(_("Customer not found"), {"field": "customer_id"})
        out["customer_id"] = customer_id
    elif "customer_id" in data:
        out["customer_id"] = None
    if "owner_id" in data:
        owner_id = _int_or_none(data["owner_id"])
        if owner_id is None:
            owner_id = _user_id(actor) if task is None else task.owner_id
        if owner_id is None:
            raise ShoalError("invalid", _("Choose the task's owner"), {"field": "owner_id"})
        if (task is None or owner_id != task.owner_id) and not reads.may_assign(actor=actor, user_id=owner_id):
            raise ShoalError("owner_not_allowed",
                             _("You may not assign a task to this user: choose yourself, someone of your "
                               "departments or of the groups you manage"), {"field": "owner_id"}, status=403)
        out["owner_id"] = owner_id
    kind = out.get("type", task.type if task else TaskType.NORMAL)
    customer = out["customer_id"] if "customer_id" in out else (task.customer_id if task else None)
    if kind == TaskType.FOLLOW_UP and customer is None:
        raise ShoalError("invalid", _("A follow-up task needs a customer"), {"field": "customer_id"})
    return out


def _int_or_none(value) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ShoalError("invalid", _("Not a number"), {"value": str(value)[:50]})
    return value if 0 < value < 2**63 else -1


def _progress_times(fields: dict, *, was: str | None, now: datetime) -> None:
    """Done sets ``done_at`` (when the task was not done), any other progress clears it."""
    progress = fields.get("progress")
    if progress is None or progress == was:
        return
    fields["done_at"] = now if progress == TaskProgress.DONE else None


def _group_of(customer_id: int | None, owner_id: int) -> int | None:
    """The group in which the owner holds the customer (a follow-up task's group), if any."""
    if customer_id is None:
        return None
    return (CustomerGroupMembership.objects.filter(customer_id=customer_id, salesperson_id=owner_id)
            .order_by("group_id").values_list("group_id", flat=True).first())


def _changes(task: Task, fields: dict) -> dict:
    """Old → new of the fields that change, for the operation log (times as ISO text)."""
    def text(value):
        return value.isoformat() if isinstance(value, datetime) else value

    return {k: [text(getattr(task, k)), text(v)] for k, v in fields.items()
            if getattr(task, k) != v and k not in ("done_at", "updated_at")}


def task_create(*, actor, name: str, type: str = TaskType.NORMAL, customer_id: int | None = None,
                due_at: datetime | None = None, priority="medium", progress: str = TaskProgress.NOT_STARTED,
                owner_id: int | None = None, remind_at: datetime | None = None, details: str = "") -> Task:
    """A task of the actor (its creator) for themselves or someone they may assign to (omitted: themselves). A
    follow-up task needs a customer; a linked customer must be in the actor's data scope."""
    reads.require(actor, reads.CREATE)
    fields = _clean(actor=actor, task=None, data={
        "name": name, "type": type, "customer_id": customer_id, "due_at": due_at, "priority": priority,
        "progress": progress, "owner_id": owner_id, "remind_at": remind_at, "details": details})
    now = timezone.now()
    _progress_times(fields, was=None, now=now)
    with transaction.atomic():
        task = Task.objects.create(**fields, creator_id=_user_id(actor), created_at=now, updated_at=now,
                                   group_id=_group_of(fields.get("customer_id"), fields["owner_id"]))
        log_operation(actor=actor, action="task.create", obj=task, object_repr=task.name[:255],
                      detail={"owner_id": task.owner_id, "type": task.type, "customer_id": task.customer_id})
    return reads.task_get(actor=SYSTEM, pk=task.pk)


def task_update(*, actor, task: Task, data: dict) -> Task:
    """Change the given fields of a task in the actor's scope (re-read here, so a stale copy cannot win).
    Done sets ``done_at``, reopening clears it; a new reminder time or deadline is reminded of again."""
    reads.require(actor, reads.EDIT)
    task = reads.task_get(actor=actor, pk=task.pk)
    fields = _clean(actor=actor, task=task, data=data)
    fields = {k: v for k, v in fields.items() if getattr(task, k) != v}
    if not fields:
        return task
    now = timezone.now()
    changes = _changes(task, fields)
    _progress_times(fields, was=task.progress, now=now)
    if "remind_at" in fields:
        fields["reminded_at"] = None
    if "due_at" in fields:
        fields["overdue_notified_at"] = None
    if "customer_id" in fields or "owner_id" in fields:
        fields["group_id"] = _group_of(fields.get("customer_id", task.customer_id),
                                       fields.get("owner_id", task.owner_id))
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(**fields, updated_at=now)
        log_operation(actor=actor, action="task.update", obj=task, object_repr=task.name[:255],
                      detail={"changes": changes})
    return reads.task_get(actor=SYSTEM, pk=task.pk)


def task_delete(*, actor, task: Task) -> None:
    """Delete a task: its creator may, and whoever sees it through their team (a manager); its owner alone
    may not (a task given to them stays until its giver deletes it)."""
    reads.require(actor, reads.DELETE)
    task = reads.task_get(actor=actor, pk=task.pk)
    if not (is_system(actor) or task.creator_id == _user_id(actor) or reads.manages(actor=actor, task=task)):
        raise ShoalError("permission_denied", _("Only the task's creator or a manager may delete it"),
                         {"task_id": task.pk}, status=403)
    with transaction.atomic():
        log_operation(actor=actor, action="task.delete", obj=task, object_repr=task.name[:255],
                      detail={"owner_id": task.owner_id, "type": task.type, "customer_id": task.customer_id})
        task.delete()


def task_batch_update(*, actor, ids: Iterable[int], changes: dict) -> int:
    """Set the owner, priority, progress or deadline of many tasks at once (set-based: one UPDATE). Every id must
    be a task in the actor's scope: otherwise nothing changes and the answer is 404 naming the ids not found.
    Returns how many tasks changed (those already so are not counted)."""
    reads.require(actor, reads.EDIT)
    unknown = sorted(set(changes) - set(BATCH_FIELDS))
    if unknown:
        raise ShoalError("invalid", _("Unknown fields: %(fields)s") % {"fields": ", ".join(unknown)},
                         {"fields": unknown})
    if not changes:
        raise ShoalError("invalid", _("Choose what to change"), {"field": "set"})
    try:
        ids = sorted({int(i) for i in ids if i is not None and not isinstance(i, bool)})
    except (TypeError, ValueError):
        raise ShoalError("invalid", _("Choose the tasks"), {"field": "ids"})
    if not ids:
        raise ShoalError("invalid", _("Choose the tasks"), {"field": "ids"})
    if len(ids) > BATCH_MAX:
        raise ShoalError("invalid", _("At most %(n)d tasks at once") % {"n": BATCH_MAX}, {"field": "ids"})
    changes = {k: v for k, v in changes.items() if not (k == "owner_id" and v is None)}  # null owner: unchanged
    probe = Task(owner_id=0, type=TaskType.NORMAL, name="-")  # owner checks against a task owned by no one
    fields = _clean(actor=actor, task=probe, data=changes)
    if not fields:
        raise ShoalError("invalid", _("Choose what to change"), {"field": "set"})
    now = timezone.now()
    with transaction.atomic():
        scoped = reads.task_queryset(actor=actor).filter(pk__in=ids)
        found = set(scoped.values_list("pk", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(_("Task not found"), {"ids": missing[:100]})
        same = Q()
        for k, v in fields.items():
            same &= Q(**{f"{k}__isnull": True}) if v is None else Q(**{k: v})
        changing = Task.objects.filter(pk__in=ids).exclude(same)
        values = dict(fields, updated_at=now)
        if "progress" in fields:
            values["done_at"] = Coalesce(F("done_at"), Value(now)) if fields["progress"] == TaskProgress.DONE else None
        if "due_at" in fields:
            values["overdue_notified_at"] = None
        changed = changing.update(**values)
        log_operation(actor=actor, action="task.batch_update", object_type="task",
                      detail={"ids": ids[:100], "count": len(ids), "changed": changed,
                              "set": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}})
    return changed


def task_move(*, actor, task: Task, group_by: str, key: str, day: date | None = None) -> Task:
    """A task dropped into another group of a grouped view: the group's field changes (progress, priority, or
    the deadline as :meth:`DayBounds.drop_deadline` says)."""
    if group_by == "progress":
        return task_update(actor=actor, task=task, data={"progress": key})
    if group_by == "priority":
        if key not in reads.PRIORITY_VALUES:
            raise ShoalError("invalid", _("Unknown priority %(value)s") % {"value": key}, {"field": "key"})
        return task_update(actor=actor, task=task, data={"priority": key})
    if group_by != "date":
        raise ShoalError("invalid", _("Unknown grouping %(value)s") % {"value": group_by}, {"field": "group_by"})
    bounds = reads.DayBounds.at(tz=reads.user_zone(actor))
    current = reads.task_get(actor=actor, pk=task.pk)
    return task_update(actor=actor, task=current, data={"due_at": bounds.drop_deadline(key, current.due_at, day)})
