"""The workers' side: accepted events → per-customer statistics → the registered processors (strategies).

A batch is claimed by deleting its rows from the queue (``PendingEvent``; on PostgreSQL ``FOR UPDATE SKIP
LOCKED``, so two workers take different batches) and processed in the same transaction: the statistics are
upserted set-based (one statement), then each registered processor gets the batch. A worker killed in the
middle rolls the whole batch back: its queue rows come back and the next worker processes it, once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from .. import ratelimit
from ..hooks import StoredEvent, event_processors
from ..models import Event, EventStat, PendingEvent

logger = logging.getLogger("shoal.events")
BATCH = 2000


def _claim(limit: int) -> list[tuple[int, datetime]]:
    table = connection.ops.quote_name(PendingEvent._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} ORDER BY event_id "
                       f"LIMIT %s{lock}) RETURNING event_id, received_at", [limit])
        rows = cursor.fetchall()
    return [(pk, _aware(at)) for pk, at in rows]


def _aware(value) -> datetime:
    """SQLite gives the stored UTC time back as text or a naive datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _load(claimed: list[tuple[int, datetime]]) -> list[StoredEvent]:
    """The claimed events (their ``data`` only, not the whole payload), read with one query."""
    table = connection.ops.quote_name(Event._meta.db_table)
    since = min(at for _, at in claimed)
    ids = [pk for pk, _ in claimed]
    pg = connection.vendor == "postgresql"
    data = "payload -> 'data'" if pg else "json_extract(payload, '$.data')"
    sql = (f"SELECT id, received_at, occurred_at, event_type_id, event_code, customer_id, application_id, client_id, "
           f"{data} FROM {table} WHERE received_at >= %s AND id IN (SELECT value FROM json_each(%s)) ORDER BY id")
    if pg:
        sql = sql.replace("id IN (SELECT value FROM json_each(%s))", "id = ANY(%s)")
        params = [since, ids]
    else:
        params = [str(since.astimezone(UTC).replace(tzinfo=None)), json.dumps(ids)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    events = []
    for pk, received, occurred, type_id, code, customer_id, app_id, client_id, payload_data in rows:
        if customer_id is None or type_id is None:
            continue
        if isinstance(payload_data, str):
            payload_data = json.loads(payload_data)
        received = _aware(received)
        occurred = received if occurred is None or occurred == received else _aware(occurred)
        events.append(StoredEvent(id=pk, received_at=received, occurred_at=occurred,
                                  event_type_id=type_id, event_code=code, customer_id=customer_id,
                                  application_id=app_id, client_id=client_id,
                                  data=payload_data if isinstance(payload_data, dict) else {}))
    return events


def _aggregate(events: list[StoredEvent]) -> list[tuple]:
    """Per (customer, type): count, first time, last time, the data of the last event (ties: the later id),
    sorted by key (every worker upserts in the same order: no deadlocks between two of them)."""
    stats: dict[tuple[int, int], list] = {}
    for e in events:
        key = (e.customer_id, e.event_type_id)
        s = stats.get(key)
        if s is None:
            stats[key] = [1, e.occurred_at, e.occurred_at, e.data, e.id]
            continue
        s[0] += 1
        if e.occurred_at < s[1]:
            s[1] = e.occurred_at
        if (e.occurred_at, e.id) >= (s[2], s[4]):
            s[2], s[3], s[4] = e.occurred_at, e.data, e.id
    return [(c, t, s[0], s[1], s[2], s[3]) for (c, t), s in sorted(stats.items())]


def _upsert_stats(rows: list[tuple]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(EventStat._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cols = list(zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {table} (customer_id, event_type_id, count, first_at, last_at, last_data, updated_at) "
                f"SELECT c, t, n, f, l, d::jsonb, %s FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], "
                f"%s::timestamptz[], %s::timestamptz[], %s::text[]) AS v(c, t, n, f, l, d) "
                f"ON CONFLICT (customer_id, event_type_id) DO UPDATE SET "
                f"count = {table}.count + excluded.count, "
                f"first_at = LEAST({table}.first_at, excluded.first_at), "
                f"last_data = CASE WHEN excluded.last_at >= {table}.last_at THEN excluded.last_data "
                f"ELSE {table}.last_data END, "
                f"last_at = GREATEST({table}.last_at, excluded.last_at), updated_at = excluded.updated_at",
                [now, list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]), list(cols[4]),
                 [json.dumps(d, ensure_ascii=False) for d in cols[5]]])
            return
        def adapt(value):  # the UTC text Django writes to SQLite
            return str(value.astimezone(UTC).replace(tzinfo=None))

        stamp = adapt(now)
        for start in range(0, len(rows), 2000):
            chunk = rows[start:start + 2000]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = [v for c, t, n, f, last, d in chunk
                      for v in (c, t, n, adapt(f), adapt(last), json.dumps(d, ensure_ascii=False), stamp)]
            cursor.execute(
                f"INSERT INTO {table} (customer_id, event_type_id, count, first_at, last_at, last_data, updated_at) "
                f"VALUES {values} ON CONFLICT (customer_id, event_type_id) DO UPDATE SET "
                f"count = {table}.count + excluded.count, first_at = MIN({table}.first_at, excluded.first_at), "
                f"last_data = CASE WHEN excluded.last_at >= {table}.last_at THEN excluded.last_data "
                f"ELSE {table}.last_data END, "
                f"last_at = MAX({table}.last_at, excluded.last_at), updated_at = excluded.updated_at", params)


def process_batch(limit: int = BATCH) -> int:
    """Claim and process one batch of accepted events; how many were claimed (0: the queue is empty)."""
    with transaction.atomic():
        claimed = _claim(limit)
        if not claimed:
            return 0
        events = _load(claimed)
        _upsert_stats(_aggregate(events))
        for processor in event_processors():
            processor(events)
    return len(claimed)


def process_pending(*, batch: int = BATCH, max_seconds: float | None = None,
                    progress: Callable[[int], None] | None = None) -> dict:
    """Process batches until the queue is empty (or ``max_seconds`` have passed)."""
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
    ratelimit.prune()
    return {"processed": done, "batches": batches, "seconds": round(time.monotonic() - started, 3),
            "left": PendingEvent.objects.exists()}
