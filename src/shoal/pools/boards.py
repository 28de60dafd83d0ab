"""The pools app's workbench board: group and assignment status (客户分组分配情况), for group admins and managers.

Over the groups the viewer hands customers out in (all of them with the data scope "all", else those they
administer): the size of their public seas, the customers assigned and recycled today, and the customers each
salesperson holds. Memberships are counted from membership_group_cust_idx (group, salesperson, customer), today's
log rows from their time indexes (bounded: a day of a million automatic assignments reads as "10000+")."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shoal.accounts.models import User
from shoal.core.workbench import Board, BoardContent, Chart, Figure, register_board, shown_count, today_bounds
from shoal.customers.models import CustomerGroupMembership

from .models import AssignmentKind, AssignmentLog
from .selectors import _sees_all, administered_group_ids

PER_SALESPERSON = 12
ASSIGN_KINDS = (AssignmentKind.ASSIGN, AssignmentKind.CLAIM, AssignmentKind.REQUEST)


def _may_see(user) -> bool:
    return user.has_shoal_perm("pools.seas.view") and (_sees_all(user) or bool(administered_group_ids(actor=user)))


def assignment_status(*, actor, params) -> BoardContent:
    handed = sorted(administered_group_ids(actor=actor))
    groups = None if _sees_all(actor) else handed  # all: no filter (every membership, every log row)
    members = CustomerGroupMembership.objects.order_by()
    if groups is not None:
        members = members.filter(group_id__in=groups)
    start, end = today_bounds()
    logs = AssignmentLog.objects.filter(at__gte=start, at__lt=end)
    if groups is not None:
        logs = logs.filter(group_id__in=groups)
    sea = members.filter(salesperson__isnull=True).count()
    held = list(members.filter(salesperson__isnull=False).values("salesperson_id").annotate(n=Count("customer_id"))
                .order_by("-n", "salesperson_id")[:PER_SALESPERSON])
    names = {u.pk: u.name or u.username for u in User.objects.filter(pk__in=[r["salesperson_id"] for r in held])
             .only("pk", "name", "username")}
    group_query = f"?group={handed[0]}" if len(handed) == 1 else ""
    chart = Chart(labels=[names.get(r["salesperson_id"], "?") for r in held],
                  series=[{"label": _("Customers held"), "data": [r["n"] for r in held]}], horizontal=True) if held else None
    return BoardContent(figures=[
        Figure("group_sea", _("In group public seas"), sea, reverse("admin:pools_group_sea") + group_query),
        Figure("assigned_today", _("Assigned today"), shown_count(logs.filter(kind__in=ASSIGN_KINDS)),
               reverse("admin:pools_assignment_log")),
        Figure("recycled_today", _("Recycled today"), shown_count(logs.filter(kind=AssignmentKind.RECYCLE)),
               reverse("admin:pools_recycle_log") + f"?kind={AssignmentKind.RECYCLE}"),
        Figure("groups", _("Groups"), len(handed),
               reverse("admin:pool_groups") if actor.has_shoal_perm("pools.groups.view") else None),
    ], chart=chart, empty=_("No customers in your groups yet."))


register_board(Board("pools.assignment_status", _("Group and assignment status"), assignment_status,
                     permission=_may_see, order=60, size="lg",
                     description=_("Public sea size, customers assigned and recycled today, customers per salesperson "
                                   "(group admins and managers).")))
