"""What apps built on customers add to a customer's output and timeline (customers imports none of them).

- **Output extensions** (``register_output_extension``): a function ``(viewer=, customer_ids=)`` answering
  ``{customer id: {key: value}}`` for a whole page at once (one query per page, never per customer); the keys
  are merged into each customer's API output (detail, list, search, previews).
- **Timeline sources** (``register_timeline_source``): entries that live in another app's tables (e.g. tag
  history) shown in the customer's timeline, merged with the customer's own entries by time.

Apps register from their ``registry.py``."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

from . import masking

OutputExtension = Callable[..., dict[int, dict]]
_output_extensions: list[OutputExtension] = []


def register_output_extension(fn: OutputExtension) -> OutputExtension:
    if fn not in _output_extensions:
        _output_extensions.append(fn)
    return fn


def extend_outputs(items: list[dict], *, viewer) -> list[dict]:
    """Add every registered extension's keys to the customer outputs ``items`` (dicts with an ``id``)."""
    ids = [item["id"] for item in items]
    if not ids:
        return items
    for extension in _output_extensions:
        extra = extension(viewer=viewer, customer_ids=ids)
        for item in items:
            item.update(extra.get(item["id"], {}))
    return items


def list_outputs(rows, *, viewer) -> list[dict]:
    """The list outputs of customers (model instances): masked as in a list, with the extensions' keys."""
    return extend_outputs(masking.mask_customer_rows(rows, viewer=viewer, context="list"), viewer=viewer)


# -- the timeline --------------------------------------------------------------------------------------
TIMELINE_KEYS = ("id", "kind", "field", "old", "new", "actor_id", "actor_name", "created_at", "detail")


@dataclass(frozen=True)
class TimelineSource:
    """``count(viewer=, customer=)``: how many entries; ``entries(viewer=, customer=, limit=)``: the newest
    ``limit`` entries, newest first, as dicts with :data:`TIMELINE_KEYS`."""

    name: str
    count: Callable[..., int]
    entries: Callable[..., list[dict]]


def _own_count(*, viewer, customer) -> int:
    return customer.timeline.count()


def _own_entries(*, viewer, customer, limit: int) -> list[dict]:
    return list(customer.timeline.select_related(None).order_by("-created_at", "-id")[:limit].values(*TIMELINE_KEYS))


_timeline_sources: dict[str, TimelineSource] = {"entries": TimelineSource("entries", _own_count, _own_entries)}


def register_timeline_source(source: TimelineSource) -> TimelineSource:
    _timeline_sources[source.name] = source
    return source


class CustomerTimeline(Sequence):
    """A customer's timeline from every source, newest first, read lazily: ``len()`` counts, a slice reads only
    the first ``stop`` entries of each source and merges them (ties: the larger id first). ``mask``: old/new
    values of sensitive fields masked as on the detail view."""

    def __init__(self, *, viewer, customer, mask: bool = False):
        self.viewer, self.customer, self.mask = viewer, customer, mask
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(s.count(viewer=self.viewer, customer=self.customer) for s in _timeline_sources.values())
        return self._count

    def __getitem__(self, index):
        if not isinstance(index, slice):
            rows = self[index:index + 1 or None]
            if not rows:
                raise IndexError(index)
            return rows[0]
        if any(v is not None and v < 0 for v in (index.start, index.stop)) or index.stop is None:
            start, stop, step = index.indices(len(self))
        else:
            start, stop, step = index.start or 0, index.stop, index.step or 1
        if stop <= start:
            return []
        feeds = [s.entries(viewer=self.viewer, customer=self.customer, limit=stop) for s in _timeline_sources.values()]
        merged = heapq.merge(*feeds, key=lambda e: (e["created_at"], e["id"]), reverse=True)
        rows = list(islice(merged, start, stop, step))
        return masking.mask_timeline(rows, mask=self.mask) if self.mask else rows


def customer_timeline(*, viewer, customer, mask: bool = False) -> CustomerTimeline:
    return CustomerTimeline(viewer=viewer, customer=customer, mask=mask)
