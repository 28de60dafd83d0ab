"""Running a step of the rules now, for a user (the API, pages) or the system (the CLI)."""

from __future__ import annotations

from django.db import DatabaseError
from django.utils.translation import gettext as _

from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation

RUN_PERMISSION = "pools.runs.run"


def pools_run(*, actor, step: str, group_id: int | None = None, progress=None) -> dict:
    """Run ``step`` (group / assign / recycle) now, for every group or ``group_id``'s.
    ``{"grouped"|"assigned"|"recycled": n, "seconds"}``. Needs ``pools.runs.run``."""
    from shoal.customers.models import CustomerGroup

    from . import STEPS, run_step

    if not is_system(actor) and not user_can(actor, RUN_PERMISSION):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": RUN_PERMISSION},
                         {"permission": RUN_PERMISSION}, status=403)
    if step not in STEPS:
        raise ShoalError("invalid_step", _("Unknown step %(step)s") % {"step": step}, {"field": "step"})
    if group_id is not None and not CustomerGroup.objects.filter(pk=group_id).exists():
        raise NotFound(_("No such customer group"))
    try:
        result = run_step(step, group_id=group_id, actor=actor, progress=progress)
    except DatabaseError as error:  # a rule the database cannot evaluate (e.g. custom SQL on a changed field)
        raise ShoalError("run_failed", _("A rule could not be evaluated: %(error)s")
                         % {"error": str(error).splitlines()[0][:200] if str(error) else type(error).__name__})
    log_operation(actor=actor, action="pools.run", object_type="customer_group", object_id=group_id or "",
                  detail={"step": step, **result})
    return result
