"""The accounts app's workbench boards: my info (我的信息) for everyone, and the system overview for those who
manage users (the figures the old workbench cards showed)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from shoal.core.workbench import Board, BoardContent, Figure, register_board, today_bounds

from .models import DataScope, Department, LoginLog, User


def _local(value) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else "—"


def previous_login(user):
    """When the user logged in before this session (the login log's second newest success; the login just made
    is the newest), else ``last_login``."""
    times = list(LoginLog.objects.filter(user=user, success=True).order_by("-created_at", "-id")
                 .values_list("created_at", flat=True)[:2])
    return times[1] if len(times) == 2 else user.last_login


def my_info(*, actor, params) -> BoardContent:
    roles = ", ".join(actor.roles.order_by("id").values_list("name", flat=True)) or "—"
    departments = ", ".join(str(d) for d in actor.departments.order_by("name")) or "—"
    return BoardContent(figures=[
        Figure("name", _("Name"), actor.name or actor.username),
        Figure("roles", _("My roles"), roles, reverse("admin:my_permissions")),
        Figure("departments", _("My departments"), departments),
        Figure("data_scope", _("Data scope"), str(DataScope(actor.data_scope()).label)),
        Figure("last_login", _("Last login"), _local(previous_login(actor))),
    ])


def system_overview(*, actor, params) -> BoardContent:
    start, _end = today_bounds()
    users = reverse("admin:accounts_user_changelist")
    figures = [
        Figure("users", _("Number of enabled users"), User.objects.filter(is_active=True).count(),
               f"{users}?is_active__exact=1"),
        Figure("departments", _("Number of departments"), Department.objects.count(),
               reverse("admin:accounts_department_changelist")),
    ]
    if actor.has_shoal_perm("system.login_log.view"):
        figures.append(Figure("failed_logins_today", _("Failed logins today"),
                              LoginLog.objects.filter(success=False, created_at__gte=start).count(),
                              reverse("admin:accounts_loginlog_changelist") + "?success__exact=0"))
    return BoardContent(figures=figures)


register_board(Board("accounts.my_info", _("My info"), my_info, order=10, size="sm",
                     description=_("Your name, roles, departments, data scope and last login.")))
register_board(Board("accounts.system", _("System overview"), system_overview, permission="system.users.view",
                     order=90, size="sm", description=_("Enabled users, departments, failed logins today.")))
