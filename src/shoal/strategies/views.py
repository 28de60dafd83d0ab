"""The strategy pages (自动化策略管理, 策略审核, 策略任务, results): they parse, call a service or a selector, and
render; a service's refusal is a message, never a 500. The strategy editor is a client of the JSON API
(condition rows, actions), as the advanced query page is."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page
from shoal.segments.rows import row_field_condition
from shoal.segments.views import condition_labels

from . import processors, selectors
from .models import TaskStatus
from .permissions import APPROVE, CREATE, DELETE, EDIT, TASKS_CANCEL, TASKS_VIEW, VIEW
from .services import strategies as services
from .services import tasks as task_services

TASK_PAGE_SIZE = 50


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _strategy(request, strategy_id):
    try:
        return services.strategy_get(actor=request.user, pk=strategy_id)
    except NotFound:
        raise Http404(_("Strategy not found"))


def _back(request, default: str):
    """Where a form posted from a list goes back to (a local path only)."""
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else default)


def _window(strategy) -> str:
    start = timezone.localtime(strategy.valid_from).strftime("%Y-%m-%d %H:%M") if strategy.valid_from else _("Now")
    end = timezone.localtime(strategy.valid_to).strftime("%Y-%m-%d %H:%M") if strategy.valid_to else _("For ever")
    return f"{start} – {end}"


# -- the list and the groups -----------------------------------------------------------------------------
@page_requires(VIEW)
def strategy_list_page(request):
    group_id = _int(request.GET.get("group"))
    q = request.GET.get("q", "")[:100]
    strategies = list(selectors.strategy_filtered(actor=request.user, group_id=group_id, q=q))
    for s in strategies:
        s.window = _window(s)
    groups = selectors.group_list(actor=request.user)
    return page(request, "strategies/list.html", {
        "title": _("Automation strategies"), "groups": groups, "group_id": group_id, "q": q,
        "strategies": strategies, "total": len(strategies),
        "current_group": next((g for g in groups if g["id"] == group_id), None),
        "can_create": user_can(request.user, CREATE), "can_edit": user_can(request.user, EDIT),
        "can_delete": user_can(request.user, DELETE), "can_approve": user_can(request.user, APPROVE),
        "can_tasks": user_can(request.user, TASKS_VIEW), "next": request.get_full_path(),
    })


@require_POST
def group_save(request):
    """Add a group (no ``id``) or rename one."""
    group_id = _int(request.POST.get("id"))
    require_page(request, EDIT if group_id else CREATE)
    data = {"name": request.POST.get("name", "")}
    try:
        if group_id:
            group = services.group_get(actor=request.user, pk=group_id)
            group = services.group_update(actor=request.user, group=group, data=data)
        else:
            group = services.group_create(actor=request.user, data=data)
    except ShoalError as exc:
        messages.error(request, exc.message)
        return redirect("admin:strategies")
    messages.success(request, _("Strategy group %(name)s saved.") % {"name": group.name})
    return redirect(f"{reverse('admin:strategies')}?group={group.pk}")


@require_POST
@page_requires(DELETE)
def group_delete(request, group_id):
    try:
        group = services.group_get(actor=request.user, pk=group_id)
        services.group_delete(actor=request.user, group=group)
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Strategy group %(name)s deleted; its strategies stay.") % {"name": group.name})
    return redirect("admin:strategies")


@require_POST
@page_requires(EDIT)
def strategies_enable(request):
    """Enable (approved ones) or disable the selected strategies."""
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i]
    enabled = request.POST.get("enabled") == "1"
    if not ids:
        messages.error(request, _("Select strategies first."))
        return _back(request, reverse("admin:strategies"))
    try:
        changed = services.strategy_set_enabled(actor=request.user, ids=ids, enabled=enabled)
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, (_("%(n)s strategies enabled.") if enabled else _("%(n)s strategies disabled."))
                         % {"n": changed})
    return _back(request, reverse("admin:strategies"))


@require_POST
@page_requires(DELETE)
def strategy_delete(request, strategy_id):
    strategy = _strategy(request, strategy_id)
    try:
        services.strategy_delete(actor=request.user, strategy=strategy)
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Strategy %(name)s deleted.") % {"name": strategy.name})
    return _back(request, reverse("admin:strategies"))


# -- the editor ------------------------------------------------------------------------------------------
def strategy_edit_page(request, strategy_id=None):
    """Add or change a strategy: event and window, event conditions (rows), customer conditions (rows),
    actions. Saved through the API (``POST/PATCH /api/v1/strategies``)."""
    from shoal.events.models import EventType

    strategy = None
    if strategy_id is None:
        require_page(request, CREATE)
    else:
        require_page(request, VIEW)
        strategy = _strategy(request, strategy_id)
    can_save = user_can(request.user, CREATE if strategy is None else EDIT)
    labels = {
        **condition_labels(),
        "saved": _("Saved."),
        "savedReview": _("Saved: the strategy waits for a review before it runs."),
        "eventFirst": _("Choose the event first."),
        "incomplete": _("Finish or remove the half-written condition rows (operator, value, parentheses)."),
        "badParams": _("The parameters of action %(n)s are not valid JSON."),
        "customerFieldsUnavailable": _("Customer conditions need the permission to view customers."),
    }
    initial = selectors.strategy_out(strategy) if strategy is not None else {
        "id": None, "name": "", "group_id": _int(request.GET.get("group")), "event": "", "valid_from": None,
        "valid_to": None, "conditions": None, "condition_rows": None, "customer_conditions": None,
        "customer_condition_rows": None, "actions": [], "order": None, "enabled": False, "review_status": "pending"}
    events = [{"code": t.code, "name": t.name, "enabled": t.enabled}
              for t in EventType.objects.order_by("name", "id")]
    return page(request, "strategies/edit.html", {
        "title": _("Add strategy") if strategy is None else _("Strategy %(name)s") % {"name": strategy.name},
        "strategy": strategy, "can_save": can_save, "labels": labels,
        "editor": json.loads(json.dumps({"strategy": initial, "events": events,
                                         "groups": selectors.group_list(actor=request.user),
                                         "processors": processors.choices(),
                                         "listUrl": reverse("admin:strategies")}, default=str)),
    })


# -- review ----------------------------------------------------------------------------------------------
@page_requires(APPROVE)
def review_page(request):
    if request.method == "POST":
        strategy = _strategy(request, _int(request.POST.get("strategy_id")) or 0)
        try:
            services.strategy_approve(actor=request.user, strategy=strategy)
        except ShoalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Strategy %(name)s approved and enabled.") % {"name": strategy.name})
        return redirect("admin:strategies_review")
    pending = list(selectors.strategy_filtered(actor=request.user, review="pending"))
    ops = condition_labels()["ops"]
    customer_labels = None
    for s in pending:
        s.window = _window(s)
        s.out = selectors.strategy_out(s)
        for a in s.out["actions"]:
            a["params_text"] = json.dumps(a["params"], ensure_ascii=False)
        fields = {f["key"]: f.get("label") or f["key"] for f in (s.event_type.fields if s.event_type else [])}
        s.conditions_text = describe(s.conditions, fields, ops)
        if s.customer_conditions:
            if customer_labels is None:
                from shoal.segments.catalog import field_catalog

                customer_labels = {k: str(spec.label) for k, spec in field_catalog().items()}
            s.customer_text = describe(s.customer_conditions, customer_labels, ops)
        else:
            s.customer_text = ""
        s.json = json.dumps({"conditions": s.conditions, "customer_conditions": s.customer_conditions},
                            ensure_ascii=False, indent=1)
        s.own = s.updated_by_id == request.user.pk
    return page(request, "strategies/review.html", {"title": _("Strategy review"), "strategies": pending})


def describe(node, labels: dict, ops: dict) -> str:
    """A condition tree in words for a reviewer: ``金额 大于 100 或 (状态 等于 "1" 并且 …)``."""
    from django.utils.translation import pgettext

    if not isinstance(node, dict):
        return ""
    for kind, word in (("all", pgettext("query logic", "AND")), ("any", pgettext("query logic", "OR"))):
        if isinstance(node.get(kind), list):
            parts = [describe(child, labels, ops) for child in node[kind]]
            parts = [f"({p})" if isinstance(c, dict) and ("all" in c or "any" in c) and len(c) == 1 else p
                     for p, c in zip(parts, node[kind], strict=True)]
            return f" {word} ".join(parts)
    if "not" in node:
        return f"{pgettext('query logic', 'NOT')} ({describe(node['not'], labels, ops)})"
    row_field = row_field_condition(node)  # a customer condition {"event_count": {"event": …, "op": …, "value": …}}
    if "field" in node or row_field is not None:
        title, leaf = row_field if row_field is not None else (labels.get(node["field"], node["field"]), node)
        text = "" if "value" not in leaf else " " + json.dumps(leaf.get("value"), ensure_ascii=False)
        return f"{title} {ops.get(leaf.get('op'), leaf.get('op'))}{text}"
    return json.dumps(node, ensure_ascii=False)


# -- results ---------------------------------------------------------------------------------------------
@page_requires(VIEW)
def results_page(request, strategy_id):
    strategy = _strategy(request, strategy_id)
    days = _int(request.GET.get("days")) or 30
    days = min(days, 366)
    results = selectors.strategy_results(strategy=strategy, days=days)
    series = results["days"]
    chart = {
        "labels": [d["day"].strftime("%m-%d") for d in series],
        "datasets": [
            {"label": label, "data": [d[key] for d in series], "borderColor": color, "backgroundColor": color}
            for key, label, color in (("matched", _("Events matched"), "#6366f1"), ("run", _("Actions run"), "#0ea5e9"),
                                      ("succeeded", _("Succeeded"), "#22c55e"), ("failed", _("Failed"), "#ef4444"))
        ],
    }
    return page(request, "strategies/results.html", {
        "title": _("Results of %(name)s") % {"name": strategy.name}, "strategy": strategy, "days": days,
        "totals": results["totals"], "series": list(reversed(series)), "chart": json.dumps(chart),
    })


# -- tasks -----------------------------------------------------------------------------------------------
@page_requires(TASKS_VIEW)
def tasks_page(request):
    status = request.GET.get("status", "")
    status = status if status in TaskStatus.values else ""
    strategy_id = _int(request.GET.get("strategy"))
    number = _int(request.GET.get("page")) or 1
    total, items = selectors.task_page(actor=request.user, status=status or None, strategy_id=strategy_id,
                                       page=min(number, 100_000), page_size=TASK_PAGE_SIZE)
    paginator = Paginator(range(total), TASK_PAGE_SIZE)
    page_obj = paginator.get_page(number)
    query = urlencode({k: v for k, v in (("status", status), ("strategy", strategy_id or "")) if v})
    return page(request, "strategies/tasks.html", {
        "title": _("Strategy tasks"), "items": items, "total": total, "status": status, "page_obj": page_obj,
        "query": query, "statuses": TaskStatus.choices, "strategy_id": strategy_id,
        "can_cancel": user_can(request.user, TASKS_CANCEL), "next": request.get_full_path(),
    })


@require_POST
@page_requires(TASKS_CANCEL)
def tasks_cancel(request):
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i]
    if not ids:
        messages.error(request, _("Select pending tasks first."))
    else:
        try:
            count = task_services.tasks_cancel(actor=request.user, ids=ids)
        except ShoalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(n)s tasks cancelled.") % {"n": count})
    return _back(request, reverse("admin:strategy_tasks"))


PAGES = (
    ("strategies/", strategy_list_page, "strategies"),
    ("strategies/add/", strategy_edit_page, "strategy_add"),
    ("strategies/enable/", strategies_enable, "strategies_enable"),
    ("strategies/groups/save/", group_save, "strategy_group_save"),
    ("strategies/groups/<int:group_id>/delete/", group_delete, "strategy_group_delete"),
    ("strategies/review/", review_page, "strategies_review"),
    ("strategies/tasks/", tasks_page, "strategy_tasks"),
    ("strategies/tasks/cancel/", tasks_cancel, "strategy_tasks_cancel"),
    ("strategies/<int:strategy_id>/", strategy_edit_page, "strategy_edit"),
    ("strategies/<int:strategy_id>/delete/", strategy_delete, "strategy_delete"),
    ("strategies/<int:strategy_id>/results/", results_page, "strategy_results"),
)
