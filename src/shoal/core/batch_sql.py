"""The few set-based statements of the batch workers (strategy tasks, processor calls), for PostgreSQL and
SQLite: insert many rows skipping those whose unique key exists (one statement per batch), add to per-day
counters, update many rows by id from parallel lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from django.db import connection

from shoal.core.db import max_params


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _pg_arrays(types: Sequence[str]) -> str:
    return ", ".join(f"%s::{t}[]" for t in types)


def _columns(columns: Sequence[str]) -> str:
    return ", ".join(_qn(c) for c in columns)


def aware(value) -> datetime:
    """A date-time read by raw SQL as an aware one (SQLite hands back naive UTC, or its text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sqlite(value):
    """A value as SQLite's columns of Django hold it (date-times as naive UTC text)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


class _SqliteValues(dict):
    """Values → as SQLite's columns of Django hold them, each distinct one converted once."""

    def __missing__(self, value):
        out = self[value] = _sqlite(value)
        return out


def _sqlite_rows(rows: list[Sequence]) -> list[tuple]:
    """``rows`` with their date-times as SQLite text. Column by column: only the columns that hold a date or
    a date-time are converted, each distinct value once (a batch repeats the same few: the events' times,
    now)."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    for i, column in enumerate(columns):
        kinds = set(map(type, column))
        if datetime in kinds or date in kinds:
            columns[i] = map(_SqliteValues().__getitem__, column)
    return list(zip(*columns, strict=True))


def _single(column) -> bool:
    """Every value of ``column`` is the same one."""
    first = column[0]
    return all(v == first and type(v) is type(first) for v in column)


def _chunks(rows: list, width: int):
    per = max(1, max_params() // max(1, width))
    for start in range(0, len(rows), per):
        yield rows[start:start + per]


# -- PostgreSQL: COPY … FROM STDIN in text format, formatted here column by column ----------------------------
# psycopg's ``Copy.write_row`` adapts every value of every row (~4 µs a row of 12); the strategies' rows are
# ints, a few distinct times and strings, None, booleans: each column is turned into text in one pass (the
# distinct values of a column once), then the rows joined (~1 µs a row).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


class _CopyValues(dict):
    """The COPY text of the values of one column (a column holds values of one type, and None)."""

    def __missing__(self, value):
        out = self[value] = _copy_value(value)
        return out


def _copy_column(column) -> Sequence[str]:
    kinds = set(map(type, column))
    if kinds == {int}:
        return list(map(str, column))
    if len(kinds - {type(None)}) > 1:  # True == 1 == 1.0 as keys: no shared cache across types
        return [_copy_value(v) for v in column]
    return list(map(_CopyValues().__getitem__, column))


def copy_text(table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
    """PostgreSQL: write ``rows`` (ints, strings, date-times, booleans, None) into ``table``'s ``columns``
    with one COPY. Errors come out as Django's (IntegrityError…)."""
    if not rows:
        return
    text = "\n".join(map("\t".join, zip(*map(_copy_column, zip(*rows, strict=True)), strict=True))) + "\n"
    with connection.cursor() as cursor, connection.wrap_database_errors, \
            cursor.cursor.copy(f"COPY {_qn(table)} ({_columns(columns)}) FROM STDIN") as copy:
        copy.write(text)


def insert_rows(table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
    """Plain INSERT of many rows: PostgreSQL one COPY (``copy_text``); SQLite one prepared statement for every
    row, date-times written as Django writes them (as the tasks and the ORM)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        copy_text(table, columns, rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {_qn(table)} ({_columns(columns)}) VALUES "
                           f"({', '.join(['%s'] * len(columns))})", _sqlite_rows(rows))


def insert_new(table: str, columns: Sequence[str], types: Sequence[str], rows: list[Sequence]) -> int:
    """``insert_ignore(…, returning=None)`` for rows whose keys are expected to be new (an event's tasks:
    the batch's transaction makes each event's once; the unique key backs that up). PostgreSQL: COPY
    straight into the table inside a savepoint (the rows are written once, not through a scratch table);
    should a key exist after all, back to the savepoint and insert skipping the existing keys. How many
    rows were written."""
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM:
        return insert_ignore(table, columns, types, rows, returning=None)
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            copy_text(table, columns, rows)
    except IntegrityError:
        return insert_ignore(table, columns, types, rows, returning=None)
    return len(rows)


def insert_ignore(table: str, columns: Sequence[str], types: Sequence[str], rows: list[Sequence], *,
                  returning: Sequence[str] | None):
    """INSERT the ``rows`` (values in the order of ``columns``; ``types``: their PostgreSQL types) ``ON
    CONFLICT DO NOTHING``, in one statement on PostgreSQL. ``returning``: the columns to give back of the rows
    written (not of those skipped); None: how many were written."""
    if not rows:
        return [] if returning else 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not returning and len(rows) >= COPY_FROM:
            return _copy_ignore(cursor, table, columns, rows)
        if connection.vendor == "postgresql":
            # a column holding one value in every row is sent once, not as an array (psycopg quotes each
            # element of a text array in Python)
            cols = list(zip(*rows, strict=True))
            same = [_single(col) for col in cols]
            arrays = [(i, t) for i, t in enumerate(types) if not same[i]] or [(0, types[0])]
            names = {i: f"c{i}" for i, _ in arrays}
            select = ", ".join(names[i] if i in names else f"%s::{t}" for i, t in enumerate(types))
            back = f" RETURNING {_columns(returning)}" if returning else ""
            cursor.execute(
                f"INSERT INTO {_qn(table)} ({_columns(columns)}) SELECT {select} FROM "
                f"unnest({_pg_arrays([t for _, t in arrays])}) AS v({', '.join(names.values())}) "
                f"ON CONFLICT DO NOTHING{back}",
                [*(cols[i][0] for i in range(len(types)) if i not in names), *(list(cols[i]) for i, _ in arrays)])
            return cursor.fetchall() if returning else cursor.rowcount
        head = f"INSERT INTO {_qn(table)} ({_columns(columns)}) VALUES "
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        if not returning:  # one prepared statement for every row
            cursor.executemany(f"{head}{row_sql} ON CONFLICT DO NOTHING", _sqlite_rows(rows))
            return cursor.rowcount
        out: list[tuple] = []
        for chunk in _chunks(_sqlite_rows(rows), len(columns)):
            cursor.execute(f"{head}{', '.join([row_sql] * len(chunk))} ON CONFLICT DO NOTHING "
                           f"RETURNING {_columns(returning)}", [v for row in chunk for v in row])
            out += cursor.fetchall()
    return out


COPY_FROM = 500  # rows: through a temporary table written with COPY (psycopg formats the rows in C)


def _copy_ignore(cursor, table: str, columns: Sequence[str], rows: list[Sequence]) -> int:
    """PostgreSQL: COPY the rows into a session's temporary table shaped like ``table``'s ``columns``, then one
    INSERT … SELECT … ON CONFLICT DO NOTHING; how many were written."""
    from shoal.core.db import copy_rows

    scratch = f"{table}_load"
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_qn(scratch)} AS SELECT {_columns(columns)} FROM "
                   f"{_qn(table)} WITH NO DATA")
    copy_rows(scratch, columns, rows)
    cursor.execute(f"INSERT INTO {_qn(table)} ({_columns(columns)}) SELECT {_columns(columns)} FROM {_qn(scratch)} "
                   f"ON CONFLICT DO NOTHING")
    written = cursor.rowcount
    cursor.execute(f"TRUNCATE {_qn(scratch)}")
    return written


def add_counts(table: str, keys: Sequence[str], key_types: Sequence[str], counters: Sequence[str],
               rows: dict[tuple, Sequence[int]]) -> None:
    """Add ``rows`` (key tuple → counts in the order of ``counters``) to the counters of ``table`` (its
    primary key: ``keys``), creating the missing rows. Sorted by key: two workers never wait on each
    other in opposite orders."""
    if not rows:
        return
    items = sorted(rows.items())
    columns = [*keys, *counters]
    sets = ", ".join(f"{_qn(c)} = {_qn(table)}.{_qn(c)} + excluded.{_qn(c)}" for c in counters)
    conflict = f"ON CONFLICT ({_columns(keys)}) DO UPDATE SET {sets}"
    flat = [(*key, *counts) for key, counts in items]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            aliases = ", ".join(f"c{i}" for i in range(len(columns)))
            types = [*key_types, *(["bigint"] * len(counters))]
            cursor.execute(f"INSERT INTO {_qn(table)} ({_columns(columns)}) SELECT {aliases} FROM "
                           f"unnest({_pg_arrays(types)}) AS v({aliases}) {conflict}",
                           [list(col) for col in zip(*flat, strict=True)])
            return
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        cursor.executemany(f"INSERT INTO {_qn(table)} ({_columns(columns)}) VALUES {row_sql} {conflict}",
                           _sqlite_rows(flat))


def update_by_id(table: str, columns: Sequence[str], types: Sequence[str], rows: list[Sequence], *,
                 where: str = "", params: Sequence = ()) -> int:
    """UPDATE ``table`` SET ``columns`` from ``rows`` (``(id, value, …)``); ``where``: an extra condition on
    the table's row (alias ``t``) with its ``params``. How many rows changed."""
    if not rows:
        return 0
    extra = f" AND ({where})" if where else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            aliases = ["id", *(f"c{i}" for i in range(len(columns)))]
            sets = ", ".join(f"{_qn(c)} = v.c{i}" for i, c in enumerate(columns))
            cursor.execute(f"UPDATE {_qn(table)} AS t SET {sets} FROM unnest({_pg_arrays(['bigint', *types])}) "
                           f"AS v({', '.join(aliases)}) WHERE t.id = v.id{extra}",
                           [*[list(col) for col in zip(*rows, strict=True)], *params])
            return cursor.rowcount
        # one statement per chunk: UPDATE … FROM a VALUES list (SQLite ≥ 3.33; its columns are column1, …)
        sets = ", ".join(f"{_qn(c)} = v.column{i + 2}" for i, c in enumerate(columns))
        row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        total = 0
        for chunk in _chunks(_sqlite_rows(rows), len(columns) + 1 + len(params)):
            cursor.execute(f"UPDATE {_qn(table)} AS t SET {sets} FROM (VALUES {', '.join([row_sql] * len(chunk))}) "
                           f"AS v WHERE t.id = v.column1{extra}",
                           [*(x for row in chunk for x in row), *map(_sqlite, params)])
            total += cursor.rowcount
        return total
