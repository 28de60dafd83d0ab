"""What the pools app plugs into: menus, pages, jobs and customer outputs."""

# -- groups and their rules (helper "groups"): menus, operation-log words, pages -------------------------
from django.utils.translation import gettext_lazy as _  # noqa: E402

from shoal.core.oplog import register_action_labels  # noqa: E402
from shoal.core.permissions import CRUD, Menu, register_menu  # noqa: E402
from shoal.core.site import site  # noqa: E402

from . import views_groups  # noqa: E402

register_menu(Menu("pools.groups", _("Customer group management"), "customers", CRUD, "admin:pool_groups", "groups", order=30))
register_menu(Menu("pools.group_rules", _("Group rules"), "customers", CRUD, "admin:pool_group_rules", "rule",
                   order=31))
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
})
site.register_page("pools/groups/", views_groups.group_list, "pool_groups")
site.register_page("pools/groups/add/", views_groups.group_step1, "pool_group_add")
site.register_page("pools/groups/<int:group_id>/", views_groups.group_step1, "pool_group_edit")
site.register_page("pools/groups/<int:group_id>/delete/", views_groups.group_delete, "pool_group_delete")
site.register_page("pools/groups/<int:group_id>/assignment/", views_groups.group_step2, "pool_group_assignment")
site.register_page("pools/groups/<int:group_id>/assignment/<int:rule_id>/", views_groups.group_step2,
                   "pool_assignment_rule_edit")
site.register_page("pools/groups/<int:group_id>/assignment/<int:rule_id>/delete/",
                   views_groups.assignment_rule_delete, "pool_assignment_rule_delete")
site.register_page("pools/groups/<int:group_id>/recycle/", views_groups.group_step3, "pool_group_recycle")
site.register_page("pools/groups/<int:group_id>/recycle/<int:rule_id>/", views_groups.group_step3,
                   "pool_recycle_rule_edit")
site.register_page("pools/groups/<int:group_id>/recycle/<int:rule_id>/delete/",
                   views_groups.recycle_rule_delete, "pool_recycle_rule_delete")
site.register_page("pools/group-rules/", views_groups.group_rules_page, "pool_group_rules")
site.register_page("pools/group-rules/<int:rule_id>/", views_groups.group_rules_page, "pool_group_rule_edit")
site.register_page("pools/group-rules/<int:rule_id>/delete/", views_groups.group_rule_delete,
                   "pool_group_rule_delete")

# ops: manual operations on customers (group, assign, claim, return, recycle bin, restore, transfer) ------
from django.utils.translation import gettext_lazy as _ops_  # noqa: E402

from shoal.core.oplog import register_action_labels as _ops_labels  # noqa: E402
from shoal.core.permissions import ACTION_LABELS as _OPS_ACTION_LABELS  # noqa: E402
from shoal.core.permissions import Menu as _OpsMenu  # noqa: E402
from shoal.core.permissions import register_menu as _ops_register_menu  # noqa: E402

for _code, _label in {"group": _ops_("Group"), "claim": _ops_("Claim"), "return": _ops_("Return to a public sea"),
                      "recycle_bin": _ops_("Put in the recycle bin"), "restore": _ops_("Restore from the recycle bin"),
                      "transfer": _ops_("Transfer")}.items():
    _OPS_ACTION_LABELS.setdefault(_code, _label)
_ops_register_menu(_OpsMenu("pools.seas", _ops_("Customer seas"), "sales",
                            ("view", "group", "assign", "claim", "return", "recycle_bin", "restore", "transfer"),
                            None, "waves", order=20))
_ops_labels({
    "customers.batch.group": _ops_("Group customers"),
    "customers.batch.assign": _ops_("Assign customers"),
    "customers.batch.claim": _ops_("Claim customers"),
    "customers.batch.return_to_group_sea": _ops_("Return customers to the group public sea"),
    "customers.batch.return_to_company_sea": _ops_("Return customers to the company public sea"),
    "customers.batch.recycle_bin": _ops_("Put customers in the recycle bin"),
    "customers.batch.restore": _ops_("Restore customers from the recycle bin"),
    "transfer.create": _ops_("Transfer customers"),
})

from shoal.customers.extensions import register_output_extension as _ops_output  # noqa: E402

from .customer_outputs import customer_pool_outputs as _ops_pool_outputs  # noqa: E402

_ops_output(_ops_pool_outputs)  # "groups", "invited_by", "last_follow_up_at" in customer outputs
# end ops

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

# pages (helper "pages"): the seas, batch transfer, the logs; the customer list's batch actions; the detail panel
def _pages():
    from django.utils.translation import gettext_lazy as _

    from shoal.core.permissions import ACTION_LABELS, MENUS, Menu, register_menu
    from shoal.core.site import site
    from shoal.customers import page_extensions

    from . import views_seas as views

    for code, label in (("group", _("Group")), ("claim", _("Claim")), ("return", _("Return to a public sea")),
                        ("recycle_bin", _("Put in the recycle bin")), ("restore", _("Restore from the recycle bin")),
                        ("transfer", _("Transfer"))):
        ACTION_LABELS.setdefault(code, label)
    if "pools.seas" not in MENUS:  # helper "ops" registers it with the services; the same code and actions
        register_menu(Menu("pools.seas", _("Customer seas"), "sales",
                           ("view", "group", "assign", "claim", "return", "recycle_bin", "restore", "transfer"),
                           None, "waves", order=30))
    if "sales.follow_ups" not in MENUS:  # helper "ops" registers it (sales/registry.py); the detail's form needs it
        register_menu(Menu("sales.follow_ups", _("Follow-ups"), "sales", ("view", "create"), None, "call", order=30))
    seas = "pools.seas.view"
    register_menu(Menu("pools.my_customers", _("My customers"), "customers", (), "admin:pools_my_customers",
                       "person_pin", view_permission=seas, order=31))
    register_menu(Menu("pools.group_sea", _("Group public sea"), "customers", (), "admin:pools_group_sea",
                       "groups", view_permission=seas, order=32))
    register_menu(Menu("pools.company_sea", _("Company public sea"), "customers", (), "admin:pools_company_sea",
                       "waves", view_permission=seas, order=33))
    register_menu(Menu("pools.recycle_bin", _("Recycle bin"), "customers", (), "admin:pools_recycle_bin",
                       "delete", view_permission=seas, order=34))
    register_menu(Menu("pools.transfer", _("Batch transfer"), "customers", (), "admin:pools_transfer",
                       "swap_horiz", view_permission="pools.seas.transfer", order=35))
    if "pools.logs" not in MENUS:  # helper "ops" registers it too
        register_menu(Menu("pools.logs", _("Pool logs"), "system", ("view",), None, "history", order=84))
    register_menu(Menu("pools.group_log", _("Group log"), "system", (), "admin:pools_group_log", "account_tree",
                       view_permission="pools.logs.view", order=85))
    register_menu(Menu("pools.assignment_log", _("Assignment log"), "system", (), "admin:pools_assignment_log",
                       "assignment_ind", view_permission="pools.logs.view", order=86))
    register_menu(Menu("pools.recycle_log", _("Recycle history"), "system", (), "admin:pools_recycle_log",
                       "restore_from_trash", view_permission="pools.logs.view", order=87))
    register_menu(Menu("pools.transfers", _("Transfer records"), "system", (), "admin:pools_transfers",
                       "receipt_long", view_permission="pools.logs.view", order=88))

    site.register_page("pools/my-customers/", views.my_customers_page, "pools_my_customers")
    site.register_page("pools/group-sea/", views.group_sea_page, "pools_group_sea")
    site.register_page("pools/company-sea/", views.company_sea_page, "pools_company_sea")
    site.register_page("pools/recycle-bin/", views.recycle_bin_page, "pools_recycle_bin")
    site.register_page("pools/seas/action/", views.seas_action, "pools_seas_action")
    site.register_page("pools/transfer/", views.transfer_page, "pools_transfer")
    site.register_page("pools/transfers/", views.transfers_page, "pools_transfers")
    site.register_page("pools/group-log/", views.group_log_page, "pools_group_log")
    site.register_page("pools/assignment-log/", views.assignment_log_page, "pools_assignment_log")
    site.register_page("pools/recycle-log/", views.recycle_log_page, "pools_recycle_log")
    site.register_page("pools/customers/<int:pk>/follow-up/", views.follow_up_create_view, "pools_follow_up")
    site.register_page("pools/notices/read/", views.notices_read, "pools_notices_read")  # qa: warnings on My customers

    views.register_list_actions()
    page_extensions.register_detail_panel(views.detail_panel)
    page_extensions.register_timeline_action_labels(views.timeline_action_labels())


_pages()
