"""Events in the condition language (registered with ``shoal.segments.extensions``; segments never imports
events), over the per-customer statistics:

- ``{"event_count": {"event": "<code>", "op": "gt", "value": 3}}``: how many events of the type the
  customer has (0 without any); ops ``eq ne gt gte lt lte`` (a number) and ``between`` ([low, high]);
- ``{"last_event": {"event": "<code>", "op": "within_last_days", "value": 7}}`` and ``first_event``: the
  time of the customer's last (first) event of the type; ops ``within_last_days older_than_days`` (whole
  days), ``gt gte lt lte`` (an ISO date-time), ``between`` ([from, to]), ``is_empty`` (no such event) and
  ``is_not_empty``. A customer without such an event matches none but ``is_empty``;
- the condition rows (the advanced query page and every page that reuses them): three row fields, "event
  count", "last event time" and "first event time", each with the event type picked from the registry
  (``{"field": "event_count", "event": "<code>", "op": "gt", "value": 3}``);
- custom SQL: ``event_count('<code>')`` (a number, 0 without events), ``last_event('<code>')`` and
  ``first_event('<code>')`` (a time, NULL without events), e.g. ``event_count('login') > 3``.

Every node compiles to ``EXISTS`` over ``events_eventstat`` (its key is (customer, type)), so it is
two-valued and ``not`` is its exact complement."""

from __future__ import annotations

import math
from datetime import UTC, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from sqlglot import exp

from shoal.segments.catalog import DATETIME, NUMBER
from shoal.segments.extensions import (
    NodeKind,
    RowField,
    SqlFunction,
    register_node_kind,
    register_row_field,
    register_sql_function,
)
from shoal.segments.sql import TABLE, sql_error
from shoal.segments.tree import MAX_NUMBER, condition_error

from .models import EventStat, EventType
from .validation import CODE_RE, parse_iso

COUNT_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
TIME_OPS = ("within_last_days", "older_than_days", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty")
TIME_COLUMNS = {"last_event": "last_at", "first_event": "first_at"}


def _type_id(code, path: str, context) -> int:
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise condition_error(path, gettext("name an event type by its code"))
    known = context.cache.setdefault("events.types", {})
    if code not in known:
        known[code] = EventType.objects.filter(code=code).values_list("pk", flat=True).first()
    if known[code] is None:
        raise condition_error(path, gettext("unknown event type %(code)s") % {"code": code}, event=code)
    return known[code]


def _body(body, path: str, ops) -> tuple:
    if not isinstance(body, dict) or set(body) - {"event", "op", "value"} or "event" not in body or "op" not in body:
        raise condition_error(path, gettext('give {"event": code, "op": operator, "value": …}'))
    if body["op"] not in ops:
        raise condition_error(path, gettext("operator %(op)s does not fit here (use %(ops)s)")
                              % {"op": repr(body["op"])[:30], "ops": ", ".join(ops)}, allowed=list(ops))
    return body["event"], body["op"], body.get("value")


def _number(value, path: str):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not -MAX_NUMBER < value < MAX_NUMBER:
        raise condition_error(path, gettext("expected a number"), expected="number")
    return value


def _parse_count(body, *, path: str, context):
    code, op, value = _body(body, path, COUNT_OPS)
    type_id = _type_id(code, f"{path}.event", context)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise condition_error(path, gettext("between needs [low, high]"))
        return type_id, op, (_number(value[0], path), _number(value[1], path))
    return type_id, op, _number(value, path)


def _time(value, path: str):
    parsed = parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise condition_error(path, gettext("expected a date-time (ISO 8601)"), expected="datetime")
    return parsed.astimezone(UTC)


def _parse_time(body, *, path: str, context):
    code, op, value = _body(body, path, TIME_OPS)
    type_id = _type_id(code, f"{path}.event", context)
    if op in ("is_empty", "is_not_empty"):
        if value is not None:
            raise condition_error(path, gettext("%(op)s takes no value") % {"op": op})
        return type_id, op, None
    if op in ("within_last_days", "older_than_days"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365000:
            raise condition_error(path, gettext("%(op)s needs a whole number of days") % {"op": op})
        return type_id, op, value
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise condition_error(path, gettext("between needs [from, to]"))
        return type_id, op, (_time(value[0], path), _time(value[1], path))
    return type_id, op, _time(value, path)


def _holds(op: str, value, n) -> bool:
    """``n op value`` (for the count a customer without events has: 0)."""
    if op == "between":
        return value[0] <= n <= value[1]
    return {"eq": n == value, "ne": n != value, "gt": n > value, "gte": n >= value, "lt": n < value,
            "lte": n <= value}[op]


def _lookup(column: str, op: str, value) -> Q:
    if op == "between":
        return Q(**{f"{column}__gte": value[0], f"{column}__lte": value[1]})
    if op == "eq":
        return Q(**{column: value})
    if op == "ne":
        return ~Q(**{column: value})
    return Q(**{f"{column}__{op}": value})


def _stats(type_id: int):
    return EventStat.objects.filter(customer_id=OuterRef("pk"), event_type_id=type_id)


def compile_count(parsed) -> Q:
    type_id, op, value = parsed
    if _holds(op, value, 0):  # customers without events match: those whose count fails do not
        negated = {"eq": "ne", "ne": "eq", "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}
        if op == "between":
            return ~Q(Exists(_stats(type_id).filter(~_lookup("count", "between", value))))
        return ~Q(Exists(_stats(type_id).filter(_lookup("count", negated[op], value))))
    return Q(Exists(_stats(type_id).filter(_lookup("count", op, value))))


def _compile_time(column: str, parsed) -> Q:
    type_id, op, value = parsed
    if op == "is_empty":
        return ~Q(Exists(_stats(type_id)))
    if op == "is_not_empty":
        return Q(Exists(_stats(type_id)))
    if op in ("within_last_days", "older_than_days"):
        now = timezone.now()
        start = now - timedelta(days=value)
        condition = _lookup(column, "between", (start, now)) if op == "within_last_days" else _lookup(column, "lt", start)
        return Q(Exists(_stats(type_id).filter(condition)))
    return Q(Exists(_stats(type_id).filter(_lookup(column, op, value))))


def compile_last(parsed) -> Q:
    return _compile_time("last_at", parsed)


def compile_first(parsed) -> Q:
    return _compile_time("first_at", parsed)


# -- custom SQL -----------------------------------------------------------------------------------
def _code_literal(node: exp.Anonymous) -> str | None:
    args = node.expressions
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
        return None
    code = args[0].this
    return code if CODE_RE.match(code) else None


def _checker(name: str):
    def check(node: exp.Anonymous, *, context) -> None:
        code = _code_literal(node)
        if code is None:
            raise sql_error(gettext("%(name)s takes one event type code in quotes, e.g. %(name)s('login')")
                            % {"name": name}, node.sql())
        known = context.cache.setdefault("events.types", {})
        if code not in known:
            known[code] = EventType.objects.filter(code=code).values_list("pk", flat=True).first()
        if known[code] is None:
            raise sql_error(gettext("Unknown event type %(code)s") % {"code": code}, node.sql())

    return check


def _type_id_for_sql(node) -> int:
    pk = EventType.objects.filter(code=_code_literal(node)).values_list("pk", flat=True).first()
    return int(pk) if pk is not None else 0  # 0: no type (deleted since the check): nothing matches


def _renderer(column: str, default: str):
    def render(node: exp.Anonymous, vendor: str) -> str:
        table = EventStat._meta.db_table
        value = f'(SELECT "{table}"."{column}" FROM "{table}" WHERE "{table}"."customer_id" = "{TABLE}"."id" ' \
                f'AND "{table}"."event_type_id" = {_type_id_for_sql(node)})'
        return f"COALESCE({value}, {default})" if default else value

    return render


register_node_kind(NodeKind("event_count", parse=_parse_count, compile=compile_count, volatile=True))
register_node_kind(NodeKind("last_event", parse=_parse_time, compile=compile_last, volatile=True))
register_node_kind(NodeKind("first_event", parse=_parse_time, compile=compile_first, volatile=True))
register_sql_function(SqlFunction("event_count", check=_checker("event_count"), render=_renderer("count", "0"),
                                  predicate=False, volatile=True,
                                  help=gettext_lazy("event_count('code'): how many events of that type the customer has "
                                                    "(0 when none).")))
register_sql_function(SqlFunction("last_event", check=_checker("last_event"), render=_renderer("last_at", ""),
                                  predicate=False, volatile=True,
                                  help=gettext_lazy("last_event('code'): the time of the customer's last event of that "
                                                    "type.")))
register_sql_function(SqlFunction("first_event", check=_checker("first_event"), render=_renderer("first_at", ""),
                                  predicate=False, volatile=True,
                                  help=gettext_lazy("first_event('code'): the time of the customer's first event of that "
                                                    "type.")))


# -- the condition rows -----------------------------------------------------------------------------
def type_choices(viewer=None) -> list[dict]:
    """Every event type by name, in code point order on both databases (code stored); the rows offer the enabled
    ones."""
    return [{"value": code, "label": name, "enabled": enabled}
            for name, code, enabled in sorted(EventType.objects.values_list("name", "code", "enabled"))]


for _key, _label, _type, _ops in (
        ("event_count", pgettext_lazy("condition field", "Event count"), NUMBER, COUNT_OPS),
        ("last_event", pgettext_lazy("condition field", "Last event time"), DATETIME, TIME_OPS),
        ("first_event", pgettext_lazy("condition field", "First event time"), DATETIME, TIME_OPS)):
    register_row_field(RowField(_key, _label, _type, _ops, arg="event", arg_label=pgettext_lazy("condition field", "Event type"),
                                choices=type_choices, group=pgettext_lazy("condition field", "Events")))
