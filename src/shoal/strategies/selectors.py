"""Reads of strategies, their results and their tasks (what the API and the pages show)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Prefetch, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.core.actors import is_system
from shoal.core.errors import NotFound
from shoal.segments.rows import ordered_operators

from .conditions import event_catalog
from .models import Strategy, StrategyAction, StrategyGroup, StrategyStat, StrategyTask, TaskStatus
from .permissions import TASKS_VIEW, VIEW, require

COUNTERS = ("matched", "run", "succeeded", "failed", "skipped")


# -- groups ----------------------------------------------------------------------------------------------
def group_out(group: StrategyGroup) -> dict:
    count = getattr(group, "strategy_count", None)
    if count is None:
        count = Strategy.objects.filter(group_id=group.pk).count()
    return {"id": group.pk, "name": group.name, "order": group.order, "strategy_count": count}


def group_list(*, actor) -> list[dict]:
    require(actor, VIEW)
    return [group_out(g) for g in StrategyGroup.objects.annotate(strategy_count=Count("strategies"))
            .order_by("order", "id")]


# -- strategies ------------------------------------------------------------------------------------------
def processor_label(code: str, name: str = "") -> str:
    """A processor in words: a built-in's label (in the reader's language), a custom one's name."""
    from shoal.core.processors import PROCESSORS

    spec = PROCESSORS.get(code)
    return str(spec.label) if spec is not None else (name or code)


def _person(user) -> str | None:
    return (user.name or user.username) if user is not None else None


def strategy_queryset():
    actions = StrategyAction.objects.filter(active=True).order_by("position", "id")
    return (Strategy.objects.select_related("group", "event_type", "approved_by", "updated_by")
            .prefetch_related(Prefetch("actions", queryset=actions, to_attr="active_actions"))
            .order_by("order", "id"))


def strategy_out(strategy: Strategy) -> dict:
    actions = getattr(strategy, "active_actions", None)
    if actions is None:
        actions = list(strategy.actions.filter(active=True).order_by("position", "id"))
    event_type = strategy.event_type
    return {
        "id": strategy.pk, "name": strategy.name, "group_id": strategy.group_id,
        "group": strategy.group.name if strategy.group_id else None,
        "event": event_type.code if event_type else None, "event_name": event_type.name if event_type else None,
        "valid_from": strategy.valid_from, "valid_to": strategy.valid_to,
        "conditions": strategy.conditions, "condition_rows": strategy.condition_rows,
        "customer_conditions": strategy.customer_conditions,
        "customer_condition_rows": strategy.customer_condition_rows,
        "actions": [{"id": a.pk, "processor": a.processor, "processor_id": a.processor_id,
                     "processor_name": processor_label(a.processor, a.processor_name), "params": a.params,
                     "delay_hours": a.delay_hours, "at": a.run_at} for a in actions],
        "order": strategy.order, "enabled": strategy.enabled,
        "review_status": "approved" if strategy.approved else "pending",
        "revision": strategy.revision, "approved_revision": strategy.approved_revision,
        "approved_by": _person(strategy.approved_by), "approved_at": strategy.approved_at,
        "updated_by": _person(strategy.updated_by),
        "created_at": strategy.created_at, "updated_at": strategy.updated_at,
    }


def strategy_filtered(*, actor, group_id=None, event: str = "", enabled: bool | None = None, review=None,
                      q: str = ""):
    require(actor, VIEW)
    qs = strategy_queryset()
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    if event:
        qs = qs.filter(event_type__code=event)
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if review == "pending":
        qs = qs.filter(Q(approved_revision__isnull=True) | ~Q(approved_revision=F("revision")))
    elif review == "approved":
        qs = qs.filter(approved_revision=F("revision"))
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    return qs


def strategy_list(*, actor, **filters) -> list[dict]:
    return [strategy_out(s) for s in strategy_filtered(actor=actor, **filters)]


def event_fields(*, actor, event: str) -> list[dict]:
    """The event type's fields usable in conditions, with their operators (the builder's rows)."""
    from shoal.events.models import EventType
    from shoal.segments.catalog import OPERATORS

    require(actor, VIEW)
    if not event:
        return []
    event_type = EventType.objects.filter(code=event).first()
    if event_type is None:
        raise NotFound(_("No event type with the code %(code)s") % {"code": event[:64]}, {"event": event[:64]})
    return [{"key": spec.key, "label": spec.label, "type": spec.type, "operators": ordered_operators(OPERATORS[spec.type]),
             "choices": [], "custom": False} for spec in event_catalog(event_type.fields).values()]


def strategy_results(*, strategy: Strategy, days: int = 30) -> dict:
    """Per day (the server's zone) over the last ``days`` days, zeros included, and the totals of all time."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    stored = {row["day"]: row for row in StrategyStat.objects.filter(strategy_id=strategy.pk, day__gte=start)
              .values("day", *COUNTERS)}
    series = []
    for n in range(days):
        day = start + timedelta(days=n)
        row = stored.get(day, {})
        series.append({"day": day, **{c: row.get(c, 0) for c in COUNTERS}})
    sums = StrategyStat.objects.filter(strategy_id=strategy.pk).aggregate(**{c: Sum(c) for c in COUNTERS})
    return {"strategy_id": strategy.pk, "days": series, "totals": {c: int(sums[c] or 0) for c in COUNTERS}}


# -- tasks -----------------------------------------------------------------------------------------------
def _scoped_tasks(actor):
    """The tasks of customers within ``actor``'s data scope."""
    from shoal.accounts.models import DataScope, User
    from shoal.customers.selectors import customer_queryset

    require(actor, TASKS_VIEW)
    qs = StrategyTask.objects.all()
    if is_system(actor) or (isinstance(actor, User) and (actor.is_superuser or actor.data_scope() == DataScope.ALL)):
        return qs
    return qs.filter(customer_id__in=customer_queryset(actor=actor).values("pk"))


def _task_items(tasks: list[StrategyTask]) -> list[dict]:
    from shoal.events.models import Event

    names = dict(Strategy.objects.filter(pk__in={t.strategy_id for t in tasks}).values_list("pk", "name"))
    actions = {a["pk"]: a for a in StrategyAction.objects.filter(pk__in={t.action_id for t in tasks})
               .values("pk", "processor", "processor_name")}
    codes = {}
    if tasks:
        times = [t.event_received_at for t in tasks]
        codes = dict(Event.objects.filter(pk__in={t.event_id for t in tasks}, received_at__gte=min(times),
                                          received_at__lte=max(times)).values_list("pk", "event_code"))
    out = []
    for t in tasks:
        action = actions.get(t.action_id, {"processor": "", "processor_name": ""})
        out.append({"id": t.pk, "strategy_id": t.strategy_id, "strategy": names.get(t.strategy_id),
                    "action_id": t.action_id, "processor": action["processor"],
                    "processor_name": processor_label(action["processor"], action["processor_name"]),
                    "event_id": t.event_id, "event": codes.get(t.event_id), "customer_id": t.customer_id,
                    "status": t.status, "due_at": t.due_at, "created_at": t.created_at,
                    "finished_at": t.finished_at, "attempts": t.attempts, "response_code": t.response_code,
                    "error": t.error, "duration_ms": t.duration_ms})
    return out


def task_page(*, actor, status: str | None = None, strategy_id: int | None = None, page: int = 1,
              page_size: int = 50) -> tuple[int, list[dict]]:
    qs = _scoped_tasks(actor)
    if status:
        qs = qs.filter(status=status)
    if strategy_id is not None:
        qs = qs.filter(strategy_id=strategy_id)
    order = ("due_at", "id") if status == TaskStatus.PENDING else ("-id",)
    total = qs.count()
    offset = (page - 1) * page_size
    return total, _task_items(list(qs.order_by(*order)[offset:offset + page_size]))


def task_get(*, actor, pk: int) -> dict:
    task = _scoped_tasks(actor).filter(pk=pk).first()
    if task is None:
        raise NotFound(_("Strategy task not found"))
    return _task_items([task])[0]
