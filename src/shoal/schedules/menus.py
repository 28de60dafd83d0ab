"""What the schedules app adds to the shell: its menu and a figure of the workbench's system overview (jobs:
``registry.py``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core.auth import user_can
from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu
from shoal.core.workbench import Figure, FigureSource, register_figure

from .models import ScheduledJob

register_menu(Menu("system.schedules", _("Scheduled jobs"), "system", ("view", "edit", "run"),
                   "admin:schedules_scheduledjob_changelist", "schedule", order=60))


def _enabled_jobs(*, actor):
    """A figure of the system overview board (accounts): enabled scheduled jobs."""
    if not user_can(actor, "system.schedules.view"):
        return None
    from django.urls import reverse

    return Figure("scheduled_jobs", _("Number of enabled scheduled jobs"),
                  ScheduledJob.objects.filter(enabled=True).count(),
                  reverse("admin:schedules_scheduledjob_changelist") + "?enabled__exact=1")


register_figure("accounts.system", FigureSource("scheduled_jobs", _enabled_jobs))

register_action_labels({
    "job.run_now": _("Run scheduled job now"),
    "job.update": _("Edit scheduled job"),
})
