"""Who acts when no user or application does: ``SYSTEM`` (commands, the demo loader, jobs).

The scope, masking and operation-log code recognise it: it sees every customer, no value is masked
for it where masking depends on the viewer, and it is logged as "system"."""

from __future__ import annotations


class _System:
    is_authenticated = False
    is_active = True
    pk = None

    def get_username(self) -> str:
        return "system"

    def __str__(self) -> str:
        return "system"

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = _System()


def is_system(actor) -> bool:
    """``actor`` is the system. ``None`` counts as the system too: older callers (and the test suite,
    which passes ``actor=None`` throughout) mean the system by it."""
    return actor is SYSTEM or actor is None
