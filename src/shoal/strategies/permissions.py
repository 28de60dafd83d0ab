"""The permissions of the strategy pages and endpoints, and the one check the services make."""

from __future__ import annotations

from django.utils.translation import gettext as _

from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import ShoalError

STRATEGIES = "marketing.strategies"
VIEW, CREATE, EDIT, DELETE, APPROVE = (f"{STRATEGIES}.{a}" for a in ("view", "create", "edit", "delete", "approve"))
TASKS = "marketing.strategy_tasks"
TASKS_VIEW, TASKS_CANCEL = f"{TASKS}.view", f"{TASKS}.cancel"


def require(actor, code: str) -> None:
    """403 unless ``actor`` holds ``code`` (the system holds every permission)."""
    if not is_system(actor) and not user_can(actor, code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)
