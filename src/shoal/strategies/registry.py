"""What the strategies app plugs into: permissions and menus, pages, operation-log words, a parameter, the
events worker (the event processor, the users of an event type) and the tasks job."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.oplog import register_action_labels
from shoal.core.parameters import Parameter, register
from shoal.core.permissions import ACTION_LABELS, CRUD, Menu, register_menu
from shoal.core.site import site
from shoal.events.hooks import register_event_processor, register_event_type_users
from shoal.schedules.registry import register_job

from . import views
from .permissions import STRATEGIES, TASKS, TASKS_VIEW

ACTION_LABELS.setdefault("approve", _("Approve"))
ACTION_LABELS.setdefault("cancel", _("Cancel"))

for _menu in (
    Menu(STRATEGIES, _("Automation strategies"), "marketing", CRUD + ("approve",), "admin:strategies",
         "account_tree", order=40),
    Menu("marketing.strategy_review", _("Strategy review"), "marketing", (), "admin:strategies_review", "fact_check",
         view_permission=f"{STRATEGIES}.approve", order=41),
    Menu(TASKS, _("Strategy tasks"), "marketing", ("view", "cancel"), "admin:strategy_tasks", "pending_actions",
         view_permission=TASKS_VIEW, order=42),
):
    register_menu(_menu)

register_action_labels({
    "strategy_group.create": _("Add strategy group"),
    "strategy_group.update": _("Edit strategy group"),
    "strategy_group.delete": _("Delete strategy group"),
    "strategy.create": _("Add strategy"),
    "strategy.update": _("Edit strategy"),
    "strategy.delete": _("Delete strategy"),
    "strategy.approve": _("Approve strategy"),
    "strategy_task.cancel": _("Cancel strategy tasks"),
})

for _route, _view, _name in views.PAGES:
    site.register_page(_route, _view, _name)

SELF_APPROVAL = register(Parameter(
    "STRATEGY_SELF_APPROVAL", _("Editors may approve their own strategies"), "bool", False, group="marketing",
    help=_("Off: a strategy is approved by a user other than its last editor. On: for a team of one.")))


# -- the events worker -----------------------------------------------------------------------------------
def _process_events(events):
    from .services.matching import process_events

    return process_events(events)


def _event_type_users(event_type):
    from .services.strategies import strategies_using

    return strategies_using(event_type)


register_event_processor(_process_events)
register_event_type_users(_event_type_users)


# -- the job: delayed tasks as they fall due (and any an enqueue missed) -----------------------------------
@register_job("strategies.run_due", cron="* * * * *", description=gettext_noop("Run the due strategy tasks"))
def run_due_job():
    from .services.execution import run_due
    from .tasks import request_run

    return run_due(max_seconds=50, on_full_batch=request_run)
