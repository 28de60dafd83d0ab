"""The per-application rate limit of event ingestion, counted in the database so that every web process
(on every host) shares it.

Each process adds the events it accepts to its own row of (application, second); a request is refused
(429) when the sum over the processes for this second would pass the limit. On SQLite the ingest
transaction holds the write lock, so the count is exact; on PostgreSQL two processes may both pass the
check in the same instant, so the limit may be passed by what one request carries (the rows are per
process, so nobody waits on another process's row). The counting runs inside the ingest transaction: a
refused or failed request counts nothing. Rows older than a minute are deleted by the workers."""

from __future__ import annotations

import os
import socket
import time

from django.db import connection

from .models import RateWindow

_WORKER = f"{socket.gethostname()[:40]}:{os.getpid()}"


def worker_name() -> str:
    global _WORKER
    pid = str(os.getpid())
    if not _WORKER.endswith(":" + pid):  # forked
        _WORKER = f"{socket.gethostname()[:40]}:{pid}"
    return _WORKER


def take(bucket: str, count: int, limit: int, *, now: float | None = None) -> float | None:
    """Count ``count`` events for ``bucket`` in the current second, or return the seconds to wait (without
    counting) when that would pass ``limit``. Call inside the ingest transaction."""
    now = time.time() if now is None else now
    slot = int(now)
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(count), 0) FROM {table} WHERE bucket = %s AND slot = %s", [bucket, slot])
        used = cursor.fetchone()[0]
        if used + count > limit:
            return max(0.001, slot + 1 - now)
        cursor.execute(f"INSERT INTO {table} (bucket, slot, worker, count) VALUES (%s, %s, %s, %s) "
                       f"ON CONFLICT (bucket, slot, worker) DO UPDATE SET count = {table}.count + excluded.count",
                       [bucket, slot, worker_name(), count])
    return None


def prune(*, older_than: float = 60.0) -> int:
    return RateWindow.objects.filter(slot__lt=int(time.time() - older_than)).delete()[0]
