"""Follow-ups (``sales.follow_ups.view|create``, customers in the caller's data scope) and the caller's own
follow-up tasks (any user). The notifications and in-site messages: ``api_notifications.py``."""


from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.core.auth import calling_user
from shoal.core.pagination import Pages
from shoal.core.schemas import DbId

from . import services
from .models import FollowUpMethod, FollowUpStatus

router = Router(tags=["sales"])

Method = Literal[tuple(FollowUpMethod.values)]  # type: ignore[valid-type]
Status = Literal[tuple(FollowUpStatus.values)]  # type: ignore[valid-type]


class FollowUpIn(Schema):
    model_config = ConfigDict(extra="forbid")

    customer_id: DbId
    method: Method = FollowUpMethod.PHONE
    status: Status = FollowUpStatus.REACHED
    effective: bool = False
    summary: str = Field("", max_length=services.SUMMARY_MAX)
    next_follow_up_at: datetime | None = None


class FollowUpOut(Schema):
    id: int
    customer_id: int
    salesperson_id: int | None
    salesperson: str
    method: str
    status: str
    effective: bool
    summary: str
    next_follow_up_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_salesperson(obj):
        sp = obj.salesperson
        return (sp.name or sp.username) if sp else ""


class FollowUpFilters(Schema):
    customer_id: DbId | None = None
    salesperson_id: DbId | None = None


class TaskOut(Schema):
    id: int
    customer_id: int | None
    group_id: int | None
    name: str
    due_at: datetime | None
    progress: str
    created_at: datetime
    done_at: datetime | None


class TaskFilters(Schema):
    status: Literal["open", "done", "all"] = "open"


@router.post("/follow-ups", response={201: FollowUpOut}, summary="Record a follow-up of a customer")
def create_follow_up(request, payload: FollowUpIn):
    follow_up = services.follow_up_create(actor=calling_user(request), **payload.dict())
    return 201, follow_up


@router.get("/follow-ups", response=list[FollowUpOut], summary="Follow-up records, newest first")
@paginate(Pages, page_size=50)
def list_follow_ups(request, filters: Query[FollowUpFilters]):
    return services.follow_up_list(actor=calling_user(request), customer_id=filters.customer_id,
                                   salesperson_id=filters.salesperson_id)


@router.get("/follow-up-tasks", response=list[TaskOut], summary="The caller's follow-up tasks, by due time")
@paginate(Pages, page_size=50)
def list_tasks(request, filters: Query[TaskFilters]):
    return services.task_list(actor=calling_user(request), status=None if filters.status == "all" else filters.status)
