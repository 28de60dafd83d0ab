"""Tasks (任务中心): normal tasks and follow-up tasks."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from shoal.accounts.models import User
from shoal.core.errors import ShoalError

from ..models import OPEN_PROGRESS, Task, TaskProgress, TaskType


# -- tasks -----------------------------------------------------------------------------------------------
def task_list(*, actor, status: str | None = "open") -> QuerySet[Task]:
    """The actor's own follow-up tasks (``status`` open, done or None: all), by due time."""
    if not isinstance(actor, User):
        return Task.objects.none()
    if status not in (None, "open", "done"):
        raise ShoalError("invalid", _("Unknown task status %(value)s") % {"value": status}, {"field": "status"})
    qs = Task.objects.filter(owner=actor, type=TaskType.FOLLOW_UP)
    if status == "open":
        qs = qs.filter(progress__in=OPEN_PROGRESS)
    elif status == "done":
        qs = qs.filter(progress=TaskProgress.DONE)
    return qs


def open_task_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Open follow-up tasks per salesperson (for the request-task setting)."""
    from django.db.models import Count

    rows = (Task.objects.filter(owner_id__in=list(user_ids), type=TaskType.FOLLOW_UP, progress__in=OPEN_PROGRESS)
            .values("owner_id").annotate(n=Count("id")).values_list("owner_id", "n"))
    return dict(rows)
