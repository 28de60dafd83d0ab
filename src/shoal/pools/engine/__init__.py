"""The rule runs of the sales pools: grouping, assignment, recycling and recycle warnings.

Each run is idempotent and safe with two workers at once (see each module), writes only through
:mod:`shoal.pools.moves`, and returns a JSON summary with ``seconds``."""

from __future__ import annotations

from .assignment import run_assignment
from .grouping import run_group_rules
from .recycle import run_recycle, run_warnings

STEPS = {"group": run_group_rules, "assign": run_assignment, "recycle": run_recycle}
COUNT_KEYS = {"group": "grouped", "assign": "assigned", "recycle": "recycled"}

__all__ = ["STEPS", "COUNT_KEYS", "run_assignment", "run_group_rules", "run_recycle", "run_warnings", "run_step"]


def run_step(step: str, *, group_id: int | None = None, actor=None, progress=None) -> dict:
    """``step`` one of group / assign / recycle: ``{"grouped"|"assigned"|"recycled": n, "seconds"}``."""
    from shoal.core.actors import SYSTEM

    return STEPS[step](group_id=group_id, actor=actor if actor is not None else SYSTEM, progress=progress)
