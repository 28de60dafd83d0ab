"""Manual operations on customers, transfers and the pool logs.

- ``POST /customers/batch``: group, assign, return to the group or company public sea, recycle bin, restore,
  claim (``pools.seas.<action>``; a group's admins may also group, assign and return their group's customers).
- ``POST/GET /transfers``: ``pools.seas.transfer`` (reading: or ``pools.logs.view``).
- ``GET /group-log``, ``/assignment-log``, ``/recycle-log``: ``pools.logs.view``; entries of customers in the
  caller's data scope, today's (local time) unless dates are given.
The services check permissions and scope."""


from datetime import date, datetime
from typing import Literal

from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.core.auth import calling_user
from shoal.core.pagination import Pages
from shoal.core.schemas import DbId

from .services import operations

router = Router(tags=["pools"])

Action = Literal["group", "assign", "return_to_group_sea", "return_to_company_sea", "recycle_bin", "restore",
                 "claim"]


def _name(user) -> str | None:
    return (user.name or user.username) if user is not None else None


class PoolBatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    action: Action
    customer_ids: list[DbId] = Field(min_length=1, max_length=operations.MAX_CUSTOMERS)
    group_id: DbId | None = None
    salesperson_id: DbId | None = None


class PoolBatchOut(Schema):
    action: str
    done: int
    skipped: int
    reasons: dict[str, int] = Field(description="skipped customers per reason")
    skipped_ids: dict[str, list[int]] = Field(description="up to 100 skipped customer ids per reason")
    joined: int | None = Field(None, description="assign: customers that joined the group first")


class TransferIn(Schema):
    model_config = ConfigDict(extra="forbid")

    from_user_id: DbId
    to_user_id: DbId
    customer_ids: list[DbId] | None = Field(None, max_length=operations.MAX_CUSTOMERS,
                                            description="null: all of the salesperson's customers")
    reason: str = Field(min_length=1, max_length=255)


class TransferDone(PoolBatchOut):
    id: int


class TransferOut(Schema):
    id: int
    from_user_id: int | None
    from_user: str | None
    to_user_id: int | None
    to_user: str | None
    reason: str
    customer_count: int
    all_customers: bool
    operator_id: int | None
    operator: str | None
    at: datetime

    @staticmethod
    def resolve_from_user(obj):
        return _name(obj.from_user)

    @staticmethod
    def resolve_to_user(obj):
        return _name(obj.to_user)

    @staticmethod
    def resolve_operator(obj):
        return _name(obj.operator)


class LogFilters(Schema):
    date_from: date | None = Field(None, description="local date; default today")
    date_to: date | None = Field(None, description="local date, included; default today")
    customer_id: DbId | None = None
    group_id: DbId | None = None
    salesperson_id: DbId | None = None
    kind: str | None = None


class GroupLogOut(Schema):
    id: int
    customer_id: int
    from_group_id: int | None
    from_group: str | None
    to_group_id: int | None
    to_group: str | None
    auto: bool
    rule_id: int | None
    operator_id: int | None
    operator: str | None
    at: datetime

    @staticmethod
    def resolve_from_group(obj):
        return obj.from_group.name if obj.from_group else None

    @staticmethod
    def resolve_to_group(obj):
        return obj.to_group.name if obj.to_group else None

    @staticmethod
    def resolve_operator(obj):
        return _name(obj.operator)


class AssignmentLogOut(Schema):
    id: int
    customer_id: int
    group_id: int | None
    group: str | None
    salesperson_id: int | None
    salesperson: str | None
    previous_salesperson_id: int | None
    previous_salesperson: str | None
    kind: str
    auto: bool
    rule_id: int | None
    operator_id: int | None
    operator: str | None
    at: datetime

    @staticmethod
    def resolve_group(obj):
        return obj.group.name if obj.group else None

    @staticmethod
    def resolve_salesperson(obj):
        return _name(obj.salesperson)

    @staticmethod
    def resolve_previous_salesperson(obj):
        return _name(obj.previous_salesperson)

    @staticmethod
    def resolve_operator(obj):
        return _name(obj.operator)


class RecycleLogOut(Schema):
    id: int
    customer_id: int
    group_id: int | None
    group: str | None
    salesperson_id: int | None
    salesperson: str | None
    rule_id: int | None
    rule: str | None
    target: str
    assigned_at: datetime | None
    last_follow_up_at: datetime | None
    at: datetime

    @staticmethod
    def resolve_group(obj):
        return obj.group.name if obj.group else None

    @staticmethod
    def resolve_salesperson(obj):
        return _name(obj.salesperson)

    @staticmethod
    def resolve_rule(obj):
        return obj.rule.name if obj.rule else None


@router.post("/customers/batch", response=PoolBatchOut,
             summary="Group, assign, return, recycle-bin, restore or claim customers (one or a selection)")
def customers_batch(request, payload: PoolBatchIn):
    return operations.customers_batch(actor=calling_user(request), action=payload.action,
                                      customer_ids=payload.customer_ids, group_id=payload.group_id,
                                      salesperson_id=payload.salesperson_id)


class RequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    group_id: DbId


class RequestOut(Schema):
    assigned: int
    requests_left: int = Field(description="requests the salesperson may still make in this group today")


@router.post("/pools/request", response=RequestOut,
             summary="Request customers (领取任务): the group's best public-sea customers, when no follow-up task is open")
def customers_request(request, payload: RequestIn):
    from .services.requests import customers_request as request_customers

    return request_customers(actor=calling_user(request), group_id=payload.group_id)


@router.post("/transfers", response={201: TransferDone},
             summary="Transfer all or chosen customers from one salesperson to another, with a reason")
def create_transfer(request, payload: TransferIn):
    return 201, operations.transfer_create(actor=calling_user(request), from_user_id=payload.from_user_id,
                                           to_user_id=payload.to_user_id, customer_ids=payload.customer_ids,
                                           reason=payload.reason)


@router.get("/transfers", response=list[TransferOut], summary="Transfer records, newest first")
@paginate(Pages, page_size=50)
def list_transfers(request):
    return operations.transfer_list(actor=calling_user(request))


def _filters(f: LogFilters) -> dict:
    return {"date_from": f.date_from, "date_to": f.date_to, "customer_id": f.customer_id, "group_id": f.group_id,
            "salesperson_id": f.salesperson_id, "kind": f.kind}


@router.get("/group-log", response=list[GroupLogOut],
            summary="Group log (kind: auto|manual), today's entries unless dates are given")
@paginate(Pages, page_size=50)
def group_log(request, filters: Query[LogFilters]):
    return operations.group_log_list(actor=calling_user(request), **_filters(filters))


@router.get("/assignment-log", response=list[AssignmentLogOut],
            summary="Assignment log (kind: assign, claim, transfer, recycle, return_group_sea, ...)")
@paginate(Pages, page_size=50)
def assignment_log(request, filters: Query[LogFilters]):
    return operations.assignment_log_list(actor=calling_user(request), **_filters(filters))


@router.get("/recycle-log", response=list[RecycleLogOut],
            summary="Recycle history (kind: group_sea|company_sea), today's entries unless dates are given")
@paginate(Pages, page_size=50)
def recycle_log(request, filters: Query[LogFilters]):
    return operations.recycle_log_list(actor=calling_user(request), **_filters(filters))
