"""The workers' side: accepted events → per-customer statistics → the registered processors (strategies).

A batch is claimed by deleting its rows from the queue (``PendingEvent``; on PostgreSQL ``FOR UPDATE SKIP
LOCKED``, so two workers take different batches) and processed in the same transaction: the statistics are
upserted set-based (one statement), then each registered processor gets the batch. A worker killed in the
middle rolls the whole batch back: its queue rows come back and the next worker processes it, once."""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .. import ratelimit
from ..hooks import StoredEvent, event_processors
from ..models import Event, EventStat, PendingEvent

logger = logging.getLogger("shoal.events")
BATCH = 2000


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time_sql(column: str) -> str:
    """A date-time column as the worker reads it: PostgreSQL gives microseconds since the epoch (an integer,
    turned into a datetime here: Django's loader of timestamptz is Python code, ~10 µs a value), SQLite its
    stored UTC text (an expression: not parsed by the driver's converter of ``datetime`` columns, value by
    value; ``_Times`` converts each distinct one once)."""
    if connection.vendor == "postgresql":
        return f"(extract(epoch FROM {column}) * 1000000)::bigint"
    return f"CAST({column} AS TEXT)"


class _Times(dict):
    """Stored date-times → aware UTC datetimes, each distinct value converted once (a batch holds a few: the
    events of one request share their time of receipt, senders repeat theirs)."""

    def __missing__(self, value) -> datetime:
        if isinstance(value, int):
            out = EPOCH + timedelta(microseconds=value)
        elif isinstance(value, str):
            out = datetime.fromisoformat(value)
        else:
            out = value
        if out.tzinfo is None:
            out = out.replace(tzinfo=UTC)
        self[value] = out
        return out


def _claim(limit: int, times: _Times) -> list[tuple[int, datetime]]:
    table = connection.ops.quote_name(PendingEvent._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} ORDER BY event_id "
                       f"LIMIT %s{lock}) RETURNING event_id, {_time_sql('received_at')}", [limit])
        rows = cursor.fetchall()
    return [(pk, times[at]) for pk, at in rows]


def _batch_filter(claimed: list[tuple[int, datetime]]) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of the claimed events in the events table: by id, and on
    PostgreSQL by the time of receipt too, which keeps the reads to the months the batch is in."""
    since = min(at for _, at in claimed)
    ids = [pk for pk, _ in claimed]
    if connection.vendor == "postgresql":
        return "received_at >= %s AND id = ANY(%s)", [since, ids]
    return ("received_at >= %s AND id IN (SELECT value FROM json_each(%s))",
            [str(since.astimezone(UTC).replace(tzinfo=None)), json.dumps(ids)])


def _data_sql() -> str:
    """The event's ``data`` object (``{}`` when it has none) out of its stored payload."""
    if connection.vendor == "postgresql":
        return "CASE WHEN jsonb_typeof(payload -> 'data') = 'object' THEN payload -> 'data' ELSE '{}'::jsonb END"
    return "CASE WHEN json_type(payload, '$.data') = 'object' THEN json_extract(payload, '$.data') ELSE '{}' END"


COUNTED = "customer_id IS NOT NULL AND event_type_id IS NOT NULL"  # the events the workers count and hand on


def _load(claimed: list[tuple[int, datetime]], times: _Times) -> list[StoredEvent]:
    """The claimed events (their ``data`` only, not the whole payload), read with one query."""
    table = connection.ops.quote_name(Event._meta.db_table)
    where, params = _batch_filter(claimed)
    sql = (f"SELECT id, {_time_sql('received_at')}, {_time_sql('occurred_at')}, event_type_id, event_code, "
           f"customer_id, application_id, client_id, {_data_sql()} FROM {table} WHERE {where} AND {COUNTED} "
           f"ORDER BY id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    loads = json.loads
    return [StoredEvent(id=pk, received_at=times[received],
                        occurred_at=times[received] if occurred is None else times[occurred],
                        event_type_id=type_id, event_code=code, customer_id=customer_id, application_id=app_id,
                        client_id=client_id, data=loads(data) if isinstance(data, str) else data)
            for pk, received, occurred, type_id, code, customer_id, app_id, client_id, data in rows]


def _upsert_stats(claimed: list[tuple[int, datetime]]) -> None:
    """Per (customer, type) of the batch: count, first time, last time and the data of the last event (ties:
    the later id), added to the statistics in one statement, computed by the database from the events table
    (nothing of the events goes through Python). Rows are written in key order: two workers never wait on
    each other in opposite orders."""
    table = connection.ops.quote_name(EventStat._meta.db_table)
    events = connection.ops.quote_name(Event._meta.db_table)
    where, params = _batch_filter(claimed)
    pg = connection.vendor == "postgresql"
    least, greatest = ("LEAST", "GREATEST") if pg else ("MIN", "MAX")
    now = timezone.now() if pg else str(timezone.now().astimezone(UTC).replace(tzinfo=None))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, event_type_id, count, first_at, last_at, last_data, updated_at) "
            f"SELECT customer_id, event_type_id, n, f, t, d, %s FROM ("
            f"SELECT customer_id, event_type_id, t, d, count(*) OVER w AS n, min(t) OVER w AS f, "
            f"row_number() OVER (w ORDER BY t DESC, id DESC) AS r FROM ("
            f"SELECT id, customer_id, event_type_id, COALESCE(occurred_at, received_at) AS t, {_data_sql()} AS d "
            f"FROM {events} WHERE {where} AND {COUNTED}) AS e "
            f"WINDOW w AS (PARTITION BY customer_id, event_type_id)) AS s WHERE r = 1 "
            f"ORDER BY customer_id, event_type_id "
            f"ON CONFLICT (customer_id, event_type_id) DO UPDATE SET "
            f"count = {table}.count + excluded.count, "
            f"first_at = {least}({table}.first_at, excluded.first_at), "
            f"last_data = CASE WHEN excluded.last_at >= {table}.last_at THEN excluded.last_data "
            f"ELSE {table}.last_data END, "
            f"last_at = {greatest}({table}.last_at, excluded.last_at), updated_at = excluded.updated_at",
            [now, *params])


@contextmanager
def _cyclic_gc_paused():
    """Python's cyclic garbage collector off for the batch. A batch allocates tens of thousands of small
    objects that live until its end (the events, the strategies' rows); each collection would walk them
    (and, for the oldest generation, the whole process) again: a quarter of the worker's time, measured.
    They are freed by reference counting when the batch ends; the collector then runs as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def process_batch(limit: int = BATCH) -> int:
    """Claim and process one batch of accepted events; how many were claimed (0: the queue is empty)."""
    with _cyclic_gc_paused(), transaction.atomic():
        times = _Times()
        claimed = _claim(limit, times)
        if not claimed:
            return 0
        _upsert_stats(claimed)
        processors = event_processors()
        if processors:
            events = _load(claimed, times)
            for processor in processors:
                processor(events)
    return len(claimed)


def process_pending(*, batch: int = BATCH, max_seconds: float | None = None,
                    progress: Callable[[int], None] | None = None, until_short: bool = False) -> dict:
    """Process batches until the queue is empty (or ``max_seconds`` have passed). ``until_short``: stop after
    a batch that was not full too (the queue was drained; a worker that follows the queue waits a moment
    before the next batch: the events arriving meanwhile make one larger batch instead of many small ones,
    and on SQLite the requests waiting to write get the lock)."""
    started = time.monotonic()
    done = batches = 0
    while True:
        claimed = process_batch(batch)
        if not claimed:
            break
        done += claimed
        batches += 1
        if progress is not None:
            progress(done)
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        if until_short and claimed < batch:
            break
    ratelimit.prune()
    return {"processed": done, "batches": batches, "seconds": round(time.monotonic() - started, 3),
            "left": PendingEvent.objects.exists()}
