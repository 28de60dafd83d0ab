"""Values read once per request: a list page asks for the actor's data scope, the list's columns, the sensitive
custom fields and the masking parameter several times each (the changelist, its paginator, the masking of the
rows); inside :func:`active` each is computed once.

The memo lives only as long as the block (a ``ContextVar``, this thread / async context alone, reset when the
block ends), so nothing read for one request or one user can serve another; writes inside the block should not
rely on it (it is opened around read-only list requests). Nested blocks share the outermost memo. Outside a
block :func:`memo` just computes. The parameters are cached for the block too (``parameters.cached``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from . import parameters

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, Any] | None] = ContextVar("shoal_request_memo", default=None)


@contextmanager
def active() -> Iterator[None]:
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        with parameters.cached():
            yield
    finally:
        _memo.reset(token)


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``key`` inside an :func:`active` block (every time outside one)."""
    store = _memo.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def is_active() -> bool:
    return _memo.get() is not None
