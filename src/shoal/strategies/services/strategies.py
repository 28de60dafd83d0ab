"""Strategy groups and strategies (自动化策略管理): writes, keyword-only with an explicit ``actor``.

Permissions: ``marketing.strategies.view|create|edit|delete|approve`` (groups are part of the strategy
page: creating, renaming and deleting one needs create, edit and delete).

Review: a strategy is enabled only once a user with the approve permission approved its present
``revision``. A change of what it does (event, validity window, conditions, actions) makes a new
revision: it is disabled until approved again (its pending tasks are cancelled, as when it is disabled).
Name, group and order are not reviewed. The approver may not be the strategy's last editor (four eyes)
unless the parameter ``STRATEGY_SELF_APPROVAL`` allows it (a one-person installation).
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.core import parameters
from shoal.core.actors import is_system
from shoal.core.errors import Conflict, NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.masking import masked_field_keys
from shoal.segments.rows import rows_to_tree
from shoal.segments.selectors import validate
from shoal.tags.rules import clean_conditions

from .. import processors
from ..conditions import parse_event_tree
from ..models import Strategy, StrategyAction, StrategyGroup
from ..permissions import APPROVE, CREATE, DELETE, EDIT, VIEW, require
from .tasks import cancel_pending

MAX_INT = 2**31 - 1
MAX_ACTIONS = 20
MAX_DELAY_HOURS = 24 * 366 * 10
# what a reviewer approves: a change of one of these makes a new revision
REVIEWED = ("event_type_id", "valid_from", "valid_to", "conditions", "customer_conditions")


def _user(actor):
    return actor if not is_system(actor) and getattr(actor, "is_authenticated", False) else None


# -- groups ----------------------------------------------------------------------------------------------
def _group_name(data: dict) -> str:
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 100:
        raise ShoalError("invalid", _("A strategy group needs a name of at most 100 characters"), {"field": "name"})
    return name


def _whole(data: dict, key: str, *, low: int = -MAX_INT - 1) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_INT:
        raise ShoalError("invalid", _("%(field)s must be a whole number") % {"field": key}, {"field": key})
    return value


def _save_group(group: StrategyGroup, action: str, actor) -> StrategyGroup:
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise Conflict("duplicate", _("A strategy group named %(name)s already exists") % {"name": group.name},
                       {"field": "name"})
    log_operation(actor=actor, action=action, obj=group)
    return group


def group_create(*, actor, data: dict) -> StrategyGroup:
    require(actor, CREATE)
    group = StrategyGroup(name=_group_name(data))
    group.order = _whole(data, "order") if data.get("order") is not None else (
        (StrategyGroup.objects.order_by("-order").values_list("order", flat=True).first() or 0) + 1)
    return _save_group(group, "strategy_group.create", actor)


def group_update(*, actor, group: StrategyGroup, data: dict) -> StrategyGroup:
    require(actor, EDIT)
    if data.get("name") is not None:
        group.name = _group_name(data)
    if data.get("order") is not None:
        group.order = _whole(data, "order")
    return _save_group(group, "strategy_group.update", actor)


def group_delete(*, actor, group: StrategyGroup) -> None:
    """Its strategies stay, without a group."""
    require(actor, DELETE)
    log_operation(actor=actor, action="strategy_group.delete", obj=group)
    group.delete()


def group_get(*, actor, pk) -> StrategyGroup:
    require(actor, VIEW)
    group = StrategyGroup.objects.filter(pk=pk).first()
    if group is None:
        raise NotFound(_("Strategy group not found"))
    return group


# -- cleaning a strategy ---------------------------------------------------------------------------------
def _name(data: dict) -> str:
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        raise ShoalError("invalid", _("A strategy needs a name of at most 200 characters"), {"field": "name"})
    return name


def _event_type(code):
    from shoal.events.models import EventType

    found = EventType.objects.filter(code=code).first() if isinstance(code, str) and code else None
    if found is None:
        raise ShoalError("unknown_event", _("No event type with the code %(code)s") % {"code": str(code)[:64]},
                         {"field": "event"})
    return found


def _time(data: dict, key: str) -> datetime | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        from shoal.customers.cleaning import to_datetime

        try:
            value = to_datetime(value, key)
        except ShoalError:
            value = None
    if not isinstance(value, datetime):
        raise ShoalError("invalid", _("%(field)s must be a date and time (ISO 8601)") % {"field": key}, {"field": key})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _tree(data: dict, key: str, rows_key: str):
    """The condition tree given (or made from the page's rows), and the rows to keep."""
    tree, rows = data.get(key), data.get(rows_key)
    if tree is None and rows:
        if not isinstance(rows, list):
            raise ShoalError("invalid_rows", _("%(field)s must be a list of rows") % {"field": rows_key},
                             {"field": rows_key})
        tree = rows_to_tree(rows)
    return tree, (rows if isinstance(rows, list) and rows else None)


def _with_path(exc: ShoalError, field: str) -> ShoalError:
    exc.detail = {**(exc.detail or {}), "field": field}
    return exc


def _event_conditions(tree, event_type):
    if tree is None:
        return None
    try:
        parse_event_tree(tree, event_type.fields)
    except ShoalError as exc:
        raise _with_path(exc, "conditions")
    return tree


def _customer_conditions(tree, actor):
    """Checked as a system-level rule (no personal tags), within the writer's masking limits."""
    if tree is None:
        return None
    try:
        clean_conditions(query=tree, optional=True)
        masked = masked_field_keys(viewer=actor)
        if masked:
            validate(query=tree, masked=masked)
    except ShoalError as exc:
        raise _with_path(exc, "customer_conditions")
    return tree


def _actions(items, event_type) -> list[dict]:
    if not isinstance(items, list) or not items or len(items) > MAX_ACTIONS:
        raise ShoalError("invalid", _("A strategy needs 1 to %(limit)s actions") % {"limit": MAX_ACTIONS},
                         {"field": "actions"})
    keys = [f["key"] for f in event_type.fields or [] if isinstance(f, dict) and "key" in f]
    out = []
    for index, item in enumerate(items):
        where = {"field": "actions", "index": index}
        if not isinstance(item, dict):
            raise ShoalError("invalid", _("Action %(n)s must be an object") % {"n": index + 1}, where)
        try:
            ref = processors.resolve(item.get("processor"))
            params = processors.validate_params(ref, item.get("params") or {}, available_keys=keys)
        except ShoalError as exc:
            exc.detail = {**(exc.detail or {}), **where}
            exc.message = _("Action %(n)s: %(message)s") % {"n": index + 1, "message": exc.message}
            raise
        delay, at = item.get("delay_hours"), _time(item, "at")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                                  or not math.isfinite(delay) or not 0 <= delay <= MAX_DELAY_HOURS):
            raise ShoalError("invalid", _("Action %(n)s: the delay is a number of hours from 0 to %(max)s")
                             % {"n": index + 1, "max": MAX_DELAY_HOURS}, where)
        if delay is not None and at is not None:
            raise ShoalError("invalid", _("Action %(n)s: give a delay or a time, not both") % {"n": index + 1}, where)
        out.append({"processor": ref.code, "processor_id": ref.processor_id, "processor_name": ref.name[:100] if ref.processor_id else "",
                    "params": params, "delay_hours": float(delay) if delay is not None else None, "at": at})
    return out


def _action_key(action: dict) -> tuple:
    return (action["processor"], action["processor_id"], action["params"], action["delay_hours"], action["at"])


def _stored_actions(strategy: Strategy) -> list[dict]:
    return [{"processor": a.processor, "processor_id": a.processor_id, "processor_name": a.processor_name,
             "params": a.params, "delay_hours": a.delay_hours, "at": a.run_at}
            for a in strategy.actions.filter(active=True).order_by("position", "id")]


def _clean(data: dict, strategy: Strategy | None, *, actor) -> tuple[dict, list[dict] | None]:
    """(field values, actions or None when unchanged) of a create or a PATCH (merged with what is stored)."""
    creating = strategy is None
    values: dict = {}
    if creating or "name" in data:
        values["name"] = _name(data)
    if "group_id" in data or creating:
        group_id = data.get("group_id")
        if group_id is not None and not StrategyGroup.objects.filter(pk=group_id).exists():
            raise ShoalError("invalid", _("No strategy group %(id)s") % {"id": group_id}, {"field": "group_id"})
        values["group_id"] = group_id
    if data.get("order") is not None:
        values["order"] = _whole(data, "order")
    elif creating:
        values["order"] = (Strategy.objects.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    event_type = _event_type(data.get("event")) if creating or data.get("event") is not None else strategy.event_type
    if event_type is None:
        raise ShoalError("unknown_event", _("The strategy's event type was deleted: choose another"), {"field": "event"})
    values["event_type_id"] = event_type.pk
    for key in ("valid_from", "valid_to"):
        values[key] = _time(data, key) if creating or key in data else getattr(strategy, key)
    if values["valid_from"] and values["valid_to"] and values["valid_from"] >= values["valid_to"]:
        raise ShoalError("invalid", _("The validity ends before it starts"), {"field": "valid_to"})
    type_changed = not creating and event_type.pk != strategy.event_type_id
    for key, rows_key, clean in (("conditions", "condition_rows", lambda t: _event_conditions(t, event_type)),
                                 ("customer_conditions", "customer_condition_rows",
                                  lambda t: _customer_conditions(t, actor))):
        if creating or key in data or rows_key in data:
            values[key], values[rows_key] = _tree(data, key, rows_key)
        else:
            values[key], values[rows_key] = getattr(strategy, key), getattr(strategy, rows_key)
        if creating or key in data or rows_key in data or (type_changed and key == "conditions"):
            values[key] = clean(values[key])
    actions = None
    if creating or "actions" in data or type_changed:
        actions = _actions(data.get("actions") if creating or "actions" in data else
                           [{"processor": a["processor_id"] or a["processor"], "params": a["params"],
                             "delay_hours": a["delay_hours"], "at": a["at"]} for a in _stored_actions(strategy)],
                           event_type)
    return values, actions


def _write_actions(strategy: Strategy, actions: list[dict]) -> None:
    strategy.actions.filter(active=True).update(active=False)  # kept: tasks keep what they ran
    StrategyAction.objects.bulk_create([
        StrategyAction(strategy=strategy, position=i, processor=a["processor"], processor_id=a["processor_id"],
                       processor_name=a["processor_name"], params=a["params"], delay_hours=a["delay_hours"],
                       run_at=a["at"]) for i, a in enumerate(actions, start=1)])


# -- strategies ------------------------------------------------------------------------------------------
def strategy_get(*, actor, pk) -> Strategy:
    require(actor, VIEW)
    strategy = Strategy.objects.select_related("group", "event_type").filter(pk=pk).first()
    if strategy is None:
        raise NotFound(_("Strategy not found"))
    return strategy


def strategy_create(*, actor, data: dict) -> Strategy:
    """A new strategy: disabled until approved."""
    require(actor, CREATE)
    values, actions = _clean(data, None, actor=actor)
    with transaction.atomic():
        strategy = Strategy.objects.create(**values, enabled=False, created_by=_user(actor), updated_by=_user(actor))
        _write_actions(strategy, actions)
        log_operation(actor=actor, action="strategy.create", obj=strategy)
    return strategy


def strategy_update(*, actor, strategy: Strategy, data: dict) -> Strategy:
    """Change a strategy. A change of what it does needs a new review: it is disabled (pending tasks
    cancelled) until approved. ``enabled``: false disables; true enables an approved revision only."""
    require(actor, EDIT)
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ShoalError("invalid", _("%(field)s must be true or false") % {"field": "enabled"}, {"field": "enabled"})
    content = {k: v for k, v in data.items() if k != "enabled"}
    with transaction.atomic():
        strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
        values, actions = _clean(content, strategy, actor=actor) if content else ({}, None)
        reviewed = any(values.get(k, getattr(strategy, k)) != getattr(strategy, k) for k in REVIEWED) or (
            actions is not None and [_action_key(a) for a in actions] != [_action_key(a) for a in
                                                                         _stored_actions(strategy)])
        changed = [k for k, v in values.items() if getattr(strategy, k) != v]
        for key, value in values.items():
            setattr(strategy, key, value)
        if reviewed:
            strategy.revision += 1
            strategy.enabled = False
            _write_actions(strategy, actions if actions is not None else _stored_actions(strategy))
            if actions is not None:
                changed.append("actions")
        if enabled is True and not strategy.enabled:
            if not strategy.approved:
                raise Conflict("review_required", _("The strategy changed since it was approved: it needs a review "
                                                    "before it is enabled"), {"field": "enabled"})
            strategy.enabled = True
        elif enabled is False:
            strategy.enabled = False
        if changed or reviewed or enabled is not None:
            strategy.updated_by = _user(actor) if changed or reviewed else strategy.updated_by
            strategy.save()
        if not strategy.enabled:
            cancel_pending(strategy_ids=[strategy.pk], reason="strategy_disabled")
        log_operation(actor=actor, action="strategy.update", obj=strategy,
                      detail={"changed": sorted(set(changed)), "review": reviewed,
                              **({"enabled": enabled} if enabled is not None else {})})
    return strategy


def strategy_set_enabled(*, actor, ids: list[int], enabled: bool) -> int:
    """Enable (approved revisions only) or disable several strategies; how many changed."""
    require(actor, EDIT)
    changed = 0
    for strategy in Strategy.objects.filter(pk__in=ids).order_by("pk"):
        if strategy.enabled != enabled:
            strategy_update(actor=actor, strategy=strategy, data={"enabled": enabled})
            changed += 1
    return changed


def strategy_approve(*, actor, strategy: Strategy) -> Strategy:
    """Approve the strategy's present revision and enable it."""
    require(actor, APPROVE)
    with transaction.atomic():
        strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
        user = _user(actor)
        if (user is not None and strategy.updated_by_id == user.pk
                and not parameters.get("STRATEGY_SELF_APPROVAL")):
            raise ShoalError("self_approval", _("The last editor of a strategy cannot approve it: another user "
                                                "with the approve permission reviews it"),
                             {"editor_id": strategy.updated_by_id}, status=403)
        if strategy.event_type_id is None:
            raise Conflict("unknown_event", _("The strategy's event type was deleted: choose another"),
                           {"field": "event"})
        if strategy.approved and strategy.enabled:
            return strategy
        strategy.approved_revision = strategy.revision
        strategy.approved_by = user
        strategy.approved_at = timezone.now()
        strategy.enabled = True
        strategy.save(update_fields=["approved_revision", "approved_by", "approved_at", "enabled", "updated_at"])
        log_operation(actor=actor, action="strategy.approve", obj=strategy, detail={"revision": strategy.revision})
    return strategy


def strategy_delete(*, actor, strategy: Strategy) -> None:
    """Delete a strategy: its pending tasks are cancelled first; its task rows go with it (the event
    history keeps the strategy's name)."""
    from ..models import StrategyStat, StrategyTask

    require(actor, DELETE)
    with transaction.atomic():
        cancel_pending(strategy_ids=[strategy.pk], reason="strategy_deleted")
        log_operation(actor=actor, action="strategy.delete", obj=strategy)
        StrategyTask.objects.filter(strategy_id=strategy.pk).delete()
        StrategyStat.objects.filter(strategy_id=strategy.pk).delete()
        strategy.delete()


def strategies_using(event_type) -> list[str]:
    """The names of the strategies of ``event_type`` (the events app warns with them)."""
    return list(Strategy.objects.filter(event_type_id=event_type.pk).order_by("order", "id")
                .values_list("name", flat=True))
