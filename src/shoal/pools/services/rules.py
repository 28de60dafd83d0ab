"""Pool rules (group rules, a group's assignment and recycle rules): validation, writes, and the customers
a rule takes (:func:`pool_rule_q`)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update
from shoal.customers.masking import masked_field_keys
from shoal.customers.models import CustomerGroup
from shoal.segments.catalog import field_catalog
from shoal.segments.selectors import validate
from shoal.tags import rules as tag_rules

from ..models import AssignmentRule, GroupRule, RecycleKind, RecycleRule, RecycleTarget
from . import groups
from .groups import clean_bool

MAX_INT = 2**31 - 1
RULES_VIEW, RULES_CREATE, RULES_EDIT, RULES_DELETE = (f"pools.group_rules.{a}"
                                                      for a in ("view", "create", "edit", "delete"))


def pool_rule_q(rule, catalog=None) -> Q:
    """The customers a pool rule matches (condition tree and/or custom SQL, include/exclude tags), through the
    query engine as tag rules are. System level: no scope, no masking. The caller adds where the customer is
    (source group, group public sea, not in the recycle bin...)."""
    return tag_rules.rule_q(rule, catalog if catalog is not None else field_catalog())


# -- validation ------------------------------------------------------------------------------------------
CONDITION_KEYS = ("query", "sql", "include_tags", "exclude_tags")


def _name(data: dict) -> str:
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 100:
        raise ShoalError("invalid", _("A rule needs a name of at most 100 characters"), {"field": "name"})
    return name


def _int(data: dict, key: str, label: str, *, minimum: int | None = None, optional: bool = False):
    value = data.get(key)
    if optional and (value is None or value == ""):
        return None
    low = minimum if minimum is not None else -MAX_INT - 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_INT:
        if minimum is not None:
            message = _("%(label)s must be a whole number of at least %(min)s") % {"label": label, "min": minimum}
        else:
            message = _("%(label)s must be a whole number") % {"label": label}
        raise ShoalError("invalid", message, {"field": key})
    return value


def _conditions(data: dict, instance, *, actor, optional: bool) -> dict:
    """The rule's customers: a condition tree or custom SQL (not both), include and exclude tags; checked as
    tag rules are (:func:`shoal.tags.rules.clean_conditions`), and within the writer's masking limits.
    ``optional`` (assignment and recycle rules): no condition at all means every customer of the rule's group."""
    merged = {k: getattr(instance, k) for k in CONDITION_KEYS} if instance is not None else {}
    given = {k: data[k] for k in CONDITION_KEYS if k in data}
    if given.get("query") is not None and (given.get("sql") or "").strip():
        raise ShoalError("invalid_rule", _("Give a condition tree (query) or custom SQL (sql), not both"),
                         {"field": "sql"})
    if instance is not None:  # one replaces the other
        if given.get("query") is not None:
            merged["sql"] = ""
        if isinstance(given.get("sql"), str) and given["sql"].strip():
            merged["query"] = None
    merged.update(given)
    if merged.get("sql") is not None and not isinstance(merged.get("sql"), str):
        raise ShoalError("invalid_rule", _("sql must be text"), {"field": "sql"})
    cleaned = tag_rules.clean_conditions(query=merged.get("query"), sql=merged.get("sql"),
                                         include_tags=merged.get("include_tags"),
                                         exclude_tags=merged.get("exclude_tags"), optional=optional)
    if cleaned["query"] is not None and cleaned["sql"]:
        raise ShoalError("invalid_rule", _("Give a condition tree (query) or custom SQL (sql), not both"),
                         {"field": "sql"})
    masked = masked_field_keys(viewer=actor)
    if masked and (cleaned["query"] is not None or cleaned["sql"]):
        validate(query=cleaned["query"], sql=cleaned["sql"] or None, masked=masked)
    if "rows" in data:
        cleaned["rows"] = data["rows"] if isinstance(data["rows"], list) else None
    elif "query" in given or "sql" in given:
        cleaned["rows"] = None  # the rows on the page no longer say what the rule does
    return cleaned


def _common(data: dict, instance, *, actor, optional: bool = True) -> dict:
    """Name, order, enabled and conditions. ``optional``: a rule without conditions takes every customer where
    it looks (assignment and recycle rules: the group's customers); group rules must say which."""
    creating = instance is None
    out: dict = {}
    if "name" in data or creating:
        out["name"] = _name(data)
    if "order" in data:
        out["order"] = _int(data, "order", _("The order"))
    if "enabled" in data:
        out["enabled"] = clean_bool(data, "enabled")
    if creating or any(k in data for k in CONDITION_KEYS + ("rows",)):
        out.update(_conditions(data, instance, actor=actor, optional=optional))
    return out


def _group_salespeople(group, value) -> list[int]:
    ids = groups.clean_user_ids(value, "salesperson_ids")
    members = set(group.salespeople.filter(pk__in=ids).values_list("pk", flat=True))
    strangers = [i for i in ids if i not in members]
    if strangers:
        raise ShoalError("not_group_salesperson",
                         _("These users are not salespeople of the group %(group)s: %(ids)s")
                         % {"group": group.name, "ids": ", ".join(map(str, strangers))},
                         {"field": "salesperson_ids", "ids": strangers})
    return ids


def customer_type_labels() -> dict[str, str]:
    """Customer type code -> its label (the customer_type enum), for recycle rules' exempt types."""
    from shoal.customers.models import EnumItem

    return dict(EnumItem.objects.filter(group__code="customer_type").order_by("order", "id")
                .values_list("code", "label"))


def _exempt_codes(types: list[str]) -> list[str]:
    """Exempt types as customer type codes: a type's label (e.g. 成交客户, as a user types it) becomes its
    code (deal), which is what the recycling compares; other text stays as given."""
    by_label = {label.strip().casefold(): code for code, label in customer_type_labels().items()}
    return list(dict.fromkeys(by_label.get(t.strip().casefold(), t.strip()) for t in types))


def _recycle_values(data: dict, instance) -> dict:
    creating = instance is None
    out: dict = {}
    if "kind" in data or creating:
        kind = data.get("kind", RecycleKind.NO_FOLLOW_UP)
        if kind not in RecycleKind.values:
            raise ShoalError("invalid", _("kind must be one of: %(values)s") % {"values": ", ".join(RecycleKind.values)},
                             {"field": "kind"})
        out["kind"] = kind
    if "target" in data or creating:
        target = data.get("target", RecycleTarget.GROUP_SEA)
        if target not in RecycleTarget.values:
            raise ShoalError("invalid", _("target must be one of: %(values)s")
                             % {"values": ", ".join(RecycleTarget.values)}, {"field": "target"})
        out["target"] = target
    if "days" in data or creating:
        out["days"] = _int({"days": data.get("days", 7)}, "days", _("Days"), minimum=1)
    if "warn_days" in data:
        out["warn_days"] = _int(data, "warn_days", _("Warning days"), minimum=1, optional=True)
    if "cooldown_days" in data:
        out["cooldown_days"] = _int(data, "cooldown_days", _("Cooldown days"), minimum=1, optional=True)
    days = out.get("days", instance.days if instance is not None else 7)
    warn = out["warn_days"] if "warn_days" in out else (instance.warn_days if instance is not None else None)
    if warn is not None and warn >= days:
        raise ShoalError("invalid", _("The warning must come before the recycling: warning days (%(warn)s) must be "
                                      "fewer than days (%(days)s)") % {"warn": warn, "days": days},
                         {"field": "warn_days"})
    if "exempt_types" in data:
        types = data.get("exempt_types") or []
        if (not isinstance(types, list) or len(types) > 100
                or any(not isinstance(t, str) or not t.strip() or len(t) > 64 for t in types)):
            raise ShoalError("invalid", _("exempt_types must be a list of customer types (text)"),
                             {"field": "exempt_types"})
        out["exempt_types"] = _exempt_codes(types)
    return out


def _group_rule_ends(data: dict, instance) -> dict:
    out: dict = {}
    for key in ("source_group_id", "target_group_id"):
        if key in data:
            value = data.get(key)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or not CustomerGroup.objects.filter(
                        pk=value if 0 < value < 2**63 else 0).exists():
                    raise ShoalError("unknown_group", _("Unknown group in %(field)s: %(id)s")
                                     % {"field": key, "id": value}, {"field": key, "ids": [value]})
            out[key] = value
    source = out["source_group_id"] if "source_group_id" in out else getattr(instance, "source_group_id", None)
    target = out["target_group_id"] if "target_group_id" in out else getattr(instance, "target_group_id", None)
    if source == target:
        raise ShoalError("invalid", _("The source and the target of a group rule must differ"),
                         {"field": "target_group_id"})
    if "break_relations" in data:
        out["break_relations"] = clean_bool(data, "break_relations")
    return out


# -- reads -----------------------------------------------------------------------------------------------
def assignment_rules(*, actor, group):
    groups.check_permission(actor, groups.VIEW)
    return group.assignment_rules.prefetch_related("salespeople").order_by("order", "id")


def recycle_rules(*, actor, group):
    groups.check_permission(actor, groups.VIEW)
    return group.recycle_rules.order_by("order", "id")


def group_rules(*, actor):
    groups.check_permission(actor, RULES_VIEW)
    return GroupRule.objects.select_related("source_group", "target_group").order_by("order", "id")


def assignment_rule_get(*, actor, group, pk) -> AssignmentRule:
    rule = assignment_rules(actor=actor, group=group).filter(pk=pk).first()
    if rule is None:
        raise NotFound(_("Assignment rule not found"))
    return rule


def recycle_rule_get(*, actor, group, pk) -> RecycleRule:
    rule = recycle_rules(actor=actor, group=group).filter(pk=pk).first()
    if rule is None:
        raise NotFound(_("Recycle rule not found"))
    return rule


def group_rule_get(*, actor, pk) -> GroupRule:
    rule = group_rules(actor=actor).filter(pk=pk).first()
    if rule is None:
        raise NotFound(_("Group rule not found"))
    return rule


# -- writes: assignment rules ----------------------------------------------------------------------------
def _log(actor, action: str, rule, **detail) -> None:
    log_operation(actor=actor, action=action, obj=rule, detail=detail)


def assignment_rule_create(*, actor, group, data: dict) -> AssignmentRule:
    groups.check_permission(actor, groups.EDIT)
    values = _common(data, None, actor=actor)
    people = _group_salespeople(group, data.get("salesperson_ids"))
    with transaction.atomic():
        rule = AssignmentRule.objects.create(group=group, created_by_id=groups._user_id(actor), **values)
        rule.salespeople.set(people)
    _log(actor, "assignment_rule.create", rule, group=group.pk)
    return rule


def assignment_rule_update(*, actor, rule: AssignmentRule, data: dict) -> AssignmentRule:
    groups.check_permission(actor, groups.EDIT)
    values = _common(data, rule, actor=actor)
    people = _group_salespeople(rule.group, data.get("salesperson_ids")) if "salesperson_ids" in data else None
    with transaction.atomic():
        model_update(instance=rule, fields=list(values), data=values)
        if people is not None:
            rule.salespeople.set(people)
    _log(actor, "assignment_rule.update", rule, group=rule.group_id)
    return rule


def assignment_rule_delete(*, actor, rule: AssignmentRule) -> None:
    groups.check_permission(actor, groups.EDIT)
    _log(actor, "assignment_rule.delete", rule, group=rule.group_id)
    rule.delete()


# -- writes: recycle rules -------------------------------------------------------------------------------
def recycle_rule_create(*, actor, group, data: dict) -> RecycleRule:
    groups.check_permission(actor, groups.EDIT)
    values = {**_common(data, None, actor=actor), **_recycle_values(data, None)}
    rule = RecycleRule.objects.create(group=group, created_by_id=groups._user_id(actor), **values)
    _log(actor, "recycle_rule.create", rule, group=group.pk)
    return rule


def recycle_rule_update(*, actor, rule: RecycleRule, data: dict) -> RecycleRule:
    groups.check_permission(actor, groups.EDIT)
    values = {**_common(data, rule, actor=actor), **_recycle_values(data, rule)}
    model_update(instance=rule, fields=list(values), data=values)
    _log(actor, "recycle_rule.update", rule, group=rule.group_id)
    return rule


def recycle_rule_delete(*, actor, rule: RecycleRule) -> None:
    groups.check_permission(actor, groups.EDIT)
    _log(actor, "recycle_rule.delete", rule, group=rule.group_id)
    rule.delete()


# -- writes: group rules ---------------------------------------------------------------------------------
def group_rule_create(*, actor, data: dict) -> GroupRule:
    groups.check_permission(actor, RULES_CREATE)
    data = {"source_group_id": None, **data}
    if "target_group_id" not in data:
        data["target_group_id"] = None
    values = {**_common(data, None, actor=actor, optional=False), **_group_rule_ends(data, None)}
    rule = GroupRule.objects.create(created_by_id=groups._user_id(actor), **values)
    _log(actor, "group_rule.create", rule)
    return rule


def group_rule_update(*, actor, rule: GroupRule, data: dict) -> GroupRule:
    groups.check_permission(actor, RULES_EDIT)
    values = {**_common(data, rule, actor=actor, optional=False), **_group_rule_ends(data, rule)}
    model_update(instance=rule, fields=list(values), data=values)
    _log(actor, "group_rule.update", rule)
    return rule


def group_rule_delete(*, actor, rule: GroupRule) -> None:
    groups.check_permission(actor, RULES_DELETE)
    _log(actor, "group_rule.delete", rule)
    rule.delete()
