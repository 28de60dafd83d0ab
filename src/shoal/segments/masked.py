"""Rules over fields masked for the caller (see ``masking.masked_field_keys``): no oracles.

A count of "mobile starts with 1380…" recovers a masked number digit by digit, a sort by it
orders the hidden values, ``length(email)`` or ``substr(mobile, 4, 1)`` reveal parts of them.
On a masked field only exact values and emptiness may be tested: in a condition tree ``eq``,
``in`` (and their complements ``ne``, ``not_in``), ``is_empty`` and ``is_not_empty``; in custom
SQL ``field = 'literal'``, ``field <> 'literal'``, ``field IN ('literal', …)`` and
``field IS [NOT] NULL``; never a sort. Anything else is a 400 ``masked_field`` naming the field.

The compiler stays pure: these checks take the set of masked keys, the callers thread it from
the actor.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _
from sqlglot import exp

from shoal.core.errors import ShoalError

from .tree import Extension, Group, Not

EXACT_OPS = frozenset({"eq", "ne", "in", "not_in", "is_empty", "is_not_empty"})
# Values one query may compare with masked fields in all. A list of a few known numbers is a search;
# thousands of guesses that complete a shown "138****5678" are an oracle.
MASKED_VALUES_LIMIT = 20


def _too_many_values(count: int) -> ShoalError:
    return ShoalError("masked_field", _("A query may compare masked fields with at most %(limit)s values in all "
                                        "(this one: %(count)s)") % {"limit": MASKED_VALUES_LIMIT, "count": count},
                      {"limit": MASKED_VALUES_LIMIT, "count": count})


def _label(key: str, catalog) -> str:
    spec = (catalog or {}).get(key)
    return str(spec.label) if spec is not None and spec.label else key


def masked_field_error(key: str, message: str, **detail) -> ShoalError:
    return ShoalError("masked_field", message, {"field": key, **detail})


def check_tree(node, masked: Iterable[str], *, catalog=None, path: str = "$") -> None:
    """Refuse a leaf of the parsed tree ``node`` that tests a masked field other than exactly, and a
    tree that compares masked fields with more than MASKED_VALUES_LIMIT values."""
    if not masked:
        return
    _check_tree(node, masked, catalog=catalog, path=path)
    count = _masked_values(node, masked)
    if count > MASKED_VALUES_LIMIT:
        raise _too_many_values(count)


def _masked_values(node, masked) -> int:
    if isinstance(node, Group):
        return sum(_masked_values(child, masked) for child in node.children)
    if isinstance(node, Not):
        return _masked_values(node.child, masked)
    if isinstance(node, Extension):  # no customer field
        return 0
    if node.field.key not in masked or node.op in ("is_empty", "is_not_empty"):
        return 0
    return len(node.value) if isinstance(node.value, list | tuple) else 1


def _check_tree(node, masked, *, catalog, path) -> None:
    if isinstance(node, Group):
        for i, child in enumerate(node.children):
            _check_tree(child, masked, catalog=catalog, path=f"{path}.{node.kind}[{i}]")
        return
    if isinstance(node, Not):
        _check_tree(node.child, masked, catalog=catalog, path=f"{path}.not")
        return
    if isinstance(node, Extension):
        return
    key = node.field.key
    if key in masked and node.op not in EXACT_OPS:
        raise masked_field_error(
            key,
            _("%(path)s: the field %(label)s (%(field)s) is masked for you; only equals, is one of, "
              "is empty and is not empty may be used on it") % {"path": path, "label": _label(key, catalog),
                                                                 "field": key},
            path=path, op=node.op, allowed=sorted(EXACT_OPS))


def _exact_use(column: exp.Column) -> bool:
    node, parent = column, column.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if isinstance(parent, exp.EQ | exp.NEQ):
        other = parent.expression if parent.this is node else parent.this
        return isinstance(other, exp.Literal)
    if isinstance(parent, exp.In):
        return parent.this is node and all(isinstance(e, exp.Literal) for e in parent.expressions)
    if isinstance(parent, exp.Is):
        return parent.this is node and isinstance(parent.expression, exp.Null)
    return False


def check_sql(tree: exp.Expression, masked: Iterable[str], *, catalog=None) -> None:
    """Refuse a whitelisted custom SQL tree that uses a masked field other than exactly."""
    if not masked:
        return
    values = 0
    for column in tree.find_all(exp.Column):
        key = column.name
        if key in masked and _exact_use(column):
            parent = column.parent
            while isinstance(parent, exp.Paren):
                parent = parent.parent
            values += len(parent.expressions) if isinstance(parent, exp.In) else 1
        if key in masked and not _exact_use(column):
            parent = column.parent
            fragment = (parent or column).sql()[:200]
            raise masked_field_error(
                key,
                _("The field %(label)s (%(field)s) is masked for you; in custom SQL only "
                  "%(field)s = 'value', %(field)s IN ('value', …) and %(field)s IS [NOT] NULL "
                  "may be used on it") % {"label": _label(key, catalog), "field": key},
                fragment=fragment)
    if values > MASKED_VALUES_LIMIT:
        raise _too_many_values(values)


def check_sort(sort, masked: Iterable[str], *, catalog=None) -> None:
    """Refuse sorting by a masked field."""
    if not masked:
        return
    for i, item in enumerate(sort or []):
        key = item.get("field") if isinstance(item, dict) else None
        if key in masked:
            raise masked_field_error(
                key,
                _("The field %(label)s (%(field)s) is masked for you and cannot be used to sort")
                % {"label": _label(key, catalog), "field": key},
                path=f"$.sort[{i}]")
