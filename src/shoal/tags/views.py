"""The tag pages: 标签管理 (category tree, tags, analytics), the forms of categories and tags, the rule editor
of an auto tag (the advanced-query builder's rows, custom SQL, include/exclude tags; preview), "refresh now"
and 标签历史. They parse, call the services and selectors, render; a service's refusal is a form error or a
message, never a 500."""

from __future__ import annotations

import json
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError, error_response
from shoal.core.views import page
from shoal.customers import masking
from shoal.segments.rows import row_field_condition, rows_to_tree
from shoal.segments.selectors import validate
from shoal.segments.views import condition_labels

from . import page_selectors as reads
from . import services
from .forms import CategoryForm, RuleForm, TagForm, add_service_error
from .models import ObjectType, TagCategory, TagHistory, TagKind, TagRule, TagSource
from .selectors import tag_get

PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50


def _can(request, action: str) -> bool:
    return user_can(request.user, f"customers.tags.{action}")


def _tag(request, tag_id) -> object:
    try:
        return tag_get(actor=request.user, pk=tag_id)
    except NotFound:
        raise Http404(_("Tag not found"))


def _category(category_id) -> TagCategory:
    category = TagCategory.objects.filter(pk=category_id).first()
    if category is None:
        raise Http404(_("Category not found"))
    return category


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def manage_url(category: TagCategory | None = None, object_type: str | None = None) -> str:
    url = reverse("admin:tags")
    if category is not None:
        return f"{url}?type={category.object_type}&category={category.pk}"
    return f"{url}?type={object_type}" if object_type else url


def refresh_message(result: dict) -> str:
    return _("Refreshed %(tags)s tags: %(evaluated)s customers evaluated, %(added)s tagged, %(removed)s untagged, "
             "in %(seconds)s s.") % {k: result.get(k, 0) for k in ("tags", "evaluated", "added", "removed", "seconds")}


# -- 标签管理 --------------------------------------------------------------------------------------------------
@page_requires("customers.tags.view")
def manage_page(request):
    user = request.user
    object_type = request.GET.get("type") if request.GET.get("type") in ObjectType.values else ObjectType.CUSTOMER
    nodes = reads.category_nodes(actor=user, object_type=object_type)
    category = None
    if (request.GET.get("category") or "").isdigit():
        category = next((n.category for n in nodes if n.category.pk == int(request.GET["category"])), None)
    subcategories = request.GET.get("sub", "1") != "0"
    keyword = (request.GET.get("q") or "")[:100]
    tags = reads.tag_list(actor=user, object_type=object_type, category=category, subcategories=subcategories,
                          keyword=keyword)
    page_obj = Paginator(tags, PAGE_SIZE).get_page(request.GET.get("page"))
    charts = None
    if object_type == ObjectType.CUSTOMER:
        top = reads.top_tags(actor=user)
        distribution = reads.category_distribution(actor=user)
        charts = {"top": json.dumps(reads.chart_data(top, pgettext("tag list", "Customers"))) if top else "",
                  "distribution": json.dumps(reads.chart_data(distribution, pgettext("tag list", "Customers"))) if distribution else ""}
    context = {
        "title": _("Tag management"),
        "object_types": ObjectType.choices, "object_type": object_type,
        "nodes": nodes, "category": category, "subcategories": subcategories, "keyword": keyword,
        "page_obj": page_obj, "charts": charts,
        "can_create": _can(request, "create"), "can_edit": _can(request, "edit"),
        "can_delete": _can(request, "delete"), "can_run": _can(request, "run"),
        "here": request.get_full_path(), "query": _query_without_page(request),
        "refresh_labels": refresh_labels(),
    }
    return page(request, "tags/manage.html", context)


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def refresh_labels() -> dict:
    return {
        "done": _("Refreshed %(tags)s tags: %(evaluated)s customers evaluated, %(added)s tagged, %(removed)s untagged, "
                  "in %(seconds)s s."),
        "queued": _("Queued: the worker is refreshing the tags."),
        "failed": _("The refresh failed; see the scheduled job's runs."),
    }


# -- categories ---------------------------------------------------------------------------------------------
def _form_page(request, form, *, title: str, back: str, delete_url: str = ""):
    return page(request, "tags/form.html", {"title": title, "form": form, "back": back, "delete_url": delete_url})


@page_requires("customers.tags.create")
def category_add(request):
    object_type = request.GET.get("type") if request.GET.get("type") in ObjectType.values else ObjectType.CUSTOMER
    parent = request.GET.get("parent") if (request.GET.get("parent") or "").isdigit() else None
    form = CategoryForm(request.POST or None, initial={"object_type": object_type, "parent": parent})
    if request.method == "POST" and form.is_valid():
        try:
            category = services.category_create(actor=request.user, data=form.data_for_service())
        except ShoalError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Category %(name)s created.") % {"name": category.name})
            return redirect(manage_url(category))
    return _form_page(request, form, title=_("Add tag category"), back=manage_url(object_type=object_type))


@page_requires("customers.tags.view")
def category_edit(request, category_id):
    category = _category(category_id)
    if request.method == "POST":
        require_page(request, "customers.tags.edit")
    initial = {"name": category.name, "object_type": category.object_type, "parent": category.parent_id,
               "order": category.order}
    form = CategoryForm(request.POST or None, initial=initial, instance=category)
    if request.method == "POST" and form.is_valid():
        try:
            services.category_update(actor=request.user, category=category, data=form.data_for_service())
        except ShoalError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Category %(name)s saved.") % {"name": category.name})
            return redirect(manage_url(category))
    delete_url = reverse("admin:tag_category_delete", args=[category.pk]) if _can(request, "delete") else ""
    return _form_page(request, form, title=_("Edit tag category"), back=manage_url(category), delete_url=delete_url)


@require_POST
@page_requires("customers.tags.delete")
def category_delete(request, category_id):
    category = _category(category_id)
    try:
        services.category_delete(actor=request.user, category=category)
    except ShoalError as exc:
        messages.error(request, exc.message)
        return redirect(manage_url(category))
    messages.success(request, _("Category %(name)s deleted.") % {"name": category.name})
    return redirect(manage_url(object_type=category.object_type))


# -- tags -----------------------------------------------------------------------------------------------------
@page_requires("customers.tags.create")
def tag_add(request):
    category = request.GET.get("category") if (request.GET.get("category") or "").isdigit() else None
    form = TagForm(request.POST or None, initial={"category": category, "kind": TagKind.MANUAL, "enabled": True,
                                                  "score": 0})
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_create(actor=request.user, data=form.data_for_service())
        except ShoalError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Tag %(name)s created.") % {"name": tag.name})
            if tag.kind == TagKind.AUTO:
                return redirect("admin:tag_rules", tag.pk)
            return redirect(manage_url(tag.category))
    back = manage_url(_category(category)) if category and TagCategory.objects.filter(pk=category).exists() else manage_url()
    return _form_page(request, form, title=_("Add tag"), back=back)


@page_requires("customers.tags.view")
def tag_edit(request, tag_id):
    tag = _tag(request, tag_id)
    if request.method == "POST":
        require_page(request, "customers.tags.edit")
    initial = {f: getattr(tag, f) for f in ("name", "kind", "score", "valid_days", "enabled", "refresh_on_change",
                                            "description")}
    initial["category"] = tag.category_id
    form = TagForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.tag_update(actor=request.user, tag=tag, data=form.data_for_service())
        except ShoalError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Tag %(name)s saved.") % {"name": tag.name})
            return redirect(manage_url(tag.category))
    delete_url = reverse("admin:tag_delete", args=[tag.pk]) if _can(request, "delete") else ""
    return _form_page(request, form, title=_("Edit tag %(name)s") % {"name": tag.name}, back=manage_url(tag.category),
                      delete_url=delete_url)


@require_POST
@page_requires("customers.tags.delete")
def tag_delete(request, tag_id):
    tag = _tag(request, tag_id)
    category = tag.category
    try:
        services.tag_delete(actor=request.user, tag=tag)
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Tag %(name)s deleted.") % {"name": tag.name})
    return redirect(manage_url(category))


# -- refresh now --------------------------------------------------------------------------------------------
def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@page_requires("customers.tags.run")
def refresh(request, tag_id=None):
    """Refresh one auto tag or all: the result now (small databases) or the job to follow (``{"job_id"}``)."""
    tag = _tag(request, tag_id) if tag_id is not None else None
    back = _back(request, manage_url(tag.category) if tag else manage_url())
    try:
        result = services.refresh_now(actor=request.user, tag=tag)
    except ShoalError as exc:
        if _wants_json(request):
            return error_response(exc.status, exc.code, exc.message, exc.detail)
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    if "job_id" in result:
        if _wants_json(request):
            return JsonResponse({"job_id": result["job_id"]})
        messages.info(request, refresh_labels()["queued"])
        return HttpResponseRedirect(back)
    if _wants_json(request):
        return JsonResponse({"result": result, "message": refresh_message(result)})
    messages.success(request, refresh_message(result))
    return HttpResponseRedirect(back)


# -- rules --------------------------------------------------------------------------------------------------
def _auto_tag(request, tag_id):
    tag = _tag(request, tag_id)
    if tag.kind != TagKind.AUTO:
        messages.error(request, _("Only auto tags have rules"))
        return tag, redirect(manage_url(tag.category))
    return tag, None


def _rule_data(request, form: RuleForm) -> dict:
    """The rule for the services, checked as the query page checks it for this user (masked fields)."""
    d = form.cleaned_data
    data = {"include_tags": d["include_tags"], "exclude_tags": d["exclude_tags"], "query": None, "sql": "",
            "rows": None}
    if d["mode"] == "sql":
        data["sql"] = d["sql"].strip()
    elif d["rows"]:
        data["query"] = rows_to_tree(d["rows"])
        data["rows"] = d["rows"]
    if data["query"] is not None or data["sql"]:
        validate(query=data["query"], sql=data["sql"] or None, masked=masking.masked_field_keys(viewer=request.user))
    return data


def _value_text(value, labels: dict | None = None) -> str:
    """A condition's value in words; an enum code as its label (女, not female)."""
    if isinstance(value, list):
        return ", ".join(_value_text(v, labels) for v in value)
    if value is None:
        return ""
    return str((labels or {}).get(value, value)) if isinstance(value, str) else str(value)


def _rows_text(rows: list[dict], words: dict) -> str:
    """Condition rows in words: (城市 equals 深圳 AND 资产 greater than 1000)."""
    from shoal.segments.catalog import field_catalog

    catalog, titles = field_catalog(), {}
    parts = []
    for i, row in enumerate(rows):
        spec = catalog.get(row.get("field"))
        row_field = row_field_condition(row, cache=titles)  # "Event count (Purchase)"
        text = " ".join(p for p in (row_field[0] if row_field else (spec.label if spec else str(row.get("field"))),
                                    words["ops"].get(row.get("op"), str(row.get("op"))),
                                    _value_text(row.get("value"),
                                                (words.get("enums") or {}).get(row.get("field")))) if p)
        parts.append(f"{row.get('lparen') or ''}{text}{row.get('rparen') or ''}")
        if i < len(rows) - 1:
            parts.append(pgettext("query logic", "OR") if str(row.get("logic")).lower() == "or"
                         else pgettext("query logic", "AND"))
    return " ".join(parts)


def _tree_text(node, words: dict, catalog: dict, *, top: bool = True) -> str:
    """A condition tree (as the API takes it) in words, as rows are shown: 城市 equals 深圳 AND (…)."""
    if isinstance(node, dict) and ("field" in node or "op" in node):
        spec = catalog.get(node.get("field"))
        return " ".join(p for p in (spec.label if spec else str(node.get("field")),
                                    words["ops"].get(node.get("op"), str(node.get("op"))),
                                    _value_text(node.get("value"), (words.get("enums") or {}).get(node.get("field"))),
                                    _value_text(node.get("value2"))) if p)
    row_field = row_field_condition(node)  # {"event_count": {"event": …, "op": …, "value": …}}
    if row_field is not None:
        title, body = row_field
        return " ".join(p for p in (title, words["ops"].get(body.get("op"), str(body.get("op"))),
                                    _value_text(body.get("value"))) if p)
    if isinstance(node, dict) and len(node) == 1:
        (kind, body), = node.items()
        if kind in ("all", "any") and isinstance(body, list):
            word = pgettext("query logic", "OR") if kind == "any" else pgettext("query logic", "AND")
            text = f" {word} ".join(_tree_text(child, words, catalog, top=False) for child in body)
            return text if top or len(body) < 2 else f"({text})"
        if kind == "not":
            return f"{pgettext('query logic', 'NOT')} ({_tree_text(body, words, catalog)})"
    return json.dumps(node, ensure_ascii=False)  # a registered kind (e.g. a tag node): as given


def _rule_summary(rule: TagRule, names: dict[int, str], words: dict) -> dict:
    if rule.sql:
        text = rule.sql
    elif rule.rows:
        text = _rows_text(rule.rows, words)
    elif rule.query is not None:
        from shoal.segments.catalog import field_catalog

        text = _tree_text(rule.query, words, field_catalog())
    else:
        text = ""
    return {"rule": rule, "kind": _("Custom SQL") if rule.sql else (_("Conditions") if rule.query else _("Tags only")),
            "text": text,
            "include": [names.get(t, f"#{t}") for t in rule.include_tags],
            "exclude": [names.get(t, f"#{t}") for t in rule.exclude_tags]}


@page_requires("customers.tags.view")
def rules_page(request, tag_id, rule_id=None):
    """The rules of an auto tag, and the editor of a new one or of ``rule_id``."""
    tag, refused = _auto_tag(request, tag_id)
    if refused:
        return refused
    rule = None
    if rule_id is not None:
        rule = TagRule.objects.filter(tag=tag, pk=rule_id).first()
        if rule is None:
            raise Http404(_("Rule not found"))
    choices = reads.rule_tag_choices(tag=tag)
    can_write = _can(request, "edit")
    initial = {"mode": "rows", "rows": "", "sql": "", "include_tags": [], "exclude_tags": []}
    if rule is not None:
        initial = {"mode": "sql" if rule.sql else "rows", "rows": json.dumps(rule.rows or [], ensure_ascii=False),
                   "sql": rule.sql, "include_tags": rule.include_tags, "exclude_tags": rule.exclude_tags}
    form = RuleForm(request.POST or None, initial=initial, tag_choices=choices)
    if request.method == "POST":
        require_page(request, "customers.tags.edit")
        if form.is_valid():
            try:
                data = _rule_data(request, form)
                if rule is None:
                    services.rule_create(actor=request.user, tag=tag, data=data)
                    messages.success(request, _("Rule added to %(name)s.") % {"name": tag.name})
                else:
                    services.rule_update(actor=request.user, rule=rule, data=data)
                    messages.success(request, _("Rule saved."))
            except ShoalError as exc:
                add_service_error(form, exc)
            else:
                return redirect("admin:tag_rules", tag.pk)
    names = {t.pk: t.name for t in choices}
    words = condition_labels()
    rules = [_rule_summary(r, names, words) for r in tag.rules.all()]
    tree = rule.query if rule is not None and not rule.rows else None
    context = {
        "title": _("Rules of %(name)s") % {"name": tag.name}, "tag": tag, "rules": rules, "rule": rule,
        "form": form, "can_write": can_write, "can_run": _can(request, "run"),
        "labels": {**words, "tree": tree},
        "refresh_labels": refresh_labels(), "back": manage_url(tag.category),
        "here": request.get_full_path(),
    }
    return page(request, "tags/rules.html", context)


@require_POST
@page_requires("customers.tags.edit")
def rule_delete(request, tag_id, rule_id):
    tag, refused = _auto_tag(request, tag_id)
    if refused:
        return refused
    rule = TagRule.objects.filter(tag=tag, pk=rule_id).first()
    if rule is None:
        raise Http404(_("Rule not found"))
    services.rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("admin:tag_rules", tag.pk)


@require_POST
@page_requires("customers.tags.view")
def rule_preview(request, tag_id):
    """The rule being edited (JSON: rows or sql, include_tags, exclude_tags): count and a masked sample of the
    customers of the user's data scope it matches. Showing customers needs their view permission too (as the
    API's preview)."""
    require_page(request, "customers.customers.view")
    tag = _tag(request, tag_id)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error_response(400, "invalid", _("Send the rule as a JSON object"))
    choices = reads.rule_tag_choices(tag=tag)
    form = RuleForm({"mode": body.get("mode") or "rows", "rows": json.dumps(body.get("rows") or []),
                     "sql": body.get("sql") or "", "include_tags": body.get("include_tags") or [],
                     "exclude_tags": body.get("exclude_tags") or []}, tag_choices=choices)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return error_response(400, "invalid", first, {"fields": list(form.errors)})
    try:
        data = _rule_data(request, form)
        if data["query"] is None and not data["sql"] and not data["include_tags"]:
            raise ShoalError("invalid_rule", _("A rule needs conditions, custom SQL or include tags"))
        result = reads.rule_preview(actor=request.user, query=data["query"], sql=data["sql"],
                                    include_tags=data["include_tags"], exclude_tags=data["exclude_tags"])
    except ShoalError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.detail)
    return JsonResponse(result)


# -- 标签历史 --------------------------------------------------------------------------------------------------
def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@page_requires("customers.tags.view")
def history_page(request):
    user = request.user
    get = request.GET
    tag_id = int(get["tag"]) if (get.get("tag") or "").isdigit() and len(get["tag"]) <= 18 else None
    where = reads.HistoryFilter(
        tag_id=tag_id, customer=(get.get("customer") or "")[:100],
        source=get.get("source") if get.get("source") in TagSource.values else "",
        action=get.get("action") if get.get("action") in (TagHistory.ADD, TagHistory.REMOVE) else "",
        start=_date(get.get("start")), end=_date(get.get("end")))
    bad_dates = [k for k in ("start", "end") if get.get(k) and _date(get.get(k)) is None]
    if bad_dates:
        messages.error(request, _("Give dates as YYYY-MM-DD; the wrong one was left out."))
    page_obj = Paginator(reads.history_search(actor=user, where=where), HISTORY_PAGE_SIZE).get_page(get.get("page"))
    rows = reads.history_rows(page_obj.object_list, actor=user)
    for row in rows:
        entry = row["entry"]
        if entry.source == TagSource.RULE and entry.rule_id:
            row["by"] = _("Rule #%(id)s") % {"id": entry.rule_id}
        elif entry.source in (TagSource.RULE, TagSource.EXPIRY):
            row["by"] = _("System")
        else:
            row["by"] = entry.actor_name or _("System")
    context = {
        "title": _("Tag history"), "rows": rows, "page_obj": page_obj, "where": where,
        "tags": reads.tag_list(actor=user, object_type=ObjectType.CUSTOMER),
        "sources": TagSource.choices, "actions": TagHistory.ACTIONS,
        "start": get.get("start", ""), "end": get.get("end", ""), "query": _query_without_page(request),
    }
    return page(request, "tags/history.html", context)
