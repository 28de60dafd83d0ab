"""Writes of the automation app: custom HTTP processors and message templates. Keyword-only, with the actor;
each checks the actor's permission (``marketing.processors.*``, ``system.message_templates.*``)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.core import outbound
from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import Conflict, NotFound, PermissionDenied, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.processors import PROCESSORS, builtin_processors

from . import webhooks
from .models import Channel, HttpMethod, MessageTemplate, Processor

PROCESSORS_MENU = "marketing.processors"
TEMPLATES_MENU = "system.message_templates"
CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
MAX_TIMEOUT = 60
MAX_TEMPLATE = 20_000

# strategies register a function naming what uses a processor (deletion is refused while something does)
PROCESSOR_USERS: list[Callable[[Processor], list[str]]] = []


def check_permission(actor, code: str) -> None:
    if not (is_system(actor) or user_can(actor, code)):
        raise PermissionDenied(_("Missing permission %(code)s") % {"code": code}, {"permission": code})


def _user(actor):
    return None if is_system(actor) or not getattr(actor, "is_authenticated", False) else actor


# -- custom processors ---------------------------------------------------------------------------------------
def processor_queryset(*, actor):
    check_permission(actor, f"{PROCESSORS_MENU}.view")
    return Processor.objects.all()


def processor_get(*, actor, pk) -> Processor:
    found = processor_queryset(actor=actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Processor not found"))
    return found


def processor_list(*, actor) -> list[dict]:
    """The built-in processors (by code) then the custom ones."""
    out = [{"id": None, "code": spec.code, "name": str(spec.label), "builtin": True,
            "description": str(spec.description), "params_schema": spec.params.model_json_schema(),
            "enabled": True} for spec in builtin_processors()]
    return out + [processor_dict(p) for p in processor_queryset(actor=actor)]


def processor_dict(p: Processor) -> dict:
    return {"id": p.pk, "code": p.code, "name": p.name, "builtin": False, "url": p.url, "method": p.method,
            "params": p.params, "body": p.body, "headers": p.headers, "timeout": p.timeout, "enabled": p.enabled,
            "disabled_reason": p.disabled_reason, "remarks": p.remarks, "created_at": p.created_at,
            "updated_at": p.updated_at}


def _label(model, field: str) -> str:
    """The field's name as people read it (its verbose name, translated), for messages."""
    return str(model._meta.get_field(field).verbose_name)


def _text_map(value, field: str) -> dict[str, str]:
    def refused():
        return ShoalError("invalid", _("%(field)s must be an object of names and values")
                          % {"field": _label(Processor, field)}, {"field": field})

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise refused()
    out = {}
    for k, v in value.items():
        if not str(k).strip() or len(str(k)) > 200 or (v is not None and not isinstance(v, str | int | float | bool)):
            raise refused()
        out[str(k).strip()] = "" if v is None else (json.dumps(v) if isinstance(v, bool) else str(v))
    return out


def _clean_processor(data: dict, *, instance: Processor | None) -> dict:
    out: dict = {}
    if "name" in data or instance is None:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 100:
            raise ShoalError("invalid", _("Give the processor a name (at most 100 characters)"), {"field": "name"})
        out["name"] = name
    if data.get("code") not in (None, "") or instance is None:
        code = str(data.get("code") or "").strip() or f"http_{secrets.token_hex(4)}"
        if not CODE.match(code):
            raise ShoalError("invalid", _("A code is a letter then letters, digits, _ or - (at most 64)"),
                             {"field": "code"})
        if code in PROCESSORS:
            raise Conflict("duplicate", _("%(code)s is the code of a built-in processor") % {"code": code},
                           {"field": "code"})
        out["code"] = code
    if "url" in data or instance is None:
        url = str(data.get("url") or "").strip()
        if len(url) > 2000:
            raise ShoalError("invalid_url", _("The URL is too long"), {"field": "url"})
        out["url"] = outbound.check_url(url)
    if "method" in data or instance is None:
        method = str(data.get("method") or "POST").upper()
        if method not in HttpMethod.values:
            raise ShoalError("invalid", _("The method must be one of %(methods)s") % {"methods": ", ".join(HttpMethod.values)},
                             {"field": "method"})
        out["method"] = method
    for field in ("params", "headers"):
        if field in data or instance is None:
            out[field] = _text_map(data.get(field), field)
    bad_headers = [h for h in out.get("headers", {}) if h.lower().startswith("webhook-") or h.lower() == "host"
                   or not re.match(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", h)]
    if bad_headers:
        raise ShoalError("invalid", _("These headers may not be set: %(names)s") % {"names": ", ".join(bad_headers)},
                         {"field": "headers"})
    if "body" in data or instance is None:
        body = data.get("body")
        if body is not None and not isinstance(body, dict | list | str):
            raise ShoalError("invalid", _("The body is an object or a text"), {"field": "body"})
        if len(json.dumps(body, ensure_ascii=False)) > MAX_TEMPLATE:
            raise ShoalError("invalid", _("The body is too long"), {"field": "body"})
        out["body"] = body if body not in ("", {}) else None
    if "timeout" in data or instance is None:
        timeout = data.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= MAX_TIMEOUT:
            raise ShoalError("invalid", _("The timeout is 1 to %(max)s seconds") % {"max": MAX_TIMEOUT},
                             {"field": "timeout"})
        out["timeout"] = int(timeout)
    if "enabled" in data:
        out["enabled"] = bool(data["enabled"])
        if out["enabled"]:
            out["disabled_reason"] = ""
    if "remarks" in data:
        out["remarks"] = str(data.get("remarks") or "")[:500]
    return out


def processor_create(*, actor, data: dict) -> tuple[Processor, str]:
    """A new custom processor and its signing secret (``whsec_…``: the only time it is given out)."""
    check_permission(actor, f"{PROCESSORS_MENU}.create")
    values = _clean_processor(data, instance=None)
    secret = webhooks.new_secret()
    try:
        with transaction.atomic():
            processor = Processor.objects.create(**values, secret=secret, created_by=_user(actor))
            log_operation(actor=actor, action="processor.create", obj=processor,
                          detail={"code": processor.code, "url": processor.url})
    except IntegrityError:
        raise Conflict("duplicate", _("A processor with this code exists"), {"field": "code"})
    return processor, secret


def processor_update(*, actor, processor: Processor, data: dict) -> Processor:
    check_permission(actor, f"{PROCESSORS_MENU}.edit")
    return _save_changes(actor, processor, _clean_processor(data, instance=processor), "processor.update",
                         _("A processor with this code exists"))


def _save_changes(actor, obj, values: dict, action: str, duplicate: str):
    """Write the cleaned ``values`` onto ``obj`` and log ``action``; a taken code is a 409 saying ``duplicate``."""
    for name, value in values.items():
        setattr(obj, name, value)
    obj.updated_at = timezone.now()
    try:
        with transaction.atomic():
            obj.save()
            log_operation(actor=actor, action=action, obj=obj, detail={"fields": sorted(values)})
    except IntegrityError:
        raise Conflict("duplicate", duplicate, {"field": "code"})
    return obj


def processor_rotate_secret(*, actor, processor: Processor) -> str:
    check_permission(actor, f"{PROCESSORS_MENU}.edit")
    secret = webhooks.new_secret()
    Processor.objects.filter(pk=processor.pk).update(secret=secret, updated_at=timezone.now())
    processor.secret = secret
    log_operation(actor=actor, action="processor.rotate_secret", obj=processor)
    return secret


def processor_delete(*, actor, processor: Processor) -> None:
    check_permission(actor, f"{PROCESSORS_MENU}.delete")
    users = [name for find in PROCESSOR_USERS for name in find(processor)]
    if users:
        raise Conflict("in_use", _("Used by: %(names)s") % {"names": ", ".join(users[:20])}, {"used_by": users})
    with transaction.atomic():
        log_operation(actor=actor, action="processor.delete", obj=processor, detail={"code": processor.code})
        processor.delete()


# -- message templates --------------------------------------------------------------------------------------
def template_queryset(*, actor, channel: str | None = None):
    check_permission(actor, f"{TEMPLATES_MENU}.view")
    qs = MessageTemplate.objects.all()
    return qs.filter(channel=channel) if channel else qs


def template_get(*, actor, pk) -> MessageTemplate:
    found = template_queryset(actor=actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Message template not found"))
    return found


def template_dict(t: MessageTemplate) -> dict:
    return {"id": t.pk, "channel": t.channel, "name": t.name, "code": t.code, "provider_template": t.provider_template,
            "subject": t.subject, "content": t.content, "html": t.html, "enabled": t.enabled, "remarks": t.remarks,
            "created_at": t.created_at, "updated_at": t.updated_at}


def _clean_template(data: dict, *, instance: MessageTemplate | None) -> dict:
    out: dict = {}
    channel = instance.channel if instance is not None else data.get("channel")
    if instance is None:
        if channel not in Channel.values:
            raise ShoalError("invalid", _("The channel is sms or email"), {"field": "channel"})
        out["channel"] = channel
    for field, limit, required in (("name", 100, True), ("code", 64, True), ("provider_template", 100, False),
                                   ("subject", 200, False), ("content", MAX_TEMPLATE, True), ("html", MAX_TEMPLATE, False),
                                   ("remarks", 500, False)):
        if field not in data and instance is not None:
            continue
        value = data.get(field)
        value = "" if value is None else str(value)
        value = value if field in ("content", "html") else value.strip()
        if required and not value.strip():
            raise ShoalError("invalid", _("%(field)s is required") % {"field": _label(MessageTemplate, field)},
                             {"field": field})
        if len(value) > limit:
            raise ShoalError("invalid", _("%(field)s is too long (at most %(n)s characters)")
                             % {"field": _label(MessageTemplate, field), "n": limit}, {"field": field})
        out[field] = value
    if "code" in out and not CODE.match(out["code"]) and not out["code"].isdigit():
        raise ShoalError("invalid", _("A code is a letter then letters, digits, _ or - (at most 64)"), {"field": "code"})
    if "enabled" in data:
        out["enabled"] = bool(data["enabled"])
    if channel == Channel.EMAIL and instance is None and not out.get("subject"):
        raise ShoalError("invalid", _("An email template needs a subject"), {"field": "subject"})
    return out


def template_create(*, actor, data: dict) -> MessageTemplate:
    check_permission(actor, f"{TEMPLATES_MENU}.create")
    values = _clean_template(data, instance=None)
    try:
        with transaction.atomic():
            template = MessageTemplate.objects.create(**values)
            log_operation(actor=actor, action="message_template.create", obj=template,
                          detail={"channel": template.channel, "code": template.code})
    except IntegrityError:
        raise Conflict("duplicate", _("A template of this channel has this code"), {"field": "code"})
    return template


def template_update(*, actor, template: MessageTemplate, data: dict) -> MessageTemplate:
    check_permission(actor, f"{TEMPLATES_MENU}.edit")
    return _save_changes(actor, template, _clean_template(data, instance=template), "message_template.update",
                         _("A template of this channel has this code"))


def template_delete(*, actor, template: MessageTemplate) -> None:
    check_permission(actor, f"{TEMPLATES_MENU}.delete")
    with transaction.atomic():
        log_operation(actor=actor, action="message_template.delete", obj=template, detail={"code": template.code})
        template.delete()
