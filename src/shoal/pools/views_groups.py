"""The group pages: 客户分组管理 (list; a group in three steps: the group and its people → assignment rules
and request-task settings → recycle rules) and 客户分组规则. The rule editors are the tag rule editor's
(condition rows or custom SQL, include/exclude tags). They parse, call the services, render; a service's
refusal is a form error or a message, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shoal.core.auth import page_requires, require_page, user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.views import page
from shoal.segments.views import condition_labels
from shoal.tags.models import ObjectType, Tag, TagKind
from shoal.tags.views import _rule_data as editor_rule_data
from shoal.tags.views import _rule_summary as editor_rule_summary

from . import selectors as reads
from .forms_groups import AssignmentRuleForm, GroupForm, GroupRuleForm, RecycleRuleForm, RequestSettingsForm
from .models import AssignmentRule, GroupRule, RecycleKind, RecycleRule, RecycleTarget
from .services import groups as group_services
from .services import rules as rule_services

VIEW, CREATE, EDIT, DELETE = group_services.VIEW, group_services.CREATE, group_services.EDIT, group_services.DELETE
RULES = "pools.group_rules"


def _group(request, group_id):
    try:
        return group_services.group_get(actor=request.user, pk=group_id)
    except NotFound:
        raise Http404(_("Group not found"))


def _found(get, **kwargs):
    """A rule by its service getter, or the 404 page."""
    try:
        return get(actor=kwargs.pop("actor"), **kwargs)
    except NotFound:
        raise Http404(_("Rule not found"))


def _tag_choices() -> list[Tag]:
    return list(Tag.objects.filter(category__object_type=ObjectType.CUSTOMER).exclude(kind=TagKind.PERSONAL)
                .select_related("category").order_by("category__order", "category__name", "name"))


def _steps(group, current: int) -> list[dict]:
    names = [(1, _("Group and people"), "admin:pool_group_edit"),
             (2, _("Assignment rules and requests"), "admin:pool_group_assignment"),
             (3, _("Recycle rules"), "admin:pool_group_recycle")]
    return [{"number": n, "label": label, "current": n == current,
             "url": reverse(url, args=[group.pk]) if group is not None else ""} for n, label, url in names]


# -- the list -------------------------------------------------------------------------------------------
@page_requires(VIEW)
def group_list(request):
    groups = group_services.with_counts(group_services.group_queryset(actor=request.user))
    return page(request, "pools/groups/list.html", {
        "title": _("Customer group management"), "groups": groups,
        "can_create": user_can(request.user, CREATE), "can_edit": user_can(request.user, EDIT),
        "can_delete": user_can(request.user, DELETE), "can_rules": user_can(request.user, f"{RULES}.view"),
    })


@require_POST
@page_requires(DELETE)
def group_delete(request, group_id):
    group = _group(request, group_id)
    try:
        left = group_services.group_delete(actor=request.user, group=group)
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Group %(name)s deleted; %(count)s customers left it.")
                         % {"name": group.name, "count": left})
    return redirect("admin:pool_groups")


# -- step 1: the group and its people ---------------------------------------------------------------------
def group_step1(request, group_id=None):
    group = None
    if group_id is None:
        require_page(request, CREATE)
        initial = {"enabled": True, "public_sea_visible": True}
    else:
        require_page(request, VIEW)
        group = _group(request, group_id)
        if request.method == "POST":
            require_page(request, EDIT)
        initial = {"name": group.name, "admins": [u.pk for u in group.admins.all()],
                   "salespeople": [u.pk for u in group.salespeople.all()], "capacity": group.capacity,
                   "daily_claim_limit": group.daily_claim_limit, "public_sea_visible": group.public_sea_visible,
                   "description": group.description, "enabled": group.enabled}
    form = GroupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.data_for_service()
        try:
            if group is None:
                group = group_services.group_create(actor=request.user, data=data)
                messages.success(request, _("Group %(name)s created. Next: its assignment rules.") % {"name": group.name})
            else:
                group_services.group_update(actor=request.user, group=group, data=data)
                messages.success(request, _("Group %(name)s saved.") % {"name": group.name})
        except ShoalError as exc:
            _field_error(form, exc, {"admin_ids": "admins", "salesperson_ids": "salespeople"})
        else:
            return redirect("admin:pool_group_assignment", group.pk)
    can_write = user_can(request.user, CREATE if group is None else EDIT)
    return page(request, "pools/groups/step1.html", {
        "title": _("Add customer group") if group is None else _("Customer group %(name)s") % {"name": group.name},
        "group": group, "form": form, "steps": _steps(group, 1), "can_write": can_write,
        "can_delete": group is not None and user_can(request.user, DELETE),
    })


def _field_error(form, exc: ShoalError, renames: dict) -> None:
    field = (exc.detail or {}).get("field") if isinstance(exc.detail, dict) else None
    field = renames.get(field, field)
    form.add_error(field if field in form.fields else None, exc.message)


# -- the rule editors ---------------------------------------------------------------------------------------
def _rule_initial(rule, extra: dict, *, next_order: int = 1) -> dict:
    """``next_order``: a new rule's order (after the last rule of its scope, see ``selectors.next_rule_order``)."""
    import json

    if rule is None:
        return {"mode": "rows", "rows": "", "sql": "", "include_tags": [], "exclude_tags": [], "order": next_order,
                "enabled": True, **extra}
    return {"mode": "sql" if rule.sql else "rows", "rows": json.dumps(rule.rows or [], ensure_ascii=False),
            "sql": rule.sql, "include_tags": rule.include_tags, "exclude_tags": rule.exclude_tags,
            "name": rule.name, "order": rule.order, "enabled": rule.enabled, **extra}


def _save_rule(request, form, *, rule, create, update) -> bool:
    """Create or update the rule from the form; False (with the error on the form) when refused."""
    if not form.is_valid():
        return False
    try:
        data = {**editor_rule_data(request, form), **form.extra_data()}
        if rule is None:
            create(data)
            messages.success(request, _("Rule added."))
        else:
            update(rule, data)
            messages.success(request, _("Rule saved."))
    except ShoalError as exc:
        _field_error(form, exc, {"salesperson_ids": "salespeople", "source_group_id": "source",
                                 "target_group_id": "target"})
        return False
    return True


def _toggle(request, rule, update) -> None:
    try:
        update(rule, {"enabled": not rule.enabled})
    except ShoalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Rule enabled.") if rule.enabled else _("Rule disabled."))


def _summaries(rules, describe) -> list[dict]:
    names = {t.pk: t.name for t in Tag.objects.filter(kind__in=[TagKind.AUTO, TagKind.MANUAL]).only("pk", "name")}
    words = condition_labels()
    out = []
    for r in rules:
        item = editor_rule_summary(r, names, words)
        item["details"] = describe(r)
        out.append(item)
    return out


def _rule_context(request, *, title, form, rule, rules, columns, list_url, edit_url_name, delete_url_name, url_args,
                  can_write, steps=None, group=None, settings_form=None, intro=""):
    for item in rules:
        item["edit_url"] = reverse(edit_url_name, args=[*url_args, item["rule"].pk])
        item["delete_url"] = reverse(delete_url_name, args=[*url_args, item["rule"].pk])
    return {
        "title": title, "form": form, "rule": rule, "rules": rules, "columns": columns, "list_url": list_url,
        "edit_url_name": edit_url_name, "delete_url_name": delete_url_name, "url_args": url_args,
        "can_write": can_write, "steps": steps, "group": group, "settings_form": settings_form,
        "labels": {**condition_labels(), "tree": rule.query if rule is not None and not rule.rows else None},
        "intro": intro, "can_add": can_write, "can_edit": can_write, "can_delete": can_write,
    }


# -- step 2: assignment rules and request-task settings ------------------------------------------------------
def group_step2(request, group_id, rule_id=None):
    require_page(request, VIEW)
    group = _group(request, group_id)
    rule = _found(rule_services.assignment_rule_get, actor=request.user, group=group, pk=rule_id) if rule_id else None
    if request.method == "POST":
        require_page(request, EDIT)
    settings_form = RequestSettingsForm(
        request.POST if request.POST.get("form") == "settings" else None,
        initial={"request_tasks": group.request_tasks, "request_times_per_day": group.request_times_per_day,
                 "request_size": group.request_size})
    extra = {"salespeople": [u.pk for u in rule.salespeople.all()]} if rule is not None else {}
    next_order = reads.next_rule_order(AssignmentRule, group=group) if rule is None else 1
    form = AssignmentRuleForm(request.POST if request.POST.get("form") == "rule" else None,
                              initial=_rule_initial(rule, extra, next_order=next_order), tag_choices=_tag_choices(),
                              group=group)
    here = reverse("admin:pool_group_assignment", args=[group.pk])
    update = lambda r, d: rule_services.assignment_rule_update(actor=request.user, rule=r, data=d)  # noqa: E731
    if request.method == "POST":
        action = request.POST.get("form")
        if action == "settings" and settings_form.is_valid():
            try:
                group_services.group_update(actor=request.user, group=group, data=settings_form.cleaned_data)
            except ShoalError as exc:
                _field_error(settings_form, exc, {})
            else:
                messages.success(request, _("Request settings saved."))
                return redirect(here)
        elif action == "toggle" and rule is not None:
            _toggle(request, rule, update)
            return redirect(here)
        elif action == "rule" and _save_rule(
                request, form, rule=rule, update=update,
                create=lambda d: rule_services.assignment_rule_create(actor=request.user, group=group, data=d)):
            return redirect(here)
    people = {u.pk: u.name or u.username for u in group.salespeople.all()}

    def describe(r):
        chosen = [people.get(u.pk, u.name or u.username) for u in r.salespeople.all()]
        return ["、".join(chosen) if chosen else _("All salespeople of the group")]

    rules = _summaries(rule_services.assignment_rules(actor=request.user, group=group), describe)
    context = _rule_context(
        request, title=_("Assignment rules of %(name)s") % {"name": group.name}, form=form, rule=rule, rules=rules,
        columns=[_("Salespeople")], list_url=here, edit_url_name="admin:pool_assignment_rule_edit",
        delete_url_name="admin:pool_assignment_rule_delete", url_args=[group.pk],
        can_write=user_can(request.user, EDIT), steps=_steps(group, 2), group=group, settings_form=settings_form,
        intro=_("Rules run in order; each takes the group-public-sea customers it matches that earlier rules did not "
                "take, and shares them out evenly by quality among its salespeople."))
    return page(request, "pools/groups/rules.html", context)


@require_POST
@page_requires(EDIT)
def assignment_rule_delete(request, group_id, rule_id):
    group = _group(request, group_id)
    rule = _found(rule_services.assignment_rule_get, actor=request.user, group=group, pk=rule_id)
    rule_services.assignment_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("admin:pool_group_assignment", group.pk)


# -- step 3: recycle rules -------------------------------------------------------------------------------
def group_step3(request, group_id, rule_id=None):
    require_page(request, VIEW)
    group = _group(request, group_id)
    rule = _found(rule_services.recycle_rule_get, actor=request.user, group=group, pk=rule_id) if rule_id else None
    if request.method == "POST":
        require_page(request, EDIT)
    extra = ({"kind": rule.kind, "days": rule.days, "warn_days": rule.warn_days, "cooldown_days": rule.cooldown_days,
              "exempt_types": ", ".join(rule_services.customer_type_labels().get(t, t) for t in rule.exempt_types),
              "target": rule.target} if rule is not None
             else {"kind": RecycleKind.NO_FOLLOW_UP, "days": 7, "target": RecycleTarget.GROUP_SEA})
    next_order = reads.next_rule_order(RecycleRule, group=group) if rule is None else 1
    form = RecycleRuleForm(request.POST if request.POST.get("form") == "rule" else None,
                           initial=_rule_initial(rule, extra, next_order=next_order), tag_choices=_tag_choices())
    here = reverse("admin:pool_group_recycle", args=[group.pk])
    update = lambda r, d: rule_services.recycle_rule_update(actor=request.user, rule=r, data=d)  # noqa: E731
    if request.method == "POST":
        action = request.POST.get("form")
        if action == "toggle" and rule is not None:
            _toggle(request, rule, update)
            return redirect(here)
        if action == "rule" and _save_rule(
                request, form, rule=rule, update=update,
                create=lambda d: rule_services.recycle_rule_create(actor=request.user, group=group, data=d)):
            return redirect(here)

    type_labels = rule_services.customer_type_labels()

    def describe(r):
        text = _("%(kind)s within %(days)s days → %(target)s") % {
            "kind": RecycleKind(r.kind).label, "days": r.days, "target": RecycleTarget(r.target).label}
        parts = [text]
        if r.warn_days:
            parts.append(_("warning %(days)s days before") % {"days": r.warn_days})
        if r.cooldown_days:
            parts.append(_("cooldown %(days)s days") % {"days": r.cooldown_days})
        if r.exempt_types:
            parts.append(_("exempt: %(types)s") % {"types": "、".join(type_labels.get(t, t) for t in r.exempt_types)})
        return ["；".join(parts)]

    rules = _summaries(rule_services.recycle_rules(actor=request.user, group=group), describe)
    context = _rule_context(
        request, title=_("Recycle rules of %(name)s") % {"name": group.name}, form=form, rule=rule, rules=rules,
        columns=[_("Recycling")], list_url=here, edit_url_name="admin:pool_recycle_rule_edit",
        delete_url_name="admin:pool_recycle_rule_delete", url_args=[group.pk],
        can_write=user_can(request.user, EDIT), steps=_steps(group, 3), group=group,
        intro=_("A salesperson's customer with no (effective) follow-up within the days after its assignment goes "
                "back to the public sea; the conditions, if any, narrow the customers a rule recycles."))
    return page(request, "pools/groups/rules.html", context)


@require_POST
@page_requires(EDIT)
def recycle_rule_delete(request, group_id, rule_id):
    group = _group(request, group_id)
    rule = _found(rule_services.recycle_rule_get, actor=request.user, group=group, pk=rule_id)
    rule_services.recycle_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("admin:pool_group_recycle", group.pk)


# -- group rules ------------------------------------------------------------------------------------------
@page_requires(f"{RULES}.view")
def group_rules_page(request, rule_id=None):
    rule = _found(rule_services.group_rule_get, actor=request.user, pk=rule_id) if rule_id else None
    can_write = user_can(request.user, f"{RULES}.edit" if rule is not None else f"{RULES}.create")
    if request.method == "POST":
        require_page(request, f"{RULES}.edit" if rule is not None else f"{RULES}.create")
    # a new rule: from the company public sea to the first group (the same place twice is refused)
    extra = ({"source": rule.source_group_id, "target": rule.target_group_id, "break_relations": rule.break_relations}
             if rule is not None else {"source": None, "target": reads.first_group_id()})
    next_order = reads.next_rule_order(GroupRule) if rule is None else 1
    form = GroupRuleForm(request.POST if request.POST.get("form") == "rule" else None,
                         initial=_rule_initial(rule, extra, next_order=next_order), tag_choices=_tag_choices())
    here = reverse("admin:pool_group_rules")
    update = lambda r, d: rule_services.group_rule_update(actor=request.user, rule=r, data=d)  # noqa: E731
    if request.method == "POST":
        action = request.POST.get("form")
        if action == "toggle" and rule is not None:
            _toggle(request, rule, update)
            return redirect(here)
        if action == "rule" and _save_rule(
                request, form, rule=rule, update=update,
                create=lambda d: rule_services.group_rule_create(actor=request.user, data=d)):
            return redirect(here)
    company = _("Company public sea")

    def describe(r):
        return [f"{r.source_group.name if r.source_group_id else company} → "
                f"{r.target_group.name if r.target_group_id else company}",
                _("Yes") if r.break_relations else _("No")]

    rules = _summaries(rule_services.group_rules(actor=request.user), describe)
    context = _rule_context(
        request, title=_("Group rules"), form=form, rule=rule, rules=rules,
        columns=[_("Source → target"), _("Break existing relations")], list_url=here,
        edit_url_name="admin:pool_group_rule_edit", delete_url_name="admin:pool_group_rule_delete", url_args=[],
        can_write=can_write or user_can(request.user, f"{RULES}.edit"),
        intro=_("Rules run in order: each moves (or adds) the customers of its source that match it to its target."))
    context["can_delete"] = user_can(request.user, f"{RULES}.delete")
    context["can_add"] = user_can(request.user, f"{RULES}.create")
    context["can_edit"] = user_can(request.user, f"{RULES}.edit")
    return page(request, "pools/groups/rules.html", context)


@require_POST
@page_requires(f"{RULES}.delete")
def group_rule_delete(request, rule_id):
    rule = _found(rule_services.group_rule_get, actor=request.user, pk=rule_id)
    rule_services.group_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("admin:pool_group_rules")
