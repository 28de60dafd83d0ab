"""A plain-Python evaluator of the condition semantics, to check the SQL compiler against."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from shoal.segments.catalog import DATE, DATETIME, MULTI_ENUM, NUMBER, TEXT
from shoal.segments.tree import Extension, Group, Leaf, Not

MISSING = object()


def raw_value(customer, spec):
    if spec.is_json:
        return customer.attributes.get(spec.key, MISSING)
    return getattr(customer, spec.column)


def is_empty(v) -> bool:
    return v is MISSING or v is None or v == "" or v == []


def _typed(spec, v):
    """The stored value in the comparable Python form."""
    if spec.type == DATE:
        return date.fromisoformat(v) if isinstance(v, str) else v
    if spec.type == DATETIME:
        if isinstance(v, str):
            return datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return v
    return v


def matches(node, customer) -> bool:
    if isinstance(node, Group):
        results = [matches(c, customer) for c in node.children]
        return all(results) if node.kind == "all" else any(results)
    if isinstance(node, Not):
        return not matches(node.child, customer)
    if isinstance(node, Extension):
        return _tags(node, customer)
    return _leaf(node, customer)


def _tags(node: Extension, customer) -> bool:
    """The tag kinds: ``customer.tag_ids`` is the set of its tags' ids (the caller loads it)."""
    has = set(node.value) & customer.tag_ids
    return {"tags_any": bool(has), "tags_all": has == set(node.value), "tags_none": not has}[node.kind]


def _leaf(leaf: Leaf, customer) -> bool:
    spec, op, value = leaf.field, leaf.op, leaf.value
    v = raw_value(customer, spec)
    if op == "is_empty":
        return is_empty(v)
    if op == "is_not_empty":
        return not is_empty(v)
    negate = {"ne": "eq", "not_in": "in", "not_contains": "contains"}
    if op in negate:
        return not (not is_empty(v) and _positive(spec, negate[op], value, v))
    return not is_empty(v) and _positive(spec, op, value, v)


def _positive(spec, op, value, v) -> bool:
    if op == "in":
        return any(_positive(spec, "eq", x, v) for x in value)
    if spec.type == MULTI_ENUM:
        return isinstance(v, list) and value in v
    if spec.type == TEXT:
        a, b = str(v).lower(), value.lower()
        return {"eq": a == b, "contains": b in a, "starts_with": a.startswith(b), "ends_with": a.endswith(b)}[op]
    if spec.type in (DATE, DATETIME) and op in ("within_last_days", "older_than_days"):
        if spec.type == DATE:
            today = timezone.localdate()
            start = today - timedelta(days=value)
            return start <= _typed(spec, v) <= today if op == "within_last_days" else _typed(spec, v) < start
        now = timezone.now()
        start = now - timedelta(days=value)
        tv = _typed(spec, v)
        return start <= tv <= now if op == "within_last_days" else tv < start
    tv = _typed(spec, v)
    if spec.type == NUMBER or spec.type in (DATE, DATETIME):
        if op == "between":
            return value[0] <= tv <= value[1]
        return {"eq": tv == value, "gt": tv > value, "gte": tv >= value, "lt": tv < value, "lte": tv <= value}[op]
    return tv == value  # enum, boolean
