"""Pages: the processor registry (处理器注册中心: built-in and custom processors; a new processor's secret is
shown once), message templates (消息模板管理), the SMS log (短信发送记录) and the email log (邮件发送日志). They
parse, call a service or selector, and render; a service's refusal is a form error, never a 500."""

from __future__ import annotations

import json
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.processors import builtin_processors
from shoal.core.views import page

from . import placeholders, selectors, services
from .models import Channel, HttpMethod, MessageStatus

PROCESSORS = services.PROCESSORS_MENU
TEMPLATES = services.TEMPLATES_MENU
LOG_PAGE_SIZE = 50
EXTRA_ROWS = 3


# -- processors ---------------------------------------------------------------------------------------------
@page_requires(f"{PROCESSORS}.view")
def processor_list_page(request):
    builtins = [{"code": s.code, "name": str(s.label), "description": str(s.description),
                 "params": s.param_names()}
                for s in builtin_processors()]
    return page(request, "automation/processors.html", {
        "title": _("Processor registry"), "builtins": builtins,
        "processors": services.processor_queryset(actor=request.user),
        "can_create": user_can(request.user, f"{PROCESSORS}.create"),
        "can_edit": user_can(request.user, f"{PROCESSORS}.edit"),
        "can_delete": user_can(request.user, f"{PROCESSORS}.delete"),
    })


def _rows(post, name_key: str, value_key: str) -> dict[str, str]:
    names, values = post.getlist(name_key), post.getlist(value_key)
    return {n.strip(): v for n, v in zip(names, values, strict=False) if n.strip()}


def _body_from_text(text: str):
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text


def _body_text(body) -> str:
    if body is None:
        return ""
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)


def _processor_form_data(post) -> dict:
    timeout = post.get("timeout", "10").strip()
    return {"name": post.get("name", ""), "code": post.get("code", "").strip(), "url": post.get("url", ""),
            "method": post.get("method", "POST"), "timeout": int(timeout) if timeout.isdigit() else -1,
            "params": _rows(post, "param_name", "param_value"), "headers": _rows(post, "header_name", "header_value"),
            "body": _body_from_text(post.get("body", "")), "remarks": post.get("remarks", ""),
            "enabled": post.get("enabled") == "on"}


def _pairs(mapping: dict) -> list[tuple[str, str]]:
    return list((mapping or {}).items()) + [("", "")] * EXTRA_ROWS


def processor_edit_page(request, pk=None):
    processor = None
    if pk is None:
        require_page(request, f"{PROCESSORS}.create")
    else:
        require_page(request, f"{PROCESSORS}.view")
        try:
            processor = services.processor_get(actor=request.user, pk=pk)
        except NotFound:
            raise Http404(_("Processor not found"))
    error, field = "", ""
    if request.method == "POST":
        require_page(request, f"{PROCESSORS}.create" if processor is None else f"{PROCESSORS}.edit")
        data = _processor_form_data(request.POST)
        try:
            if processor is None:
                processor, secret = services.processor_create(actor=request.user, data=data)
                return _show_secret_once(request, processor, secret, created=True)
            services.processor_update(actor=request.user, processor=processor, data=data)
        except ShoalError as exc:
            error, field = exc.message, (exc.detail or {}).get("field", "")
        else:
            messages.success(request, _("Processor %(name)s saved.") % {"name": processor.name})
            return redirect("admin:automation_processors")
        values = {**data, "body": request.POST.get("body", ""), "timeout": request.POST.get("timeout", "")}
    elif processor is not None:
        values = {"name": processor.name, "code": processor.code, "url": processor.url, "method": processor.method,
                  "timeout": processor.timeout, "params": processor.params, "headers": processor.headers,
                  "body": _body_text(processor.body), "remarks": processor.remarks, "enabled": processor.enabled}
    else:
        values = {"method": "POST", "timeout": 10, "enabled": True, "params": {}, "headers": {}, "body": ""}
    used = sorted(placeholders.names([values.get("params"), values.get("headers"), values.get("body")]))
    can_write = user_can(request.user, f"{PROCESSORS}.create" if processor is None else f"{PROCESSORS}.edit")
    return page(request, "automation/processor_form.html", {
        "title": _("Register processor") if processor is None else _("Processor %(name)s") % {"name": processor.name},
        "processor": processor, "values": values, "methods": HttpMethod.values, "error": error, "error_field": field,
        "param_rows": _pairs(values.get("params")), "header_rows": _pairs(values.get("headers")),
        "placeholders": used, "can_write": can_write,
        "can_delete": processor is not None and user_can(request.user, f"{PROCESSORS}.delete"),
    })


SECRET_KEY = "automation.processor_secret"


def _show_secret_once(request, processor, secret: str, *, created: bool):
    """Post/redirect/get: the secret waits in the session (server-side) for the one page that shows it, so a
    reload neither registers the processor again nor shows the secret twice."""
    request.session[SECRET_KEY] = {"processor": processor.pk, "secret": secret, "created": created}
    return redirect("admin:automation_processor_secret", pk=processor.pk)


@never_cache
@page_requires(f"{PROCESSORS}.view")
def processor_secret_view(request, pk):
    """GET: the secret just made (once); POST: renew the secret."""
    try:
        processor = services.processor_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404(_("Processor not found"))
    if request.method == "POST":
        require_page(request, f"{PROCESSORS}.edit")
        return _show_secret_once(request, processor, services.processor_rotate_secret(actor=request.user,
                                                                                       processor=processor),
                                 created=False)
    waiting = request.session.get(SECRET_KEY) or {}
    if waiting.get("processor") != processor.pk:
        messages.info(request, _("The signing secret is shown only once, when it is made. Renew it to get a new "
                                 "one."))
        return redirect("admin:automation_processor_edit", pk=processor.pk)
    del request.session[SECRET_KEY]
    return page(request, "automation/processor_secret.html", {
        "title": _("Processor %(name)s") % {"name": processor.name}, "processor": processor,
        "secret": waiting["secret"], "created": waiting.get("created", False)})


@require_POST
@page_requires(f"{PROCESSORS}.delete")
def processor_delete_view(request, pk):
    try:
        processor = services.processor_get(actor=request.user, pk=pk)
        services.processor_delete(actor=request.user, processor=processor)
    except NotFound:
        raise Http404(_("Processor not found"))
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Processor %(name)s deleted.") % {"name": processor.name})
    return redirect("admin:automation_processors")


# -- message templates ----------------------------------------------------------------------------------------
@page_requires(f"{TEMPLATES}.view")
def template_list_page(request):
    channel = request.GET.get("channel")
    channel = channel if channel in Channel.values else Channel.SMS
    return page(request, "automation/templates.html", {
        "title": _("Message templates"), "channel": channel, "channels": Channel.choices,
        "templates": services.template_queryset(actor=request.user, channel=channel),
        "can_create": user_can(request.user, f"{TEMPLATES}.create"),
        "can_edit": user_can(request.user, f"{TEMPLATES}.edit"),
        "can_delete": user_can(request.user, f"{TEMPLATES}.delete"),
    })


TEMPLATE_FIELDS = ("name", "code", "provider_template", "subject", "content", "html", "remarks")


def template_edit_page(request, pk=None, channel=None):
    template = None
    if pk is None:
        require_page(request, f"{TEMPLATES}.create")
        if channel not in Channel.values:
            raise Http404(_("Unknown channel"))
    else:
        require_page(request, f"{TEMPLATES}.view")
        try:
            template = services.template_get(actor=request.user, pk=pk)
        except NotFound:
            raise Http404(_("Message template not found"))
        channel = template.channel
    error, field = "", ""
    if request.method == "POST":
        require_page(request, f"{TEMPLATES}.create" if template is None else f"{TEMPLATES}.edit")
        data = {f: request.POST.get(f, "") for f in TEMPLATE_FIELDS}
        data["enabled"] = request.POST.get("enabled") == "on"
        try:
            if template is None:
                template = services.template_create(actor=request.user, data={**data, "channel": channel})
            else:
                services.template_update(actor=request.user, template=template, data=data)
        except ShoalError as exc:
            error, field = exc.message, (exc.detail or {}).get("field", "")
            values = data
        else:
            messages.success(request, _("Template %(name)s saved.") % {"name": template.name})
            return redirect(f"{_url('admin:automation_templates')}?channel={channel}")
    elif template is not None:
        values = {f: getattr(template, f) for f in TEMPLATE_FIELDS} | {"enabled": template.enabled}
    else:
        values = {"enabled": True}
    used = sorted(placeholders.names([values.get("subject", ""), values.get("content", ""), values.get("html", "")]))
    return page(request, "automation/template_form.html", {
        "title": (_("Add SMS template") if channel == Channel.SMS else _("Add email template")) if template is None
        else _("Message template %(name)s") % {"name": template.name},
        "template": template, "channel": channel, "values": values, "error": error, "error_field": field,
        "placeholders": used,
        "can_write": user_can(request.user, f"{TEMPLATES}.create" if template is None else f"{TEMPLATES}.edit"),
        "can_delete": template is not None and user_can(request.user, f"{TEMPLATES}.delete"),
    })


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


@require_POST
@page_requires(f"{TEMPLATES}.delete")
def template_delete_view(request, pk):
    try:
        template = services.template_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404(_("Message template not found"))
    services.template_delete(actor=request.user, template=template)
    messages.success(request, _("Template %(name)s deleted.") % {"name": template.name})
    return redirect(f"{_url('admin:automation_templates')}?channel={template.channel}")


# -- logs ----------------------------------------------------------------------------------------------------
def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _log_page(request, channel: str, title: str):
    where = selectors.LogFilter(
        status=request.GET.get("status") if request.GET.get("status") in MessageStatus.values else "",
        recipient=(request.GET.get("recipient") or "")[:254], start=_date(request.GET.get("start")),
        end=_date(request.GET.get("end")))
    qs = selectors.message_log(actor=request.user, channel=channel, where=where)
    page_obj = Paginator(qs, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page(request, "automation/message_log.html", {
        "title": title, "channel": channel, "rows": selectors.log_rows(page_obj.object_list, actor=request.user),
        "page_obj": page_obj, "where": where, "statuses": MessageStatus.choices, "query": query.urlencode(),
        "start": where.start.isoformat() if where.start else "", "end": where.end.isoformat() if where.end else "",
    })


@page_requires("system.sms_log.view")
def sms_log_page(request):
    return _log_page(request, Channel.SMS, _("SMS log"))


@page_requires("system.email_log.view")
def email_log_page(request):
    return _log_page(request, Channel.EMAIL, _("Email log"))
