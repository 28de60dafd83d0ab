"""Full passes of auto tags evaluated in process: the columns the rules read are fetched once per range of
customer ids (one aggregated value per column, decoded by numpy) and each rule's condition tree becomes a
boolean array. The answer is the SQL compiler's (``segments/compiler.py``), always:

- only what is known to compare the same way in numpy is compiled: field conditions on standard columns and
  custom fields (text, enum, number, boolean, date, date-time; absolute values). Custom SQL, include / exclude
  tags, the tag kinds, relative dates and multi-enums send the whole tag to the SQL path, as do numbers whose
  decimal text has more than 15 characters or an exponent (a double compares them exactly only up to there);
- values are read with a type code per row; a row whose value has a type other than the field's (a JSON
  number in a text field, a date stored in another form, a value SQLite stores in another class, an infinite
  PostgreSQL date, a number too long to compare exactly) is *unsure*: the SQL statement answers those
  customers (one statement per batch of ids, as an incremental refresh does);
- letters: SQLite's ``LIKE`` and ``UPPER`` fold ASCII letters only; PostgreSQL's ``UPPER`` follows the
  database's character type. Texts are compared folded to ASCII upper case; on a database that folds more
  (a UTF-8 character type), a text with a letter outside ASCII that has a case (``É``, ``ß``) is unsure, and
  such a value in a rule sends the tag to SQL. CJK has no case: it compares as it is;
- date-times: SQLite compares the stored text with the parameter Django binds (text order), PostgreSQL the
  instants (microseconds since 1970 here); dates and date-times in custom fields are ISO text compared as text
  (rows not in the canonical form ``YYYY-MM-DD`` / ``YYYY-MM-DDTHH:MM:SSZ`` are unsure: the database's
  collation could order them otherwise).

Anything unexpected while fetching or decoding (a text holding the column separator, a database error) makes
the range go through SQL for every tag. ``settings.SHOAL_TAG_COLUMNAR`` (default on) switches it off."""

from __future__ import annotations

import logging
import time
import weakref
from contextlib import nullcontext
from datetime import UTC, date, datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from shoal.customers.jsonkeys import SAFE_KEY
from shoal.customers.models import Customer
from shoal.segments.catalog import BOOLEAN, DATE, DATETIME, ENUM, NUMBER, TEXT, FieldSpec
from shoal.segments.compiler import NEGATIVE, utc_text
from shoal.segments.tree import Group, Leaf, Not, parse

log = logging.getLogger(__name__)

SEPARATOR = "\x1f"  # between the texts of a column
EXACT_CHARS = 15  # a decimal of at most 15 digits compares as a double exactly as the databases compare it
TYPES = {TEXT, ENUM, NUMBER, BOOLEAN, DATE, DATETIME}
ORDERED_OPS = {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"}
TEXT_OPS = {"eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "is_empty",
            "is_not_empty"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IN_BATCH = 5_000  # unsure customers per SQL statement (as refresh.IN_BATCH: one JSON / array parameter)
# the canonical forms of dates and date-times in custom fields (PostgreSQL compares other forms by its collation)
CANONICAL = {DATE: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", DATETIME: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"}


class Unsupported(Exception):
    """A rule (or a row) numpy does not answer exactly: SQL does."""


def enabled() -> bool:
    return bool(getattr(settings, "SHOAL_TAG_COLUMNAR", True))


def _ascii_upper(text: str) -> str:
    return text.encode().upper().decode()  # bytes.upper folds ASCII letters only; UTF-8 sequences are kept


def _caseless_beyond_ascii(text: str) -> bool:
    """No letter outside ASCII has a case here (CJK, digits…): every database folds this text as ASCII does."""
    return text.upper() == _ascii_upper(text) and text.lower() == text.encode().lower().decode()


# -- how the database folds letters ------------------------------------------------------------------------
def fold_mode() -> str | None:
    """"ascii": UPPER / LIKE fold ASCII letters only (SQLite without ICU; PostgreSQL with a C character type);
    "unicode": UPPER folds other letters too (PostgreSQL, UTF-8 character type); None: neither (e.g. a Turkish
    locale): case-insensitive text conditions go to SQL."""
    probe = "abcdefghijklmnopqrstuvwxyzé"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT UPPER(%s), %s LIKE %s", [probe, "é", "É"])
            upper, like = cursor.fetchone()
            return "ascii" if upper == _ascii_upper(probe) and not like else None
        cursor.execute("SELECT UPPER(%s)", [probe])
        upper = cursor.fetchone()[0]
    if upper == _ascii_upper(probe):
        return "ascii"
    return "unicode" if upper == probe.upper() else None


# -- compiling (once per run) -----------------------------------------------------------------------------
def _exact_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    text = repr(value)
    return len(text.lstrip("-")) <= EXACT_CHARS and "e" not in text and "inf" not in text and "nan" not in text


def _check(node, fold: str | None, ops: dict[str, set[str]]) -> None:
    """Adds the fields the tree reads (and the operators it applies to them) to ``ops``; raises Unsupported for
    anything numpy does not answer exactly."""
    if isinstance(node, Group):
        for child in node.children:
            _check(child, fold, ops)
        return
    if isinstance(node, Not):
        _check(node.child, fold, ops)
        return
    if not isinstance(node, Leaf):  # a registered kind (tags_any…): reads taggings
        raise Unsupported(type(node).__name__)
    spec, op, value = node.field, node.op, node.value
    if spec.column == "quality_score":  # not a column of the customers (customers.quality)
        raise Unsupported(spec.key)
    if spec.type not in TYPES:
        raise Unsupported(spec.type)
    if spec.is_json and not SAFE_KEY.match(spec.key):
        raise Unsupported(spec.key)
    allowed = TEXT_OPS if spec.type == TEXT else ORDERED_OPS
    if op not in allowed:
        raise Unsupported(op)
    values = value if op in ("in", "not_in", "between") else (() if value is None else (value,))
    if spec.type == NUMBER:
        if spec.is_json and not all(_exact_number(v) for v in values):
            raise Unsupported(f"number {value!r}")
        if not spec.is_json and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise Unsupported(f"number {value!r}")  # Django rounds floats for integer columns
    if spec.type == TEXT and _folds(spec, op):
        if fold is None or any(not isinstance(v, str) or (fold == "unicode" and not _caseless_beyond_ascii(v))
                               for v in values):
            raise Unsupported("case")
    if spec.type in (DATE, DATETIME) and not all(isinstance(v, date) for v in values):
        raise Unsupported("relative")
    if spec.type == DATETIME and not all(isinstance(v, datetime) and v.tzinfo is not None for v in values):
        raise Unsupported("naive")
    ops.setdefault(spec.key, set()).add(op)


def _folds(spec: FieldSpec, op: str) -> bool:
    """Does the SQL compare this text ignoring case (``iexact``/``icontains``… or UPPER … IN)?"""
    return not (spec.normalise and op in ("eq", "ne", "in", "not_in"))


class Plan:
    """The tags of one (level) list: those numpy answers (their rules' trees) and those SQL does."""

    def __init__(self, run, tags, fold):
        self.compiled: list[tuple[int, list[tuple[int, object]]]] = []
        self.sql_tags = []
        self.fields: dict[str, FieldSpec] = {}
        ops: dict[str, set[str]] = {}
        for tag in tags:
            try:
                rules = []
                used: dict[str, set[str]] = {}
                for rule in run.rules[tag.pk]:
                    if rule.sql or rule.include_tags or rule.exclude_tags:
                        raise Unsupported("sql or tags")
                    node = None if rule.query is None else parse(rule.query, run.catalog)
                    if node is not None:
                        _check(node, fold, used)
                    rules.append((rule.pk, node))
            except Unsupported:
                self.sql_tags.append(tag)
                continue
            self.compiled.append((tag.pk, rules))
            for key, applied in used.items():
                self.fields[key] = run.catalog[key]
                ops.setdefault(key, set()).update(applied)
        # fields only tested for emptiness: one code per customer, computed as the compiler's present() is
        self.presence = frozenset(key for key, applied in ops.items() if applied <= {"is_empty", "is_not_empty"})


class State:
    def __init__(self):
        self.fold = fold_mode()
        self.plans: dict[tuple[int, ...], Plan] = {}


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# -- fetching (once per range) ------------------------------------------------------------------------------
class Slot:
    """One aggregated value of the fetch: ``kind`` "text" (joined by SEPARATOR), "int" (64-bit), "codes"
    (one character per customer)."""

    def __init__(self, expression: str, kind: str):
        self.expression, self.kind = expression, kind


def _sqlite_slots(spec: FieldSpec) -> dict[str, Slot]:
    if spec.is_json:
        path = f"'$.\"{spec.key}\"'"
        codes = Slot(f"CASE json_type(attributes, {path}) WHEN 'text' THEN 's' WHEN 'integer' THEN 'i' "
                     f"WHEN 'real' THEN 'i' WHEN 'true' THEN 't' WHEN 'false' THEN 'f' WHEN 'null' THEN 'n' "
                     f"WHEN 'array' THEN 'a' WHEN 'object' THEN 'o' ELSE 'm' END", "codes")
        if spec.type == BOOLEAN:
            return {"codes": codes}
        # numbers: their JSON text (as written: its length says whether a double compares it exactly); other
        # types' values are of no use (their rows are unsure) but harmless (JSON text has no raw separator)
        value = f"attributes -> {path}" if spec.type == NUMBER else f"json_extract(attributes, {path})"
        return {"codes": codes, "text": Slot(f"COALESCE({value}, '')", "text")}
    column = connection.ops.quote_name(spec.column)
    if spec.type in (TEXT, ENUM):
        # a column of TEXT affinity holds text or NULL (numbers written to it become text; only a BLOB written by
        # hand could be something else); NULL and "" are both empty and equal nothing
        return {"text": Slot(f"COALESCE({column}, '')", "text")}
    expected = "integer" if spec.type == NUMBER else "text"
    codes = Slot(f"CASE typeof({column}) WHEN 'null' THEN 'n' WHEN '{expected}' THEN 'v' ELSE 'x' END", "codes")
    if spec.type == NUMBER:
        return {"codes": codes, "int": Slot(f"CASE typeof({column}) WHEN 'integer' THEN {column} ELSE 0 END", "int")}
    return {"codes": codes, "text": Slot(f"CASE typeof({column}) WHEN 'text' THEN {column} ELSE '' END", "text")}


def _postgresql_slots(spec: FieldSpec) -> dict[str, Slot]:
    if spec.is_json:
        value = f"(attributes -> '{spec.key}')"
        string = "'s'"
        if spec.type in CANONICAL:  # another form is unsure: the database's collation orders it
            string = f"CASE WHEN ({value} #>> '{{}}') ~ '{CANONICAL[spec.type]}' THEN 's' ELSE 'x' END"
        codes = Slot(f"CASE jsonb_typeof({value}) WHEN 'string' THEN {string} WHEN 'number' THEN 'i' WHEN 'boolean' "
                     f"THEN (CASE WHEN {value} = 'true'::jsonb THEN 't' ELSE 'f' END) WHEN 'null' THEN 'n' "
                     f"WHEN 'array' THEN 'a' WHEN 'object' THEN 'o' ELSE 'm' END", "codes")
        if spec.type == BOOLEAN:
            return {"codes": codes}
        return {"codes": codes, "text": Slot(f"CASE WHEN jsonb_typeof({value}) IN ('string', 'number') "
                                             f"THEN {value} #>> '{{}}' ELSE '' END", "text")}
    column = connection.ops.quote_name(spec.column)
    if spec.type in (TEXT, ENUM):
        return {"text": Slot(f"COALESCE({column}, '')", "text")}
    if spec.type == NUMBER:
        return {"codes": Slot(f"CASE WHEN {column} IS NULL THEN 'n' ELSE 'v' END", "codes"),
                "int": Slot(f"COALESCE({column}, 0)::int8", "int")}
    number = (f"({column} - DATE '1970-01-01')" if spec.type == DATE
              else f"(extract(epoch FROM {column}) * 1000000)::int8")
    return {"codes": Slot(f"CASE WHEN {column} IS NULL THEN 'n' WHEN isfinite({column}) THEN 'v' ELSE 'x' END",
                          "codes"),
            "int": Slot(f"CASE WHEN isfinite({column}) THEN {number} ELSE 0 END::int8", "int")}


def _aggregate(alias: str, kind: str, vendor: str) -> str:
    if vendor == "postgresql":
        if kind == "int":
            return f"string_agg(int8send({alias}), ''::bytea)"
        return f"string_agg({alias}, {'E' + repr(chr(31)) if kind == 'text' else repr('')})"
    return f"group_concat({alias}, {'char(31)' if kind == 'text' else repr(',' if kind == 'int' else '')})"


def _decode(value, kind: str, vendor: str, count: int) -> np.ndarray:
    if kind == "codes":
        out = np.frombuffer((value or "").encode("ascii"), dtype="S1")
    elif kind == "int":
        if vendor == "postgresql":
            out = np.frombuffer(bytes(value or b""), dtype=">i8").astype(np.int64)
        else:
            out = np.array((value or "").split(","), dtype=np.int64)
    else:
        if value is None or "\x00" in value:
            raise Unsupported("text")
        out = np.array(value.split(SEPARATOR), dtype=np.dtypes.StringDType())
    if len(out) != count:
        raise Unsupported(f"{len(out)} values for {count} customers")
    return out


def _presence_slot(spec: FieldSpec, vendor: str) -> Slot:
    """"v" where the field has a value, "n" where it is empty: ``compiler.present`` (``JSONValuePresent``)."""
    if spec.is_json:
        if vendor == "sqlite":
            path = f"'$.\"{spec.key}\"'"
            return Slot(f"CASE COALESCE(json_type(attributes, {path}), 'null') WHEN 'null' THEN 'n' "
                        f"WHEN 'text' THEN (CASE WHEN json_extract(attributes, {path}) = '' THEN 'n' ELSE 'v' END) "
                        f"WHEN 'array' THEN (CASE WHEN json_array_length(attributes, {path}) = 0 THEN 'n' ELSE 'v' END) "
                        f"ELSE 'v' END", "codes")
        value = f"(attributes -> '{spec.key}')"
        return Slot(f"CASE WHEN COALESCE(jsonb_typeof({value}), 'null') = 'null' OR {value} = '\"\"'::jsonb "
                    f"OR {value} = '[]'::jsonb THEN 'n' ELSE 'v' END", "codes")
    column = connection.ops.quote_name(spec.column)
    empty = [f"{column} IS NULL"] if spec.nullable else []
    if spec.type in (TEXT, ENUM):
        empty.append(f"{column} = ''")
    return Slot(f"CASE WHEN {' OR '.join(empty)} THEN 'n' ELSE 'v' END" if empty else "'v'", "codes")


def fetch(fields: dict[str, FieldSpec], lo: int, hi: int, presence=frozenset()):
    """(ids, {key: {slot name: array}}) of the customers in [lo, hi), in one statement."""
    vendor = connection.vendor
    slots = {key: ({"presence": _presence_slot(spec, vendor)} if key in presence
                   else (_sqlite_slots if vendor == "sqlite" else _postgresql_slots)(spec))
             for key, spec in fields.items()}
    inner, outer, order = [], [], []
    for key, named in slots.items():
        for name, slot in named.items():
            alias = f"s{len(order)}"
            inner.append(f"{slot.expression} AS {alias}")
            outer.append(_aggregate(alias, slot.kind, vendor))
            order.append((key, name, slot.kind))
    table = connection.ops.quote_name(Customer._meta.db_table)
    source = f"{table} NOT INDEXED" if vendor == "sqlite" else table
    selected = ", ".join(["id", *inner])
    ids = "group_concat(id, ',')" if vendor == "sqlite" else "string_agg(int8send(id::int8), ''::bytea)"
    sql = (f"SELECT COUNT(*), {', '.join([ids, *outer])} FROM "
           f"(SELECT {selected} FROM {source} WHERE id >= %s AND id < %s ORDER BY id) AS _columns")
    with connection.cursor() as cursor:
        cursor.execute(sql, [lo, hi])
        count, id_value, *values = cursor.fetchone()
    if not count:
        return np.empty(0, dtype=np.int64), {}
    ids = _decode(id_value, "int", vendor, count)
    columns: dict[str, dict[str, np.ndarray]] = {key: {} for key in fields}
    for (key, name, kind), value in zip(order, values, strict=True):
        columns[key][name] = _decode(value, kind, vendor, count)
        if kind == "text":
            columns[key]["joined"] = value  # the texts as fetched: folded at once if a rule ignores case
    return ids, columns


# -- evaluating -----------------------------------------------------------------------------------------------
class Column:
    """A field over the range: ``empty`` (the compiler's notion: NULL, missing, JSON null, ""), ``unsure``
    (rows SQL must answer), and the values to compare: ``text`` (str), ``number`` (int64 or float64) or
    ``flag`` (bool)."""

    def __init__(self, spec: FieldSpec, raw: dict[str, np.ndarray], fold: str | None, vendor: str):
        self.spec, self.fold = spec, fold
        codes = raw.get("codes")
        self.joined = raw.get("joined")
        if "presence" in raw:
            self.empty = raw["presence"] == b"n"
            self.unsure = np.zeros(len(self.empty), dtype=bool)
            return
        n = len(raw["codes"] if codes is not None else raw["text"])
        self.unsure = np.zeros(n, dtype=bool)
        self.text = self.number = self.flag = None
        self._folded = self._unfoldable = None
        kind = spec.type
        if spec.is_json:
            missing = (codes == b"m") | (codes == b"n")
            if kind == BOOLEAN:
                self.flag = codes == b"t"
                self.unsure = ~(missing | self.flag | (codes == b"f"))
                self.empty = missing
                return
            text = raw["text"]
            if kind == NUMBER:
                number = codes == b"i"
                exact = number & (np.strings.str_len(text) <= EXACT_CHARS + (np.strings.startswith(text, "-")))
                for letter in "eE":  # exponents (a JSON number has no other letter)
                    exact &= np.strings.find(text, letter) < 0
                self.number = np.full(n, np.nan)
                self.number[exact] = text[exact].astype(np.float64)
                self.unsure = ~(missing | exact)
                self.empty = missing
                return
            string = codes == b"s"
            self.text = text
            self.empty = missing | (string & (text == ""))
            self.unsure = ~(missing | string)
            return
        # a standard column: NULL is empty where the column may hold it (present() tests it only then)
        self.empty = (codes == b"n") if codes is not None and spec.nullable else np.zeros(n, dtype=bool)
        if codes is not None:
            self.unsure = (codes == b"x") | ((codes == b"n") & (not spec.nullable))
        if kind in (TEXT, ENUM):
            self.text = raw["text"]
            self.empty = self.empty | (self.text == "")  # NULL and "" are both empty (and equal nothing)
        elif "int" in raw:
            self.number = raw["int"]
        else:
            self.text = raw["text"]  # SQLite dates and date-times: the stored text, compared as text

    def folded(self, unsure: np.ndarray) -> np.ndarray:
        if self._folded is None:
            joined = self.joined if self.joined is not None else SEPARATOR.join(self.text.tolist())
            folded = _ascii_upper(joined)
            self._folded = np.array(folded.split(SEPARATOR), dtype=np.dtypes.StringDType())
            if self.fold == "unicode" and not _caseless_beyond_ascii(joined):
                self._unfoldable = np.array([not _caseless_beyond_ascii(text) for text in self.text.tolist()])
        if self._unfoldable is not None:
            unsure |= self._unfoldable
        return self._folded


def _db_value(spec: FieldSpec, value):
    """The value as the column compares it (SQLite: the text Django binds; PostgreSQL: days / microseconds)."""
    if spec.type == DATE:
        if connection.vendor == "sqlite":
            return Customer._meta.get_field(spec.column).get_db_prep_value(value, connection, prepared=False)
        return (value - date(1970, 1, 1)).days
    if spec.type == DATETIME:
        if connection.vendor == "sqlite":
            return Customer._meta.get_field(spec.column).get_db_prep_value(value, connection, prepared=False)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return value


def _json_text(spec: FieldSpec, value) -> str:
    return value.isoformat() if spec.type == DATE else utc_text(value)


class Evaluator:
    def __init__(self, fields, columns, fold, vendor):
        self.columns = {key: Column(spec, columns[key], fold, vendor) for key, spec in fields.items()}

    def rule(self, node, n: int) -> tuple[np.ndarray, np.ndarray]:
        unsure = np.zeros(n, dtype=bool)
        if node is None:
            return np.ones(n, dtype=bool), unsure
        return self._node(node, unsure), unsure

    def _node(self, node, unsure) -> np.ndarray:
        if isinstance(node, Group):
            parts = [self._node(child, unsure) for child in node.children]
            out = parts[0].copy()
            for part in parts[1:]:
                if node.kind == "all":
                    out &= part
                else:
                    out |= part
            return out
        if isinstance(node, Not):
            return ~self._node(node.child, unsure)
        return self._leaf(node, unsure)

    def _leaf(self, leaf: Leaf, unsure) -> np.ndarray:
        column = self.columns[leaf.field.key]
        unsure |= column.unsure
        op = leaf.op
        if op == "is_empty":
            return column.empty.copy()
        if op == "is_not_empty":
            return ~column.empty
        if op in NEGATIVE:
            return ~(~column.empty & self._compare(column, NEGATIVE[op], leaf.value, unsure))
        return ~column.empty & self._compare(column, op, leaf.value, unsure)

    def _compare(self, column: Column, op: str, value, unsure) -> np.ndarray:
        spec = column.spec
        kind = spec.type
        if kind == TEXT:
            if not _folds(spec, op):
                return column.text == value if op == "eq" else np.isin(column.text, list(value))
            folded = column.folded(unsure)
            if op == "in":
                return np.isin(folded, [_ascii_upper(v) for v in value])
            target = _ascii_upper(value)
            if op == "eq":
                return folded == target
            if op == "contains":
                return np.strings.find(folded, target) >= 0
            if op == "starts_with":
                return np.strings.startswith(folded, target)
            return np.strings.endswith(folded, target)
        if kind == ENUM:
            return column.text == value if op == "eq" else np.isin(column.text, list(value))
        if kind == BOOLEAN:
            return column.flag == value if op == "eq" else np.isin(column.flag, list(value))
        if kind in (DATE, DATETIME):
            if spec.is_json:
                convert = lambda v: _json_text(spec, v)  # noqa: E731
                values = column.text
            else:
                convert = lambda v: _db_value(spec, v)  # noqa: E731
                values = column.number if column.number is not None else column.text
        else:
            convert, values = (lambda v: v), column.number
        if op == "in":
            return np.isin(values, [convert(v) for v in value])
        with np.errstate(invalid="ignore"):
            if op == "between":
                return (values >= convert(value[0])) & (values <= convert(value[1]))
            target = convert(value)
            return {"eq": np.equal, "gt": np.greater, "gte": np.greater_equal, "lt": np.less,
                    "lte": np.less_equal}[op](values, target)


# -- the entry point ----------------------------------------------------------------------------------------
def match(run, tags, lo: int, hi: int) -> dict[int, dict[int, int]]:
    """``run._match(tags, lo=lo, hi=hi)``'s answer (tag id → {customer id → first matching rule id}) for a full
    range, the rules numpy can answer evaluated here, the others (and the unsure customers) by SQL."""
    tags = [t for t in tags if t.pk not in run.failed]
    if not enabled() or not tags:
        return run._match(tags, lo=lo, hi=hi)
    started = time.perf_counter()
    state = _STATES.get(run)
    if state is None:
        state = _STATES[run] = State()
    key = tuple(t.pk for t in tags)
    if key not in state.plans:
        state.plans[key] = Plan(run, tags, state.fold)
    plan = state.plans[key]
    result: dict[int, dict[int, int]] = {}
    sql_tags = list(plan.sql_tags)
    unsure_ids: np.ndarray | None = None
    unsure_tags: list[int] = []
    if plan.compiled:
        try:
            # In a caller's transaction, a savepoint: a database error must not break it. Outside one, none: on
            # SQLite ``atomic()`` begins a write transaction (IMMEDIATE), and the read-ahead thread's fetch held
            # the write lock while the refresh's writer waited for it (measured at 1M: 8.7 s of a 30 s first pass).
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                ids, raw = fetch(plan.fields, lo, hi, plan.presence)
            result, unsure_ids, unsure_tags = _evaluate(plan, ids, raw, state.fold)
        except Exception as error:  # noqa: BLE001 — anything unexpected: this range through SQL
            log.warning("tags columnar: range [%s, %s) through SQL: %s", lo, hi, error)
            result, unsure_ids, unsure_tags = {}, None, []
            by_pk = {t.pk: t for t in tags}
            sql_tags += [by_pk[tag_id] for tag_id, _rules in plan.compiled]
    run.phases["evaluate"] += time.perf_counter() - started
    if sql_tags:
        result.update(run._match(sql_tags, lo=lo, hi=hi))
    if unsure_tags:
        by_pk = {t.pk: t for t in tags}
        chosen = [by_pk[tag_id] for tag_id in unsure_tags]
        listed = unsure_ids.tolist()
        for start in range(0, len(listed), IN_BATCH):
            batch = listed[start:start + IN_BATCH]
            found = run._match(chosen, ids=batch)
            for tag_id in unsure_tags:
                answer = result[tag_id]
                for customer_id in batch:
                    answer.pop(customer_id, None)
                answer.update(found.get(tag_id, {}))
        for tag_id in unsure_tags:  # in the key's order again (the writes insert in it)
            result[tag_id] = dict(sorted(result[tag_id].items()))
    return {tag_id: answer for tag_id, answer in result.items() if tag_id not in run.failed}


def _evaluate(plan: Plan, ids: np.ndarray, raw, fold):
    n = len(ids)
    if n and np.any(ids[1:] < ids[:-1]):  # the aggregates follow the rows' order: sort them together
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        raw = {key: {name: array[order] for name, array in slots.items() if name != "joined"}
               for key, slots in raw.items()}
    evaluator = Evaluator(plan.fields, raw, fold, connection.vendor) if n else None
    result: dict[int, dict[int, int]] = {}
    all_unsure = np.zeros(n, dtype=bool)
    unsure_tags = []
    for tag_id, rules in plan.compiled:
        if not n:
            result[tag_id] = {}
            continue
        first = np.full(n, -1, dtype=np.int64)
        tag_unsure = np.zeros(n, dtype=bool)
        for index in range(len(rules) - 1, -1, -1):  # the first rule that matches wins
            mask, unsure = evaluator.rule(rules[index][1], n)
            first[mask] = index
            tag_unsure |= unsure
        chosen = first >= 0
        rule_ids = np.array([rule_id for rule_id, _node in rules], dtype=np.int64)
        if len(rules) == 1:
            result[tag_id] = dict.fromkeys(ids[chosen].tolist(), int(rule_ids[0]))
        else:
            result[tag_id] = dict(zip(ids[chosen].tolist(), rule_ids[first[chosen]].tolist(), strict=True))
        if tag_unsure.any():
            unsure_tags.append(tag_id)
            all_unsure |= tag_unsure
    return result, ids[all_unsure], unsure_tags
