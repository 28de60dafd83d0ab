"""The events pages: the event registry (事件注册中心: list, batch enable/disable, copy, import the built-in
types; a type's form with its field rows), the event history (事件历史) and the customer detail's events
tab. They parse, call a service or selector, and render; a service's refusal is a message, never a 500."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shoal.accounts.models import Application
from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import ShoalError
from shoal.core.views import page

from . import selectors
from .models import EventFieldType, EventStatus, EventType
from .services import types as type_services

TYPES = "marketing.event_types"
HISTORY = "marketing.event_history.view"
HISTORY_PAGE_SIZE = 20


def _ids(request) -> list[int]:
    return [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:1000]


def _type(type_id: int) -> EventType:
    event_type = EventType.objects.filter(pk=type_id).first()
    if event_type is None:
        raise Http404(_("Event type not found"))
    return event_type


def _confirm(request, exc: ShoalError, *, action: str, fields: dict):
    """The page that names the strategies using the type(s) and re-posts with force=1 when confirmed."""
    pairs = [(name, v) for name, value in fields.items() if name != "force"
             for v in (value if isinstance(value, list) else [value])]
    return page(request, "events/confirm.html", {
        "title": _("Strategies use this event type"), "message": exc.message,
        "strategies": exc.detail.get("strategies", []), "action": action, "pairs": pairs,
        "back": reverse("admin:event_types"),
    })


# -- the registry ---------------------------------------------------------------------------------------------
@page_requires(f"{TYPES}.view")
def event_types_page(request):
    q = (request.GET.get("q") or "")[:100]
    types = list(selectors.event_type_list(q=q))
    return page(request, "events/types.html", {
        "title": _("Event registry"), "types": types, "q": q,
        "can_create": user_can(request.user, f"{TYPES}.create"), "can_edit": user_can(request.user, f"{TYPES}.edit"),
        "can_delete": user_can(request.user, f"{TYPES}.delete"),
    })


@require_POST
def event_types_action(request):
    """The list's buttons: enable / disable / copy the selected types, import the built-in ones."""
    action = request.POST.get("action", "")
    ids = _ids(request)
    force = request.POST.get("force") == "1"
    try:
        if action in ("enable", "disable"):
            require_page(request, f"{TYPES}.edit")
            count = type_services.event_types_set_enabled(actor=request.user, ids=ids, enabled=action == "enable",
                                                          force=force)
            messages.success(request, (_("%(n)s event types enabled.") if action == "enable"
                                       else _("%(n)s event types disabled.")) % {"n": count})
        elif action == "copy":
            require_page(request, f"{TYPES}.create")
            copies = type_services.event_types_copy(actor=request.user, ids=ids)
            messages.success(request, _("Copied: %(codes)s") % {"codes": ", ".join(c.code for c in copies)})
        elif action == "import_builtins":
            require_page(request, f"{TYPES}.create")
            result = type_services.event_types_import_builtins(actor=request.user)
            messages.success(request, _("Built-in event types imported: %(n)s new, %(m)s already there.")
                             % {"n": len(result["created"]), "m": len(result["skipped"])})
        else:
            messages.error(request, _("Choose an action."))
    except ShoalError as exc:
        if exc.code == "event_type_in_use":
            return _confirm(request, exc, action=reverse("admin:event_types_action"),
                            fields={"action": action, "ids": ids})
        messages.error(request, exc.message)
    return redirect("admin:event_types")


def _form_fields(post) -> list[dict]:
    keys, kinds = post.getlist("field_key"), post.getlist("field_type")
    labels, required, remarks = post.getlist("field_label"), post.getlist("field_required"), post.getlist("field_remarks")
    rows = []
    for i, key in enumerate(keys):
        if not key.strip():
            continue
        rows.append({"key": key.strip(), "type": kinds[i] if i < len(kinds) else "text",
                     "label": labels[i] if i < len(labels) else "", "required": (required[i] if i < len(required) else "") == "1",
                     "remarks": remarks[i] if i < len(remarks) else ""})
    return rows


def event_type_form(request, type_id=None):
    event_type = None
    if type_id is None:
        require_page(request, f"{TYPES}.create")
    else:
        require_page(request, f"{TYPES}.view")
        event_type = _type(type_id)
    can_write = user_can(request.user, f"{TYPES}.create" if event_type is None else f"{TYPES}.edit")
    values = ({"name": event_type.name, "code": event_type.code, "enabled": event_type.enabled,
               "remarks": event_type.remarks, "create_customers": event_type.create_customers,
               "fields": event_type.fields} if event_type is not None
              else {"name": "", "code": "", "enabled": True, "remarks": "", "create_customers": True, "fields": []})
    error = ""
    if request.method == "POST":
        require_page(request, f"{TYPES}.create" if event_type is None else f"{TYPES}.edit")
        post = request.POST
        values = {"name": post.get("name", ""), "code": post.get("code", ""), "enabled": post.get("enabled") == "1",
                  "remarks": post.get("remarks", ""), "create_customers": post.get("create_customers") == "1",
                  "fields": _form_fields(post)}
        try:
            if event_type is None:
                event_type = type_services.event_type_create(actor=request.user, data=values)
                messages.success(request, _("Event type %(name)s registered.") % {"name": event_type.name})
            else:
                type_services.event_type_update(actor=request.user, event_type=event_type, data=values,
                                                force=post.get("force") == "1")
                messages.success(request, _("Event type %(name)s saved.") % {"name": event_type.name})
            return redirect("admin:event_types")
        except ShoalError as exc:
            if exc.code == "event_type_in_use":
                fields = {k: v for k, v in post.lists() if k != "csrfmiddlewaretoken"}
                return _confirm(request, exc, action=request.path, fields=fields)
            error = exc.message
    return page(request, "events/type_form.html", {
        "title": _("Register an event type") if event_type is None else _("Event type %(name)s") % {"name": event_type.name},
        "event_type": event_type, "values": values, "error": error, "can_write": can_write,
        "field_types": EventFieldType.choices, "rows_json": json.dumps(values["fields"], ensure_ascii=False),
        "can_delete": event_type is not None and user_can(request.user, f"{TYPES}.delete"),
    })


@require_POST
def event_type_delete(request, type_id):
    require_page(request, f"{TYPES}.delete")
    event_type = _type(type_id)
    try:
        type_services.event_type_delete(actor=request.user, event_type=event_type, force=request.POST.get("force") == "1")
        messages.success(request, _("Event type %(name)s deleted.") % {"name": event_type.name})
    except ShoalError as exc:
        if exc.code == "event_type_in_use":
            return _confirm(request, exc, action=request.path, fields={})
        messages.error(request, exc.message)
    return redirect("admin:event_types")


# -- the history ----------------------------------------------------------------------------------------------
def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _int(raw) -> int | None:
    return int(raw) if raw and str(raw).isdigit() and len(str(raw)) < 19 else None


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@page_requires(HISTORY)
def event_history_page(request):
    get = request.GET
    today = timezone.localdate().isoformat()
    start_raw = get.get("start", today) if "start" in get or "end" not in get else get.get("start", "")
    end_raw = get.get("end", today) if "end" in get or "start" not in get else get.get("end", "")
    start, end = _date(start_raw), _date(end_raw)
    if (start_raw and start is None) or (end_raw and end is None):
        messages.error(request, _("Give dates as YYYY-MM-DD; the wrong one was left out."))
    status = get.get("status") if get.get("status") in (EventStatus.SUCCESS, EventStatus.FAILED) else ""
    where = {"event": (get.get("event") or "")[:64], "application": _int(get.get("application")), "status": status,
             "customer": _int(get.get("customer"))}
    qs = selectors.history_queryset(
        actor=request.user, event=where["event"], application_id=where["application"], status=status,
        customer_id=where["customer"],
        received_from=_local_start(start) if start else None,
        received_to=_local_start(end + timedelta(days=1)) if end else None)
    page_obj = Paginator(qs, HISTORY_PAGE_SIZE).get_page(get.get("page"))
    rows = selectors.history_items(list(page_obj.object_list), viewer=request.user, detail=True)
    for row in rows:
        row["data_text"] = json.dumps(row["data"], ensure_ascii=False, indent=2, default=str)
    query = urlencode({k: v for k, v in {"start": start_raw, "end": end_raw, "event": where["event"],
                                         "application": where["application"] or "", "status": status,
                                         "customer": where["customer"] or ""}.items()})
    can_customers = user_can(request.user, "customers.customers.view")
    return page(request, "events/history.html", {
        "title": _("Event history"), "rows": rows, "page_obj": page_obj, "query": query, "where": where,
        "start": start_raw, "end": end_raw, "statuses": EventStatus.choices,
        "types": EventType.objects.order_by("name").values_list("code", "name"),
        "applications": Application.objects.order_by("name").values_list("pk", "name"),
        "can_customers": can_customers,
    })


# -- the customer detail's events tab ------------------------------------------------------------------------
def customer_events_tab(request, customer):
    """The customer's events per type (营销记录): count, first and last time, last data (masked as the
    detail masks)."""
    from shoal.customers.masking import should_mask

    mask = should_mask(viewer=request.user, customer=customer, context="detail")
    stats = selectors.customer_event_stats(customer_id=customer.pk, viewer=request.user, mask=mask)
    for row in stats:
        row["last_data_text"] = json.dumps(row["last_data"], ensure_ascii=False, default=str)
    history_url = None
    if user_can(request.user, HISTORY):
        history_url = reverse("admin:event_history") + "?" + urlencode({"start": "", "end": "",
                                                                       "customer": customer.pk})
    return render_to_string("events/customer_tab.html", {"stats": stats, "history_url": history_url},
                            request=request)
