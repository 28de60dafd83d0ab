"""What the pools app plugs into: menus, pages, jobs and customer outputs."""


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

    views.register_list_actions()
    page_extensions.register_detail_panel(views.detail_panel)
    page_extensions.register_timeline_action_labels(views.timeline_action_labels())


_pages()
