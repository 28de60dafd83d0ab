"""What other apps add to the condition language, without segments importing them.

An app registers from its ``registry.py``:

- a **node kind**: a key of a one-key node of the condition tree (``{"tags_any": [...]}``), next to
  ``all`` / ``any`` / ``not``. ``parse(body, path=..., context=...)`` checks the body (raising
  ``tree.condition_error``) and returns the parsed value; ``compile(value)`` returns a two-valued ``Q``
  (never SQL NULL, so ``not`` stays the exact complement);
- a **custom SQL function** usable in a custom SQL rule (``has_tag(3)``): ``check(node, context=...)``
  refuses bad arguments (raising ``sql.sql_error``), ``render(node, vendor)`` returns the SQL text for
  the database (built from the checked syntax tree, never from the user's text);
- a **picker** of the advanced query page: a node kind filled from a list of choices grouped under
  headings (``choices(viewer)`` → ``[{"group": str, "items": [{"id", "label", "personal"}]}]``);
- a **row field**: a node kind the condition rows offer as a field with one argument picked from a list
  (the events app: "event count" of the event type *purchase*). The row
  ``{"field": key, <arg>: choice, "op": op, "value": value}`` stands for the node
  ``{key: {<arg>: choice, "op": op, "value": value}}`` and takes its place among the rows (parentheses,
  AND/OR) like any condition; ``choices(viewer)`` → ``[{"value", "label", "enabled"}]`` (the page offers
  the enabled ones and still names the others a saved row uses).

``Context`` carries who the condition is checked for (``viewer``: a user, or ``None`` at system level
such as a tag rule) and a cache an extension may fill during one parse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RESERVED = frozenset({"all", "any", "not", "field", "op", "value"})


@dataclass
class Context:
    viewer: Any = None  # the acting user; None (or SYSTEM) means system level
    cache: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NodeKind:
    key: str
    parse: Callable[..., Any]  # (body, *, path: str, context: Context) -> value
    compile: Callable[[Any], Any]  # value -> Q
    # its answer may change with no write to the customer (events arriving): a stored rule using it is
    # re-read in full by the daily refresh, as a rule comparing with today
    volatile: bool = False


@dataclass(frozen=True)
class SqlFunction:
    name: str  # lower case
    check: Callable[..., None]  # (node: sqlglot exp.Anonymous, *, context: Context) -> None
    render: Callable[[Any, str], str]  # (node, vendor) -> SQL text
    predicate: bool = True  # true or false: may stand alone as a rule or under AND/OR/NOT
    volatile: bool = False  # as NodeKind.volatile
    help: Any = ""  # a (lazy) translated line for the custom SQL help on the query page


@dataclass(frozen=True)
class Picker:
    node_kind: str
    label: Any  # a (lazy) translated text
    choices: Callable[[Any], list[dict]]  # viewer -> groups


@dataclass(frozen=True)
class RowField:
    key: str  # a registered node kind
    label: Any  # a (lazy) translated text: "Event count"
    type: str  # the logical type of its value (catalog.NUMBER, catalog.DATETIME…): the page's value input
    operators: tuple[str, ...]  # those the node kind accepts
    arg: str  # the node's key of the argument ("event") and the row's
    arg_label: Any  # "Event type"
    choices: Callable[[Any], list[dict]]  # viewer -> [{"value", "label", "enabled"}]
    group: Any = ""  # the heading the page lists it under ("Events")


_NODE_KINDS: dict[str, NodeKind] = {}
_SQL_FUNCTIONS: dict[str, SqlFunction] = {}
_PICKERS: dict[str, Picker] = {}
_ROW_FIELDS: dict[str, RowField] = {}


def register_node_kind(kind: NodeKind) -> None:
    if kind.key in RESERVED:
        raise ValueError(f"{kind.key!r} is a reserved key of the condition tree")
    _NODE_KINDS[kind.key] = kind


def register_sql_function(function: SqlFunction) -> None:
    _SQL_FUNCTIONS[function.name.lower()] = function


def register_picker(picker: Picker) -> None:
    _PICKERS[picker.node_kind] = picker


def register_row_field(row_field: RowField) -> None:
    if row_field.arg in RESERVED or row_field.arg in ("lparen", "rparen", "logic"):
        raise ValueError(f"{row_field.arg!r} is a key of the condition rows")
    _ROW_FIELDS[row_field.key] = row_field


def node_kind(key) -> NodeKind | None:
    return _NODE_KINDS.get(key) if isinstance(key, str) else None


def sql_function(name) -> SqlFunction | None:
    return _SQL_FUNCTIONS.get(str(name).lower())


def sql_function_names() -> list[str]:
    return sorted(_SQL_FUNCTIONS)


def sql_function_help() -> list[str]:
    """The help lines of the registered custom SQL functions (query page), in name order."""
    return [str(_SQL_FUNCTIONS[name].help) for name in sorted(_SQL_FUNCTIONS) if _SQL_FUNCTIONS[name].help]


def pickers() -> list[Picker]:
    return list(_PICKERS.values())


def row_fields() -> list[RowField]:
    return list(_ROW_FIELDS.values())


def row_field_of(row) -> RowField | None:
    """The row field a condition row uses (its ``field`` names one and it carries the argument), else None:
    a row without the argument is a plain field condition (a custom field may share the key)."""
    if not isinstance(row, dict) or not isinstance(row.get("field"), str):
        return None
    found = _ROW_FIELDS.get(row["field"])
    return found if found is not None and found.arg in row else None


def row_field_node(key) -> RowField | None:
    """The row field a whole node stands for (``{"event_count": {"event": …, "op": …}}``), else None."""
    return _ROW_FIELDS.get(key) if isinstance(key, str) else None


def is_node_row(row) -> bool:
    """A row of the page's form that is a whole registered node (``{"tags_any": [...]}``), not a condition row."""
    return isinstance(row, dict) and len(row) == 1 and node_kind(next(iter(row))) is not None
