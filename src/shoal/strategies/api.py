"""Strategy endpoints: strategy groups, strategies (create, change, approve, results) and strategy tasks.

Permissions: ``marketing.strategies.view|create|edit|delete|approve`` and ``marketing.strategy_tasks.view|cancel``
(checked by the services and selectors: 403)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from shoal.core.pagination import MAX_PAGE
from shoal.core.schemas import DbId, DbInt
from shoal.segments.api import FieldInfo

from . import selectors
from .services import strategies as services
from .services import tasks as task_services
from .services.strategies import MAX_ACTIONS, MAX_DELAY_HOURS

router = Router(tags=["strategies"])
TaskStatusName = Literal["pending", "running", "executed", "cancelled", "skipped", "failed"]
RowList = list[dict[str, Any]]


# -- schemas ---------------------------------------------------------------------------------------------
class StrategyGroupIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    order: DbInt | None = None


class StrategyGroupPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    order: DbInt | None = None


class StrategyGroupOut(Schema):
    id: int
    name: str
    order: int
    strategy_count: int


class StrategyActionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    processor: str | DbId = Field(description="a built-in processor's code (add_tag, sms…) or a custom one's code or id")
    params: dict[str, Any] = Field(default_factory=dict)
    delay_hours: float | None = Field(None, ge=0, le=MAX_DELAY_HOURS, description="run this many hours after the event")
    at: datetime | None = Field(None, description="run at this time (skipped when it has passed)")


class StrategyIn(Schema):
    """``conditions``: a condition tree over the event type's field keys (``{"field": "amount", "op": "gt",
    "value": 100}``, groups ``all``/``any``/``not``), or ``condition_rows`` (the page's rows: parentheses,
    field, operator, value, AND/OR). ``customer_conditions``: the customer condition language (or
    ``customer_condition_rows``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    group_id: DbId | None = None
    event: str = Field(min_length=1, max_length=64, description="the event type's code")
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    conditions: dict[str, Any] | None = None
    condition_rows: RowList | None = Field(None, min_length=1, max_length=200)
    customer_conditions: dict[str, Any] | None = None
    customer_condition_rows: RowList | None = Field(None, min_length=1, max_length=200)
    actions: list[StrategyActionIn] = Field(min_length=1, max_length=MAX_ACTIONS)
    order: DbInt | None = None


class StrategyPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    group_id: DbId | None = None
    event: str | None = Field(None, min_length=1, max_length=64)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    conditions: dict[str, Any] | None = None
    condition_rows: RowList | None = Field(None, min_length=1, max_length=200)
    customer_conditions: dict[str, Any] | None = None
    customer_condition_rows: RowList | None = Field(None, min_length=1, max_length=200)
    actions: list[StrategyActionIn] | None = Field(None, min_length=1, max_length=MAX_ACTIONS)
    order: DbInt | None = None
    enabled: bool | None = Field(None, description="false disables (pending tasks are cancelled); true enables an "
                                                   "approved strategy")


class StrategyActionOut(Schema):
    id: int
    processor: str
    processor_id: int | None
    processor_name: str
    params: dict[str, Any]
    delay_hours: float | None
    at: datetime | None


class StrategyOut(Schema):
    id: int
    name: str
    group_id: int | None
    group: str | None
    event: str | None
    event_name: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    conditions: dict[str, Any] | None
    condition_rows: RowList | None
    customer_conditions: dict[str, Any] | None
    customer_condition_rows: RowList | None
    actions: list[StrategyActionOut]
    order: int
    enabled: bool
    review_status: Literal["approved", "pending"]
    revision: int
    approved_revision: int | None
    approved_by: str | None
    approved_at: datetime | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime


class StrategyDayOut(Schema):
    day: date
    matched: int
    run: int
    succeeded: int
    failed: int
    skipped: int


class StrategyResultsOut(Schema):
    strategy_id: int
    days: list[StrategyDayOut]
    totals: dict[str, int]


class StrategyTaskOut(Schema):
    id: int
    strategy_id: int
    strategy: str | None
    action_id: int
    processor: str
    processor_name: str
    event_id: int
    event: str | None
    customer_id: int
    status: str
    due_at: datetime
    created_at: datetime
    finished_at: datetime | None
    attempts: int
    response_code: int | None
    error: str
    duration_ms: int | None


class StrategyTaskPage(Schema):
    items: list[StrategyTaskOut]
    total: int
    page: int
    page_size: int


class StrategyTaskFilters(Schema):
    status: TaskStatusName | None = None
    strategy_id: DbId | None = None
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=500)


class StrategyTaskIdsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] = Field(min_length=1, max_length=10_000)


class StrategyTasksCancelledOut(Schema):
    cancelled: int


# -- groups ----------------------------------------------------------------------------------------------
@router.get("/strategy-groups", response=list[StrategyGroupOut], summary="Strategy groups, in order")
def list_groups(request):
    return selectors.group_list(actor=request.auth)


@router.post("/strategy-groups", response={201: StrategyGroupOut}, summary="Add a strategy group")
def create_group(request, payload: StrategyGroupIn):
    group = services.group_create(actor=request.auth, data=payload.dict())
    return 201, selectors.group_out(group)


@router.patch("/strategy-groups/{group_id}", response=StrategyGroupOut, summary="Rename or reorder a strategy group")
def update_group(request, group_id: DbId, payload: StrategyGroupPatch):
    group = services.group_get(actor=request.auth, pk=group_id)
    return selectors.group_out(services.group_update(actor=request.auth, group=group,
                                                     data=payload.dict(exclude_unset=True)))


@router.delete("/strategy-groups/{group_id}", response={204: None},
               summary="Delete a strategy group (its strategies stay, without a group)")
def delete_group(request, group_id: DbId):
    services.group_delete(actor=request.auth, group=services.group_get(actor=request.auth, pk=group_id))
    return 204, None


# -- strategies ------------------------------------------------------------------------------------------
def _data(payload: Schema, *, patch: bool = False) -> dict:
    data = payload.dict(exclude_unset=patch)
    if patch:  # null leaves a field as it is, unless the field may be empty
        nullable = ("group_id", "valid_from", "valid_to", "conditions", "customer_conditions", "condition_rows",
                    "customer_condition_rows")
        data = {k: v for k, v in data.items() if v is not None or k in nullable}
    return data


@router.get("/strategies", response=list[StrategyOut], summary="Strategies, in order")
def list_strategies(request, group_id: DbId | None = None, event: str = Query("", max_length=64),  # noqa: B008
                    enabled: bool | None = None,
                    review: Literal["pending", "approved"] | None = None):
    return selectors.strategy_list(actor=request.auth, group_id=group_id, event=event, enabled=enabled,
                                   review=review)


@router.post("/strategies", response={201: StrategyOut},
             summary="Add a strategy (disabled until approved: POST /strategies/{id}/approve)")
def create_strategy(request, payload: StrategyIn):
    strategy = services.strategy_create(actor=request.auth, data=_data(payload))
    return 201, selectors.strategy_out(strategy)


@router.get("/strategies/fields", response=list[FieldInfo],
            summary="The fields of an event type usable in a strategy's event conditions, with their operators")
def strategy_fields(request, event: str = Query("", max_length=64, description="the event type's code")):  # noqa: B008
    return selectors.event_fields(actor=request.auth, event=event)


@router.get("/strategies/{strategy_id}", response=StrategyOut, summary="A strategy")
def get_strategy(request, strategy_id: DbId):
    return selectors.strategy_out(services.strategy_get(actor=request.auth, pk=strategy_id))


@router.patch("/strategies/{strategy_id}", response=StrategyOut,
              summary="Change a strategy (a change of what it does disables it until approved again)")
def update_strategy(request, strategy_id: DbId, payload: StrategyPatch):
    strategy = services.strategy_get(actor=request.auth, pk=strategy_id)
    return selectors.strategy_out(services.strategy_update(actor=request.auth, strategy=strategy,
                                                           data=_data(payload, patch=True)))


@router.delete("/strategies/{strategy_id}", response={204: None},
               summary="Delete a strategy (its pending tasks are cancelled)")
def delete_strategy(request, strategy_id: DbId):
    services.strategy_delete(actor=request.auth, strategy=services.strategy_get(actor=request.auth, pk=strategy_id))
    return 204, None


@router.post("/strategies/{strategy_id}/approve", response=StrategyOut,
             summary="Approve the strategy's present revision and enable it (not by its last editor)")
def approve_strategy(request, strategy_id: DbId):
    strategy = services.strategy_get(actor=request.auth, pk=strategy_id)
    return selectors.strategy_out(services.strategy_approve(actor=request.auth, strategy=strategy))


@router.get("/strategies/{strategy_id}/results", response=StrategyResultsOut,
            summary="Per day: events matched, actions run, succeeded, failed, skipped")
def strategy_results(request, strategy_id: DbId, days: int = Query(30, ge=1, le=366)):  # noqa: B008
    strategy = services.strategy_get(actor=request.auth, pk=strategy_id)
    return selectors.strategy_results(strategy=strategy, days=days)


# -- tasks -----------------------------------------------------------------------------------------------
@router.get("/strategy-tasks", response=StrategyTaskPage, summary="Strategy tasks (delayed and immediate actions)")
def list_tasks(request, filters: Query[StrategyTaskFilters]):
    total, items = selectors.task_page(actor=request.auth, status=filters.status, strategy_id=filters.strategy_id,
                                       page=filters.page, page_size=filters.page_size)
    return {"items": items, "total": total, "page": filters.page, "page_size": filters.page_size}


@router.post("/strategy-tasks/cancel", response=StrategyTasksCancelledOut, summary="Cancel the pending tasks among these ids")
def cancel_tasks(request, payload: StrategyTaskIdsIn):
    return {"cancelled": task_services.tasks_cancel(actor=request.auth, ids=payload.ids)}


@router.post("/strategy-tasks/{task_id}/cancel", response=StrategyTaskOut, summary="Cancel a pending task")
def cancel_task(request, task_id: DbId):
    task = selectors.task_get(actor=request.auth, pk=task_id)
    task_services.task_cancel(actor=request.auth, task_id=task["id"])
    return selectors.task_get(actor=request.auth, pk=task_id)
