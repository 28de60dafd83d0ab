"""Group endpoints: customer groups, their assignment and recycle rules, and group rules.

Groups and their assignment/recycle rules: ``pools.groups.view`` to read; ``pools.groups.create|edit|delete``
to write a group; a group's rules are part of editing it (``pools.groups.edit``). Group rules:
``pools.group_rules.view|create|edit|delete``. The services check the permissions (403)."""

from datetime import datetime
from typing import Any, Literal

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from shoal.core.schemas import DbId, DbInt
from shoal.segments.rows import rows_to_tree

from .services import groups as group_services
from .services import rules as rule_services

router = Router(tags=["groups"])

PositiveInt = Field(None, ge=1, le=2**31 - 1)
RecycleKindName = Literal["no_follow_up", "no_effective_follow_up"]
RecycleTargetName = Literal["group_sea", "company_sea"]


# -- schemas ---------------------------------------------------------------------------------------------
class GroupIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    admin_ids: list[DbId] = Field(default_factory=list, max_length=10_000)
    salesperson_ids: list[DbId] = Field(default_factory=list, max_length=10_000)
    capacity: int | None = Field(None, ge=1, le=2**31 - 1, description="customers one salesperson may hold; null: no limit")
    daily_claim_limit: int | None = Field(None, ge=1, le=2**31 - 1,
                                          description="customers one salesperson may claim a day; null: no limit")
    description: str = Field("", max_length=255)
    public_sea_visible: bool = True
    request_tasks: bool = False
    request_times_per_day: int = Field(1, ge=1, le=2**31 - 1)
    request_size: int = Field(10, ge=1, le=2**31 - 1)
    enabled: bool = True


class GroupPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    admin_ids: list[DbId] | None = Field(None, max_length=10_000)
    salesperson_ids: list[DbId] | None = Field(None, max_length=10_000)
    capacity: int | None = Field(None, ge=1, le=2**31 - 1)
    daily_claim_limit: int | None = Field(None, ge=1, le=2**31 - 1)
    description: str | None = Field(None, max_length=255)
    public_sea_visible: bool | None = None
    request_tasks: bool | None = None
    request_times_per_day: int | None = Field(None, ge=1, le=2**31 - 1)
    request_size: int | None = Field(None, ge=1, le=2**31 - 1)
    enabled: bool | None = None


class UserRef(Schema):
    id: int
    name: str


class GroupOut(Schema):
    id: int
    name: str
    admin_ids: list[int]
    salesperson_ids: list[int]
    admins: list[UserRef]
    salespeople: list[UserRef]
    capacity: int | None
    daily_claim_limit: int | None
    description: str
    public_sea_visible: bool
    request_tasks: bool
    request_times_per_day: int
    request_size: int
    enabled: bool
    sea_count: int = Field(description="customers in the group public sea")
    assigned_count: int = Field(description="customers assigned to the group's salespeople")
    created_at: datetime


class RuleFields(Schema):
    """What every pool rule has. ``query`` (a condition tree) or ``sql`` (custom SQL), or ``rows`` (the
    page's condition rows; the query is made from them), plus include-tags (has any of) and exclude-tags
    (has none of). At least one of query, sql or include_tags."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    order: DbInt = 1
    enabled: bool = True
    query: dict[str, Any] | None = None
    sql: str | None = Field(None, max_length=4000)
    rows: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=200)
    include_tags: list[DbId] = Field(default_factory=list, max_length=1000)
    exclude_tags: list[DbId] = Field(default_factory=list, max_length=1000)


class RulePatchFields(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    order: DbInt | None = None
    enabled: bool | None = None
    query: dict[str, Any] | None = None
    sql: str | None = Field(None, max_length=4000)
    rows: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=200)
    include_tags: list[DbId] | None = Field(None, max_length=1000)
    exclude_tags: list[DbId] | None = Field(None, max_length=1000)


class AssignmentRuleIn(RuleFields):
    salesperson_ids: list[DbId] | None = Field(default_factory=list, max_length=10_000,
                                               description="salespeople of the group; empty or null: all of them")


class AssignmentRulePatch(RulePatchFields):
    salesperson_ids: list[DbId] | None = Field(None, max_length=10_000)


class RecycleRuleIn(RuleFields):
    kind: RecycleKindName = "no_follow_up"
    days: int = Field(7, ge=1, le=2**31 - 1)
    warn_days: int | None = Field(None, ge=1, le=2**31 - 1, description="warn the salesperson this many days before")
    cooldown_days: int | None = Field(None, ge=1, le=2**31 - 1,
                                      description="the previous owner cannot have the customer again for these days")
    exempt_types: list[str] = Field(default_factory=list, max_length=100)
    target: RecycleTargetName = "group_sea"


class RecycleRulePatch(RulePatchFields):
    kind: RecycleKindName | None = None
    days: int | None = Field(None, ge=1, le=2**31 - 1)
    warn_days: int | None = Field(None, ge=1, le=2**31 - 1)
    cooldown_days: int | None = Field(None, ge=1, le=2**31 - 1)
    exempt_types: list[str] | None = Field(None, max_length=100)
    target: RecycleTargetName | None = None


class GroupRuleIn(RuleFields):
    source_group_id: DbId | None = Field(None, description="null: the company public sea")
    target_group_id: DbId | None = Field(None, description="null: the company public sea")
    break_relations: bool = False


class GroupRulePatch(RulePatchFields):
    source_group_id: DbId | None = None
    target_group_id: DbId | None = None
    break_relations: bool | None = None


class RuleOutFields(Schema):
    id: int
    name: str
    order: int
    enabled: bool
    query: dict[str, Any] | None
    sql: str
    rows: list[dict[str, Any]] | None
    include_tags: list[int]
    exclude_tags: list[int]
    created_at: datetime
    updated_at: datetime


class AssignmentRuleOut(RuleOutFields):
    group_id: int
    salesperson_ids: list[int]


class RecycleRuleOut(RuleOutFields):
    group_id: int
    kind: str
    days: int
    warn_days: int | None
    cooldown_days: int | None
    exempt_types: list[str]
    target: str


class GroupRuleOut(RuleOutFields):
    source_group_id: int | None
    target_group_id: int | None
    source_group: str | None
    target_group: str | None
    break_relations: bool


# -- helpers ---------------------------------------------------------------------------------------------
NULLABLE = ("capacity", "daily_claim_limit", "warn_days", "cooldown_days", "source_group_id", "target_group_id",
            "query", "sql")


def _data(payload: Schema, *, patch: bool = False) -> dict:
    """The keys given (a PATCH: ``null`` leaves a field unchanged unless it may be empty); condition rows
    become the query."""
    data = payload.dict(exclude_unset=patch)
    if patch:
        data = {k: v for k, v in data.items() if v is not None or k in NULLABLE}
    if data.get("rows") is not None and data.get("query") is None:
        data["query"] = rows_to_tree(data["rows"])
    elif "rows" in data and data["rows"] is None:
        data.pop("rows")
    if not patch and data.get("sql") is None:
        data["sql"] = ""
    return data


def _name(user) -> str:
    return user.name or user.username


def _group_out(group) -> dict:
    admins = list(group.admins.all())
    salespeople = list(group.salespeople.all())
    counts = getattr(group, "sea_count", None)
    if counts is None:
        group = group_services.with_counts([group])[0]
    return {
        "id": group.pk, "name": group.name, "admin_ids": [u.pk for u in admins],
        "salesperson_ids": [u.pk for u in salespeople],
        "admins": [{"id": u.pk, "name": _name(u)} for u in admins],
        "salespeople": [{"id": u.pk, "name": _name(u)} for u in salespeople],
        "capacity": group.capacity, "daily_claim_limit": group.daily_claim_limit, "description": group.description,
        "public_sea_visible": group.public_sea_visible, "request_tasks": group.request_tasks,
        "request_times_per_day": group.request_times_per_day, "request_size": group.request_size,
        "enabled": group.enabled, "sea_count": group.sea_count, "assigned_count": group.assigned_count,
        "created_at": group.created_at,
    }


RULE_FIELDS = ("id", "name", "order", "enabled", "query", "sql", "rows", "include_tags", "exclude_tags",
               "created_at", "updated_at")


def _assignment_out(rule) -> dict:
    return {**{f: getattr(rule, f) for f in RULE_FIELDS}, "group_id": rule.group_id,
            "salesperson_ids": sorted(u.pk for u in rule.salespeople.all())}


def _group_rule_out(rule) -> dict:
    return {**{f: getattr(rule, f) for f in RULE_FIELDS}, "source_group_id": rule.source_group_id,
            "target_group_id": rule.target_group_id, "break_relations": rule.break_relations,
            "source_group": rule.source_group.name if rule.source_group_id else None,
            "target_group": rule.target_group.name if rule.target_group_id else None}


def _fresh_group(request, pk):
    return group_services.group_get(actor=request.auth, pk=pk)


# -- groups ----------------------------------------------------------------------------------------------
@router.get("/groups", response=list[GroupOut], summary="Customer groups, with their customer counts")
def list_groups(request):
    return [_group_out(g) for g in group_services.with_counts(group_services.group_queryset(actor=request.auth))]


@router.post("/groups", response={201: GroupOut}, summary="Create a customer group")
def create_group(request, payload: GroupIn):
    group = group_services.group_create(actor=request.auth, data=_data(payload))
    return 201, _group_out(_fresh_group(request, group.pk))


@router.get("/groups/{group_id}", response=GroupOut, summary="A customer group")
def get_group(request, group_id: DbId):
    return _group_out(_fresh_group(request, group_id))


@router.patch("/groups/{group_id}", response=GroupOut, summary="Change a customer group")
def update_group(request, group_id: DbId, payload: GroupPatch):
    group = _fresh_group(request, group_id)
    group_services.group_update(actor=request.auth, group=group, data=_data(payload, patch=True))
    return _group_out(_fresh_group(request, group_id))


@router.delete("/groups/{group_id}", response={204: None},
               summary="Delete a customer group (its customers go back to the company public sea)")
def delete_group(request, group_id: DbId):
    group_services.group_delete(actor=request.auth, group=_fresh_group(request, group_id))
    return 204, None


# -- assignment rules ------------------------------------------------------------------------------------
@router.get("/groups/{group_id}/assignment-rules", response=list[AssignmentRuleOut],
            summary="A group's assignment rules, in order")
def list_assignment_rules(request, group_id: DbId):
    group = _fresh_group(request, group_id)
    return [_assignment_out(r) for r in rule_services.assignment_rules(actor=request.auth, group=group)]


@router.post("/groups/{group_id}/assignment-rules", response={201: AssignmentRuleOut},
             summary="Add an assignment rule to a group")
def create_assignment_rule(request, group_id: DbId, payload: AssignmentRuleIn):
    group = _fresh_group(request, group_id)
    rule = rule_services.assignment_rule_create(actor=request.auth, group=group, data=_data(payload))
    return 201, _assignment_out(rule)


@router.patch("/groups/{group_id}/assignment-rules/{rule_id}", response=AssignmentRuleOut)
def update_assignment_rule(request, group_id: DbId, rule_id: DbId, payload: AssignmentRulePatch):
    group = _fresh_group(request, group_id)
    rule = rule_services.assignment_rule_get(actor=request.auth, group=group, pk=rule_id)
    return _assignment_out(rule_services.assignment_rule_update(actor=request.auth, rule=rule,
                                                                data=_data(payload, patch=True)))


@router.delete("/groups/{group_id}/assignment-rules/{rule_id}", response={204: None})
def delete_assignment_rule(request, group_id: DbId, rule_id: DbId):
    group = _fresh_group(request, group_id)
    rule = rule_services.assignment_rule_get(actor=request.auth, group=group, pk=rule_id)
    rule_services.assignment_rule_delete(actor=request.auth, rule=rule)
    return 204, None


# -- recycle rules ---------------------------------------------------------------------------------------
@router.get("/groups/{group_id}/recycle-rules", response=list[RecycleRuleOut],
            summary="A group's recycle rules, in order")
def list_recycle_rules(request, group_id: DbId):
    group = _fresh_group(request, group_id)
    return list(rule_services.recycle_rules(actor=request.auth, group=group))


@router.post("/groups/{group_id}/recycle-rules", response={201: RecycleRuleOut},
             summary="Add a recycle rule to a group")
def create_recycle_rule(request, group_id: DbId, payload: RecycleRuleIn):
    group = _fresh_group(request, group_id)
    return 201, rule_services.recycle_rule_create(actor=request.auth, group=group, data=_data(payload))


@router.patch("/groups/{group_id}/recycle-rules/{rule_id}", response=RecycleRuleOut)
def update_recycle_rule(request, group_id: DbId, rule_id: DbId, payload: RecycleRulePatch):
    group = _fresh_group(request, group_id)
    rule = rule_services.recycle_rule_get(actor=request.auth, group=group, pk=rule_id)
    return rule_services.recycle_rule_update(actor=request.auth, rule=rule, data=_data(payload, patch=True))


@router.delete("/groups/{group_id}/recycle-rules/{rule_id}", response={204: None})
def delete_recycle_rule(request, group_id: DbId, rule_id: DbId):
    group = _fresh_group(request, group_id)
    rule = rule_services.recycle_rule_get(actor=request.auth, group=group, pk=rule_id)
    rule_services.recycle_rule_delete(actor=request.auth, rule=rule)
    return 204, None


# -- group rules -----------------------------------------------------------------------------------------
@router.get("/group-rules", response=list[GroupRuleOut], summary="Group rules, in order")
def list_group_rules(request):
    return [_group_rule_out(r) for r in rule_services.group_rules(actor=request.auth)]


@router.post("/group-rules", response={201: GroupRuleOut}, summary="Add a group rule")
def create_group_rule(request, payload: GroupRuleIn):
    rule = rule_services.group_rule_create(actor=request.auth, data=_data(payload))
    return 201, _group_rule_out(rule_services.group_rule_get(actor=request.auth, pk=rule.pk))


@router.get("/group-rules/{rule_id}", response=GroupRuleOut, summary="A group rule")
def get_group_rule(request, rule_id: DbId):
    return _group_rule_out(rule_services.group_rule_get(actor=request.auth, pk=rule_id))


@router.patch("/group-rules/{rule_id}", response=GroupRuleOut)
def update_group_rule(request, rule_id: DbId, payload: GroupRulePatch):
    rule = rule_services.group_rule_get(actor=request.auth, pk=rule_id)
    rule_services.group_rule_update(actor=request.auth, rule=rule, data=_data(payload, patch=True))
    return _group_rule_out(rule_services.group_rule_get(actor=request.auth, pk=rule_id))


@router.delete("/group-rules/{rule_id}", response={204: None})
def delete_group_rule(request, rule_id: DbId):
    rule_services.group_rule_delete(actor=request.auth, rule=rule_services.group_rule_get(actor=request.auth,
                                                                                          pk=rule_id))
    return 204, None
