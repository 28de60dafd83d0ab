from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict

from shoal.core.auth import app_key_auth, require

from . import parameters
from .oplog import operation_log_queryset
from .pagination import Pages

router = Router(tags=["system"])


class ParameterOut(Schema):
    code: str
    label: str
    type: str
    group: str
    help: str
    default: Any
    value: Any
    choices: list[Any]


class ParameterPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    value: Any


class OperationLogOut(Schema):
    id: int
    actor_name: str
    action: str
    action_label: str
    object_type: str
    object_type_label: str
    object_id: str
    object_repr: str
    detail: dict
    created_at: datetime

    @staticmethod
    def resolve_action_label(obj) -> str:
        from .oplog import action_label

        return action_label(obj.action)

    @staticmethod
    def resolve_object_type_label(obj) -> str:
        from .oplog import object_type_label

        return object_type_label(obj.object_type)


class AppOut(Schema):
    id: int
    name: str


@router.get("/parameters", response=list[ParameterOut])
def list_parameters(request):
    require(request, "system.parameters.view")
    return parameters.all_values()


@router.patch("/parameters/{code}", response=ParameterOut)
def update_parameter(request, code: str, payload: ParameterPatch):
    require(request, "system.parameters.edit")
    parameters.set_value(code, payload.value, actor=request.auth)
    return next(p for p in parameters.all_values() if p["code"] == code)


@router.get("/operation-log", response=list[OperationLogOut])
@paginate(Pages, page_size=50)
def list_operation_log(request, action: str = "", object_type: str = ""):
    require(request, "system.operation_log.view")
    qs = operation_log_queryset(actor=request.auth)
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    return qs


@router.get("/application", response=AppOut, auth=app_key_auth,
            summary="The application that the X-App-Key belongs to (a key check for integrators)")
def current_application(request):
    return request.auth
