"""Set-based writes of taggings, their history and the customers' quality scores (SQLite and PostgreSQL).

Every function writes what actually changed and returns it: an insert skips the pairs that exist, a delete
returns the pairs it removed. History rows and score changes are made from those returned sets, so two
writers (a refresh and the expiry job, two API calls) can never record a change twice or lose one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection

from shoal.core import db
from shoal.core.db import copy_rows

TAGGING = "tags_tagging"
HISTORY = "tags_taghistory"
CUSTOMER = "customers_customer"
TAG = "tags_tag"
BATCH = 50_000  # ids per statement (SQLite passes them as one JSON text; PostgreSQL as one array)


def _dt(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _batches(ids: Sequence[int]):
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def ids_param(ids: Sequence[int]):
    return json.dumps(list(ids)) if connection.vendor == "sqlite" else list(ids)


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


def insert_new_taggings(tag_id: int, customer_ids: Sequence[int], *, source: str, at: datetime,
                        expires_at: datetime | None) -> list[int]:
    """:func:`insert_taggings` for a refresh's bulk writes, where the caller has checked in its transaction that
    the customers exist and found them untagged: no join and no ids sent back (a million ids through RETURNING
    cost seconds). Should a pair exist after all, the ids tagged now are read back (the rows of this instant)."""
    added: list[int] = []
    tail = " WHERE 1" if connection.vendor == "sqlite" else ""  # SQLite: SELECT … ON CONFLICT needs a WHERE
    with connection.cursor() as cursor:
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(
                f"INSERT INTO {TAGGING} (tag_id, customer_id, source, applied_at, expires_at) "
                f"SELECT %s, value, %s, %s, %s FROM {_id_rows()}{tail} ON CONFLICT DO NOTHING",
                [tag_id, source, _dt(at), _dt(expires_at), ids_param(chunk)])
            if cursor.rowcount == len(chunk):
                added.extend(chunk)
                continue
            cursor.execute(f"SELECT customer_id FROM {TAGGING} WHERE tag_id = %s AND source = %s AND applied_at = %s "
                           f"AND {ids_in('customer_id')}", [tag_id, source, _dt(at), ids_param(chunk)])
            added.extend(row[0] for row in cursor.fetchall())
    return added


def existing_customers(customer_ids: Sequence[int]) -> set[int]:
    """Those of these customers that exist (read in the caller's transaction)."""
    found: set[int] = set()
    with connection.cursor() as cursor:
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(f"SELECT id FROM {CUSTOMER} WHERE {ids_in('id')}", [ids_param(chunk)])
            found.update(row[0] for row in cursor.fetchall())
    return found


def _id_rows() -> str:
    """The ids passed as one parameter, as rows of one column ``value``."""
    return "json_each(%s)" if connection.vendor == "sqlite" else "unnest(%s::bigint[]) AS value"


def delete_taggings(tag_id: int, customer_ids: Sequence[int] | None = None, *,
                    sources: Iterable[str] | None = None) -> list[int]:
    """Remove the tag from these customers (all of its customers when ``customer_ids`` is None), only taggings
    of ``sources`` when given; the customer ids actually untagged."""
    removed: list[int] = []
    source_sql, source_params = "", []
    if sources is not None:
        sources = list(sources)
        source_sql = f" AND source IN ({', '.join(['%s'] * len(sources))})"
        source_params = sources
    with connection.cursor() as cursor:
        if customer_ids is None:
            cursor.execute(f"DELETE FROM {TAGGING} WHERE tag_id = %s{source_sql} RETURNING customer_id",
                           [tag_id, *source_params])
            return [row[0] for row in cursor.fetchall()]
        for chunk in _batches(sorted(customer_ids)):
            cursor.execute(f"DELETE FROM {TAGGING} WHERE tag_id = %s AND {ids_in('customer_id')}"
                           f"{source_sql} RETURNING customer_id", [tag_id, ids_param(chunk), *source_params])
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


def add_scores(deltas: dict[int, int]) -> None:
    """``quality_score += delta`` for each customer: one statement per batch, the (id, delta) pairs passed as one
    parameter (SQLite: a JSON array of pairs; PostgreSQL: two arrays) and joined by id (one statement per distinct
    delta and batch made ~30 statements per range of a full pass)."""
    pairs = sorted((c, d) for c, d in deltas.items() if d)
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start:start + BATCH]
            if connection.vendor == "sqlite":
                cursor.execute(
                    f"UPDATE {CUSTOMER} SET quality_score = quality_score + d.delta FROM "
                    f"(SELECT json_extract(value, '$[0]') AS cid, json_extract(value, '$[1]') AS delta "
                    f"FROM json_each(%s)) AS d WHERE {CUSTOMER}.id = d.cid", [json.dumps(chunk)])
            else:
                cursor.execute(
                    f"UPDATE {CUSTOMER} AS c SET quality_score = c.quality_score + d.delta "
                    f"FROM unnest(%s::bigint[], %s::int[]) AS d(cid, delta) WHERE c.id = d.cid",
                    [[c for c, _d in chunk], [d for _c, d in chunk]])


def add_score_to_tagged(tag_id: int, delta: int) -> None:
    """A tag's score changed by ``delta``: every customer with the tag follows."""
    if delta:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {CUSTOMER} SET quality_score = quality_score + %s "
                           f"WHERE id IN (SELECT customer_id FROM {TAGGING} WHERE tag_id = %s)", [delta, tag_id])


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
    """(name, CREATE statement) of the taggings' indexes other than the key."""
    with connection.cursor() as cursor:
        return db.secondary_indexes(cursor, TAGGING)


def drop_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        db.drop_indexes(cursor, indexes)


def create_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        db.create_indexes(cursor, indexes)


def purge_orphans() -> int:
    """Taggings of customers or tags that no longer exist (deleted by some path that skipped the ORM): removed."""
    with connection.cursor() as cursor:
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
