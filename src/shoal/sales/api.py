"""Follow-ups (``sales.follow_ups.view|create``, customers in the caller's data scope), the caller's own
follow-up tasks and the request for new ones (``pools.seas.claim``, the group's request-task settings). The
notifications and in-site messages: ``api_notifications.py``."""


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
from .services import follow_ups

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
    next_follow_up_at: datetime | None = Field(None, description="opens the next follow-up task, due then")
    maturity: str | None = Field(None, max_length=64, description="an item code of the enum follow_up_maturity")
    invitation_type: str | None = Field(
        None, max_length=64, description="an item code of the enum follow_up_invitation_type")
    call_seconds: int | None = Field(None, ge=0, le=follow_ups.CALL_SECONDS_MAX, description="call duration")


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
    maturity: str
    invitation_type: str
    call_seconds: int | None
    created_at: datetime

    @staticmethod
    def resolve_salesperson(obj):
        sp = obj.salesperson
        return (sp.name or sp.username) if sp else ""


class FollowUpFilters(Schema):
    customer_id: DbId | None = None
    salesperson_id: DbId | None = None


class FollowUpTaskOut(Schema):
    id: int
    customer_id: int | None
    group_id: int | None
    name: str
    due_at: datetime | None
    progress: str
    created_at: datetime
    done_at: datetime | None


class RequestedTaskOut(FollowUpTaskOut):
    priority: str = Field(description="low, medium, high or urgent")

    @staticmethod
    def resolve_priority(obj):
        return obj.priority_code


class TaskRequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    group_id: DbId | None = Field(None, description="optional when the caller requests in one group only")


class TaskRequestOut(Schema):
    items: list[RequestedTaskOut]
    assigned: int
    requests_left: int = Field(description="requests the caller may still make in this group today")
    group_id: int


class FollowUpTaskFilters(Schema):
    status: Literal["open", "done", "all"] = "open"


@router.post("/follow-ups", response={201: FollowUpOut},
             summary="Record a follow-up of a customer: completes the caller's open follow-up tasks of the customer")
def create_follow_up(request, payload: FollowUpIn):
    follow_up = follow_ups.follow_up_create(actor=calling_user(request), **payload.dict())
    return 201, follow_up


@router.get("/follow-ups", response=list[FollowUpOut], summary="Follow-up records, newest first")
@paginate(Pages, page_size=50)
def list_follow_ups(request, filters: Query[FollowUpFilters]):
    return services.follow_up_list(actor=calling_user(request), customer_id=filters.customer_id,
                                   salesperson_id=filters.salesperson_id)


@router.get("/follow-up-tasks", response=list[FollowUpTaskOut], summary="The caller's follow-up tasks, by due time")
@paginate(Pages, page_size=50)
def list_tasks(request, filters: Query[FollowUpTaskFilters]):
    return services.task_list(actor=calling_user(request), status=None if filters.status == "all" else filters.status)


@router.post("/follow-up-tasks/request", response={200: TaskRequestOut, 201: TaskRequestOut},
             summary="Request new follow-up tasks (请求新任务) by the group's request-task settings; 429 past the "
                     "day's requests")
def request_tasks(request, payload: TaskRequestIn):
    out = follow_ups.follow_up_tasks_request(actor=calling_user(request), group_id=payload.group_id)
    return (201 if out["items"] else 200), out
