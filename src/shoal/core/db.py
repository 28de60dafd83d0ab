"""Small database helpers shared by the bulk write paths: rows in (COPY / multi-row INSERT), changed
fields of many rows out in one statement."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from datetime import date, datetime

from django.db import connection, connections
from django.utils import timezone


@contextmanager
def sqlite_page_cache(kib: int):
    """SQLite: a page cache of ``kib`` KiB for this connection inside the block (bulk writes into indexes
    otherwise re-read and re-write the same pages through the default 2 MB), then back to what it was.
    Elsewhere: nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    with _sqlite_pragma("cache_size", -int(kib)):
        yield


@contextmanager
def _sqlite_pragma(name: str, value: int):
    """SQLite: ``PRAGMA name = value`` for this connection inside the block, then back to what it was."""
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA {name} = {int(before)}")


@contextmanager
def sqlite_checkpoints_aside(every: float = 0.5):
    """SQLite: inside the block this connection's commits copy no WAL pages into the database (automatic checkpoints
    off); a thread on a connection of its own does it every ``every`` seconds (PASSIVE: it never waits for a writer
    or a reader), so a long run of bulk commits does not copy pages on its way (a first full tag refresh at 1M: the
    checkpoints had run inside its commits). Afterwards as it was. Elsewhere: nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    import threading

    stop = threading.Event()

    def work() -> None:
        from django.db import connection as own  # this thread's own connection

        try:
            while not stop.wait(every):
                try:
                    with own.cursor() as cursor:
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception as error:  # noqa: BLE001 — tried again on the next round (the WAL must not grow on)
                    logging.getLogger(__name__).warning("sqlite checkpoint: %s", error)
        finally:
            own.close()

    thread = threading.Thread(target=work, name="sqlite-checkpoints", daemon=True)
    with _sqlite_pragma("wal_autocheckpoint", 0):
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def ids_subquery(ids):
    """``pk__in=ids_subquery(ids)``: many ids as one parameter (a JSON array / an array) instead of one
    parameter each, which Django prepares one by one and SQLite caps."""
    import json

    from django.db.models.expressions import RawSQL

    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps([int(i) for i in ids])])
    return RawSQL("SELECT unnest(%s::bigint[])", [[int(i) for i in ids]])


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """PostgreSQL: write ``rows`` into ``table``'s ``columns`` with COPY (psycopg formats the rows in C).
    psycopg's errors come out as Django's (IntegrityError…), as through Django's own cursor."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors, \
            cursor.cursor.copy(f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def max_params() -> int:
    """How many parameters one statement may have on this connection."""
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return connection.features.max_query_params
    return 65535 if connection.vendor == "postgresql" else (connection.features.max_query_params or 999)


def insert_rows(table: str, columns: Sequence[str], rows: list[list] | list[tuple], *,
                returning: str | None = None) -> list[int] | None:
    """Write ``rows`` (database-ready values in the order of ``columns``) into ``table``: PostgreSQL with
    COPY, elsewhere in as few multi-row INSERT statements as the parameter limit allows.

    ``returning``: the serial primary-key column; its new values are returned in the order of the rows
    (PostgreSQL: taken from the column's sequence first, in one query, and written with the rows)."""
    if not rows:
        return [] if returning else None
    qn = connection.ops.quote_name
    if connection.vendor == "postgresql":
        ids = None
        if returning:
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                               [table, returning, len(rows)])
                ids = sorted(pk for (pk,) in cursor.fetchall())
            columns = [*columns, returning]
            rows = [[*row, pk] for row, pk in zip(rows, ids, strict=True)]
        copy_rows(table, columns, rows)
        return ids
    head = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    tail = f" RETURNING {qn(table)}.{qn(returning)}" if returning else ""
    per_statement = max(1, max_params() // len(columns))
    ids = [] if returning else None
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            cursor.execute(f"{head}VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                           [value for row in chunk for value in row])
            if returning:
                ids += [pk for (pk,) in cursor.fetchall()]
    return ids


_PLAIN = (str, int, bool, type(None))


def insert_objects(model, objs: list, *, returning: bool) -> None:
    """``model.objects.bulk_create(objs)`` with less per-value overhead: the values go through each
    field's ``pre_save``/``get_db_prep_save`` (plain strings, numbers and None of non-JSON fields as
    they are) and are written by :func:`insert_rows`. ``returning``: the objects get their new ids."""
    if not objs:
        return
    if returning and not connection.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objs)
        return
    from django.db.models import JSONField

    conn = connections[connection.alias]  # the connection itself, not the proxy (many look-ups below)
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk]
    passthrough = [not isinstance(f, JSONField) for f in fields]
    pg = connection.vendor == "postgresql"
    as_is = (*_PLAIN, date) if pg else _PLAIN  # psycopg takes dates and aware datetimes as they are (so does Django)

    def prep(f, value):
        if pg and type(value) is datetime and value.tzinfo is not None:
            return value
        return f.get_db_prep_save(value, conn)

    # COPY on PostgreSQL: psycopg's C row formatting (an INSERT of arrays spent most of its time turning
    # the Python lists into array literals).
    rows = [[value if plain and type(value) in as_is else prep(f, value)
             for f, plain in zip(fields, passthrough, strict=True) for value in (f.pre_save(obj, True),)]
            for obj in objs]
    ids = insert_rows(opts.db_table, [f.column for f in fields], rows,
                      returning=opts.pk.column if returning else None)
    for index, obj in enumerate(objs):
        if ids is not None:
            obj.pk = ids[index]
        obj._state.adding = False
        obj._state.db = connection.alias


def write_changes(model, dirty: list[tuple[object, set[str]]], *, stamp: str = "updated_at") -> None:
    """Write the changed fields of existing ``model`` rows: each field is set only on the objects that
    changed it, the others keep their stored value (as ``save(update_fields=…)`` per object would), and
    ``stamp`` is set to now on all of them.
    PostgreSQL: one UPDATE … FROM UNNEST(arrays); elsewhere one UPDATE per object (executemany)."""
    conn = connections[connection.alias]
    now = timezone.now()
    names = sorted(set().union(*(fields for _, fields in dirty)))
    columns = [(name, model._meta.get_field(name)) for name in names]
    updated_at, pk = model._meta.get_field(stamp), model._meta.pk
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    stamp_value = updated_at.get_db_prep_save(now, conn)
    rows = []
    for obj, fields in dirty:
        params: list = [obj.pk]
        for name, f in columns:
            if name in fields:
                params += [True, f.get_db_prep_save(getattr(obj, f.attname), conn)]
            else:
                params += [False, None]
        rows.append(params)
        setattr(obj, updated_at.attname, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [pk.db_type(conn).split("(")[0]]
            for _, f in columns:
                types += ["boolean", f.db_type(conn).split("(")[0]]
            aliases = ["pk"] + [x for i in range(len(columns)) for x in (f"s{i}", f"v{i}")]
            sets = [f"{qn(f.column)} = CASE WHEN v.s{i} THEN v.v{i} ELSE t.{qn(f.column)} END"
                    for i, (_, f) in enumerate(columns)]
            sql = (f"UPDATE {table} AS t SET {', '.join(sets + [f'{qn(updated_at.column)} = %s'])} "
                   f"FROM UNNEST({', '.join(f'(%s)::{t}[]' for t in types)}) AS v({', '.join(aliases)}) "
                   f"WHERE t.{qn(pk.column)} = v.pk")
            cursor.execute(sql, [stamp_value, *(list(col) for col in zip(*rows, strict=True))])
        else:
            sets = [f"{qn(f.column)} = CASE WHEN %s THEN %s ELSE {qn(f.column)} END" for _, f in columns]
            sql = f"UPDATE {table} SET {', '.join(sets + [f'{qn(updated_at.column)} = %s'])} WHERE {qn(pk.column)} = %s"
            cursor.executemany(sql, [[*row[1:], stamp_value, row[0]] for row in rows])


def secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes of ``table`` that back no constraint: what a bulk load into an
    empty table drops first and builds again after the rows (``drop_indexes`` / ``create_indexes``)."""
    if connection.vendor == "sqlite":
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                       "AND sql IS NOT NULL", [table])
    else:
        cursor.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                       "AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                       "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
                       [table])
    return list(cursor.fetchall())


def drop_indexes(cursor, indexes: Iterable[tuple[str, str]]) -> None:
    for name, _sql in indexes:
        cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")


def _if_not_exists(sql: str) -> str:
    """A CREATE [UNIQUE] INDEX statement that leaves an index of that name as it is."""
    return (sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
            .replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX IF NOT EXISTS ", 1))


def create_indexes(cursor, indexes: Iterable[tuple[str, str]]) -> None:
    """Build them again (those that exist meanwhile are left as they are)."""
    for _name, sql in indexes:
        cursor.execute(_if_not_exists(sql))


def is_unique_index(sql: str) -> bool:
    return sql.lstrip().upper().startswith("CREATE UNIQUE INDEX")


INDEX_LOCK_WAIT = "2s"  # PostgreSQL: how long a plain CREATE INDEX waits for the table before building CONCURRENTLY


def build_indexes(indexes: Sequence[tuple[str, str]], *, parallel: int = 2, beat: Callable[[], None] | None = None,
                  beat_every: float = 20.0) -> None:
    """Build ``indexes`` ((name, CREATE statement)…) of committed rows; those that exist already are left as
    they are, so it is safe to run again after a crash.

    PostgreSQL, outside a transaction: from ``parallel`` connections at once, the largest first (each CREATE
    INDEX mostly keeps one core busy). A plain CREATE INDEX (quicker; blocks writes to the table, not reads)
    when the table's lock comes within ``INDEX_LOCK_WAIT``, else CONCURRENTLY (the table is in use); an invalid
    index left by a CONCURRENTLY build that was killed is dropped and built again. ``beat()`` is called every
    ``beat_every`` seconds meanwhile (a heartbeat). Elsewhere, or inside a transaction (whose rows the other
    connections could not see): one after the other on this connection."""
    todo = list(indexes)
    if not todo:
        return
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # read through the page cache, not the memory map: the map's pages of the whole table would count
            # in the process's resident memory (the rows, just written, are in the cache anyway)
            cursor.execute("PRAGMA mmap_size")
            mapped = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA mmap_size = 0")
            try:
                create_indexes(cursor, todo)
            finally:
                cursor.execute(f"PRAGMA mmap_size = {mapped}")
        return
    if connection.vendor != "postgresql" or connection.in_atomic_block or parallel < 2:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _drop_invalid(cursor, [name for name, _ in todo])
            create_indexes(cursor, todo)
        return
    with connection.cursor() as cursor:
        _drop_invalid(cursor, [name for name, _ in todo])
    todo.sort(key=_index_weight, reverse=True)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        from django.db import connection as own  # this thread's own connection

        try:
            while True:
                with lock:
                    if failures or not todo:
                        return
                    _name, sql = todo.pop(0)
                _build_one(own, sql)
        except BaseException as exc:  # noqa: BLE001 (raised again by the caller's thread)
            with lock:
                failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=work, name=f"index-builder-{i}", daemon=True)
               for i in range(min(parallel, len(todo)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(beat_every)
            if thread.is_alive() and beat is not None:
                beat()
    if failures:
        raise failures[0]


def _index_weight(index: tuple[str, str]) -> int:
    """Rough cost of building an index: trigram / GIN and expression indexes first, partial ones last."""
    sql = index[1].upper()
    weight = 1
    if " USING GIN" in sql or " USING GIST" in sql:
        weight += 4
    if "((" in sql or "->>" in sql or "UPPER(" in sql:
        weight += 2
    if " WHERE " in sql:
        weight -= 1
    return weight


def _build_one(conn, sql: str) -> None:
    plain = _if_not_exists(sql)
    from django.db.utils import OperationalError

    with conn.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{INDEX_LOCK_WAIT}'")
        try:
            cursor.execute(plain)
            return
        except OperationalError as exc:  # the table is in use (lock_timeout): build without blocking its writers
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":
                raise
        finally:
            cursor.execute("SET lock_timeout = 0")
        cursor.execute(plain.replace(" INDEX IF NOT EXISTS ", " INDEX CONCURRENTLY IF NOT EXISTS ", 1))


def _drop_invalid(cursor, names: list[str]) -> None:
    """Drop those of ``names`` that are invalid indexes (a CREATE INDEX CONCURRENTLY that did not finish)."""
    cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                   "WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace "
                   "AND NOT i.indisvalid", [names])
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
