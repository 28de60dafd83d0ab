"""Retention of the event history (EVENTS_RETENTION_DAYS, 180 days by default): older events and their
strategy results are removed by the daily ``events.prune`` job; the per-customer statistics and the dedup
keys stay. On PostgreSQL whole months go by dropping their partitions; the rest (the month that straddles
the cut-off, the default partition, SQLite) is deleted in chunks."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from shoal.core import parameters

from .. import partitions
from ..models import Event, EventResult
from ..params import RETENTION_DAYS

CHUNK = 20000


def _delete_before(model, column: str, cutoff) -> int:
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    value = cutoff if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(cutoff)
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {column} < %s "
                           f"LIMIT {CHUNK})", [value])
            deleted = cursor.rowcount
        total += max(deleted, 0)
        if deleted < CHUNK:
            return total


def prune_history(*, days: int | None = None, now=None) -> dict:
    days = int(days if days is not None else parameters.get(RETENTION_DAYS.code))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    dropped = partitions.drop_expired(cutoff)
    deleted = _delete_before(Event, "received_at", cutoff)
    results = _delete_before(EventResult, "event_received_at", cutoff)
    created = partitions.ensure_partitions()
    return {"cutoff": cutoff.isoformat(), "partitions_dropped": dropped, "events_deleted": deleted,
            "results_deleted": results, "partitions_created": created}
