"""Custom SQL rules (自定义SQL): a boolean WHERE expression over customer fields.

The text is parsed with sqlglot and refused unless every node is on a whitelist: field names,
literals, comparisons, AND/OR/NOT, IN (a list), BETWEEN, LIKE, IS [NOT] NULL, arithmetic and a
few functions, and the functions other apps register (``extensions.register_sql_function``, e.g.
``has_tag(3)``). Field names are mapped to their storage (custom fields live in the attributes
JSON) and the expression is rendered anew from the syntax tree for the current database, so
no user text reaches the database as written. Execution is read-only and time-limited
(:func:`guarded`).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import sqlglot
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from shoal.core.errors import ShoalError
from shoal.customers.quality import quality_sql

from .catalog import BOOLEAN, NUMBER, FieldSpec
from .extensions import Context, sql_function, sql_function_names

TABLE = "customers_customer"
MAX_LENGTH = 4000
TIME_LIMIT_SECONDS = 10.0
MAX_NESTING = 20  # parentheses, function calls and NOT / unary signs inside one another

PREDICATES = (exp.And, exp.Or, exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In,
              exp.Between, exp.Like, exp.ILike, exp.Is, exp.Boolean)
ALLOWED = PREDICATES + (
    exp.Null, exp.Literal, exp.Column, exp.Identifier, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.Lower, exp.Upper, exp.Length, exp.Coalesce, exp.Substring, exp.Abs, exp.Round,
    exp.CurrentDate, exp.CurrentTimestamp, exp.Date, exp.Escape,
)
FUNCTIONS = "lower, upper, length, coalesce, substr, abs, round, date, current_date, current_timestamp, days_ago"


def sql_error(message: str, fragment: str = "") -> ShoalError:
    return ShoalError("invalid_sql", message, {"fragment": fragment[:200]})


_refuse = sql_error


def _functions() -> str:
    """The functions a rule may use, for the error messages (the built-in ones, then the registered ones)."""
    return ", ".join([FUNCTIONS, *sql_function_names()])


def _registered(node) -> bool:
    return isinstance(node, exp.Anonymous) and sql_function(node.this) is not None


def _fragment(node: exp.Expression) -> str:
    try:
        return node.sql()
    except Exception:  # a node that cannot even be printed is refused all the same
        return type(node).__name__


_OPERAND_ENDS = {TokenType.VAR, TokenType.NUMBER, TokenType.STRING, TokenType.R_PAREN, TokenType.NULL,
                 TokenType.TRUE, TokenType.FALSE, TokenType.IDENTIFIER}


def nesting(tokens) -> int:
    """How deeply the expression in ``tokens`` nests: open parentheses plus runs of prefix operators
    (``NOT NOT x``, ``- -1``), each counted where it applies. Computed from the flat token list, so
    it is cheap and cannot itself recurse."""
    deepest = level = run = 0
    opened: list[int] = []
    previous = None
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            opened.append(run + 1)
            level += run + 1
            run = 0
        elif kind == TokenType.R_PAREN:
            level -= opened.pop() if opened else 0
            run = 0
        elif kind == TokenType.NOT or (kind in (TokenType.DASH, TokenType.PLUS) and previous not in _OPERAND_ENDS):
            run += 1
        else:
            run = 0
        previous = kind
        deepest = max(deepest, level + run)
    return deepest


def _too_deep() -> ShoalError:
    from django.utils.translation import gettext as _

    return _refuse(_("The condition nests too deeply (at most %(limit)s levels of parentheses and NOT)")
                   % {"limit": MAX_NESTING})


def parse_sql(text: str, catalog: dict[str, FieldSpec], *, viewer=None) -> exp.Expression:
    """Parse and whitelist; returns the syntax tree with field names still unmapped. ``viewer``: who the
    rule is checked for (a user; None at system level), for registered functions that depend on it."""
    try:
        return _parse_sql(text, catalog, Context(viewer=viewer))
    except RecursionError:  # the nesting check should stop this first
        raise _too_deep()


def _parse_sql(text: str, catalog: dict[str, FieldSpec], context: Context) -> exp.Expression:
    if not isinstance(text, str) or not text.strip():
        raise _refuse(gettext("Write a condition, e.g. assets > 100000 AND city IN ('深圳','广州')"))
    if len(text) > MAX_LENGTH:
        raise _refuse(gettext("A custom SQL rule may be at most %(limit)s characters") % {"limit": MAX_LENGTH})
    if "\x00" in text:
        raise _refuse(gettext("The text contains a NUL character"))
    try:
        if nesting(sqlglot.tokenize(text, read="postgres")) > MAX_NESTING:
            raise _too_deep()
        statements = sqlglot.parse(text, read="postgres")
    except (ParseError, TokenError) as error:
        raise _refuse(gettext("Cannot parse the condition: %(error)s") % {"error": str(error).splitlines()[0]}, text)
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise _refuse(gettext("Only one condition is allowed (no ';' between statements)"), text)
    tree = statements[0]
    if not isinstance(tree, PREDICATES) and not (_registered(tree) and sql_function(tree.this).predicate):
        raise _refuse(gettext("The rule must be a condition (true or false for each customer)"), _fragment(tree))
    for node in tree.walk():
        if node.comments:
            raise _refuse(gettext("Comments are not allowed in a rule"), _fragment(node))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "days_ago":
            args = node.expressions
            if len(args) != 1 or not isinstance(args[0], exp.Literal) or args[0].is_string \
                    or _whole_days(args[0].this) is None:
                raise _refuse(gettext("days_ago takes one whole number, e.g. days_ago(30)"), _fragment(node))
            continue
        if _registered(node):
            sql_function(node.this).check(node, context=context)
            continue
        if isinstance(node, exp.Literal) and isinstance(node.parent, exp.Anonymous):
            continue
        if isinstance(node, exp.Func) and not isinstance(node, ALLOWED):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            raise _refuse(gettext("Function %(name)s is not allowed (allowed: %(functions)s)")
                          % {"name": name, "functions": _functions()}, _fragment(node))
        if not isinstance(node, ALLOWED):
            raise _refuse(gettext("Not allowed in a rule: %(kind)s (allowed functions: %(functions)s)")
                          % {"kind": type(node).__name__.upper(), "functions": _functions()}, _fragment(node))
        if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest") or
                                         node.args.get("field")):
            raise _refuse(gettext("IN takes a list of values, not a query"), _fragment(node))
        if isinstance(node, exp.Column):
            if node.table or node.args.get("db") or node.args.get("catalog"):
                raise _refuse(gettext("Use field names only, without a table"), _fragment(node))
            if node.name not in catalog:
                raise _refuse(gettext("Unknown field %(field)s") % {"field": node.name}, node.name)
        if isinstance(node, exp.Identifier) and not isinstance(node.parent, exp.Column):
            raise _refuse(gettext("Unexpected name"), _fragment(node))
    return tree


def _whole_days(text: str) -> int | None:
    """The number of days of ``days_ago(n)``: a whole number from 0 to 365,000 (1,000 years), else None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not value.is_integer() or not 0 <= value <= 365000:
        return None
    return int(value)


def _column_sql(spec: FieldSpec, vendor: str) -> str:
    if spec.column == "quality_score":  # kept outside the customers table (customers.quality)
        return quality_sql(f'"{TABLE}"."id"')
    if not spec.is_json:
        return f'"{TABLE}"."{spec.column}"'
    key = spec.key  # catalog keys match ^[a-z][a-z0-9_]*$
    if vendor == "sqlite":
        return f"json_extract(\"{TABLE}\".\"attributes\", '$.{key}')"
    value, text = f"(\"{TABLE}\".\"attributes\" -> '{key}')", f"(\"{TABLE}\".\"attributes\" ->> '{key}')"
    if spec.type == NUMBER:
        return f"(CASE WHEN jsonb_typeof{value} = 'number' THEN {text}::numeric END)"
    if spec.type == BOOLEAN:
        return f"(CASE WHEN jsonb_typeof{value} = 'boolean' THEN {text}::boolean END)"
    return text


def render(tree: exp.Expression, catalog: dict[str, FieldSpec], vendor: str | None = None) -> str:
    """The whitelisted tree as SQL for the current database, fields mapped to their storage."""
    vendor = vendor or connection.vendor
    dialect = "sqlite" if vendor == "sqlite" else "postgres"

    def transform(node):
        if isinstance(node, exp.Column):
            return sqlglot.parse_one(_column_sql(catalog[node.name], vendor), read=dialect)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "days_ago":
            days = _whole_days(node.expressions[0].this)
            helper = f"date('now', '-{days} days')" if vendor == "sqlite" else f"(CURRENT_DATE - {days})"
            return sqlglot.parse_one(helper, read=dialect)
        if _registered(node):
            return sqlglot.parse_one(sql_function(node.this).render(node, vendor), read=dialect)
        return node

    return f"({tree.copy().transform(transform).sql(dialect=dialect)})"


def sql_condition(text: str, catalog: dict[str, FieldSpec], *, viewer=None) -> Q:
    """A Q that filters customers by the custom SQL rule (validate + render)."""
    tree = parse_sql(text, catalog, viewer=viewer)
    try:
        rendered = render(tree, catalog)
    except RecursionError:
        raise _too_deep()
    # no parameters: literals are rendered by sqlglot from the tree; '%' must be doubled for the DB driver
    return Q(RawSQL(rendered.replace("%", "%%"), [], output_field=BooleanField()))


# -- read-only, time-limited execution ----------------------------------------------------------
def _sqlite_authorizer(action, arg1, arg2, dbname, source):
    import sqlite3

    allowed = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
    if action in allowed:
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in {"load_extension", "readfile",
                                                                         "writefile", "edit", "fts3_tokenizer"}:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


@contextmanager
def guarded(seconds: float = TIME_LIMIT_SECONDS):
    """Run the queries inside read-only and stopped after ``seconds``."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL transaction_read_only = on")
                cursor.execute("SET LOCAL statement_timeout = %s", [f"{int(seconds * 1000)}ms"])
            try:
                yield
            except Exception as error:
                if "statement timeout" in str(error) or "canceling statement" in str(error):
                    raise ShoalError("query_timeout", gettext("The query took longer than %(seconds)s s and was stopped")
                                     % {"seconds": f"{seconds:g}"}, status=400)
                if "read-only transaction" in str(error):
                    raise ShoalError("read_only", gettext("The rule tried to change data"), status=400)
                if isinstance(error, DatabaseError):
                    raise ShoalError("invalid_sql", gettext("The rule does not fit the fields' types: %(error)s")
                                     % {"error": str(error).splitlines()[0][:200]})
                raise
        return
    connection.ensure_connection()
    raw = connection.connection
    deadline = time.monotonic() + seconds
    stopped = {"flag": False}

    def progress():
        if time.monotonic() > deadline:
            stopped["flag"] = True
            return 1
        return 0

    raw.set_authorizer(_sqlite_authorizer)
    raw.set_progress_handler(progress, 10000)
    try:
        yield
    except Exception as error:
        if stopped["flag"] or "interrupted" in str(error):
            raise ShoalError("query_timeout", gettext("The query took longer than %(seconds)s s and was stopped")
                             % {"seconds": f"{seconds:g}"})
        if "not authorized" in str(error):
            raise ShoalError("read_only", gettext("The rule tried something a rule may not do"))
        if isinstance(error, DatabaseError):
            raise ShoalError("invalid_sql", gettext("The rule cannot run: %(error)s") % {"error": str(error).splitlines()[0][:200]})
        raise
    finally:
        raw.set_authorizer(None)
        raw.set_progress_handler(None, 0)
