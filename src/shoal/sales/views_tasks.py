"""The task center's pages (任务中心): "assigned to me" / "created by me" (/ everything the user sees), a grouped
view (by date in the user's time zone, by progress, by priority: drag a card to another group, tick it to mark it
done) and a list view (inline edit, batch change of owner, priority, progress and deadline), filters and a search;
the task form (new, edit).

The views parse, call one selector or service and render. A drop, a tick or an inline edit posted by htmx
(``HX-Request``) answers with the re-rendered board, list or row; posted without htmx it redirects back. A
service's refusal (``ShoalError``) is a message, never a 500."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page
from shoal.customers.masking import mask_customer_rows
from shoal.customers.selectors import customer_queryset, customer_search_q

from . import selectors_tasks as reads
from .models import PRIORITY_CODES, Task, TaskPriority, TaskProgress, TaskType
from .services import tasks as services

PAGE_SIZE = 20
BOARD_LIMIT = 20  # cards a column of the board shows (the rest: "n more", in the list)
FILTER_KEYS = ("view", "mode", "group_by", "progress", "priority", "type", "owner", "due_from", "due_to", "q",
               "sort", "page")


# -- parsing ---------------------------------------------------------------------------------------------
def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip()[:10]) if value else None
    except ValueError:
        return None


def _choice(value, allowed, default: str = "") -> str:
    return value if value in allowed else default


DUE_FILTERS = ("overdue", "today")


class Center:
    """The task center's state, read from the query string (unknown values fall back to the defaults)."""

    def __init__(self, request):
        get = request.GET
        self.request = request
        self.view = _choice(get.get("view"), reads.VIEWS, "mine")
        self.mode = _choice(get.get("mode"), ("board", "list"), "board")
        self.group_by = _choice(get.get("group_by"), reads.GROUP_BYS, "date")
        self.progress = _choice(get.get("progress"), (*TaskProgress.values, "open"))
        self.priority = _choice(get.get("priority"), tuple(reads.PRIORITY_VALUES))
        self.type = _choice(get.get("type"), TaskType.values)
        self.owner = _int(get.get("owner"))
        self.due_from, self.due_to = _day(get.get("due_from")), _day(get.get("due_to"))
        self.due = _choice(get.get("due"), DUE_FILTERS)  # the workbench's figures: overdue, due today
        self.q = (get.get("q") or "").strip()[:100]
        self.sort = _choice(get.get("sort"), tuple(reads.SORTS))
        self.page = get.get("page") or 1
        self.tz = reads.user_zone(request.user)

    def query(self, **change) -> str:
        """The state as a query string, with ``change`` applied (None drops a key)."""
        values = {k: getattr(self, k) for k in ("view", "mode", "group_by", "progress", "priority", "type", "owner",
                                                 "due_from", "due_to", "due", "q", "sort")}
        values.update(change)
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})

    def where(self) -> reads.TaskFilter:
        start = lambda day: datetime.combine(day, datetime.min.time(), tzinfo=self.tz)  # noqa: E731
        due_after = start(self.due_from) if self.due_from else None
        due_before = start(self.due_to + timedelta(days=1)) if self.due_to else None
        progress = self.progress
        if self.due:  # open tasks due before now (overdue), or from now to the end of today (the workbench's words)
            now = timezone.now()
            progress = progress or "open"
            if self.due == "overdue":
                due_before = min(due_before, now) if due_before else now
            else:
                due_after = max(due_after, now) if due_after else now
                end = start(now.astimezone(self.tz).date() + timedelta(days=1))
                due_before = min(due_before, end) if due_before else end
        return reads.TaskFilter(
            view=self.view, progress=progress, priority=self.priority, type=self.type, owner_id=self.owner,
            due_after=due_after, due_before=due_before, q=self.q, sort=self.sort)


# -- the center -------------------------------------------------------------------------------------------
def _labels() -> dict:
    """The labels in words, translated once here (a lazy label is translated again, and escaped through a new lazy
    class, each time a template shows it: hundreds of times on a board)."""
    return {
        "progress": {v: str(label) for v, label in TaskProgress.choices},
        "priority": {PRIORITY_CODES[TaskPriority(v)]: str(label) for v, label in TaskPriority.choices},
        "type": {v: str(label) for v, label in TaskType.choices},
        "views": {"mine": _("Assigned to me"), "created": _("Created by me"), "all": _("All tasks I see")},
        "group_bys": {"date": _("By date"), "progress": _("By progress"), "priority": _("By priority")},
        "modes": {"board": _("Grouped view"), "list": _("List view")},
    }


_URL_ID = 987654321987


def url_pattern(name: str):
    """``name``'s URL (one id argument) reversed once: ``url_pattern(name)(42)`` → ``/…/42/…`` (a page of rows is
    not a ``reverse()`` a row)."""
    head, _sep, tail = reverse(name, args=[_URL_ID]).rpartition(str(_URL_ID))
    return lambda pk: f"{head}{int(pk)}{tail}"


def _shown(rows: list[dict], labels: dict, query: str, tz) -> list[dict]:
    """Rows as the templates show them: labels in words and the urls of the row, made here once (a board holds
    up to 300 cards: lookups and ``{% url %}`` in the template cost more than the queries)."""
    base = reverse("admin:sales_tasks")
    tail = f"?{query}" if query else ""
    customer_url = url_pattern("admin:customers_customer_detail")
    for row in rows:
        pk = row["id"]
        row["priority_label"] = labels["priority"].get(row["priority"], row["priority"])
        row["progress_label"] = labels["progress"].get(row["progress"], row["progress"])
        row["type_label"] = labels["type"].get(row["type"], row["type"])
        row["title"] = row["name"] or row["type_label"]
        local = row["due_at"].astimezone(tz) if row["due_at"] else None  # the user's time zone
        row["due_text"] = local.strftime("%Y-%m-%d %H:%M") if local else ""
        row["due_input"] = local.strftime("%Y-%m-%dT%H:%M") if local else ""
        row["edit_url"] = f"{base}{pk}/"
        row["move_url"] = f"{base}{pk}/move/{tail}"
        row["done_url"] = f"{base}{pk}/done/{tail}"
        row["field_url"] = f"{base}{pk}/field/{tail}"
        row["delete_url"] = f"{base}{pk}/delete/{tail}"
        row["customer_url"] = customer_url(row["customer_id"]) if row["customer"] else ""
    return rows


def _board(center: Center) -> dict:
    actor = center.request.user
    bounds = reads.DayBounds.at(tz=center.tz)
    qs = reads.task_search(actor=actor, where=center.where())
    groups = reads.task_groups(actor=actor, qs=qs, group_by=center.group_by, bounds=bounds, limit=BOARD_LIMIT)
    rows = iter(_shown(reads.task_rows([t for g in groups for t in g["items"]], actor=actor, bounds=bounds),
                       _labels(), center.query(), center.tz))
    for group in groups:
        group["rows"] = [next(rows) for _ in group["items"]]
        group["droppable"] = not (center.group_by == "date" and group["key"] == "overdue")
        group["more"] = group["count"] - len(group["items"])
    later_first = bounds.week_end.astimezone(center.tz).date()
    for group in groups:
        for row in group["rows"]:
            row["date_key"] = bounds.key_of(row["due_at"]) if row["progress"] in ("not_started", "in_progress") else ""
    return {"groups": groups, "later_first": later_first.isoformat()}


def _options(choices: list[tuple], chosen) -> str:
    """``<option>``s (values and labels escaped once, in ``choices``) with ``chosen`` selected."""
    return mark_safe("".join(f'<option value="{v}"{" selected" if v == chosen else ""}>{label}</option>'
                             for v, label in choices))


def _list(center: Center, owners: list) -> dict:
    """A page of the list; each row's inline choices made here (a template loop per row and choice costs more than
    the page's queries)."""
    actor = center.request.user
    qs = reads.task_search(actor=actor, where=center.where())
    page_obj = Paginator(qs, PAGE_SIZE).get_page(center.page)
    labels = _labels()
    rows = _shown(reads.task_rows(page_obj.object_list, actor=actor), labels, center.query(), center.tz)
    priorities = [(k, escape(v)) for k, v in labels["priority"].items()]
    progresses = [(k, escape(v)) for k, v in labels["progress"].items()]
    people = [(u.pk, escape(u.name or u.username)) for u in owners]
    known = {u.pk for u in owners}
    for row in rows:
        row["priority_options"] = _options(priorities, row["priority"])
        row["progress_options"] = _options(progresses, row["progress"])
        extra = [] if row["owner_id"] in known else [(row["owner_id"], escape(row["owner"]))]
        row["owner_options"] = _options(extra + people, row["owner_id"])
    return {"page_obj": page_obj, "rows": rows}


def _context(request, center: Center, error: str = "", notice: str = "") -> dict:
    actor = request.user
    # the owners to choose from: the owner filter (not in "mine") and the list's owner cells and batch bar
    owners = list(reads.assignable_users(actor=actor)) if center.view != "mine" or center.mode == "list" else []
    data = _board(center) if center.mode == "board" else _list(center, owners)
    return {
        "title": _("Task center"), "c": center, "query": center.query(), "labels": _labels(), "owners": owners,
        "error": error, "notice": notice, "here": request.path + "?" + center.query(),
        "can_create": user_can(actor, reads.CREATE), "can_edit": user_can(actor, reads.EDIT),
        "can_delete": user_can(actor, reads.DELETE),
        "priority_codes": list(reads.PRIORITY_KEYS), "progress_values": list(TaskProgress.values),
        "view_links": [(v, label, center.query(view=v)) for v, label in _labels()["views"].items()],
        "mode_links": [(m, label, center.query(mode=m)) for m, label in _labels()["modes"].items()],
        "group_links": [(g, label, center.query(group_by=g)) for g, label in _labels()["group_bys"].items()],
        **data,
    }


def _render(request, center: Center, error: str = "", notice: str = ""):
    """The whole page, or (an htmx request) the board or list alone."""
    try:
        context = _context(request, center, error, notice)
    except ShoalError as exc:
        raise Http404(exc.message)
    if request.headers.get("HX-Request"):
        template = "sales/tasks/_board.html" if center.mode == "board" else "sales/tasks/_list.html"
        return render(request, template, context)
    return page(request, "sales/tasks/center.html", context)


@page_requires(reads.VIEW)
def task_center(request):
    return _render(request, Center(request))


# -- changes posted from the center --------------------------------------------------------------------
def _task(request, task_id: int) -> Task:
    try:
        return reads.task_get(actor=request.user, pk=task_id)
    except NotFound:
        raise Http404(_("Task not found"))


def _back(request) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("admin:sales_tasks") + "?" + Center(request).query()


def _answer(request, error: str = "", ok: str = ""):
    """htmx: the center's board or list again (with the refusal, if any); otherwise back with a message."""
    if request.headers.get("HX-Request"):
        return _render(request, Center(request), error, ok)
    if error:
        messages.error(request, error)
    elif ok:
        messages.success(request, ok)
    return HttpResponseRedirect(_back(request))


@require_POST
@page_requires(reads.EDIT)
def task_move_view(request, task_id):
    """A card dropped into another group: ``group_by`` and ``key`` (the group), for "later" a ``due_date``."""
    task = _task(request, task_id)
    try:
        services.task_move(actor=request.user, task=task, group_by=request.POST.get("group_by") or "",
                           key=request.POST.get("key") or "", day=_day(request.POST.get("due_date")))
    except ShoalError as exc:
        return _answer(request, error=exc.message)
    return _answer(request, ok=_("Task changed."))


@require_POST
@page_requires(reads.EDIT)
def task_done_view(request, task_id):
    """The checkbox of a card or row: ``done`` ticked marks the task done, unticked reopens it."""
    task = _task(request, task_id)
    done = request.POST.get("done") in ("1", "on", "true")
    if not done and task.progress != TaskProgress.DONE:
        return _answer(request)
    try:
        services.task_update(actor=request.user, task=task,
                             data={"progress": TaskProgress.DONE if done else TaskProgress.NOT_STARTED})
    except ShoalError as exc:
        return _answer(request, error=exc.message)
    return _answer(request, ok=_("Task done.") if done else _("Task reopened."))


INLINE_FIELDS = ("priority", "progress", "due_at", "owner_id")


@require_POST
@page_requires(reads.EDIT)
def task_field_view(request, task_id):
    """An inline edit of the list: one of priority, progress, deadline (``due_at``, local) or owner."""
    task = _task(request, task_id)
    field = next((f for f in INLINE_FIELDS if f in request.POST), None)
    if field is None:
        return _answer(request, error=_("Nothing to change."))
    try:
        value = _field_value(field, request.POST.get(field))
        services.task_update(actor=request.user, task=task, data={field: value})
    except ShoalError as exc:
        return _answer(request, error=exc.message)
    return _answer(request, ok=_("Task changed."))


def _local_datetime(value: str | None):
    field = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    try:
        return field.clean(value or None)
    except forms.ValidationError:
        raise ShoalError("invalid", _("Not a date and time"), {"field": "due_at"})


def _field_value(field: str, raw):
    if field == "due_at":
        return _local_datetime(raw)
    if field == "owner_id":
        return _int(raw) or -1
    return raw or ""


@require_POST
@page_requires(reads.EDIT)
def task_batch_view(request):
    """The list's batch bar: the ticked tasks (``ids``), one field (``field``) and its value."""
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
    field = request.POST.get("field") or ""
    if not ids:
        return _answer(request, error=_("Choose at least one task."))
    try:
        if field == "done":
            changes = {"progress": TaskProgress.DONE}
        elif field in INLINE_FIELDS:
            changes = {field: _field_value(field, request.POST.get(field))}
        else:
            raise ShoalError("invalid", _("Choose what to change."))
        changed = services.task_batch_update(actor=request.user, ids=ids, changes=changes)
    except ShoalError as exc:
        return _answer(request, error=exc.message)
    return _answer(request, ok=ngettext("%(n)d task changed.", "%(n)d tasks changed.", changed) % {"n": changed})


@require_POST
@page_requires(reads.DELETE)
def task_delete_view(request, task_id):
    task = _task(request, task_id)
    try:
        services.task_delete(actor=request.user, task=task)
    except ShoalError as exc:
        return _answer(request, error=exc.message)
    return _answer(request, ok=_("Task deleted."))


# -- the form ---------------------------------------------------------------------------------------------
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TaskForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Task name"), max_length=services.NAME_MAX)
    type = forms.ChoiceField(label=gettext_lazy("Task type"), choices=TaskType.choices)
    customer_id = forms.IntegerField(label=gettext_lazy("Linked customer"), required=False, min_value=1)
    due_at = forms.DateTimeField(label=gettext_lazy("Deadline"), required=False, widget=DATETIME_INPUT,
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), initial="medium",
                                 choices=[(PRIORITY_CODES[TaskPriority(v)], label) for v, label in TaskPriority.choices])
    progress = forms.ChoiceField(label=gettext_lazy("Progress"), choices=TaskProgress.choices)
    owner_id = forms.IntegerField(label=gettext_lazy("Owner"), min_value=1)
    remind_at = forms.DateTimeField(label=gettext_lazy("Reminder time"), required=False, widget=DATETIME_INPUT,
                                    input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    details = forms.CharField(label=gettext_lazy("Task details"), required=False, max_length=services.DETAILS_MAX,
                              widget=forms.Textarea(attrs={"rows": 6}))


def _initial(task: Task | None, actor) -> dict:
    if task is None:
        return {"type": TaskType.NORMAL, "priority": "medium", "progress": TaskProgress.NOT_STARTED,
                "owner_id": actor.pk}
    return {"name": task.name, "type": task.type, "customer_id": task.customer_id, "due_at": task.due_at,
            "priority": task.priority_code, "progress": task.progress, "owner_id": task.owner_id,
            "remind_at": task.remind_at, "details": task.details}


@page_requires(reads.VIEW)
def task_form(request, task_id=None):
    """新增任务 / 编辑任务. Saving needs ``sales.tasks.create`` (new) or ``sales.tasks.edit``."""
    actor = request.user
    task = _task(request, task_id) if task_id is not None else None
    code = reads.CREATE if task is None else reads.EDIT
    if task is None or request.method == "POST":
        require_page(request, code)
    may_save = user_can(actor, code)
    if request.method == "POST":
        form = TaskForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if task is None:
                    saved = services.task_create(actor=actor, **data)
                else:
                    saved = services.task_update(actor=actor, task=task, data=data)
            except ShoalError as exc:
                field = exc.detail.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Task saved."))
                if saved.owner_id == actor.pk:
                    return HttpResponseRedirect(reverse("admin:sales_tasks"))
                return HttpResponseRedirect(reverse("admin:sales_tasks") + "?view=created")
    else:
        form = TaskForm(initial=_initial(task, actor))
    owners = list(reads.assignable_users(actor=actor))
    current_owner = task.owner if task is not None else actor
    if all(u.pk != current_owner.pk for u in owners):
        owners.insert(0, current_owner)
    customer_id = _int(form["customer_id"].value())
    customer = reads.shown_customers(actor=actor, customer_ids=[customer_id]).get(customer_id) if customer_id else None
    return page(request, "sales/tasks/form.html", {
        "title": _("New task") if task is None else _("Edit task"), "form": form, "task": task, "owners": owners,
        "customer": customer, "customer_id": customer_id, "may_save": may_save,
        "may_delete": task is not None and user_can(actor, reads.DELETE),
    })


@page_requires(reads.VIEW)
def customer_choices(request):
    """The customers (in the user's scope, masked) whose id, name, mobile or email matches ``q``: the options of
    the form's customer list (htmx)."""
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    rows = []
    if q:
        found = list(customer_queryset(actor=request.user).filter(customer_search_q(q)).order_by("-id")[:20])
        rows = [{"id": c.pk, "name": s.get("name") or "", "mobile": s.get("mobile") or ""}
                for c, s in zip(found, mask_customer_rows(found, viewer=request.user, context="list"), strict=True)]
    return render(request, "sales/tasks/_customer_options.html", {"rows": rows, "q": q})
