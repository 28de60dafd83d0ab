"""The rows the strategies write into the event history (``events.EventResult``): one "matched" row per event
and strategy when an event is matched, one row per action when it runs, is skipped or is cancelled."""

from __future__ import annotations

RESULT_COLUMNS = ("event_id", "event_received_at", "strategy_id", "strategy_name", "matched", "reason", "processor",
                  "status", "response_code", "error", "duration_ms", "attempt", "created_at")


def result_table() -> str:
    from shoal.events.models import EventResult

    return EventResult._meta.db_table
