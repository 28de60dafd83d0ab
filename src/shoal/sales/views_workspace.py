"""The follow-up workspace (客户跟进任务, manual §3.3.2.2): the salesperson's open follow-up tasks, urgent first and
then the best customers, each with the customer's key facts (masked as configured), a call button and the
follow-up form opened inline (htmx); recording completes the task. "Request new tasks" asks a group for
customers by its request-task settings.

The follow-up form is shared with the customer detail's pool panel (``pools.views_seas``):
:func:`follow_up_form_context` gives its options, :func:`parse_follow_up_form` reads what it posts.

The views parse, call one selector or service, and render; a service's refusal (``ShoalError``) is a message
(or the form again, with the message, under htmx), never a 500."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from shoal.core import parameters
from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import ShoalError
from shoal.core.views import page
from shoal.customers import masking
from shoal.customers.models import CustomerGroupMembership
from shoal.customers.quality import scores as quality_scores

from .models import FollowUpMethod, FollowUpStatus, TaskPriority
from .services.follow_ups import (
    FOLLOW_UP_CREATE,
    FOLLOW_UP_VIEW,
    REQUEST_TASKS,
    SUMMARY_MAX,
    follow_up_create,
    follow_up_options,
    follow_up_tasks_request,
    last_follow_ups,
    parse_call_duration,
    request_groups,
    tasks_with_customers,
    workspace_tasks,
)
from .views_tasks import url_pattern

PAGE_SIZE = 20
PRIORITY_CLASSES = {
    TaskPriority.URGENT: "bg-red-100 text-red-700 dark:bg-red-500/20 dark:text-red-400",
    TaskPriority.HIGH: "bg-orange-100 text-orange-700 dark:bg-orange-500/20 dark:text-orange-400",
    TaskPriority.MEDIUM: "bg-primary-100 text-primary-700 dark:bg-primary-500/20 dark:text-primary-400",
    TaskPriority.LOW: "bg-base-100 text-base-600 dark:bg-base-800 dark:text-base-300",
}


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# -- the follow-up form (shared with the customer detail) --------------------------------------------------
def local_datetime(raw: str | None) -> datetime | None:
    """``2025-01-02T10:30`` (a datetime-local input) as an aware datetime in the user's time zone; None when it
    is not a date and time."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return timezone.make_aware(value, timezone.get_current_timezone()) if timezone.is_naive(value) else value


def parse_follow_up_form(data) -> dict:
    """The keyword arguments of ``follow_up_create`` from the posted form (but the customer); a ``ShoalError``
    naming the field for a time or a duration that cannot be read (the service checks the rest)."""
    raw_next = (data.get("next_follow_up_at") or "").strip()
    next_at = local_datetime(raw_next)
    if raw_next and next_at is None:
        raise ShoalError("invalid", _("Give the next follow-up time as a date and time."),
                         {"field": "next_follow_up_at"})
    return {"method": data.get("method") or "", "status": data.get("status") or "",
            "effective": data.get("effective") == "1", "summary": (data.get("summary") or "").strip(),
            "next_follow_up_at": next_at, "maturity": data.get("maturity") or "",
            "invitation_type": data.get("invitation_type") or "",
            "call_seconds": parse_call_duration(data.get("call_duration"))}


def follow_up_form_context(*, action: str, values=None, error: ShoalError | None = None, **extra) -> dict:
    """What ``sales/workspace/_follow_up_form.html`` needs: where it posts, the options (methods, statuses and
    the two enums), the values posted before (when it comes back with an error) and the error."""
    options = follow_up_options()
    return {"form_action": action, "methods": FollowUpMethod.choices, "statuses": FollowUpStatus.choices,
            "maturities": options["maturity"], "invitation_types": options["invitation_type"],
            "values": values if values is not None else {}, "summary_max": SUMMARY_MAX,
            "error": error.message if error is not None else "",
            "error_field": (error.detail or {}).get("field", "") if error is not None else "", **extra}


# -- the workspace ------------------------------------------------------------------------------------------
def workspace_rows(tasks, *, actor) -> list[dict]:
    """A page of tasks as shown: the customer's name and mobile masked (list context, ``masking.mask_customer_rows``:
    the row shows those two), the names of their groups, their tags and last follow-up, and the number for a
    ``tel:`` link only when the viewer may see it unmasked. A fixed number of queries, whatever the page size."""
    from shoal.tags.selectors import customer_tags

    tasks = list(tasks)
    customers = [t.customer for t in tasks]
    ids = {c.pk for c in customers}
    with parameters.cached():  # masking reads its parameters (the phone region…) once, not once a row
        shown = masking.mask_customer_rows(customers, viewer=actor, context="list", fields=("name", "mobile"))
        callable_ids = masking.unmasked_ids(viewer=actor, customers=customers)
    groups: dict[int, list[dict]] = {pk: [] for pk in ids}
    for customer_id, group_id, name in (CustomerGroupMembership.objects.filter(customer_id__in=ids)
                                        .order_by("group__name", "group_id")
                                        .values_list("customer_id", "group_id", "group__name")):
        groups[customer_id].append({"group_id": group_id, "group": name})
    tags = customer_tags(actor=actor, customer_ids=ids)
    last = last_follow_ups(ids)
    scores = quality_scores(ids)
    now = timezone.now()
    priorities = {value: str(label) for value, label in TaskPriority.choices}
    quality = _("quality %(score)s")
    # the urls of a row from one reverse() each, the times in the user's time zone: made here, not in the template
    # (a {% url %} or a |date a row costs more than the page's queries)
    detail, record = url_pattern("admin:customers_customer_detail"), url_pattern("admin:sales_workspace_record_form")
    rows = []
    for t, s in zip(tasks, shown, strict=True):
        its_tags = tags.get(t.customer_id, [])
        rows.append({
            "task": t, "customer": t.customer, "shown": s, "groups": groups[t.customer_id],
            "tags": its_tags[:4], "more_tags": max(0, len(its_tags) - 4), "last": last.get(t.customer_id, {}),
            "priority_class": PRIORITY_CLASSES.get(t.priority, ""), "priority_label": priorities.get(t.priority, ""),
            "tel": t.customer.mobile if t.customer_id in callable_ids else "",
            "quality": quality % {"score": scores[t.customer_id]},
            "detail_url": detail(t.customer_id), "record_url": record(t.pk),
            "last_text": _local_text(t.customer.last_follow_up_at), "due_text": _local_text(t.due_at),
            "overdue": t.due_at is not None and t.due_at < now,
        })
    return rows


def _local_text(value) -> str:
    """A time as the page shows it: in the user's time zone (the current one), to the minute."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


@page_requires(FOLLOW_UP_VIEW)
def workspace_page(request):
    user = request.user
    # the ordered ids in one read (the count is their number): one pass over the open tasks, not two
    ids = list(workspace_tasks(actor=user).values_list("pk", flat=True))
    page_obj = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    groups = list(request_groups(actor=user)) if user_can(user, REQUEST_TASKS) else []
    return page(request, "sales/workspace/page.html", {
        "title": _("Customer follow-up tasks"), "page_obj": page_obj, "query": "", "now": timezone.now(),
        "rows": workspace_rows(tasks_with_customers(page_obj.object_list), actor=user), "request_groups": groups,
        "can_record": user_can(user, FOLLOW_UP_CREATE),
    })


def _my_task(request, task_id):
    """The user's open follow-up task ``task_id`` of a customer in their scope, or 404."""
    task = workspace_tasks(actor=request.user).select_related("customer").filter(pk=task_id).first()
    if task is None:
        raise Http404(_("Task not found"))
    return task


def _record_url(task) -> str:
    return reverse("admin:sales_workspace_record", args=[task.pk])


@page_requires(FOLLOW_UP_VIEW)
def workspace_record_form(request, task_id):
    """The follow-up form of one task, for the workspace row (htmx); without htmx, the customer's detail page."""
    require_page(request, FOLLOW_UP_CREATE)
    task = _my_task(request, task_id)
    if not _htmx(request):
        return HttpResponseRedirect(reverse("admin:customers_customer_detail", args=[task.customer_id])
                                    + "#pools-panel")
    return render(request, "sales/workspace/_record.html",
                  {"task": task, **follow_up_form_context(action=_record_url(task), task=task)})


@require_POST
@page_requires(FOLLOW_UP_VIEW)
def workspace_record(request, task_id):
    """Record a follow-up of the task's customer: the task is done (and the next one opened when a next time is
    given). Under htmx the task's rows give way to a notice; the form comes back with the error otherwise."""
    require_page(request, FOLLOW_UP_CREATE)
    task = _my_task(request, task_id)
    try:
        follow_up = follow_up_create(actor=request.user, customer_id=task.customer_id,
                                     **parse_follow_up_form(request.POST))
    except ShoalError as error:
        if _htmx(request):  # the form again, in place of the form (not of the task's rows)
            response = render(request, "sales/workspace/_record.html", {
                "task": task, **follow_up_form_context(action=_record_url(task), values=request.POST,
                                                       error=error, task=task)})
            response["HX-Retarget"] = f"#task-{task.pk}-form"
            response["HX-Reswap"] = "innerHTML"
            return response
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("admin:sales_workspace"))
    if _htmx(request):
        return render(request, "sales/workspace/_recorded.html", {
            "task": task, "follow_up": follow_up, "next_task": follow_up.next_task,
            "count": workspace_tasks(actor=request.user).count()})
    messages.success(request, _("Follow-up recorded; the task is done."))
    return HttpResponseRedirect(reverse("admin:sales_workspace"))


@require_POST
@page_requires(FOLLOW_UP_VIEW)
def workspace_request(request):
    """请求新任务: new follow-up tasks from a group, by its request-task settings; the answer as a message."""
    raw = (request.POST.get("group") or "").strip()
    group_id = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    try:
        out = follow_up_tasks_request(actor=request.user, group_id=group_id)
    except ShoalError as error:
        messages.error(request, error.message)
    else:
        if out["assigned"]:
            messages.success(request, ngettext("%(n)d new follow-up task.", "%(n)d new follow-up tasks.",
                                               out["assigned"]) % {"n": out["assigned"]})
        else:
            messages.info(request, _("The group's public sea has no customer for you now."))
    return HttpResponseRedirect(reverse("admin:sales_workspace"))
