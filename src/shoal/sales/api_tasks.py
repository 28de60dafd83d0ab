"""The task center's API (任务中心): ``/api/v1/tasks`` (``sales.tasks.view|create|edit|delete``; tasks in the caller's
data scope, see ``shoal.sales.selectors_tasks``).

- ``POST /tasks`` → 201 the task; ``GET|PATCH|DELETE /tasks/{id}`` (a task outside the scope: 404);
- ``POST /tasks/batch`` ``{"ids", "set": {owner_id, priority, progress, due_at}}`` → ``{"changed"}``: every id must
  be a task in the caller's scope, else 404 (``detail.ids`` the ones not found) and nothing changes;
- ``GET /tasks?view=mine|created|all&…`` → ``{"items", "total"}``; with ``group_by=date|progress|priority`` →
  ``{"groups": [{"key", "label", "count", "items"}]}`` (date groups in the caller's time zone: overdue, today,
  tomorrow, this_week, later, none; by date and priority the open tasks only; at most ``group_limit`` items a
  group, ``count`` the full count).

The priority is spoken as its code (low, medium, high, urgent); times without a time zone are read in the
caller's time zone. A linked customer is shown masked as lists show customers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from shoal.core.auth import calling_user
from shoal.core.pagination import MAX_PAGE
from shoal.core.schemas import DbId

from . import selectors_tasks as reads
from .models import PRIORITY_VALUES, TaskProgress, TaskType
from .services import tasks as services

router = Router(tags=["tasks"])

Kind = Literal[tuple(TaskType.values)]  # type: ignore[valid-type]
Priority = Literal[tuple(PRIORITY_VALUES)]  # type: ignore[valid-type]
Progress = Literal[tuple(TaskProgress.values)]  # type: ignore[valid-type]


class TaskIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=services.NAME_MAX)
    type: Kind = TaskType.NORMAL
    customer_id: DbId | None = None
    due_at: datetime | None = None
    priority: Priority = "medium"
    progress: Progress = TaskProgress.NOT_STARTED
    owner_id: DbId | None = Field(None, description="null or omitted: the caller")
    remind_at: datetime | None = None
    details: str = Field("", max_length=services.DETAILS_MAX)


class TaskPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=services.NAME_MAX)
    type: Kind | None = None
    customer_id: DbId | None = None
    due_at: datetime | None = None
    priority: Priority | None = None
    progress: Progress | None = None
    owner_id: DbId | None = None
    remind_at: datetime | None = None
    details: str | None = Field(None, max_length=services.DETAILS_MAX)


NULLABLE = {"customer_id", "due_at", "remind_at"}  # null clears these; for the others null changes nothing


class CustomerShown(Schema):
    id: int
    name: str
    mobile: str


class TaskOut(Schema):
    id: int
    name: str
    type: str
    customer_id: int | None
    customer: CustomerShown | None = Field(None, description="masked; null when outside the caller's scope")
    group_id: int | None
    owner_id: int
    owner: str
    creator_id: int | None
    creator: str
    due_at: datetime | None
    priority: str
    progress: str
    remind_at: datetime | None
    details: str
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None
    overdue: bool


class TaskList(Schema):
    items: list[TaskOut]
    total: int


class TaskGroup(Schema):
    key: str
    label: str
    count: int
    items: list[TaskOut]


class TaskGroups(Schema):
    groups: list[TaskGroup]


class TaskFilters(Schema):
    view: Literal["mine", "created", "all"] = "mine"
    progress: Literal[tuple(TaskProgress.values) + ("open",)] | None = None  # type: ignore[valid-type]
    priority: Priority | None = None
    type: Kind | None = None
    owner_id: DbId | None = None
    customer_id: DbId | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    q: str = Field("", max_length=100)
    sort: Literal[tuple(reads.SORTS)] | None = None  # type: ignore[valid-type]
    group_by: Literal["date", "progress", "priority"] | None = None
    group_limit: int = Field(reads.GROUP_LIMIT, ge=0, le=200)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=100)


class BatchSet(Schema):
    model_config = ConfigDict(extra="forbid")

    owner_id: DbId | None = None
    priority: Priority | None = None
    progress: Progress | None = None
    due_at: datetime | None = Field(None, description="null clears the deadline")


class TaskBatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] = Field(..., min_length=1, max_length=services.BATCH_MAX)
    set: BatchSet


class TaskBatchOut(Schema):
    changed: int


def _out(request, tasks) -> list[dict]:
    return reads.task_rows(tasks, actor=calling_user(request))


@router.post("/tasks", response={201: TaskOut}, summary="Create a task (owner omitted: the caller)")
def create_task(request, payload: TaskIn):
    task = services.task_create(actor=calling_user(request), **payload.dict())
    return 201, _out(request, [task])[0]


@router.get("/tasks", response={200: TaskList | TaskGroups},
            summary="Tasks of a view (mine, created by me, all I see), a page or grouped")
def list_tasks(request, filters: Query[TaskFilters]):
    actor = calling_user(request)
    where = reads.TaskFilter(view=filters.view, progress=filters.progress or "", priority=filters.priority or "",
                             type=filters.type or "", owner_id=filters.owner_id, customer_id=filters.customer_id,
                             due_after=filters.due_after, due_before=filters.due_before, q=filters.q,
                             sort=filters.sort or "")
    qs = reads.task_search(actor=actor, where=where)
    if filters.group_by:
        groups = reads.task_groups(actor=actor, qs=qs, group_by=filters.group_by, limit=filters.group_limit)
        rows = iter(reads.task_rows([t for g in groups for t in g["items"]], actor=actor))
        return {"groups": [{**g, "items": [next(rows) for _ in g["items"]]} for g in groups]}
    start = (filters.page - 1) * filters.page_size
    items = list(qs[start:start + filters.page_size])
    if start == 0 and len(items) < filters.page_size:
        total = len(items)  # the first page holds them all: no COUNT
    else:
        total = qs.order_by().count()
    return {"items": _out(request, items), "total": total}


@router.post("/tasks/batch", response=TaskBatchOut,
             summary="Change the owner, priority, progress or deadline of many tasks (ids outside the scope: 404)")
def batch_tasks(request, payload: TaskBatchIn):
    changed = services.task_batch_update(actor=calling_user(request), ids=payload.ids,
                                         changes=payload.set.dict(exclude_unset=True))
    return {"changed": changed}


@router.get("/tasks/{task_id}", response=TaskOut, summary="A task")
def get_task(request, task_id: DbId):
    return _out(request, [reads.task_get(actor=calling_user(request), pk=task_id)])[0]


@router.patch("/tasks/{task_id}", response=TaskOut, summary="Change a task (done sets done_at; reopening clears it)")
def update_task(request, task_id: DbId, payload: TaskPatch):
    actor = calling_user(request)
    data = payload.dict(exclude_unset=True)
    data = {k: v for k, v in data.items() if v is not None or k in NULLABLE}
    task = services.task_update(actor=actor, task=reads.task_get(actor=actor, pk=task_id), data=data)
    return _out(request, [task])[0]


@router.delete("/tasks/{task_id}", response={204: None}, summary="Delete a task (its creator or a manager)")
def delete_task(request, task_id: DbId):
    actor = calling_user(request)
    services.task_delete(actor=actor, task=reads.task_get(actor=actor, pk=task_id))
    return 204, None
