"""What the pools app plugs into: permissions and menus, pages, operation-log words, the customer list's batch
actions and the detail panel, customer outputs, and the rule-run jobs."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import ACTION_LABELS, CRUD, Menu, register_menu
from shoal.core.site import site
from shoal.customers import page_extensions
from shoal.customers.extensions import register_output_extension
from shoal.schedules.registry import register_job

from . import views_groups, views_seas
from .customer_outputs import customer_pool_outputs

# -- permissions and menus ------------------------------------------------------------------------------
for _code, _label in (("group", _("Group")), ("claim", _("Claim")), ("return", _("Return to a public sea")),
                      ("recycle_bin", _("Put in the recycle bin")), ("restore", _("Restore from the recycle bin")),
                      ("transfer", _("Transfer"))):
    ACTION_LABELS.setdefault(_code, _label)

SEAS_VIEW = "pools.seas.view"
LOGS_VIEW = "pools.logs.view"
for _menu in (
    # customer management: groups and rules, the seas, the transfer
    Menu("pools.groups", _("Customer group management"), "customers", CRUD, "admin:pool_groups", "groups", order=30),
    Menu("pools.group_rules", _("Group rules"), "customers", CRUD, "admin:pool_group_rules", "rule", order=31),
    Menu("pools.my_customers", _("My customers"), "customers", (), "admin:pools_my_customers", "person_pin",
         view_permission=SEAS_VIEW, order=32),
    Menu("pools.group_sea", _("Group public sea"), "customers", (), "admin:pools_group_sea", "groups",
         view_permission=SEAS_VIEW, order=33),
    Menu("pools.company_sea", _("Company public sea"), "customers", (), "admin:pools_company_sea", "waves",
         view_permission=SEAS_VIEW, order=34),
    Menu("pools.recycle_bin", _("Recycle bin"), "customers", (), "admin:pools_recycle_bin", "delete",
         view_permission=SEAS_VIEW, order=35),
    Menu("pools.transfer", _("Batch transfer"), "customers", (), "admin:pools_transfer", "swap_horiz",
         view_permission="pools.seas.transfer", order=36),
    # permissions without a page of their own
    Menu("pools.seas", _("Customer seas"), "sales",
         ("view", "group", "assign", "claim", "return", "recycle_bin", "restore", "transfer"), None, "waves", order=20),
    Menu("pools.runs", _("Pool rule runs"), "customers", ("run",), None, "play_arrow", order=90),
    # system: the logs
    Menu("pools.logs", _("Pool logs"), "system", ("view",), None, "history", order=84),
    Menu("pools.group_log", _("Group log"), "system", (), "admin:pools_group_log", "account_tree",
         view_permission=LOGS_VIEW, order=85),
    Menu("pools.assignment_log", _("Assignment log"), "system", (), "admin:pools_assignment_log", "assignment_ind",
         view_permission=LOGS_VIEW, order=86),
    Menu("pools.recycle_log", _("Recycle history"), "system", (), "admin:pools_recycle_log", "restore_from_trash",
         view_permission=LOGS_VIEW, order=87),
    Menu("pools.transfers", _("Transfer records"), "system", (), "admin:pools_transfers", "receipt_long",
         view_permission=LOGS_VIEW, order=88),
):
    register_menu(_menu)

register_action_labels({
    "customer_group.create": _("Create customer group"),
    "customer_group.update": _("Edit customer group"),
    "customer_group.delete": _("Delete customer group"),
    "assignment_rule.create": _("Add assignment rule"),
    "assignment_rule.update": _("Edit assignment rule"),
    "assignment_rule.delete": _("Delete assignment rule"),
    "recycle_rule.create": _("Add recycle rule"),
    "recycle_rule.update": _("Edit recycle rule"),
    "recycle_rule.delete": _("Delete recycle rule"),
    "group_rule.create": _("Add group rule"),
    "group_rule.update": _("Edit group rule"),
    "group_rule.delete": _("Delete group rule"),
    "customers.batch.group": _("Group customers"),
    "customers.batch.assign": _("Assign customers"),
    "customers.batch.claim": _("Claim customers"),
    "customers.batch.return_to_group_sea": _("Return customers to the group public sea"),
    "customers.batch.return_to_company_sea": _("Return customers to the company public sea"),
    "customers.batch.recycle_bin": _("Put customers in the recycle bin"),
    "customers.batch.restore": _("Restore customers from the recycle bin"),
    "customers.request": _("Request customers"),
    "transfer.create": _("Transfer customers"),
    "pools.run": _("Run pool rules"),
})

# -- pages ----------------------------------------------------------------------------------------------
for _route, _view, _name in (
    ("pools/groups/", views_groups.group_list, "pool_groups"),
    ("pools/groups/add/", views_groups.group_step1, "pool_group_add"),
    ("pools/groups/<int:group_id>/", views_groups.group_step1, "pool_group_edit"),
    ("pools/groups/<int:group_id>/delete/", views_groups.group_delete, "pool_group_delete"),
    ("pools/groups/<int:group_id>/assignment/", views_groups.group_step2, "pool_group_assignment"),
    ("pools/groups/<int:group_id>/assignment/<int:rule_id>/", views_groups.group_step2, "pool_assignment_rule_edit"),
    ("pools/groups/<int:group_id>/assignment/<int:rule_id>/delete/", views_groups.assignment_rule_delete,
     "pool_assignment_rule_delete"),
    ("pools/groups/<int:group_id>/recycle/", views_groups.group_step3, "pool_group_recycle"),
    ("pools/groups/<int:group_id>/recycle/<int:rule_id>/", views_groups.group_step3, "pool_recycle_rule_edit"),
    ("pools/groups/<int:group_id>/recycle/<int:rule_id>/delete/", views_groups.recycle_rule_delete,
     "pool_recycle_rule_delete"),
    ("pools/group-rules/", views_groups.group_rules_page, "pool_group_rules"),
    ("pools/group-rules/<int:rule_id>/", views_groups.group_rules_page, "pool_group_rule_edit"),
    ("pools/group-rules/<int:rule_id>/delete/", views_groups.group_rule_delete, "pool_group_rule_delete"),
    ("pools/my-customers/", views_seas.my_customers_page, "pools_my_customers"),
    ("pools/group-sea/", views_seas.group_sea_page, "pools_group_sea"),
    ("pools/company-sea/", views_seas.company_sea_page, "pools_company_sea"),
    ("pools/recycle-bin/", views_seas.recycle_bin_page, "pools_recycle_bin"),
    ("pools/seas/action/", views_seas.seas_action, "pools_seas_action"),
    ("pools/transfer/", views_seas.transfer_page, "pools_transfer"),
    ("pools/transfers/", views_seas.transfers_page, "pools_transfers"),
    ("pools/group-log/", views_seas.group_log_page, "pools_group_log"),
    ("pools/assignment-log/", views_seas.assignment_log_page, "pools_assignment_log"),
    ("pools/recycle-log/", views_seas.recycle_log_page, "pools_recycle_log"),
    ("pools/customers/<int:pk>/follow-up/", views_seas.follow_up_create_view, "pools_follow_up"),
    ("pools/notices/read/", views_seas.notices_read, "pools_notices_read"),
    ("pools/request/", views_seas.request_customers_view, "pools_request"),  # recycle warnings on My customers
):
    site.register_page(_route, _view, _name)

views_seas.register_list_actions()  # the customer list's batch actions
page_extensions.register_detail_panel(views_seas.detail_panel)
page_extensions.register_timeline_action_labels(views_seas.timeline_action_labels())
register_output_extension(customer_pool_outputs)  # "groups", "invited_by", "last_follow_up_at" in customer outputs


# -- jobs: the rule runs (editable cron and "run now" on the schedules page) -----------------------------
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


@register_job("pools.warn", cron="0 9 * * *", description=gettext_noop("Warn salespeople of customers about to be recycled"))
def warn_job(group_id=None):
    from .engine import run_warnings

    return run_warnings(group_id=group_id)


# -- automation: the pool processors (processor registry) ----------------------------------------------------
def _register_processors():
    from shoal.core.processors import register_processor

    from .processors import ASSIGN, GROUP

    register_processor(GROUP)
    register_processor(ASSIGN)


_register_processors()
