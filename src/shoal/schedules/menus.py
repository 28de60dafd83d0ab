"""What the schedules app adds to the shell: its menu and workbench card (jobs: ``registry.py``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core.auth import user_can
from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu
from shoal.core.workbench import register_cards

from .models import ScheduledJob

register_menu(Menu("system.schedules", _("Scheduled jobs"), "system", ("view", "edit", "run"),
                   "admin:schedules_scheduledjob_changelist", "schedule", order=60))


@register_cards
def _schedule_cards(request):
    if not user_can(request.user, "system.schedules.view"):
        return []
    return [{"title": _("Number of enabled scheduled jobs"), "value": ScheduledJob.objects.filter(enabled=True).count()}]

register_action_labels({
    "job.run_now": _("Run scheduled job now"),
    "job.update": _("Edit scheduled job"),
})
