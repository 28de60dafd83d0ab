"""Request customers (领取任务): a salesperson with no open follow-up task asks the group for more, and gets
the group's ``request_size`` best group-public-sea customers (highest quality score first, then id), as often as
``request_times_per_day`` allows, within the private-sea capacity and never a customer in cooldown for them.
Only in groups whose request-task setting is on."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from shoal.accounts.models import User
from shoal.core.auth import user_can
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.models import Customer, CustomerGroupMembership
from shoal.customers.quality import with_quality
from shoal.sales.models import OPEN_PROGRESS, Task, TaskType

from .. import moves
from ..models import AssignmentKind, AssignmentLog, Cooldown
from .operations import _denied, _group, _lock_user, _room, _today_start

CLAIM = "pools.seas.claim"  # requesting is claiming, chosen by the group


def customers_request(*, actor, group_id) -> dict:
    """``{"assigned": n, "requests_left": m}``; a 403/409 with the reason when the request is not allowed."""
    if not isinstance(actor, User) or not user_can(actor, CLAIM):
        raise _denied(CLAIM)
    group = _group(group_id)
    if not group.salespeople.filter(pk=actor.pk).exists():
        raise ShoalError("not_group_salesperson", _("Only the salespeople of the group %(group)s may request its "
                                                    "customers") % {"group": group.name}, {"group_id": group.pk}, status=403)
    if not group.request_tasks:
        raise ShoalError("requests_off", _("The group %(group)s does not let salespeople request customers")
                         % {"group": group.name}, {"group_id": group.pk}, status=403)
    ctx = moves.context(actor)
    with transaction.atomic():
        _lock_user(actor.pk)  # one request of a salesperson at a time: the counts below stay true
        if Task.objects.filter(owner=actor, type=TaskType.FOLLOW_UP, progress__in=OPEN_PROGRESS).exists():
            raise ShoalError("open_tasks", _("Finish your open follow-up tasks before you request more customers"),
                             status=409)
        made = (AssignmentLog.objects.filter(salesperson=actor, group=group, kind=AssignmentKind.REQUEST,
                                             at__gte=_today_start(ctx.now)).values("at").distinct().count())
        if made >= group.request_times_per_day:
            raise ShoalError("request_limit", _("You have made today's %(n)s requests in this group")
                             % {"n": group.request_times_per_day}, {"group_id": group.pk}, status=409)
        size = group.request_size
        room = _room(group, actor.pk)
        if room is not None:
            size = min(size, room)
        if size <= 0:
            raise ShoalError("capacity", _("Your private sea in the group %(group)s is full") % {"group": group.name},
                             {"group_id": group.pk}, status=409)
        sea = CustomerGroupMembership.objects.filter(group=group, salesperson__isnull=True, customer=OuterRef("pk"))
        cooling = Cooldown.objects.filter(group=group, user=actor, until__gt=ctx.now, customer=OuterRef("pk"))
        ids = list(with_quality(Customer.objects.filter(Exists(sea), ~Exists(cooling), in_recycle_bin=False))
                   .order_by("-quality_score", "id").values_list("pk", flat=True)[:size])
        done = moves.assign([(pk, actor.pk) for pk in ids], group.pk, ctx, kind=AssignmentKind.REQUEST)
        log_operation(actor=actor, action="customers.request", object_type="customergroup", object_id=group.pk,
                      object_repr=group.name, detail={"assigned": len(done)})
    return {"assigned": len(done), "requests_left": max(0, group.request_times_per_day - made - (1 if done else 0))}
