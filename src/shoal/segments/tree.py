"""The condition tree: a public JSON contract, validated here into typed nodes.

    Node = {"all": [Node, ...]} | {"any": [Node, ...]} | {"not": Node} | Leaf
    Leaf = {"field": "<key>", "op": "<operator>", "value": <json>}
    Node = {"<kind>": <body>}  a kind other apps register (``extensions.register_node_kind``),
           e.g. {"tags_any": [ids]}

Every problem is a 400 ``invalid_condition`` whose detail names the JSON path of the bad node
(e.g. ``$.all[1].any[0]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.utils.translation import gettext as _

from shoal.core.errors import ShoalError

from .catalog import BOOLEAN, DATE, DATETIME, ENUM, MULTI_ENUM, NUMBER, OPERATORS, TEXT, FieldSpec
from .extensions import Context, node_kind

MAX_DEPTH = 10
MAX_LIST = 1000
MAX_NUMBER = 2**63  # numbers compared must fit the databases' 64-bit integers (and be finite)
MAX_NODES = 2000  # groups and leaves of one tree
MAX_VALUES = 10000  # list values (``in`` / ``not_in`` / ``between``) of one tree
NO_VALUE_OPS = {"is_empty", "is_not_empty"}
LIST_OPS = {"in", "not_in"}


@dataclass(frozen=True)
class Leaf:
    field: FieldSpec
    op: str
    value: Any


@dataclass(frozen=True)
class Group:
    kind: str  # "all" | "any"
    children: tuple


@dataclass(frozen=True)
class Not:
    child: Any


@dataclass(frozen=True)
class Extension:
    """A node of a registered kind: ``kind`` its key, ``value`` what the kind's parse returned."""

    kind: str
    value: Any


def condition_error(path: str, message: str, **detail) -> ShoalError:
    return ShoalError("invalid_condition", f"{path}: {message}", {"path": path, **detail})


_error = condition_error


def check_size(node: Any) -> None:
    """Refuse a tree with more than MAX_NODES nodes or MAX_VALUES list values, before any other work.

    One iterative pass over the raw JSON (no recursion, no copies); it stops as soon as a limit is
    passed and does not descend deeper than ``parse`` would accept."""
    nodes = values = 0
    stack = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 2 * MAX_DEPTH + 2:  # lists add a level; parse names the too-deep node
            continue
        if isinstance(item, dict):
            nodes += 1
            if nodes > MAX_NODES:
                raise _error("$", _("a condition tree may have at most %(limit)s conditions and groups")
                             % {"limit": MAX_NODES}, limit=MAX_NODES)
            for key, child in item.items():
                if key == "value" or node_kind(key) is not None:
                    values += len(child) if isinstance(child, list) else 0
                    if values > MAX_VALUES:
                        raise _error("$", _("a condition tree may list at most %(limit)s values in all")
                                     % {"limit": MAX_VALUES}, limit=MAX_VALUES)
                elif isinstance(child, dict | list):
                    stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))


def parse(node: Any, catalog: dict[str, FieldSpec], *, path: str = "$", depth: int = 1, viewer=None,
          context: Context | None = None):
    """``viewer``: who the tree is checked for (a user; None at system level), for registered kinds
    whose values depend on it (a personal tag is usable by its owner only)."""
    if depth == 1:
        check_size(node)
    context = context if context is not None else Context(viewer=viewer)
    if depth > MAX_DEPTH:
        raise _error(path, _("conditions may nest at most %(limit)s levels deep") % {"limit": MAX_DEPTH})
    if not isinstance(node, dict):
        raise _error(path, _("a condition must be an object"))
    if "field" in node or "op" in node:
        return _parse_leaf(node, catalog, path)
    if len(node) != 1:
        raise _error(path, _('a group must have exactly one of "all", "any" or "not"'))
    (kind, body), = node.items()
    if kind in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise _error(f"{path}.{kind}", _('"%(kind)s" needs a non-empty list of conditions') % {"kind": kind})
        return Group(kind, tuple(parse(child, catalog, path=f"{path}.{kind}[{i}]", depth=depth + 1, context=context)
                                 for i, child in enumerate(body)))
    if kind == "not":
        return Not(parse(body, catalog, path=f"{path}.not", depth=depth + 1, context=context))
    extension = node_kind(kind)
    if extension is not None:
        return Extension(kind, extension.parse(body, path=f"{path}.{kind}", context=context))
    raise _error(path, _('unknown group "%(kind)s" (use "all", "any" or "not")') % {"kind": kind})


def _parse_leaf(node: dict, catalog: dict[str, FieldSpec], path: str) -> Leaf:
    extra = set(node) - {"field", "op", "value"}
    if extra:
        raise _error(path, _("unknown keys %(keys)s") % {"keys": sorted(extra)})
    key, op = node.get("field"), node.get("op")
    if not isinstance(key, str) or key not in catalog:
        raise _error(path, _("unknown field %(field)s") % {"field": repr(key)}, field=key)
    spec = catalog[key]
    if op not in OPERATORS[spec.type]:
        raise _error(path, _("operator %(op)s does not fit the %(type)s field %(field)s")
                     % {"op": repr(op), "type": spec.type, "field": key}, field=key, op=op, allowed=sorted(OPERATORS[spec.type]))
    if op in NO_VALUE_OPS:
        if node.get("value") is not None:
            raise _error(path, _("%(op)s takes no value") % {"op": op}, field=key)
        return Leaf(spec, op, None)
    if "value" not in node:
        raise _error(path, _("%(op)s needs a value") % {"op": op}, field=key)
    return Leaf(spec, op, _check_value(spec, op, node["value"], path))


def _check_value(spec: FieldSpec, op: str, value: Any, path: str):
    if op in LIST_OPS:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise _error(path, _("%(op)s needs a list of 1 to %(limit)s values") % {"op": op, "limit": MAX_LIST},
                         field=spec.key)
        return tuple(_scalar(spec, v, path) for v in value)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _error(path, _("between needs [low, high]"), field=spec.key)
        low, high = (_scalar(spec, v, path) for v in value)
        return (low, high)
    if op in ("within_last_days", "older_than_days"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365000:
            raise _error(path, _("%(op)s needs a whole number of days") % {"op": op}, field=spec.key)
        return value
    if spec.type == MULTI_ENUM:  # contains / not_contains an item
        return _enum_code(spec, value, path)
    if op in ("contains", "not_contains", "starts_with", "ends_with"):
        if not isinstance(value, str) or not value:
            raise _error(path, _("%(op)s needs a non-empty text") % {"op": op}, field=spec.key)
        return _normalise_text(spec, value, partial=True)
    return _scalar(spec, value, path)


def _enum_code(spec: FieldSpec, value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _error(path, _("expected an enum code (text)"), field=spec.key, expected="enum")
    if spec.choices and value not in spec.choices:
        raise _error(path, _("%(value)s is not an option of %(field)s") % {"value": repr(value), "field": spec.key},
                     field=spec.key,
                     choices=list(spec.choices))
    return value


def _normalise_text(spec: FieldSpec, value: str, *, partial: bool = False) -> str:
    if spec.normalise == "lower":
        return value.strip().lower()
    if spec.normalise in ("phone", "mobile") and not partial:
        from shoal.customers import identity

        normalise = identity.normalise_mobile if spec.normalise == "mobile" else identity.normalise_phone
        try:
            return normalise(value, field=spec.key)
        except ShoalError:
            return value.strip()  # not a valid number: it simply matches nothing
    return value


def _scalar(spec: FieldSpec, value: Any, path: str):
    kind = spec.type
    if kind == TEXT:
        if not isinstance(value, str):
            raise _error(path, _("%(field)s expects text") % {"field": spec.key}, field=spec.key, expected="text")
        return _normalise_text(spec, value)
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _error(path, _("%(field)s expects a number") % {"field": spec.key}, field=spec.key,
                         expected="number")
        if not math.isfinite(value) or not -MAX_NUMBER < value < MAX_NUMBER:
            raise _error(path, _("%(field)s: the number is out of range") % {"field": spec.key}, field=spec.key,
                         expected="number")
        return value
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise _error(path, _("%(field)s expects true or false") % {"field": spec.key}, field=spec.key,
                         expected="boolean")
        return value
    if kind == ENUM:
        return _enum_code(spec, value, path)
    if kind in (DATE, DATETIME):
        from shoal.customers.cleaning import to_date, to_datetime

        message = (_("%(field)s expects a date YYYY-MM-DD") if kind == DATE
                   else _("%(field)s expects a date-time (ISO 8601)")) % {"field": spec.key}
        if not isinstance(value, str):
            raise _error(path, message, field=spec.key, expected=kind)
        try:
            return to_date(value, spec.key) if kind == DATE else to_datetime(value, spec.key).astimezone(UTC)
        except (ShoalError, OverflowError, ValueError):
            raise _error(path, message, field=spec.key, expected=kind)
    if kind == MULTI_ENUM:
        return _enum_code(spec, value, path)
    raise _error(path, _("unsupported field type %(kind)s") % {"kind": kind})


def as_date(value) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else value.date()
