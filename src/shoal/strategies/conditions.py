"""Conditions over an event's data: the condition tree of ``shoal.segments`` (same JSON, same operators,
checked by the same parser) over the fields of the strategy's event type, compiled to a Python predicate.

    {"all": [{"field": "amount", "op": "gt", "value": 100}, {"field": "status", "op": "eq", "value": "1"}]}

The predicate is built from closures over the parsed, typed tree: no ``eval``, no user regular
expression, nothing of the user's text is executed. Its semantics are those of the customer compiler
(``segments.compiler``), so a rule reads the same wherever it is written:

- every leaf is two-valued, so ``{"not": X}`` is the exact complement of X;
- a value is *usable* when it is present and of the field's type (text: a non-empty string; number: a
  finite number, not a boolean; boolean: true/false; date: ``YYYY-MM-DD``; date-time: ISO 8601, a time
  without a zone being in the server's zone; list: a non-empty list); ``is_empty`` is "not usable";
- positive operators need a usable value; ``ne``, ``not_in`` and ``not_contains`` are the complements of
  ``eq``, ``in`` and ``contains`` (so they match an empty value);
- text comparisons ignore letter case; a list field ``contains`` an item equal to the value (text items
  ignoring case);
- ``within_last_days N``: a date from today − N to today (the server's zone), a date-time from now − N
  days to now; ``older_than_days N``: before that start.

Object fields cannot be used in a condition (a placeholder may still use them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext

from shoal.segments.catalog import BOOLEAN, DATE, DATETIME, MULTI_ENUM, NUMBER, TEXT, FieldSpec
from shoal.segments.extensions import node_kind
from shoal.segments.tree import MAX_DEPTH, Group, Leaf, Not, condition_error, parse

Predicate = Callable[[dict], bool]

# event field type → logical type of the condition language (object fields are left out)
EVENT_TYPES = {"text": TEXT, "number": NUMBER, "boolean": BOOLEAN, "date": DATE, "datetime": DATETIME,
               "list": MULTI_ENUM}


def event_catalog(fields: list[dict]) -> dict[str, FieldSpec]:
    """The condition fields of an event type (its ``fields``: ``[{"key", "type", "label", …}]``)."""
    catalog = {}
    for item in fields or []:
        kind = EVENT_TYPES.get(item.get("type"))
        key = item.get("key")
        if kind is None or not isinstance(key, str):
            continue
        catalog[key] = FieldSpec(key=key, label=item.get("label") or key, type=kind, column=None)
    return catalog


def parse_event_tree(raw, fields: list[dict]):
    """The parsed tree (raises a 400 ``invalid_condition`` naming the bad node); only field leaves,
    groups and ``not``: the customer kinds (tags, event counts) belong in the customer conditions."""
    _no_customer_kinds(raw, "$", 0)
    return parse(raw, event_catalog(fields), viewer=None)


def _no_customer_kinds(node, path: str, depth: int) -> None:
    """Refuse a node of a registered customer kind (``{"tags_any": …}``) before it is parsed (its parser
    would look up tags); the shape of everything else is left to ``parse``."""
    if depth > MAX_DEPTH or not isinstance(node, dict) or "field" in node or "op" in node or len(node) != 1:
        return
    (kind, body), = node.items()
    if kind in ("all", "any") and isinstance(body, list):
        for i, child in enumerate(body):
            _no_customer_kinds(child, f"{path}.{kind}[{i}]", depth + 1)
    elif kind == "not":
        _no_customer_kinds(body, f"{path}.not", depth + 1)
    elif node_kind(kind) is not None:
        raise condition_error(path, gettext("%(kind)s is a condition on the customer: put it in the customer "
                                            "conditions") % {"kind": kind})


# -- reading a value of the event's data in the field's type ---------------------------------------------
_NOTHING = object()


def _read_text(v):
    return v.lower() if isinstance(v, str) and v != "" else _NOTHING


def _read_number(v):
    if isinstance(v, bool) or not isinstance(v, int | float):
        return _NOTHING
    return v if isinstance(v, int) or math.isfinite(v) else _NOTHING


def _read_boolean(v):
    return v if isinstance(v, bool) else _NOTHING


def _read_date(v):
    if not isinstance(v, str) or len(v) != 10:
        return _NOTHING
    try:
        return date.fromisoformat(v)
    except ValueError:
        return _NOTHING


def _read_datetime(v):
    if not isinstance(v, str) or not 10 < len(v) <= 40:
        return _NOTHING
    text = v.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return _NOTHING


def _read_list(v):
    return v if isinstance(v, list) and v else _NOTHING


READERS = {TEXT: _read_text, NUMBER: _read_number, BOOLEAN: _read_boolean, DATE: _read_date,
           DATETIME: _read_datetime, MULTI_ENUM: _read_list}


# -- compiling -------------------------------------------------------------------------------------------
def compile_predicate(node, *, now: datetime | None = None) -> Predicate:
    """The predicate of a parsed tree over an event's ``data`` (a dict). ``now``: the time the relative
    operators count from (default: now); a batch compiles its strategies once with its own time."""
    now = now or timezone.now()
    return _compile(node, now.astimezone(UTC), timezone.localdate(now))


def _compile(node, now: datetime, today: date) -> Predicate:
    if isinstance(node, Group):
        parts = [_compile(child, now, today) for child in node.children]
        return _chain(parts, node.kind == "all")
    if isinstance(node, Not):
        inner = _compile(node.child, now, today)
        return lambda data: not inner(data)
    if isinstance(node, Leaf):
        return _leaf(node, now, today)
    raise condition_error("$", gettext("not a condition on the event's fields"))


def _chain(parts: list[Predicate], conjunction: bool) -> Predicate:
    """``and``/``or`` of the parts, short-circuiting, as nested two-part closures (no generator per call)."""
    if len(parts) == 1:
        return parts[0]
    first, rest = parts[0], _chain(parts[1:], conjunction)
    if conjunction:
        return lambda data: first(data) and rest(data)
    return lambda data: first(data) or rest(data)


def index_key(node) -> tuple[str, str, tuple] | None:
    """(field key, logical type, values as the field's reader gives them) of an ``eq`` or ``in`` leaf that must
    hold for the tree to hold (the tree itself, or a leaf of its top ``all``): a batch looks strategies up by
    the event's value of that field instead of trying each one. None when there is none."""
    leaves = [node] if isinstance(node, Leaf) else (
        [c for c in node.children if isinstance(c, Leaf)] if isinstance(node, Group) and node.kind == "all" else [])
    for leaf in leaves:
        if leaf.op in ("eq", "in") and leaf.field.type in (TEXT, NUMBER, BOOLEAN):
            read = READERS[leaf.field.type]
            values = leaf.value if leaf.op == "in" else (leaf.value,)
            # a value no event can hold ("" for text) is left out: it matches nothing
            return leaf.field.key, leaf.field.type, tuple(read(v) for v in values if read(v) is not _NOTHING)
    return None


def field_keys(node) -> frozenset[str]:
    """The keys of the event's fields a parsed tree reads (its predicate depends on nothing else)."""
    if isinstance(node, Leaf):
        return frozenset((node.field.key,))
    if isinstance(node, Group):
        return frozenset().union(*(field_keys(child) for child in node.children))
    if isinstance(node, Not):
        return field_keys(node.child)
    return frozenset()


NEGATIVE = {"ne": "eq", "not_in": "in", "not_contains": "contains"}


def _leaf(leaf: Leaf, now: datetime, today: date) -> Predicate:
    key, kind, op = leaf.field.key, leaf.field.type, leaf.op
    read = READERS[kind]
    if op in NEGATIVE:
        positive = _leaf(Leaf(leaf.field, NEGATIVE[op], leaf.value), now, today)
        return lambda data: not positive(data)
    if op == "is_empty":
        return lambda data: read(data.get(key)) is _NOTHING
    if op == "is_not_empty":
        return lambda data: read(data.get(key)) is not _NOTHING
    test = _test(kind, op, leaf.value, now, today)
    if kind == TEXT:  # the reader inlined: the commonest leaves
        def text_predicate(data: dict) -> bool:
            v = data.get(key)
            return type(v) is str and v != "" and test(v.lower())

        return text_predicate
    if kind == NUMBER:
        def number_predicate(data: dict) -> bool:
            v = data.get(key)
            t = type(v)
            return (t is int or (t is float and math.isfinite(v))) and test(v)

        return number_predicate

    def predicate(data: dict) -> bool:
        v = read(data.get(key))
        return v is not _NOTHING and test(v)

    return predicate


def _fold(kind, value):
    """A value of the tree in the form the reader gives (text in lower case)."""
    return value.lower() if kind == TEXT else value


def _test(kind: str, op: str, value, now: datetime, today: date) -> Callable[[object], bool]:
    """``v op value`` for a usable ``v`` (as its reader gives it)."""
    if kind == MULTI_ENUM:  # contains an item
        folded = value.lower()
        return lambda v: any(item == value or (isinstance(item, str) and item.lower() == folded) for item in v)
    if op == "in":
        options = frozenset(_fold(kind, x) for x in value)  # readers never give a boolean for a number
        return lambda v: v in options
    if op in ("within_last_days", "older_than_days"):
        if kind == DATE:
            start, end = today - timedelta(days=value), today
        else:
            start, end = now - timedelta(days=value), now
        if op == "within_last_days":
            return lambda v: start <= v <= end
        return lambda v: v < start
    if op == "between":
        low, high = (_fold(kind, x) for x in value)
        return lambda v: low <= v <= high
    target = _fold(kind, value)
    if op == "eq":
        return lambda v: v == target
    if op == "contains":
        return lambda v: target in v
    if op == "starts_with":
        return lambda v: v.startswith(target)
    if op == "ends_with":
        return lambda v: v.endswith(target)
    if op == "gt":
        return lambda v: v > target
    if op == "gte":
        return lambda v: v >= target
    if op == "lt":
        return lambda v: v < target
    if op == "lte":
        return lambda v: v <= target
    raise AssertionError(f"no test for {kind}/{op}")
