"""What the pools app plugs into: menus, pages, jobs and customer outputs."""

# -- engine: the rule runs (jobs, the "run" permission) ----------------------------------------------------
from django.utils.translation import gettext_lazy as _  # noqa: E402
from django.utils.translation import gettext_noop  # noqa: E402

from shoal.core.oplog import register_action_labels  # noqa: E402
from shoal.core.permissions import Menu, register_menu  # noqa: E402
from shoal.schedules.registry import register_job  # noqa: E402

register_menu(Menu("pools.runs", _("Pool rule runs"), "customers", ("run",), None, "play_arrow", order=90))
register_action_labels({"pools.run": _("Run pool rules")})


@register_job("pools.group", cron="*/10 * * * *", description=gettext_noop("Group customers by the group rules"))
def group_job(group_id=None):
    from .engine import run_group_rules

    return run_group_rules(group_id=group_id)


@register_job("pools.assign", cron="*/10 * * * *",
              description=gettext_noop("Assign group public-sea customers by the assignment rules"))
def assign_job(group_id=None):
    from .engine import run_assignment

    return run_assignment(group_id=group_id)


@register_job("pools.recycle", cron="0 2 * * *",
              description=gettext_noop("Recycle customers without follow-up by the recycle rules"))
def recycle_job(group_id=None):
    from .engine import run_recycle

    return run_recycle(group_id=group_id)


@register_job("pools.warn", cron="0 9 * * *",
              description=gettext_noop("Warn salespeople of customers about to be recycled"))
def warn_job(group_id=None):
    from .engine import run_warnings

    return run_warnings(group_id=group_id)
