"""Processor and message-template endpoints.

Processors: ``marketing.processors.view|create|edit|delete``; ``GET /processors`` lists the built-ins by
code (``id`` null) then the custom HTTP processors; ``POST /processors`` answers the new processor's
signing secret (``whsec_…``), the only time it is given out (``POST /processors/{id}/secret`` renews it).
Message templates: ``system.message_templates.view|create|edit|delete``. The services check the
permissions (403)."""

from datetime import datetime
from typing import Any, Literal

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from shoal.core.schemas import DbId

from . import services

router = Router(tags=["automation"])

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Scalar = str | int | float | bool | None
Body = dict[str, Any] | list[Any] | str | None


class ProcessorIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    code: str | None = Field(None, max_length=64, description="generated (http_…) when not given")
    url: str = Field(min_length=1, max_length=2000)
    method: Method = "POST"
    params: dict[str, Scalar] = Field(default_factory=dict, description="query parameters; ${field} placeholders")
    body: Body = Field(None, description="a JSON object or a text; ${field} placeholders")
    headers: dict[str, Scalar] = Field(default_factory=dict)
    timeout: int = Field(10, ge=1, le=services.MAX_TIMEOUT)
    enabled: bool = True
    remarks: str = Field("", max_length=500)


class ProcessorPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, max_length=64)
    url: str | None = Field(None, min_length=1, max_length=2000)
    method: Method | None = None
    params: dict[str, Scalar] | None = None
    body: Body = None
    headers: dict[str, Scalar] | None = None
    timeout: int | None = Field(None, ge=1, le=services.MAX_TIMEOUT)
    enabled: bool | None = None
    remarks: str | None = Field(None, max_length=500)


class ProcessorCreated(Schema):
    id: int
    code: str
    secret: str = Field(description="whsec_…: signs the calls; shown only in this answer")


class SecretOut(Schema):
    secret: str


class ProcessorOut(Schema):
    id: int | None = Field(description="null for a built-in processor")
    code: str
    name: str
    builtin: bool
    description: str = ""
    params_schema: dict[str, Any] | None = Field(None, description="JSON schema of a built-in's action parameters")
    url: str | None = None
    method: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    headers: dict[str, Any] = Field(default_factory=dict)
    timeout: int | None = None
    enabled: bool = True
    disabled_reason: str = ""
    remarks: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _set(payload: Schema) -> dict:
    return payload.model_dump(exclude_unset=True)


@router.get("/processors", response=list[ProcessorOut], summary="Built-in processors (by code) and custom ones")
def processors_list(request):
    return services.processor_list(actor=request.auth)


@router.post("/processors", response={201: ProcessorCreated}, summary="Register a custom HTTP processor")
def processors_create(request, payload: ProcessorIn):
    processor, secret = services.processor_create(actor=request.auth, data=_set(payload) | {
        "params": payload.params, "headers": payload.headers, "body": payload.body})
    return 201, {"id": processor.pk, "code": processor.code, "secret": secret}


@router.get("/processors/{processor_id}", response=ProcessorOut)
def processors_get(request, processor_id: DbId):
    return services.processor_dict(services.processor_get(actor=request.auth, pk=processor_id))


@router.patch("/processors/{processor_id}", response=ProcessorOut)
def processors_update(request, processor_id: DbId, payload: ProcessorPatch):
    processor = services.processor_get(actor=request.auth, pk=processor_id)
    data = {k: v for k, v in _set(payload).items() if v is not None or k == "body"}
    return services.processor_dict(services.processor_update(actor=request.auth, processor=processor, data=data))


@router.delete("/processors/{processor_id}", response={204: None})
def processors_delete(request, processor_id: DbId):
    services.processor_delete(actor=request.auth, processor=services.processor_get(actor=request.auth, pk=processor_id))
    return 204, None


@router.post("/processors/{processor_id}/secret", response=SecretOut,
             summary="Renew the signing secret (the old one stops at once; shown only in this answer)")
def processors_secret(request, processor_id: DbId):
    processor = services.processor_get(actor=request.auth, pk=processor_id)
    return {"secret": services.processor_rotate_secret(actor=request.auth, processor=processor)}


# -- message templates ---------------------------------------------------------------------------------------
class TemplateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "email"]
    name: str = Field(min_length=1, max_length=100)
    code: str = Field(min_length=1, max_length=64)
    provider_template: str = Field("", max_length=100)
    subject: str = Field("", max_length=200)
    content: str = Field(min_length=1, max_length=services.MAX_TEMPLATE)
    html: str = Field("", max_length=services.MAX_TEMPLATE)
    enabled: bool = True
    remarks: str = Field("", max_length=500)


class TemplatePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, min_length=1, max_length=64)
    provider_template: str | None = Field(None, max_length=100)
    subject: str | None = Field(None, max_length=200)
    content: str | None = Field(None, min_length=1, max_length=services.MAX_TEMPLATE)
    html: str | None = Field(None, max_length=services.MAX_TEMPLATE)
    enabled: bool | None = None
    remarks: str | None = Field(None, max_length=500)


class TemplateOut(Schema):
    id: int
    channel: str
    name: str
    code: str
    provider_template: str
    subject: str
    content: str
    html: str
    enabled: bool
    remarks: str
    created_at: datetime
    updated_at: datetime


@router.get("/message-templates", response=list[TemplateOut], summary="SMS and email templates")
def templates_list(request, channel: Literal["sms", "email"] | None = None):
    return [services.template_dict(t) for t in services.template_queryset(actor=request.auth, channel=channel)]


@router.post("/message-templates", response={201: TemplateOut})
def templates_create(request, payload: TemplateIn):
    return 201, services.template_dict(services.template_create(actor=request.auth, data=payload.model_dump()))


@router.patch("/message-templates/{template_id}", response=TemplateOut)
def templates_update(request, template_id: DbId, payload: TemplatePatch):
    template = services.template_get(actor=request.auth, pk=template_id)
    data = {k: v for k, v in _set(payload).items() if v is not None}
    return services.template_dict(services.template_update(actor=request.auth, template=template, data=data))


@router.delete("/message-templates/{template_id}", response={204: None})
def templates_delete(request, template_id: DbId):
    services.template_delete(actor=request.auth, template=services.template_get(actor=request.auth, pk=template_id))
    return 204, None
