"""Set-based writes of taggings, their history and the customers' quality scores (SQLite and PostgreSQL).

Every function writes what actually changed and returns it: an insert skips the pairs that exist, a delete
returns the pairs it removed. History rows and score changes are made from those returned sets, so two
writers (a refresh and the expiry job, two API calls) can never record a change twice or lose one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.db import connection

from shoal.core import db
from shoal.core.db import copy_rows

TAGGING = "tags_tagging"
HISTORY = "tags_taghistory"
CUSTOMER = "customers_customer"
TAG = "tags_tag"
QUALITY = "customers_customerquality"  # the quality scores (customers.quality)
BATCH = 50_000  # ids per statement (SQLite passes them as one JSON text; PostgreSQL as one array)


def _dt(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _batches(ids: Sequence[int]):
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def ids_param(ids: Sequence[int]) -> str:
    """The ids as one text parameter: SQLite a JSON array (``json_each``), PostgreSQL an array literal
    (``%s::bigint[]``). A Python list psycopg would dump element by element in Python (measured: 0.15 s per
    50,000 ids, ~9 s of a 1M full refresh); the text is joined in C and parsed by the server."""
    if connection.vendor == "sqlite":
        return json.dumps(list(ids))
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def ids_in(column: str) -> str:
    """``column`` is one of the ids passed as one parameter (:func:`ids_param`). PostgreSQL: ``= ANY(array)``,
    which its planner reads as index lookups; ``IN (SELECT unnest(…))`` became a hash join over a scan of
    every customer, once per statement (measured: minutes for one refresh)."""
    if connection.vendor == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(%s))"
    return f"{column} = ANY(%s::bigint[])"


def insert_taggings(tag_id: int, customer_ids: Sequence[int], *, source: str, at: datetime,
                    expires_at: datetime | None) -> list[int]:
    """Tag these customers (those that exist and lack the tag); the customer ids actually tagged."""
    added: list[int] = []
    with connection.cursor() as cursor:
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(
                f"INSERT INTO {TAGGING} (tag_id, customer_id, source, applied_at, expires_at) "
                f"SELECT %s, c.id, %s, %s, %s FROM {CUSTOMER} c WHERE {ids_in('c.id')} "
                f"ON CONFLICT DO NOTHING RETURNING customer_id",
                [tag_id, source, _dt(at), _dt(expires_at), ids_param(chunk)])
            added.extend(row[0] for row in cursor.fetchall())
    return added


BULK_HISTORY_SEQUENCE = "tags_bulk_history_id"  # PostgreSQL (migration tags/0002): ids from 2**40 on
BULK_HISTORY_LOCK = 0x7461677368697374  # advisory lock of the reservations (PostgreSQL)


def reserve_history_ids(count: int) -> int:
    """Reserve ``count`` history ids for adds not written to the history table yet (a full refresh's bulk adds:
    their taggings carry the ids); the first of them. In the caller's write transaction.

    PostgreSQL: from a sequence of its own whose ids start at 2**40, far above the table's (so no insert's id can
    fall in a reserved block, and nothing else is locked); reservations take turns on an advisory lock.
    SQLite: the table's own ``AUTOINCREMENT`` counter moves on (one writer at a time)."""
    if count <= 0:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BULK_HISTORY_LOCK])
            cursor.execute(f"SELECT setval('{BULK_HISTORY_SEQUENCE}', nextval('{BULK_HISTORY_SEQUENCE}') + %s - 1)",
                           [count])
            return cursor.fetchone()[0] - count + 1
        cursor.execute("UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(id), 0) FROM "
                       f"{HISTORY})) + %s WHERE name = %s RETURNING seq", [count, HISTORY])
        row = cursor.fetchone()
        if row is None:  # no row was ever inserted: the counter does not exist yet
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {HISTORY}")
            last = cursor.fetchone()[0] + count
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [HISTORY, last])
            return last - count + 1
        return row[0] - count + 1


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _pg_micros(value: datetime) -> int:
    """A timestamptz as PostgreSQL's binary COPY takes it: microseconds since 2000-01-01 UTC."""
    delta = value - _PG_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _unlogged_rows(tag_id: int, ids: list[int], rule_of: dict[int, int] | int, *, at: datetime,
                   expires_at: datetime | None, first_id: int) -> bytes:
    """PostgreSQL binary COPY rows of :func:`insert_unlogged_taggings` (a row is 7 fixed fields), built by numpy."""
    import numpy as np

    fields = [("count", ">i2"), ("l_tag", ">i4"), ("tag", ">i8"), ("l_customer", ">i4"), ("customer", ">i8"),
              ("l_source", ">i4"), ("source", "S4"), ("l_applied", ">i4"), ("applied", ">i8"), ("l_expires", ">i4")]
    if expires_at is not None:
        fields.append(("expires", ">i8"))
    fields += [("l_history", ">i4"), ("history", ">i8"), ("l_rule", ">i4"), ("rule", ">i4")]
    rows = np.empty(len(ids), dtype=np.dtype(fields))
    rows["count"], rows["l_tag"], rows["tag"], rows["l_customer"] = 7, 8, tag_id, 8
    rows["customer"] = np.asarray(ids, dtype=np.int64)
    rows["l_source"], rows["source"], rows["l_applied"], rows["applied"] = 4, b"rule", 8, _pg_micros(at)
    if expires_at is None:
        rows["l_expires"] = -1  # NULL
    else:
        rows["l_expires"], rows["expires"] = 8, _pg_micros(expires_at)
    rows["l_history"], rows["history"] = 8, np.arange(first_id, first_id + len(ids), dtype=np.int64)
    rows["l_rule"] = 4
    rows["rule"] = rule_of if isinstance(rule_of, int) else np.fromiter((rule_of[c] for c in ids), np.int32, len(ids))
    return rows.tobytes()


def _copy_binary(target: str, blocks: Iterable[bytes]) -> bool:
    """PostgreSQL: binary COPY rows (built by numpy) into ``target`` ("table (columns)"), in a savepoint: should a
    key exist after all (COPY cannot skip it), nothing of it stays (False) and the caller writes another way."""
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors, \
                cursor.cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))  # signature, flags, header extension length
            for block in blocks:
                copy.write(block)
            copy.write(b"\xff\xff")
    except IntegrityError:
        return False
    return True


def _copy_taggings(blocks: Iterable[bytes], table: str = TAGGING) -> bool:
    """Binary COPY rows into the taggings (:func:`_copy_binary`), or into ``table`` (a first pass's own table,
    ``tags.staging``); False: a pair existed, nothing written."""
    return _copy_binary(f"{table} (tag_id, customer_id, source, applied_at, expires_at, history_id, rule_id)", blocks)


def _copy_unlogged(tag_id: int, ids: list[int], rule_of: dict[int, int] | int, *, at: datetime,
                   expires_at: datetime | None, first_id: int, table: str = TAGGING) -> bool:
    """PostgreSQL: :func:`insert_unlogged_taggings`'s rows as one binary COPY built by numpy (measured with 2.8M
    taggings: 33 s as INSERT … SELECT unnest(list) — psycopg dumps a list parameter in Python — 17 s so). In a
    savepoint: should a pair exist after all, nothing of it stays and the caller's INSERT … ON CONFLICT writes the
    rest. True: written."""
    return _copy_taggings([_unlogged_rows(tag_id, ids, rule_of, at=at, expires_at=expires_at, first_id=first_id)],
                          table)


def copy_unlogged_taggings(items: list[tuple[int, list[int], dict[int, int] | int, datetime | None, int]], *,
                           at: datetime, table: str = TAGGING) -> bool:
    """PostgreSQL: the bulk adds of several tags (``(tag id, sorted customer ids, rule_of, expires_at, first_id)``,
    as :func:`insert_unlogged_taggings` takes them) as one COPY in one savepoint: a full range's 50 tags made 50
    COPYs and 50 savepoints (measured at 1M: ~5 s of round trips under load). False: a pair existed, nothing
    written (the caller writes tag by tag)."""
    return _copy_taggings((_unlogged_rows(tag_id, ids, rule_of, at=at, expires_at=expires_at, first_id=first_id)
                           for tag_id, ids, rule_of, expires_at, first_id in items), table)


def insert_unlogged_taggings(tag_id: int, customer_ids: Sequence[int], rule_of: dict[int, int] | int, *,
                             at: datetime, expires_at: datetime | None, first_id: int,
                             table: str = TAGGING) -> list[int]:
    """A full refresh's bulk adds (source ``rule``): no history rows; each tagging carries its history id and rule
    (``rule_of``: one rule id for all, or customer → rule). The ids are ``first_id`` on (reserved with
    :func:`reserve_history_ids`) in customer order, so the key's order within a pass is the history's order
    (``selectors.HistoryFeed``). The caller has checked in its transaction that the customers exist and found them
    untagged (no join; no ids sent back: a million ids through RETURNING cost seconds); should a pair exist after
    all, the ids tagged now are read back by their history ids. The customer ids tagged. ``table``: PostgreSQL, a
    first pass's own table (``tags.staging``: no key, so the COPY always goes in)."""
    ids = sorted(customer_ids)
    if not ids:
        return []
    if connection.vendor == "postgresql" and _copy_unlogged(tag_id, ids, rule_of, at=at, expires_at=expires_at,
                                                            first_id=first_id, table=table):
        return ids
    if table != TAGGING:
        raise RuntimeError(f"COPY into {table} refused")
    tail = " WHERE 1" if connection.vendor == "sqlite" else ""  # SQLite: SELECT … ON CONFLICT needs a WHERE
    insert = (f"INSERT INTO {TAGGING} (tag_id, customer_id, source, applied_at, expires_at, history_id, rule_id) "
              f"SELECT %s, ")
    statements = []  # (sql, params)
    if isinstance(rule_of, int):
        if connection.vendor == "sqlite":
            rows, hid = "json_each(%s)", "%s + key"
        else:
            rows, hid = "unnest(%s::bigint[]) WITH ORDINALITY AS u(value, ord)", "%s + ord - 1"
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            statements.append((f"{insert}value, %s, %s, %s, {hid}, %s FROM {rows}{tail} ON CONFLICT DO NOTHING",
                               [tag_id, "rule", _dt(at), _dt(expires_at), first_id + start, rule_of,
                                ids_param(chunk)]))
    else:
        by_rule: dict[int, list[tuple[int, int]]] = {}
        for rank, c in enumerate(ids):
            by_rule.setdefault(rule_of[c], []).append((c, first_id + rank))
        for rule_id, pairs in sorted(by_rule.items()):
            for start in range(0, len(pairs), BATCH):
                chunk = pairs[start:start + BATCH]
                if connection.vendor == "sqlite":
                    select = (f"json_extract(value, '$[0]'), %s, %s, %s, json_extract(value, '$[1]'), %s "
                              f"FROM json_each(%s){tail}")
                    params = [json.dumps(chunk)]
                else:
                    select = "value, %s, %s, %s, hid, %s FROM unnest(%s::bigint[], %s::bigint[]) AS u(value, hid)"
                    params = [[c for c, _h in chunk], [h for _c, h in chunk]]
                statements.append((f"{insert}{select} ON CONFLICT DO NOTHING",
                                   [tag_id, "rule", _dt(at), _dt(expires_at), rule_id, *params]))
    written = 0
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            written += cursor.rowcount
        if written == len(ids):
            return ids
        cursor.execute(f"SELECT customer_id FROM {TAGGING} WHERE tag_id = %s AND history_id >= %s "
                       f"AND history_id < %s", [tag_id, first_id, first_id + len(ids)])
        return sorted(row[0] for row in cursor.fetchall())


_LOG_COLUMNS = "id, customer_id, tag_id, action, source, rule_id, actor_id, actor_name, at"
_LOG_SELECT = f"history_id, customer_id, tag_id, 'add', source, rule_id, NULL, '', applied_at FROM {TAGGING}"


def log_adds(tag_id: int | None, customer_ids: Sequence[int]) -> int:
    """Before taggings go: the adds of those not in the history table yet are written to it, with their reserved
    ids (so a removal's history shows when and by which rule the tag came). ``tag_id`` None: every tag of these
    customers (they are being deleted). How many rows were written."""
    written = 0
    tag_sql, tag_params = ("tag_id = %s AND ", [tag_id]) if tag_id is not None else ("", [])
    with connection.cursor() as cursor:
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(f"INSERT INTO {HISTORY} ({_LOG_COLUMNS}) SELECT {_LOG_SELECT} WHERE {tag_sql}"
                           f"{ids_in('customer_id')} AND history_id IS NOT NULL", [*tag_params, ids_param(chunk)])
            written += cursor.rowcount
    return written


def prune_bulk_adds(tag_ids: Iterable[int], *, keep_at: datetime | None = None) -> None:
    """Forget the full passes of these tags whose adds have all been written to the history table (one probe
    of the tag's key range per pass); those of the run at ``keep_at`` are kept unprobed (it has just written
    them: measured at 1M on PostgreSQL, 50 probes of fresh taggings took 1.8 s)."""
    from .models import TagBulkAdd

    passes = TagBulkAdd.objects.filter(tag_id__in=list(tag_ids))
    if keep_at is not None:
        passes = passes.exclude(at=keep_at)
    for pk, tag_id, at in passes.values_list("pk", "tag_id", "at"):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {TAGGING} WHERE tag_id = %s AND applied_at = %s AND history_id IS NOT NULL "
                           f"LIMIT 1", [tag_id, _dt(at)])
            if cursor.fetchone() is None:
                TagBulkAdd.objects.filter(pk=pk).delete()


def existing_customers(customer_ids: Sequence[int]) -> set[int]:
    """Those of these customers that exist (read in the caller's transaction)."""
    found: set[int] = set()
    with connection.cursor() as cursor:
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(f"SELECT id FROM {CUSTOMER} WHERE {ids_in('id')}", [ids_param(chunk)])
            found.update(row[0] for row in cursor.fetchall())
    return found


def customers_between(lo: int, hi: int) -> tuple[int, int]:
    """How many customers have ids in [lo, hi), and the sum of their ids: compared before and after, equal means
    none of them went meanwhile (ids are never reused: customers are only ever added above the highest id)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(id), 0) FROM {CUSTOMER} WHERE id >= %s AND id < %s", [lo, hi])
        count, total = cursor.fetchone()
    return int(count), int(total)


def existing_customers_between(lo: int, hi: int) -> set[int]:
    """The customers with ids in [lo, hi) (read in the caller's transaction): one range of the key, where 50,000
    ids to look up one by one cost ~0.2 s (PostgreSQL: ~4 s of a first full refresh at 1M)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {CUSTOMER} WHERE id >= %s AND id < %s", [lo, hi])
        return {row[0] for row in cursor.fetchall()}


def add_counts(counts: dict[int, int]) -> None:
    """``customer_count += n`` for each tag: one statement (a range of a full pass changes every tag)."""
    pairs = sorted((t, n) for t, n in counts.items() if n)
    if not pairs:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"UPDATE {TAG} SET customer_count = customer_count + d.n FROM (SELECT "
                           f"json_extract(value, '$[0]') AS tid, json_extract(value, '$[1]') AS n FROM json_each(%s)) "
                           f"AS d WHERE {TAG}.id = d.tid", [json.dumps(pairs)])
        else:
            cursor.execute(f"UPDATE {TAG} AS t SET customer_count = t.customer_count + d.n "
                           f"FROM unnest(%s::bigint[], %s::bigint[]) AS d(tid, n) WHERE t.id = d.tid",
                           [ids_param([t for t, _n in pairs]), ids_param([n for _t, n in pairs])])


def _id_rows() -> str:
    """The ids passed as one parameter, as rows of one column ``value``."""
    return "json_each(%s)" if connection.vendor == "sqlite" else "unnest(%s::bigint[]) AS value"


def delete_taggings(tag_id: int, customer_ids: Sequence[int] | None = None, *,
                    sources: Iterable[str] | None = None, log: bool = True) -> list[int]:
    """Remove the tag from these customers (all of its customers when ``customer_ids`` is None), only taggings
    of ``sources`` when given; the customer ids actually untagged. The adds of the removed taggings not in the
    history table yet are written to it in the same statement (PostgreSQL: a data-modifying WITH, so two
    removals of one tagging cannot both log it) or just before (SQLite: one writer at a time); ``log`` False:
    not (the tag is being deleted with its history)."""
    removed: list[int] = []
    source_sql, source_params = "", []
    if sources is not None:
        sources = list(sources)
        source_sql = f" AND source IN ({', '.join(['%s'] * len(sources))})"
        source_params = sources
    where, params = f"tag_id = %s{source_sql}", [tag_id, *source_params]
    chunks = [None] if customer_ids is None else list(_batches(sorted(customer_ids)))
    with connection.cursor() as cursor:
        for chunk in chunks:
            chunk_where, chunk_params = where, params
            if chunk is not None:
                chunk_where, chunk_params = f"{where} AND {ids_in('customer_id')}", [*params, ids_param(chunk)]
            if not log:
                cursor.execute(f"DELETE FROM {TAGGING} WHERE {chunk_where} RETURNING customer_id", chunk_params)
            elif connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH gone AS (DELETE FROM {TAGGING} WHERE {chunk_where} RETURNING *), "
                    f"logged AS (INSERT INTO {HISTORY} ({_LOG_COLUMNS}) SELECT "
                    f"{_LOG_SELECT.replace(TAGGING, 'gone')} WHERE history_id IS NOT NULL) "
                    f"SELECT customer_id FROM gone", chunk_params)
            else:
                cursor.execute(f"INSERT INTO {HISTORY} ({_LOG_COLUMNS}) SELECT {_LOG_SELECT} WHERE {chunk_where} "
                               f"AND history_id IS NOT NULL", chunk_params)
                cursor.execute(f"DELETE FROM {TAGGING} WHERE {chunk_where} RETURNING customer_id", chunk_params)
            removed.extend(row[0] for row in cursor.fetchall())
    return removed


def insert_history(tag_id: int, customer_ids: Sequence[int], *, action: str, source: str, at: datetime,
                   rule_id: int | None = None, actor_id: int | None = None, actor_name: str = "") -> None:
    if not customer_ids:
        return
    if connection.vendor == "postgresql":
        copy_rows(HISTORY, ["customer_id", "tag_id", "action", "source", "rule_id", "actor_id", "actor_name", "at"],
                  ((cid, tag_id, action, source, rule_id, actor_id, actor_name, at) for cid in customer_ids))
        return
    with connection.cursor() as cursor:
        for chunk in _batches(list(customer_ids)):
            cursor.execute(
                f"INSERT INTO {HISTORY} (customer_id, tag_id, action, source, rule_id, actor_id, actor_name, at) "
                f"SELECT value, %s, %s, %s, %s, %s, %s, %s FROM {_id_rows()}",
                [tag_id, action, source, rule_id, actor_id, actor_name, _dt(at), json.dumps(list(chunk))])


def _copy_scores(pairs: list[tuple[int, int]]) -> bool:
    """PostgreSQL: new score rows as one binary COPY built by numpy (a first full refresh: its customers have no
    row yet), in a savepoint: should a row exist after all, nothing of it stays (False) and the caller upserts."""
    import numpy as np

    rows = np.empty(len(pairs), dtype=np.dtype([("count", ">i2"), ("l_customer", ">i4"), ("customer", ">i8"),
                                                ("l_score", ">i4"), ("score", ">i4")]))
    rows["count"], rows["l_customer"], rows["l_score"] = 2, 8, 4
    rows["customer"] = np.fromiter((c for c, _d in pairs), np.int64, len(pairs))
    rows["score"] = np.fromiter((d for _c, d in pairs), np.int32, len(pairs))
    return _copy_binary(f"{QUALITY} (customer_id, score)", [rows.tobytes()])


def add_scores(deltas: dict[int, int], *, fresh: bool = False) -> bool:
    """``score += delta`` for each customer (``customers.CustomerQuality``, no row = 0): one upsert per batch, the
    (id, delta) pairs passed as one parameter (SQLite: a JSON array of pairs; PostgreSQL: two array literals) and
    joined to the customers (a customer deleted meanwhile gets no row). A narrow table: on PostgreSQL an update of
    a customers row wrote all of its ~19 indexes (the score was indexed: no HOT update), ~100 µs a customer.

    ``fresh`` (PostgreSQL): the customers have no score row yet and exist (checked in the caller's transaction: a
    first full refresh), so the rows go as one COPY (measured at 1M: 1.2 s instead of 3.7 s of upserts); should
    one exist after all, upserts as usual. SQLite: upserts without the join. True: written as fresh rows."""
    return add_score_pairs(sorted((c, d) for c, d in deltas.items() if d), fresh=fresh)


_DELTA_BITS = 21  # SQLite: (id, delta) packed as one integer, id << 21 | (delta + 2**20), when |delta| < 2**20
_DELTA_BIAS = 1 << (_DELTA_BITS - 1)


def _packed(chunk: Sequence[tuple[int, int]]) -> str | None:
    """The pairs as a JSON array of packed integers (one integer per row: no ``json_extract`` of a pair, measured
    at 1M: 0.5 s instead of 1.2 s); None when a delta or an id does not fit."""
    if any(not -_DELTA_BIAS < d < _DELTA_BIAS or c >= 1 << (62 - _DELTA_BITS) for c, d in chunk):
        return None
    return json.dumps([(c << _DELTA_BITS) + d + _DELTA_BIAS for c, d in chunk])


def add_score_pairs(pairs: Sequence[tuple[int, int]], *, fresh: bool = False) -> bool:
    """:func:`add_scores` of (customer id, delta) pairs sorted by id, no delta 0. ``fresh`` on SQLite: the customers
    exist (not joined), any rows there are summed as usual."""
    if fresh and pairs and connection.vendor == "postgresql" and _copy_scores(pairs):
        return True
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start:start + BATCH]
            if connection.vendor == "sqlite":
                packed = _packed(chunk)
                if packed is None:
                    cid, delta = "json_extract(d.value, '$[0]')", "json_extract(d.value, '$[1]')"
                else:
                    cid, delta = f"(d.value >> {_DELTA_BITS})", f"(d.value & {(1 << _DELTA_BITS) - 1}) - {_DELTA_BIAS}"
                join = "" if fresh else f" JOIN {CUSTOMER} c ON c.id = {cid}"
                cursor.execute(
                    f"INSERT INTO {QUALITY} (customer_id, score) SELECT {cid}, {delta} FROM json_each(%s) AS d{join} "
                    f"WHERE 1 "
                    f"ON CONFLICT (customer_id) DO UPDATE SET score = score + excluded.score",
                    [packed or json.dumps(chunk)])
            else:
                cursor.execute(
                    f"INSERT INTO {QUALITY} AS q (customer_id, score) SELECT c.id, d.delta "
                    f"FROM unnest(%s::bigint[], %s::int[]) AS d(cid, delta) JOIN {CUSTOMER} c ON c.id = d.cid "
                    f"ON CONFLICT (customer_id) DO UPDATE SET score = q.score + excluded.score",
                    [ids_param([c for c, _d in chunk]), ids_param([d for _c, d in chunk])])
    return fresh and connection.vendor == "sqlite"


def add_score_to_tagged(tag_id: int, delta: int) -> None:
    """A tag's score changed by ``delta``: every customer with the tag follows."""
    if delta:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {QUALITY} AS q (customer_id, score) SELECT customer_id, %s FROM {TAGGING} "
                           f"WHERE tag_id = %s ON CONFLICT (customer_id) DO UPDATE SET score = q.score + excluded.score",
                           [delta, tag_id])


def recount(tag_ids: Iterable[int] | None = None) -> None:
    """Set the tags' customer counts from their taggings."""
    where, params = "", []
    if tag_ids is not None:
        tag_ids = list(tag_ids)
        if not tag_ids:
            return
        where, params = f" WHERE id IN ({', '.join(['%s'] * len(tag_ids))})", tag_ids
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TAG} SET customer_count = (SELECT COUNT(*) FROM {TAGGING} g "
                       f"WHERE g.tag_id = {TAG}.id){where}", params)


def locked_scores(tag_ids: Iterable[int]) -> dict[int, int]:
    """The tags' scores as stored, read inside the caller's transaction with the rows locked (PostgreSQL:
    FOR UPDATE; SQLite: its write transaction already excludes other writers), so a score change that
    commits meanwhile cannot be missed: the writes that follow add exactly the score the tag has."""
    from .models import Tag

    return dict(Tag.objects.select_for_update().filter(pk__in=list(tag_ids)).order_by("pk").values_list("pk", "score"))


def secondary_indexes() -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes other than the key of the taggings and of the quality scores (a first
    full pass writes a row of each customer: ordered by score, those rows went into the index out of order)."""
    with connection.cursor() as cursor:
        return db.secondary_indexes(cursor, TAGGING) + db.secondary_indexes(cursor, QUALITY)


def drop_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        db.drop_indexes(cursor, indexes)


def create_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        db.create_indexes(cursor, indexes)


def purge_orphans() -> int:
    """Taggings of customers or tags that no longer exist (deleted by some path that skipped the ORM): removed
    (the adds of a customer's taggings not in the history table yet are written to it first: the history
    outlives the customer)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {HISTORY} ({_LOG_COLUMNS}) SELECT {_LOG_SELECT} WHERE history_id IS NOT NULL "
                       f"AND NOT EXISTS (SELECT 1 FROM {CUSTOMER} c WHERE c.id = {TAGGING}.customer_id) "
                       f"AND EXISTS (SELECT 1 FROM {TAG} t WHERE t.id = {TAGGING}.tag_id)")
        cursor.execute(f"DELETE FROM {TAGGING} WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMER} c "
                       f"WHERE c.id = {TAGGING}.customer_id) OR NOT EXISTS (SELECT 1 FROM {TAG} t "
                       f"WHERE t.id = {TAGGING}.tag_id)")
        return cursor.rowcount


def tag_customers(tag_id: int, customer_ids: Sequence[int], *, source: str, at: datetime,
                  expires_at: datetime | None, actor_id: int | None = None, actor_name: str = "") -> list[int]:
    """Give the tag to these customers, all that goes with it in the caller's transaction: history, the tag's
    score on each customer (as stored, row locked), the tag's count. The customer ids actually tagged."""
    from django.db.models import F

    from .models import Tag, TagHistory

    added = insert_taggings(tag_id, customer_ids, source=source, at=at, expires_at=expires_at)
    if added:
        insert_history(tag_id, added, action=TagHistory.ADD, source=source, at=at, actor_id=actor_id,
                       actor_name=actor_name)
        score = locked_scores([tag_id]).get(tag_id, 0)
        add_scores({c: score for c in added})
        Tag.objects.filter(pk=tag_id).update(customer_count=F("customer_count") + len(added))
    return added


def untag_customers(tag_id: int, customer_ids: Sequence[int], *, source: str, at: datetime,
                    actor_id: int | None = None, actor_name: str = "") -> list[int]:
    """Take the tag from these customers, with history, scores and count (see :func:`tag_customers`)."""
    from django.db.models import F

    from .models import Tag, TagHistory

    score = locked_scores([tag_id]).get(tag_id, 0)
    removed = delete_taggings(tag_id, customer_ids)
    if removed:
        insert_history(tag_id, removed, action=TagHistory.REMOVE, source=source, at=at, actor_id=actor_id,
                       actor_name=actor_name)
        add_scores({c: -score for c in removed})
        Tag.objects.filter(pk=tag_id).update(customer_count=F("customer_count") - len(removed))
    return removed
