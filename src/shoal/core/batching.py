"""Cutting a stream into lists (``itertools.batched`` arrives with Python 3.12)."""

from collections.abc import Iterable, Iterator


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` items in order (the last one shorter)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
