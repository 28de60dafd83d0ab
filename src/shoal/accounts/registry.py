"""What the accounts app adds to the shell: its menus, pages and workbench boards (``boards.py``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shoal.core.oplog import register_action_labels
from shoal.core.permissions import CRUD, Menu, register_menu
from shoal.core.site import site

from . import boards, views  # noqa: F401  (boards: the workbench boards)

register_menu(Menu("system.departments", _("Departments"), "system", CRUD,
                   "admin:accounts_department_changelist", "account_tree", order=10))
register_menu(Menu("system.users", _("Users"), "system", CRUD + ("reset_password",),
                   "admin:accounts_user_changelist", "group", order=20))
register_menu(Menu("system.roles", _("Roles"), "system", CRUD, "admin:accounts_role_changelist", "badge",
                   order=30))
register_menu(Menu("system.applications", _("Applications"), "system", CRUD,
                   "admin:accounts_application_changelist", "apps", order=40))
register_menu(Menu("system.login_log", _("Login log"), "system", ("view",),
                   "admin:accounts_loginlog_changelist", "login", order=70))

site.register_page("system/my-permissions/", views.my_permissions, "my_permissions")
site.register_page("system/my-tokens/", views.my_tokens, "my_tokens")
site.register_page("system/users/<int:user_id>/permissions/", views.user_permissions, "user_permissions")


register_action_labels({
    "application.create": _("Create application"),
    "application.update": _("Edit application"),
    "application.delete": _("Delete application"),
    "application.rotate_key": _("Generate a new application key"),
    "application.publishable_key": _("Issue or withdraw a publishable key"),
    "department.create": _("Create department"),
    "department.update": _("Edit department"),
    "department.delete": _("Delete department"),
    "role.create": _("Create role"),
    "role.update": _("Edit role"),
    "role.delete": _("Delete role"),
    "token.issue": _("Issue API token"),
    "token.revoke": _("Revoke API token"),
    "user.create": _("Create user"),
    "user.update": _("Edit user"),
    "user.delete": _("Delete user"),
    "user.enable": _("Enable users"),
    "user.disable": _("Disable users"),
    "user.change_password": _("Change own password"),
    "user.reset_password": _("Reset password"),
})
