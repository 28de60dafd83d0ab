"""The events API: the registry (``/event-types``), ingestion (``/events``, ``/events/batch``, and
``/events/collect`` for the page-side snippet), the history (``/event-history``) and a customer's event
statistics (``/customers/{id}/events``).

Ingestion reads its body itself, so that an event that does not fit is still recorded in the history with
the reason; what it answers: ``202 {"id", "status": "accepted"|"duplicate"}`` for one event (a refused
one: the error shape, 4xx), ``202 {"results": [{"id", "status", "error"}]}`` for a batch, ``429`` with
``Retry-After`` over the application's rate limit, ``401`` for an unknown key (not recorded)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema
from ninja.security import APIKeyHeader
from pydantic import ConfigDict

from shoal.core.auth import require, session_auth, token_auth
from shoal.core.errors import ShoalError, error_response
from shoal.core.request_context import client_ip
from shoal.core.schemas import DbId

from . import selectors
from .models import EventFieldType, EventSource, EventType
from .services import types as type_services
from .services.ingest import MAX_BATCH, BadBody, Caller, ingest, loads

router = Router(tags=["events"])
TYPES = "marketing.event_types"
HISTORY = "marketing.event_history.view"
SEND = "marketing.events.create"


# -- schemas ---------------------------------------------------------------------------------------------
class EventFieldIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: EventFieldType = EventFieldType.TEXT
    required: bool = False
    label: str = Field("", max_length=100)
    remarks: str = Field("", max_length=255)


class EventTypeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    create_customers: bool = True
    remarks: str = Field("", max_length=255)
    fields: list[EventFieldIn] = Field([], max_length=100)


class EventTypePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    name: str | None = Field(None, min_length=1, max_length=100)
    enabled: bool | None = None
    create_customers: bool | None = None
    remarks: str | None = Field(None, max_length=255)
    fields: list[EventFieldIn] | None = Field(None, max_length=100)


class EventFieldOut(Schema):
    key: str
    type: str
    required: bool
    label: str
    remarks: str = ""


class EventTypeOut(Schema):
    id: int
    code: str
    name: str
    enabled: bool
    create_customers: bool
    remarks: str
    builtin: str
    fields: list[EventFieldOut]
    created_at: datetime
    updated_at: datetime


class EventTypeForce(Schema):
    force: bool = Field(False, description="Go on although strategies use the type (they are named in the 409)")


class EventTypeIdsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] = Field(min_length=1, max_length=1000)


class EventTypeCopyIn(EventTypeIdsIn):
    name: str | None = Field(None, min_length=1, max_length=100, description="for one copied type only")
    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")


class EventTypeEnableIn(EventTypeIdsIn):
    enabled: bool
    force: bool = False


class EventTypeCountOut(Schema):
    count: int


class EventTypeBuiltinsOut(Schema):
    created: list[str]
    skipped: list[str]


class EventAcceptedOut(Schema):
    id: str
    status: Literal["accepted", "duplicate"]


class EventItemError(Schema):
    code: str
    message: str
    detail: dict


class EventItemResult(Schema):
    id: str | None
    status: Literal["accepted", "duplicate", "failed"]
    error: EventItemError | None


class EventBatchResults(Schema):
    results: list[EventItemResult]


class EventHistoryFilters(Schema):
    event: str = Field("", max_length=64, description="event type code")
    status: Literal["", "success", "failed"] = ""
    application_id: DbId | None = None
    customer_id: DbId | None = None
    received_from: datetime | None = Field(None, alias="from")
    received_to: datetime | None = Field(None, alias="to")
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)


class EventProcessorResultOut(Schema):
    processor: str
    status: str
    response_code: int | None
    error: str
    duration_ms: int | None
    attempt: int
    at: datetime


class EventStrategyResultOut(Schema):
    strategy_id: int | None
    name: str
    matched: bool
    reason: str
    processors: list[EventProcessorResultOut]


class EventHistoryItem(Schema):
    id: int
    event: str
    event_name: str
    application_id: int | None
    application: str
    status: str
    reason: str
    reason_code: str
    customer_id: int | None
    customer_created: bool
    client_id: str
    received_at: datetime
    occurred_at: datetime | None
    source: str
    strategies: list[EventStrategyResultOut]


class EventHistoryDetail(EventHistoryItem):
    data: dict | list | str | int | float | bool | None


class EventHistoryPage(Schema):
    items: list[EventHistoryItem]
    total: int
    page: int
    page_size: int


class CustomerEventOut(Schema):
    event: str
    name: str
    count: int
    first_at: datetime
    last_at: datetime
    last_data: dict


# -- the registry -----------------------------------------------------------------------------------------
def _type(type_id: int) -> EventType:
    return get_object_or_404(EventType, pk=type_id)


def _fields(payload) -> dict:
    data = payload.dict(exclude_unset=True)
    if data.get("fields") is not None:  # every key of each field (exclude_unset leaves out their defaults)
        data["fields"] = [{"key": f.key, "type": EventFieldType(f.type).value, "required": f.required, "label": f.label,
                           "remarks": f.remarks} for f in payload.fields]
    return data


@router.get("/event-types", response=list[EventTypeOut], summary="The event registry (事件注册中心)")
def list_event_types(request, q: str = Query("", max_length=100), enabled: bool | None = None):
    require(request, f"{TYPES}.view")
    return selectors.event_type_list(q=q, enabled=enabled)


@router.post("/event-types", response={201: EventTypeOut}, summary="Register an event type")
def create_event_type(request, payload: EventTypeIn):
    require(request, f"{TYPES}.create")
    return 201, type_services.event_type_create(actor=request.auth, data=_fields(payload))


@router.post("/event-types/copy", response={201: list[EventTypeOut]},
             summary="Copy event types (a new name and code may be given for one)")
def copy_event_types(request, payload: EventTypeCopyIn):
    require(request, f"{TYPES}.create")
    return 201, type_services.event_types_copy(actor=request.auth, ids=payload.ids, name=payload.name,
                                               code=payload.code)


@router.post("/event-types/enable", response=EventTypeCountOut, summary="Enable or disable event types")
def enable_event_types(request, payload: EventTypeEnableIn):
    require(request, f"{TYPES}.edit")
    return {"count": type_services.event_types_set_enabled(actor=request.auth, ids=payload.ids,
                                                          enabled=payload.enabled, force=payload.force)}


@router.post("/event-types/import-builtins", response=EventTypeBuiltinsOut, summary="Import the built-in event types")
def import_builtin_event_types(request):
    require(request, f"{TYPES}.create")
    return type_services.event_types_import_builtins(actor=request.auth)


@router.get("/event-types/{type_id}", response=EventTypeOut)
def get_event_type(request, type_id: DbId):
    require(request, f"{TYPES}.view")
    return _type(type_id)


@router.patch("/event-types/{type_id}", response=EventTypeOut,
              summary="Edit an event type (409 naming the strategies that use it, unless force=true)")
def update_event_type(request, type_id: DbId, payload: EventTypePatch, options: Query[EventTypeForce]):
    require(request, f"{TYPES}.edit")
    return type_services.event_type_update(actor=request.auth, event_type=_type(type_id), data=_fields(payload),
                                           force=options.force)


@router.delete("/event-types/{type_id}", response={204: None},
               summary="Delete an event type (409 naming the strategies that use it, unless force=true)")
def delete_event_type(request, type_id: DbId, options: Query[EventTypeForce]):
    require(request, f"{TYPES}.delete")
    type_services.event_type_delete(actor=request.auth, event_type=_type(type_id), force=options.force)
    return 204, None


# -- ingestion --------------------------------------------------------------------------------------------
class EventAppKey(APIKeyHeader):
    """``X-App-Key`` of an application, enabled or not: a disabled application's events are refused and
    recorded in the history (the IP allow list too, by the ingestion service)."""

    param_name = "X-App-Key"

    def authenticate(self, request, key):
        from shoal.accounts.models import Application

        return Application.for_key(key or "")


EVENT_AUTH = [EventAppKey(), token_auth, session_auth]

EVENT_SCHEMA = {
    "type": "object", "required": ["event", "customer"],
    "properties": {
        "event": {"type": "string", "maxLength": 64, "description": "the event type's code"},
        "id": {"type": "string", "maxLength": 128, "description": "the sender's event id (dedup key)"},
        "timestamp": {"type": "string", "format": "date-time"},
        "customer": {"type": "object", "properties": {"ent_user_id": {"type": "string"},
                                                      "mobile": {"type": "string"}, "email": {"type": "string"}}},
        "data": {"type": "object"},
    },
    "additionalProperties": False,  # an unknown key is refused (reason unknown_keys)
}


def _body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _error(request, status: int, code: str, message: str, detail: dict | None = None, headers: dict | None = None):
    response = error_response(status, code, message, detail)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _caller(request) -> Caller:
    from shoal.accounts.models import Application

    if isinstance(request.auth, Application):
        return Caller(application=request.auth, ip=client_ip(request))
    require(request, SEND)
    return Caller(user=request.auth, ip=client_ip(request))


def _parse(request):
    """The JSON body, or a BadBody (recorded as a refused event) when it is not JSON."""
    try:
        return loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return BadBody(request.body[:500].decode("utf-8", "replace"))


def _throttled(request, exc: ShoalError):
    retry = exc.detail.get("retry_after", 1)
    return _error(request, 429, exc.code, exc.message, exc.detail, {"Retry-After": str(max(1, math.ceil(retry)))})


def _run(request, caller: Caller, items: list):
    try:
        return ingest(caller=caller, items=items), None
    except ShoalError as exc:
        if exc.status == 429:
            return None, _throttled(request, exc)
        raise


def _failure(request, result: dict):
    error = result["error"]
    return _error(request, result["http_status"], error["code"], error["message"],
                  {**error["detail"], "id": result["id"]})


def _outcome(result: dict) -> dict:
    return {"id": result["id"], "status": result["status"], "error": result["error"]}


@router.post("/events", response={202: EventAcceptedOut}, auth=EVENT_AUTH, openapi_extra=_body(EVENT_SCHEMA),
             summary="Send one event (X-App-Key or a personal token); refused events are recorded too")
def send_event(request):
    caller = _caller(request)
    results, throttled = _run(request, caller, [_parse(request)])
    if throttled is not None:
        return throttled
    result = results[0]
    if result["status"] == "failed":
        return _failure(request, result)
    return 202, {"id": result["id"], "status": result["status"]}


BATCH_SCHEMA = {"type": "object", "required": ["events"], "additionalProperties": False,
                "properties": {"events": {"type": "array", "maxItems": MAX_BATCH, "items": EVENT_SCHEMA}}}


def _batch_body(request, body=None, allowed=frozenset({"events"})):
    """The parsed body when it is a batch (``{"events": [≤ 1000]}``, no other key than ``allowed``), else a
    BadBody."""
    body = _parse(request) if body is None else body
    if isinstance(body, BadBody):
        return body
    if (not isinstance(body, dict) or not isinstance(body.get("events"), list) or len(body["events"]) > MAX_BATCH
            or not body.keys() <= allowed):
        return BadBody(request.body[:500].decode("utf-8", "replace"), "bad_batch")
    return body


def _send_batch(request, caller: Caller, body):
    """Ingest a batch (or record a malformed body as one refused event); (results, error response)."""
    if isinstance(body, BadBody):
        results, throttled = _run(request, caller, [body])
        return None, throttled or _failure(request, results[0])
    return _run(request, caller, body["events"])


@router.post("/events/batch", response={202: EventBatchResults}, auth=EVENT_AUTH, openapi_extra=_body(BATCH_SCHEMA),
             summary="Send up to 1,000 events; a result per event, in order")
def send_events(request):
    caller = _caller(request)
    results, error = _send_batch(request, caller, _batch_body(request))
    if error is not None:
        return error
    # as the schema says, without validating a thousand results again
    return JsonResponse({"results": [_outcome(r) for r in results]}, status=202)


COLLECT_SCHEMA = {"type": "object", "required": ["key", "events"], "additionalProperties": False,
                  "properties": {"key": {"type": "string", "description": "the application's publishable key"},
                                 "events": BATCH_SCHEMA["properties"]["events"]}}


def _cors(response, caller: Caller | None):
    if caller is not None and caller.application is not None and caller.application.allows_origin(caller.origin):
        response["Access-Control-Allow-Origin"] = caller.origin
        response["Vary"] = "Origin"
    return response


@router.post("/events/collect", response={202: EventBatchResults}, auth=None, openapi_extra=_body(COLLECT_SCHEMA),
             summary="The page-side snippet's endpoint: events with a publishable key, from its allowed origins")
def collect_events(request):
    from shoal.accounts.models import Application

    parsed = _parse(request)
    key = parsed.get("key") if isinstance(parsed, dict) else None
    body = _batch_body(request, parsed, frozenset({"key", "events"}))
    app = Application.for_publishable_key(key if isinstance(key, str) else "")
    if app is None:
        return _error(request, 401, "unauthorized", gettext("Unknown publishable key"))
    caller = Caller(application=app, source=EventSource.SNIPPET, ip=client_ip(request),
                    origin=request.headers.get("Origin"), publishable=True)
    results, error = _send_batch(request, caller, body)
    if error is not None:
        return _cors(error, caller)
    return _cors(JsonResponse({"results": [_outcome(r) for r in results]}, status=202), caller)


# -- history and statistics -------------------------------------------------------------------------------
@router.get("/event-history", response=EventHistoryPage, summary="Every received event, newest first (事件历史)")
def event_history(request, filters: Query[EventHistoryFilters]):
    require(request, HISTORY)
    qs = selectors.history_queryset(actor=request.auth, event=filters.event, status=filters.status,
                                    application_id=filters.application_id, customer_id=filters.customer_id,
                                    received_from=filters.received_from, received_to=filters.received_to)
    start = (filters.page - 1) * filters.page_size
    events = list(qs[start:start + filters.page_size])
    return {"items": selectors.history_items(events, viewer=request.auth), "total": qs.count(),
            "page": filters.page, "page_size": filters.page_size}


@router.get("/event-history/{event_id}", response=EventHistoryDetail,
            summary="One received event with its source data (masked for the reader)")
def event_history_item(request, event_id: DbId):
    require(request, HISTORY)
    event = selectors.history_queryset(actor=request.auth).filter(pk=event_id).first()
    if event is None:
        raise ShoalError("not_found", gettext("Not found"), status=404)
    return selectors.history_items([event], viewer=request.auth, detail=True)[0]


@router.get("/customers/{customer_id}/events", response=list[CustomerEventOut],
            summary="The customer's events per type: count, first and last time, last data")
def customer_events(request, customer_id: DbId):
    from shoal.customers.masking import should_mask
    from shoal.customers.selectors import customer_get

    require(request, "customers.customers.view")
    customer = customer_get(actor=request.auth, pk=customer_id)
    mask = should_mask(viewer=request.auth, customer=customer, context="detail")
    return selectors.customer_event_stats(customer_id=customer.pk, viewer=request.auth, mask=mask)

