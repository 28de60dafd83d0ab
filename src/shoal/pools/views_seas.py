"""The sea pages: 公司公海, 小组公海 (claim, assign), 我的客户, 回收站客户; 客户批量转移 with its records; the logs
(分组日志, 分配日志, 回收历史); the actions they post (one view that calls ``customers_batch``), the customer
list's batch actions and the detail page's pool panel (groups, invited by, follow-ups, record a follow-up).

They parse, call one selector or service, render. Lists are in the viewer's data scope
(``pools.selectors`` over ``customer_queryset``) and show customers masked as the customer list does; a
service's refusal (``ShoalError``) is a message, never a 500."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from shoal.accounts.models import User
from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page
from shoal.customers.models import Customer, CustomerGroup

from . import selectors as reads
from .models import AssignmentKind

PAGE_SIZE = 20
LOG_PAGE_SIZE = 50
SEAS = "pools.seas"
LOGS = "pools.logs"
FOLLOW_UP_CREATE = "sales.follow_ups.create"  # helper "ops" registers it (sales/registry.py)

# the batch actions (the API's names) and the permission each needs (``pools.seas.<action>``)
ACTIONS = {
    "group": "group",
    "assign": "assign",
    "claim": "claim",
    "return_to_group_sea": "return",
    "return_to_company_sea": "return",
    "recycle_bin": "recycle_bin",
    "restore": "restore",
}


def action_labels() -> dict[str, str]:
    return {
        "group": _("Put in a group"),
        "assign": _("Assign to a salesperson"),
        "claim": _("Claim"),
        "return_to_group_sea": _("Return to the group public sea"),
        "return_to_company_sea": _("Return to the company public sea"),
        "recycle_bin": _("Put in the recycle bin"),
        "restore": _("Restore to the company public sea"),
    }


def timeline_action_labels() -> dict[str, object]:
    """Labels of ``detail["action"]`` of the timeline entries pools/moves.py writes."""
    return {
        "join_group": gettext_lazy("Joined a group"),
        "leave_group": gettext_lazy("Left a group"),
        **{k: label for k, label in AssignmentKind.choices},
    }


def _can(request, action: str) -> bool:
    return user_can(request.user, f"{SEAS}.{action}")


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _result_message(action: str, result) -> str:
    """A service's summary in words: ``{"changed"|"moved"|…: n, "skipped": m}``, whatever its keys are."""
    label = action_labels().get(action, action)
    if isinstance(result, dict):
        numbers = {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}
        skipped = numbers.pop("skipped", None)
        done = next(iter(numbers.values()), None)
        if done is not None and skipped:
            return _("%(action)s: %(n)d customers (%(skipped)d left as they were).") % {
                "action": label, "n": done, "skipped": skipped}
        if done is not None:
            return _("%(action)s: %(n)d customers.") % {"action": label, "n": done}
    return _("%(action)s: done.") % {"action": label}


# -- the seas -------------------------------------------------------------------------------------------
def _sea_page(request, *, which: str, title: str, queryset, extra: dict):
    keyword = (request.GET.get("q") or "")[:100]
    page_obj = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = reads.customer_cells(page_obj.object_list, actor=request.user)
    context = {
        "title": title, "which": which, "rows": rows, "page_obj": page_obj, "keyword": keyword,
        "query": _query_without_page(request), "here": request.get_full_path(),
        "labels": action_labels(), "action_url": reverse("admin:pools_seas_action"),
        **extra,
    }
    return page(request, "pools/sea.html", context)


@page_requires(f"{SEAS}.view")
def company_sea_page(request):
    user = request.user
    groups = list(CustomerGroup.objects.filter(enabled=True).order_by("name", "pk")) if _can(request, "group") else []
    actions = [a for a in ("group", "recycle_bin") if _can(request, ACTIONS[a])]
    return _sea_page(request, which="company", title=_("Company public sea"),
                     queryset=reads.company_sea(actor=user, q=request.GET.get("q") or ""),
                     extra={"actions": actions, "groups": groups})


@page_requires(f"{SEAS}.view")
def group_sea_page(request):
    user = request.user
    groups = list(reads.visible_groups(actor=user))
    group = None
    chosen = _int(request.GET.get("group"))
    if chosen is not None:
        group = next((g for g in groups if g.pk == chosen), None)
        if group is None:
            raise Http404(_("Group not found"))
    elif groups:
        group = groups[0]
    can_claim = group is not None and _can(request, "claim") and group.salespeople.filter(pk=user.pk).exists()
    can_assign = (group is not None and _can(request, "assign")
                  and group.pk in reads.administered_group_ids(actor=user))
    salespeople = reads.group_salespeople(group_ids=[group.pk])[group.pk] if can_assign else []
    actions = [a for a, allowed in (("claim", can_claim), ("assign", can_assign),
                                    ("return_to_company_sea", _can(request, "return")),
                                    ("recycle_bin", _can(request, "recycle_bin"))) if allowed]
    queryset = (reads.group_sea(actor=user, group_id=group.pk, q=request.GET.get("q") or "") if group is not None
                else Customer.objects.none())
    return _sea_page(request, which="group", title=_("Group public sea"), queryset=queryset,
                     extra={"groups": groups, "group": group, "can_claim": can_claim, "can_assign": can_assign,
                            "salespeople": salespeople, "actions": actions})


@page_requires(f"{SEAS}.view")
def my_customers_page(request):
    user = request.user
    group_id = _int(request.GET.get("group"))
    my_groups = list(CustomerGroup.objects.filter(memberships__salesperson=user).distinct().order_by("name", "pk"))
    actions = [a for a in ("return_to_group_sea",) if _can(request, ACTIONS[a])]
    from shoal.sales import services as sales_services

    # in-site notifications (e.g. recycle warnings) reach the salesperson here, where the customers are
    notices = list(sales_services.notification_list(actor=user, unread=True).order_by("-created_at", "-pk")[:5])
    return _sea_page(request, which="mine", title=_("My customers"),
                     queryset=reads.my_customers(actor=user, q=request.GET.get("q") or "", group_id=group_id),
                     extra={"groups": my_groups, "group_id": group_id, "actions": actions, "now": timezone.now(),
                            "notices": notices,
                            "request_groups": list(CustomerGroup.objects.filter(salespeople=user, request_tasks=True)
                                                   .order_by("name", "pk")) if _can(request, ACTIONS["claim"]) else []})


@require_POST
@page_requires(f"{SEAS}.claim")
def request_customers_view(request):
    """Request customers of a group (领取任务) from My customers; the answer as a message on the page."""
    from .services.requests import customers_request

    try:
        out = customers_request(actor=request.user, group_id=_int(request.POST.get("group")))
    except ShoalError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, ngettext("%(n)d customer is now yours.", "%(n)d customers are now yours.",
                                           out["assigned"]) % {"n": out["assigned"]})
    return HttpResponseRedirect(reverse("admin:pools_my_customers"))


@require_POST
@page_requires(f"{SEAS}.view")
def notices_read(request):
    """Mark the notifications shown on My customers read."""
    from shoal.sales import services as sales_services

    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
    sales_services.notification_read(actor=request.user, notification_ids=ids)
    return HttpResponseRedirect(reverse("admin:pools_my_customers"))


@page_requires(f"{SEAS}.view")
def recycle_bin_page(request):
    actions = [a for a in ("restore",) if _can(request, ACTIONS[a])]
    return _sea_page(request, which="bin", title=_("Recycle bin"),
                     queryset=reads.recycle_bin(actor=request.user, q=request.GET.get("q") or ""),
                     extra={"actions": actions})


@require_POST
@page_requires(f"{SEAS}.view")
def seas_action(request):
    """One action on the chosen customers (``ids``) of a sea page: calls ``customers_batch``."""
    action = request.POST.get("action") or ""
    back = _back(request, reverse("admin:pools_company_sea"))
    if action not in ACTIONS:
        messages.error(request, _("Choose an action."))
        return HttpResponseRedirect(back)
    require_page(request, f"{SEAS}.{ACTIONS[action]}")
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
    if not ids:
        messages.error(request, _("Choose at least one customer."))
        return HttpResponseRedirect(back)
    _run_batch(request, action, ids, group_id=_int(request.POST.get("group_id")),
               salesperson_id=_int(request.POST.get("salesperson_id")))
    return HttpResponseRedirect(back)


def _run_batch(request, action: str, ids: list[int], *, group_id, salesperson_id) -> bool:
    from shoal.pools.services.operations import customers_batch

    try:
        result = customers_batch(actor=request.user, action=action, customer_ids=ids, group_id=group_id,
                                 salesperson_id=salesperson_id)
    except ShoalError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, _result_message(action, result))
    return True


# -- batch transfer -------------------------------------------------------------------------------------
@page_requires(f"{SEAS}.transfer")
def transfer_page(request):
    """客户批量转移: from a salesperson to another, all their customers or the chosen ones, with a reason."""
    user = request.user
    people = list(reads.sales_users(actor=user))
    by_id = {u.pk: u for u in people}
    source = request.POST if request.method == "POST" else request.GET
    from_id, to_id = _int(source.get("from_user")), _int(source.get("to_user"))
    mode = "chosen" if source.get("mode") == "chosen" else "all"
    reason = (source.get("reason") or "").strip()[:255]
    if request.method == "POST":
        chosen = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
        error = None
        if from_id not in by_id or to_id not in by_id:
            error = _("Choose the salesperson to transfer from and the one to transfer to.")
        elif from_id == to_id:
            error = _("Choose two different salespeople.")
        elif not reason:
            error = _("Give the reason of the transfer.")
        elif mode == "chosen" and not chosen:
            error = _("Choose at least one customer.")
        if error:
            messages.error(request, error)
        else:
            from shoal.pools.services.operations import transfer_create

            try:
                record = transfer_create(actor=user, from_user_id=from_id, to_user_id=to_id,
                                         customer_ids=chosen if mode == "chosen" else None, reason=reason)
            except ShoalError as exc:
                messages.error(request, exc.message)
            else:
                values = {"n": record.get("done", 0), "skipped": record.get("skipped", 0),
                          "from": _name(by_id[from_id]), "to": _name(by_id[to_id])}
                if values["skipped"]:
                    messages.warning(request, _("Transferred %(n)s customers from %(from)s to %(to)s; %(skipped)s "
                                                "were left (not theirs in a group where %(to)s sells).") % values)
                else:
                    messages.success(request, _("Transferred %(n)s customers from %(from)s to %(to)s.") % values)
                return HttpResponseRedirect(reverse("admin:pools_transfers"))
    rows, page_obj = [], None
    if from_id in by_id:
        owned = reads.my_customers(actor=by_id[from_id]).filter(
            pk__in=reads.customer_queryset(actor=user).values("pk"))
        keyword = (request.GET.get("q") or "")[:100]
        if keyword:
            owned = owned.filter(reads.customer_search_q(keyword))
        page_obj = Paginator(owned, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = reads.customer_cells(page_obj.object_list, actor=user)
    return page(request, "pools/transfer.html", {
        "title": _("Batch transfer"), "people": [(u.pk, _name(u)) for u in people], "from_id": from_id,
        "to_id": to_id, "mode": mode, "reason": reason, "rows": rows, "page_obj": page_obj,
        "query": _query_without_page(request), "keyword": (request.GET.get("q") or "")[:100],
    })


def _name(user) -> str:
    return (user.name or user.username) if user is not None else ""


# -- logs -----------------------------------------------------------------------------------------------
def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _log_filter(request, kinds) -> tuple[reads.LogFilter, dict]:
    """The filter of a log page: dates (today, local, by default; an empty date: no bound), group,
    salesperson, kind, customer."""
    get = request.GET
    today = reads.today().isoformat()
    start_raw = get.get("start", today) if "start" in get or "end" not in get else get.get("start", "")
    end_raw = get.get("end", today) if "end" in get or "start" not in get else get.get("end", "")
    if any(raw and _date(raw) is None for raw in (start_raw, end_raw)):
        messages.error(request, _("Give dates as YYYY-MM-DD; the wrong one was left out."))
    where = reads.LogFilter(start=_date(start_raw), end=_date(end_raw), group_id=_int(get.get("group")),
                            salesperson_id=_int(get.get("salesperson")),
                            kind=get.get("kind") if get.get("kind") in dict(kinds) else "",
                            customer=(get.get("customer") or "")[:100])
    form = {"start": start_raw, "end": end_raw, "kinds": kinds}
    return where, form


def _log_people(actor):
    return [(u.pk, _name(u)) for u in User.objects.filter(is_active=True).order_by("username")[:500]]


def _log_page(request, *, template: str, title: str, queryset, where, form, extra=None):
    page_obj = Paginator(queryset, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page_obj.object_list)
    if rows and hasattr(rows[0], "customer_id"):
        customers = reads.log_customers(rows, actor=request.user)
        for row in rows:
            row.shown = customers.get(row.customer_id) or {}
    if rows and hasattr(rows[0], "previous_salesperson_id"):
        names = reads.rule_names(rows)
        for row in rows:
            scope = "recycle" if row.kind in reads.RECYCLE_KINDS else "assign"
            row.rule_name = names.get((scope, row.rule_id), f"#{row.rule_id}") if row.rule_id else ""
    context = {
        "title": title, "rows": rows, "page_obj": page_obj, "where": where, **form,
        "groups": list(CustomerGroup.objects.order_by("name", "pk")), "people": _log_people(request.user),
        "query": _query_without_page(request), **(extra or {}),
    }
    return page(request, template, context)


@page_requires(f"{LOGS}.view")
def group_log_page(request):
    kinds = [("auto", _("Automatic")), ("manual", _("Manual"))]
    where, form = _log_filter(request, kinds)
    return _log_page(request, template="pools/group_log.html", title=_("Group log"),
                     queryset=reads.group_log(actor=request.user, where=where), where=where, form=form)


@page_requires(f"{LOGS}.view")
def assignment_log_page(request):
    where, form = _log_filter(request, AssignmentKind.choices)
    qs = reads.assignment_log(actor=request.user, where=where)
    return _log_page(request, template="pools/assignment_log.html", title=_("Assignment log"), queryset=qs,
                     where=where, form=form, extra={"rule_names_for": reads.rule_names})


@page_requires(f"{LOGS}.view")
def recycle_log_page(request):
    kinds = [(k, label) for k, label in AssignmentKind.choices if k in reads.RECYCLE_KINDS]
    where, form = _log_filter(request, kinds)
    return _log_page(request, template="pools/recycle_log.html", title=_("Recycle history"),
                     queryset=reads.recycle_log(actor=request.user, where=where), where=where, form=form)


@page_requires(f"{LOGS}.view")
def transfers_page(request):
    kinds = [("all", _("All customers")), ("chosen", _("Chosen customers"))]
    where, form = _log_filter(request, kinds)
    qs = reads.transfer_records(actor=request.user, where=where)
    if where.kind:
        qs = qs.filter(all_customers=where.kind == "all")
    return _log_page(request, template="pools/transfers.html", title=_("Transfer records"), queryset=qs,
                     where=where, form=form, extra={"can_transfer": _can(request, "transfer")})


# -- the customer list's batch actions ----------------------------------------------------------------------
def _list_action(action: str):
    def run(model_admin, request, queryset):
        return _list_batch(model_admin, request, queryset, action)

    run.__name__ = f"pools_{action}"
    return run


def _list_batch(model_admin, request, queryset, action: str):
    """A sea action on the customer list's selection: a page to choose the group (and salesperson), then the
    service. The queryset is the user's scoped, filtered selection."""
    user = request.user
    needs_group = action in ("group", "assign", "claim")
    groups = list(CustomerGroup.objects.filter(enabled=True).order_by("name", "pk"))
    if action == "assign":
        allowed = reads.administered_group_ids(actor=user)
        groups = [g for g in groups if g.pk in allowed]
    elif action == "claim":
        groups = [g for g in groups if g.salespeople.filter(pk=user.pk).exists()]
    salespeople = reads.group_salespeople(group_ids=[g.pk for g in groups]) if action == "assign" else {}
    if "apply" in request.POST:
        group_id = _int(request.POST.get("group_id"))
        salesperson_id = _int(request.POST.get("salesperson_id"))
        if needs_group and group_id not in {g.pk for g in groups}:
            messages.error(request, _("Choose a group."))
        elif action == "assign" and salesperson_id not in {u.pk for u in salespeople.get(group_id, [])}:
            messages.error(request, _("Choose a salesperson of the group."))
        else:
            ids = list(queryset.order_by().values_list("pk", flat=True))
            _run_batch(request, action, ids, group_id=group_id, salesperson_id=salesperson_id)
            return None
    return page(request, "pools/batch_action.html", {
        "title": action_labels()[action], "opts": model_admin.model._meta, "action": f"pools_{action}",
        "pools_action": action, "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across") == "1", "count": queryset.count(),
        "groups": groups, "needs_group": needs_group, "optional_group": action in ("return_to_group_sea",
                                                                                  "return_to_company_sea"),
        "salespeople": [(g, salespeople.get(g.pk, [])) for g in groups] if action == "assign" else [],
        "list_url": request.get_full_path(),
    })


def register_list_actions() -> None:
    from shoal.customers import page_extensions as extensions

    labels = {
        "group": gettext_lazy("Put in a group"),
        "assign": gettext_lazy("Assign to a salesperson"),
        "return_to_group_sea": gettext_lazy("Return to the group public sea"),
        "return_to_company_sea": gettext_lazy("Return to the company public sea"),
        "recycle_bin": gettext_lazy("Put in the recycle bin"),
        "restore": gettext_lazy("Restore from the recycle bin"),
        "claim": gettext_lazy("Claim"),
    }
    for action, label in labels.items():
        extensions.register_list_action(extensions.ListAction(f"pools_{action}", label, _list_action(action),
                                                              f"{SEAS}.{ACTIONS[action]}"))


# -- the customer detail: the pool panel and the follow-up form ------------------------------------------------
FOLLOW_UP_ROWS = 20  # follow-up records (跟进记录) shown on the detail, newest first


def detail_panel(request, customer):
    """Groups (salesperson, assigned at), invited by, last follow-up and count, the open task, the follow-up
    records (跟进记录) and the form to record a follow-up (the workspace's: ``sales.views_workspace``)."""
    from shoal.sales.models import OPEN_PROGRESS, FollowUp, Task, TaskType
    from shoal.sales.services.follow_ups import follow_up_rows
    from shoal.sales.views_workspace import follow_up_form_context

    viewer = request.user
    memberships = list(customer.memberships.select_related("group", "salesperson").order_by("group__name"))
    inviter = reads.inviter_shown(actor=viewer, customer=customer)
    task = (Task.objects.filter(customer_id=customer.pk, type=TaskType.FOLLOW_UP, progress__in=OPEN_PROGRESS, owner=viewer)
            .order_by("due_at").first())
    records = list(FollowUp.objects.filter(customer_id=customer.pk).select_related("salesperson")[:FOLLOW_UP_ROWS + 1])
    can_follow_up = user_can(viewer, FOLLOW_UP_CREATE)
    form = follow_up_form_context(action=reverse("admin:pools_follow_up", args=[customer.pk])) if can_follow_up else {}
    return render_to_string("pools/customer_panel.html", {
        "customer": customer, "memberships": memberships, "inviter": inviter, "task": task,
        "recent": follow_up_rows(records[:FOLLOW_UP_ROWS]), "more_records": len(records) > FOLLOW_UP_ROWS,
        "can_follow_up": can_follow_up, **form,
    }, request=request)


@require_POST
def follow_up_create_view(request, pk):
    require_page(request, FOLLOW_UP_CREATE)
    from shoal.customers.selectors import customer_get
    from shoal.customers.views import detail_url
    from shoal.sales.services.follow_ups import follow_up_create
    from shoal.sales.views_workspace import parse_follow_up_form

    try:
        customer = customer_get(actor=request.user, pk=pk)
    except NotFound:
        raise Http404(_("Customer not found"))
    back = detail_url(customer.pk) + "#pools-panel"
    try:
        follow_up_create(actor=request.user, customer_id=customer.pk, **parse_follow_up_form(request.POST))
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Follow-up recorded."))
    return HttpResponseRedirect(back)
