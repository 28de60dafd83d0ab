"""Retention of the event history (EVENTS_RETENTION_DAYS, 180 days by default): older events and their
strategy results are removed by the daily ``events.prune`` job; the per-customer statistics and the dedup
keys stay. On PostgreSQL whole months go by dropping their partitions; the rest (the month that straddles
the cut-off, the default partition, SQLite) is deleted in chunks."""

from __future__ import annotations

from shoal.core.retention import cutoff_of, delete_before

from .. import partitions
from ..models import Event, EventResult
from ..params import RETENTION_DAYS


def prune_history(*, days: int | None = None, now=None) -> dict:
    cutoff = cutoff_of(RETENTION_DAYS.code, days=days, now=now)
    dropped = partitions.drop_expired(cutoff)
    deleted = delete_before(Event, "received_at", cutoff)[Event]
    results = delete_before(EventResult, "event_received_at", cutoff)[EventResult]
    created = partitions.ensure_partitions()
    return {"cutoff": cutoff.isoformat(), "partitions_dropped": dropped, "events_deleted": deleted,
            "results_deleted": results, "partitions_created": created}
