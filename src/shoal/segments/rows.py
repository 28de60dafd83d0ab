"""The UI's row form → condition tree; the row fields the rows offer (``extensions.RowField``) and their words.

A row is ``{"lparen": "((", "field": "...", "op": "...", "value": ..., "rparen": ")", "logic": "and"|"or"}``;
``logic`` joins a row to the next one (ignored on the last row). AND binds tighter than OR.
Unbalanced parentheses give an error naming the row (1-based).

A row may also be a whole node of a registered kind (``{"tags_any": [ids]}``: the page's tag
pickers): such rows are AND-ed with the condition of the other rows, wherever they stand.

A row whose field is a registered row field and that carries its argument
(``{"field": "event_count", "event": "purchase", "op": "gt", "value": 3}``) is a condition like the others
(parentheses, AND/OR) that stands for the node ``{"event_count": {"event": "purchase", "op": "gt", "value": 3}}``.
"""

from __future__ import annotations

from django.utils.translation import gettext

from shoal.core.errors import ShoalError

from .extensions import is_node_row, row_field_node, row_field_of, row_fields
from .tree import MAX_DEPTH

# The operators in the order the page offers them: the most used first (equals, not equals, one of…),
# not alphabetically.
OPERATOR_ORDER = ("eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "gt", "gte",
                  "lt", "lte", "between", "within_last_days", "older_than_days", "is_empty", "is_not_empty")
ROW_KEYS = ("lparen", "field", "op", "value", "rparen", "logic")


def ordered_operators(operators) -> list[str]:
    """``operators`` in :data:`OPERATOR_ORDER` (any unknown to it last, alphabetically)."""
    known = [op for op in OPERATOR_ORDER if op in operators]
    return known + sorted(set(operators) - set(OPERATOR_ORDER))


def clean_rows(rows: list[dict]) -> list[dict]:
    """The rows as kept with a saved query (to reload them as they were written, parentheses
    included): only the row keys; :func:`rows_to_tree` checks them."""
    rows_to_tree(rows)
    return [row if is_node_row(row) else {k: row[k] for k in _row_keys(row) if k in row} for row in rows]


def _row_keys(row: dict) -> tuple[str, ...]:
    row_field = row_field_of(row)
    return ROW_KEYS + (row_field.arg,) if row_field is not None else ROW_KEYS


def row_leaf(row: dict) -> dict:
    """The condition a (condition) row stands for: a field leaf, or the node of its row field."""
    leaf = {"op": row.get("op")}
    if row.get("op") not in ("is_empty", "is_not_empty"):
        leaf["value"] = row.get("value")
    row_field = row_field_of(row)
    if row_field is None:
        return {"field": row.get("field"), **leaf}
    return {row_field.key: {row_field.arg: row.get(row_field.arg), **leaf}}


def _count(parens, char: str, row: int) -> int:
    if parens in (None, ""):
        return 0
    if isinstance(parens, int) and not isinstance(parens, bool) and parens >= 0:
        return parens
    if isinstance(parens, str) and set(parens) <= {char}:
        return len(parens)
    raise ShoalError("invalid_rows", gettext("row %(row)s: parentheses must be written as %(char)r characters") % {"row": row, "char": char},
                     {"row": row})


def rows_to_tree(rows: list[dict]) -> dict:
    if not isinstance(rows, list) or not rows:
        raise ShoalError("invalid_rows", gettext("add at least one condition row"), {})
    nodes = [row for row in rows if is_node_row(row)]
    numbered = [(i, row) for i, row in enumerate(rows, start=1) if not is_node_row(row)]
    parts = ([_condition_rows(numbered)] if numbered else []) + nodes
    return parts[0] if len(parts) == 1 else {"all": parts}


def _condition_rows(numbered: list[tuple[int, dict]]) -> dict:
    """The tree of the condition rows (``(row number, row)``)."""
    tokens: list = []
    depth = 0  # open parentheses so far: bounded, so the parser below cannot recurse without end
    last = numbered[-1][0]
    for i, row in numbered:
        if not isinstance(row, dict):
            raise ShoalError("invalid_rows", gettext("row %(i)s: expected an object") % {"i": i}, {"row": i})
        opening = _count(row.get("lparen"), "(", i)
        depth += opening
        if depth > MAX_DEPTH:
            raise ShoalError("invalid_rows", gettext("row %(row)s: parentheses may nest at most %(limit)s levels deep")
                             % {"row": i, "limit": MAX_DEPTH}, {"row": i, "limit": MAX_DEPTH})
        tokens += [("(", i)] * opening
        tokens.append((row_leaf(row), i))
        closing = _count(row.get("rparen"), ")", i)
        depth -= min(closing, depth)  # more ')' than open is reported by the parser, naming the row
        tokens += [(")", i)] * min(closing, MAX_DEPTH + 1)
        if i < last:
            logic = str(row.get("logic") or "and").lower()
            if logic not in ("and", "or"):
                raise ShoalError("invalid_rows", gettext("row %(i)s: AND or OR") % {"i": i}, {"row": i})
            tokens.append((logic, i))
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.pos != len(tokens):
        _, row = tokens[parser.pos]
        raise ShoalError("invalid_rows", gettext("row %(row)s: a ')' closes nothing") % {"row": row}, {"row": row})
    return tree


class _Parser:
    def __init__(self, tokens):
        self.tokens, self.pos = tokens, 0

    def peek(self):
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def expr(self):
        parts = [self.term()]
        while self.peek() == "or":
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else {"any": parts}

    def term(self):
        parts = [self.factor()]
        while self.peek() == "and":
            self.pos += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else {"all": parts}

    def factor(self):
        token, row = self.tokens[self.pos]
        if token == "(":
            self.pos += 1
            inner = self.expr()
            if self.peek() != ")":
                raise ShoalError("invalid_rows", gettext("row %(row)s: a '(' is never closed") % {"row": row}, {"row": row})
            self.pos += 1
            return inner
        if isinstance(token, dict):
            self.pos += 1
            return token
        raise ShoalError("invalid_rows", gettext("row %(row)s: a condition is missing here") % {"row": row}, {"row": row})


def row_field_catalog(*, viewer=None) -> list[dict]:
    """The row fields other apps register (``extensions.RowField``: e.g. the events app's event count, last and
    first event time), as the condition rows list them: key, label, logical type, operators (in the page's
    order), the argument with its choices, and the heading. A row field without any choice is left out."""
    out = []
    for row_field in row_fields():
        choices = [{"value": str(c["value"]), "label": str(c["label"]), "enabled": bool(c.get("enabled", True))}
                   for c in row_field.choices(viewer)]
        if not choices:
            continue
        out.append({"key": row_field.key, "label": str(row_field.label), "type": row_field.type,
                    "operators": ordered_operators(row_field.operators), "choices": [], "custom": False,
                    "group": str(row_field.group),
                    "arg": {"key": row_field.arg, "label": str(row_field.arg_label), "choices": choices}})
    return out


def row_field_condition(item, *, cache: dict | None = None) -> tuple[str, dict] | None:
    """``(title, condition)`` of a row field's row (``{"field": "event_count", "event": "purchase", "op", "value"}``)
    or node (``{"event_count": {"event": "purchase", "op", "value"}}``): the title in words, "Event count
    (Purchase)", and the dict holding ``op`` and ``value``; None for anything else."""
    row_field = row_field_of(item)
    if row_field is not None:
        return row_field_title(row_field.key, item.get(row_field.arg), cache=cache), item
    if isinstance(item, dict) and len(item) == 1:
        (key, body), = item.items()
        row_field = row_field_node(key)
        if row_field is not None and isinstance(body, dict):
            return row_field_title(key, body.get(row_field.arg), cache=cache), body
    return None


def row_field_title(key: str, choice, *, cache: dict | None = None) -> str | None:
    """A row field with its argument in words, "Event count (Purchase)" (the choice's label, its value when
    unknown), or None when ``key`` is no row field. ``cache`` keeps the choices between calls."""
    row_field = row_field_node(key)
    if row_field is None:
        return None
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = {str(c["value"]): str(c["label"]) for c in row_field.choices(None)}
    label = cache[key].get(str(choice), str(choice))
    return gettext("%(field)s (%(choice)s)") % {"field": row_field.label, "choice": label}
