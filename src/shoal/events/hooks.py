"""What later apps (automation: strategies and processors) plug into the events app.

- ``register_event_processor(fn)``: ``fn(events: list[StoredEvent])`` is called by the worker with each
  batch of accepted events, after the per-customer statistics and inside the same transaction: what it
  writes to the database commits with the batch, or not at all (a worker killed mid-batch leaves the batch
  for the next worker). It must not call out (HTTP, SMS) inside: it records what to do (e.g. delayed
  actions with a unique key) and lets its own jobs do it.
- ``register_event_type_users(fn)``: ``fn(event_type) -> iterable of names`` (the strategies that use the
  type); changing or deleting a type warns and names them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_PROCESSORS: list[Callable[[list[StoredEvent]], Any]] = []
_TYPE_USERS: list[Callable[[Any], Iterable[str]]] = []


@dataclass(frozen=True)
class StoredEvent:
    """An accepted event as the workers see it."""

    id: int
    received_at: datetime
    occurred_at: datetime  # the event's time (its timestamp, else when it was received)
    event_type_id: int
    event_code: str
    customer_id: int
    application_id: int | None
    client_id: str
    data: dict  # the event's "data" object (the whole event as received is Event.payload)


def register_event_processor(fn: Callable[[list[StoredEvent]], Any]) -> None:
    if fn not in _PROCESSORS:
        _PROCESSORS.append(fn)


def unregister_event_processor(fn) -> None:
    if fn in _PROCESSORS:
        _PROCESSORS.remove(fn)


def event_processors() -> list[Callable]:
    return list(_PROCESSORS)


def register_event_type_users(fn: Callable[[Any], Iterable[str]]) -> None:
    if fn not in _TYPE_USERS:
        _TYPE_USERS.append(fn)


def unregister_event_type_users(fn) -> None:
    if fn in _TYPE_USERS:
        _TYPE_USERS.remove(fn)


def event_type_users(event_type) -> list[str]:
    """The names of what uses ``event_type`` (strategies), as the registered functions report them."""
    names: list[str] = []
    for fn in _TYPE_USERS:
        names.extend(str(name) for name in fn(event_type) or ())
    return list(dict.fromkeys(names))
