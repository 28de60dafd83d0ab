"""Compile a parsed condition tree to a Django ``Q`` (parameterised; never SQL text).

Exact semantics, the same on SQLite and PostgreSQL:
- every leaf compiles to a two-valued condition (never SQL NULL), so ``{"not": X}`` is the exact
  complement of X;
- positive operators require a non-empty value (empty = missing, null, "" or []);
- ``ne``, ``not_in`` and ``not_contains`` are the complements of ``eq``, ``in`` and ``contains``
  and so match customers whose value is empty;
- text comparisons ignore letter case.
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from functools import reduce

from django.db.models import F, Q
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, In, LessThan, LessThanOrEqual
from django.utils import timezone

from shoal.customers.jsonkeys import IndexableKeyTextTransform

from .catalog import BOOLEAN, DATE, DATETIME, ENUM, MULTI_ENUM, NUMBER, TEXT, FieldSpec, field_expression
from .expressions import JSONArrayHasItem, JSONValuePresent, TextInIgnoringCase
from .extensions import node_kind
from .tree import Extension, Group, Leaf, Not, parse

ALWAYS = Q(pk__isnull=False)
NEGATIVE = {"ne": "eq", "not_in": "in", "not_contains": "contains"}


def compile_tree(node, positive: bool = True) -> Q:
    """``positive``: the node sits under an even number of NOTs, where SQL's NULL acts as false."""
    if isinstance(node, Group):
        parts = [compile_tree(child, positive) for child in node.children]
        return reduce(operator.and_ if node.kind == "all" else operator.or_, parts)
    if isinstance(node, Not):
        return ~compile_tree(node.child, not positive)
    if isinstance(node, Extension):  # two-valued by the kind's contract
        return node_kind(node.kind).compile(node.value)
    return compile_leaf(node, positive)


def compile_query(raw, catalog, *, viewer=None) -> Q:
    """Validate and compile a raw JSON tree (``viewer``: see ``tree.parse``)."""
    return compile_tree(parse(raw, catalog, viewer=viewer))


def present(spec: FieldSpec) -> Q:
    """The field has a non-empty value (two-valued)."""
    if spec.is_json:
        return Q(JSONValuePresent(spec.key))
    col = spec.column
    q = Q(**{f"{col}__isnull": False}) if spec.nullable else ALWAYS
    if spec.type in (TEXT, ENUM):
        q &= ~Q(**{col: ""})
    return q


JSON_WORDS = {"null", "true", "false"}  # SQLite's text for JSON literals: a stored value could read as these


def _implies_present(spec: FieldSpec, op: str, value) -> bool:
    """Equal to ``value`` implies not empty: a JSON value equal to it cannot be empty, and a missing key
    compares as NULL; a column equal to a non-empty value is neither NULL nor ``""``."""
    if op not in ("eq", "in"):
        return False
    values = value if op == "in" else (value,)
    if not spec.is_json:
        return not any(v is None or v == "" for v in values)
    if spec.type not in (ENUM, NUMBER, BOOLEAN):
        return False
    return not any(isinstance(v, str) and v.lower() in JSON_WORDS for v in values)


def compile_leaf(leaf: Leaf, positive: bool = True) -> Q:
    spec, op, value = leaf.field, leaf.op, leaf.value
    if op == "is_empty":
        return ~present(spec)
    if op == "is_not_empty":
        return present(spec)
    if op in NEGATIVE:
        return ~(present(spec) & _compare(spec, NEGATIVE[op], value))
    if positive and _implies_present(spec, op, value):
        # NULL (missing key) acts as false here, so the emptiness test is not needed; without it
        # a count can be answered from the field's index alone
        return _compare(spec, op, value)
    return present(spec) & _compare(spec, op, value)


def _lhs(spec: FieldSpec):
    """The field's path for ``Q``; always followed by an explicit lookup (``__exact``…), so that a
    custom key named like a lookup (``gt``, ``isnull``) is read as the key, never as the operation. A field
    kept outside the customers table (the quality score): its expression."""
    expression = field_expression(spec)
    if expression is not None:
        return expression
    return spec.column if not spec.is_json else f"attributes__{spec.key}"


LOOKUPS = {"exact": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual,
           "in": In}


def _lookup(lhs, lookup: str, value) -> Q:
    """``lhs`` (a path, or an expression: :func:`_lhs`) ``lookup`` ``value``."""
    if isinstance(lhs, str):
        return Q(**{f"{lhs}__{lookup}": value})
    return Q(LOOKUPS[lookup](lhs, value))


def _compare(spec: FieldSpec, op: str, value) -> Q:
    kind = spec.type
    if op == "in":
        return _in(spec, list(value))
    if kind == MULTI_ENUM:  # contains: has the item
        return Q(JSONArrayHasItem(spec.key, value))
    if kind == TEXT:
        lhs = _lhs(spec)
        exact = "exact" if spec.normalise else "iexact"
        lookup = {"eq": exact, "contains": "icontains", "starts_with": "istartswith",
                  "ends_with": "iendswith"}[op]
        return Q(**{f"{lhs}__{lookup}": value})
    if kind in (ENUM, BOOLEAN):
        return Q(**{f"{_lhs(spec)}__exact": value})
    if kind == NUMBER:
        return _ordered(_lhs(spec), op, value)
    if kind in (DATE, DATETIME):
        return _temporal(spec, op, value)
    raise AssertionError(f"no comparison for {kind}/{op}")


def _in(spec: FieldSpec, values: list) -> Q:
    """The field equals one of ``values``: exactly what an OR of ``eq`` matches, as one SQL ``IN``.

    An OR of 1,000 equalities failed on SQLite (expression tree deeper than 1,000) and its SQL was
    hundreds of kilobytes long; ``IN`` is one node however long the list."""
    if spec.type == TEXT and not spec.normalise:  # eq is iexact
        text = F(spec.column) if not spec.is_json else IndexableKeyTextTransform(spec.key, "attributes")
        return Q(TextInIgnoringCase(text, values))
    if spec.is_json and spec.type in (DATE, DATETIME):  # ISO text, as in _temporal
        convert = (lambda v: v.isoformat()) if spec.type == DATE else utc_text
        return Q(In(IndexableKeyTextTransform(spec.key, "attributes"), [convert(v) for v in values]))
    return _lookup(_lhs(spec), "in", values)


def _ordered(lhs, op: str, value) -> Q:
    if op == "eq":
        return _lookup(lhs, "exact", value)
    if op == "between":
        low, high = value
        return _lookup(lhs, "gte", low) & _lookup(lhs, "lte", high)
    return _lookup(lhs, op, value)


def _temporal(spec: FieldSpec, op: str, value) -> Q:
    is_date = spec.type == DATE
    if op in ("within_last_days", "older_than_days"):
        now = timezone.now()
        if is_date:
            today = timezone.localdate()
            start = today - timedelta(days=value)
            if op == "within_last_days":
                return _temporal(spec, "between", (start, today))
            return _temporal(spec, "lt", start)
        start = now - timedelta(days=value)
        if op == "within_last_days":
            return _temporal(spec, "between", (start.astimezone(UTC), now.astimezone(UTC)))
        return _temporal(spec, "lt", start.astimezone(UTC))
    if spec.is_json:
        # stored as ISO text: dates "YYYY-MM-DD", date-times "YYYY-MM-DDTHH:MM:SSZ" (UTC): text order is time order
        lhs = IndexableKeyTextTransform(spec.key, "attributes")
        convert = (lambda v: v.isoformat()) if is_date else utc_text
        if op == "between":
            low, high = value
            return Q(_kt_cmp(lhs, "gte", convert(low))) & Q(_kt_cmp(lhs, "lte", convert(high)))
        return Q(_kt_cmp(lhs, "exact" if op == "eq" else op, convert(value)))
    return _ordered(spec.column, op, value)


def utc_text(value: datetime) -> str:
    """A date-time as custom fields store it (ISO text in UTC, ``…Z``): what their conditions compare with."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kt_cmp(lhs, op: str, text: str):
    from django.db.models import lookups

    classes = {"exact": lookups.Exact, "gt": lookups.GreaterThan, "gte": lookups.GreaterThanOrEqual,
               "lt": lookups.LessThan, "lte": lookups.LessThanOrEqual}
    return classes[op](lhs, text)
