"""``POST /api/v1/pools/run``: run a step of the pool rules now (permission ``pools.runs.run``)."""

from typing import Literal

from ninja import Router, Schema
from pydantic import ConfigDict

from shoal.core.auth import require
from shoal.core.schemas import DbId

router = Router(tags=["pools"])


class RunIn(Schema):
    model_config = ConfigDict(extra="forbid")

    step: Literal["group", "assign", "recycle"]
    group_id: DbId | None = None


@router.post("/pools/run", summary="Run the group, assignment or recycle rules now (all groups or one)")
def run(request, payload: RunIn) -> dict:
    """``{"grouped"|"assigned"|"recycled": n, "seconds"}``."""
    from .engine.services import RUN_PERMISSION, pools_run

    require(request, RUN_PERMISSION)
    return pools_run(actor=request.auth, step=payload.step, group_id=payload.group_id)
