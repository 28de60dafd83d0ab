"""Follow-ups (跟进记录). Keyword-only, with an explicit ``actor``.

Recording a follow-up closes the salesperson's open follow-up tasks for the customer, updates the
customer's last follow-up time and count, and the follow-up times of the memberships the salesperson holds
(which the recycle rules read)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import User
from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.models import Customer, CustomerGroupMembership, TimelineEntry, TimelineKind
from shoal.customers.selectors import customer_queryset
from shoal.customers.services.timeline import actor_name

from ..models import (
    OPEN_PROGRESS,
    FollowUp,
    FollowUpMethod,
    FollowUpStatus,
    Task,
    TaskProgress,
    TaskType,
)

FOLLOW_UP_CREATE = "sales.follow_ups.create"
FOLLOW_UP_VIEW = "sales.follow_ups.view"
SUMMARY_MAX = 5000


def _require(actor, code: str) -> None:
    if is_system(actor):
        return
    if not user_can(actor, code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)


# -- follow-ups ------------------------------------------------------------------------------------------
def follow_up_create(*, actor, customer_id: int, method: str = FollowUpMethod.PHONE,
                     status: str = FollowUpStatus.REACHED, effective: bool = False, summary: str = "",
                     next_follow_up_at: datetime | None = None) -> FollowUp:
    """Record the actor's follow-up of a customer in their data scope."""
    _require(actor, FOLLOW_UP_CREATE)
    if method not in FollowUpMethod.values:
        raise ShoalError("invalid", _("Unknown follow-up method %(value)s") % {"value": method}, {"field": "method"})
    if status not in FollowUpStatus.values:
        raise ShoalError("invalid", _("Unknown follow-up status %(value)s") % {"value": status}, {"field": "status"})
    summary = (summary or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise ShoalError("invalid", _("The summary has at most %(n)d characters") % {"n": SUMMARY_MAX},
                         {"field": "summary"})
    if next_follow_up_at is not None and timezone.is_naive(next_follow_up_at):
        next_follow_up_at = timezone.make_aware(next_follow_up_at)
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(_("Customer not found"))
    if not customer_queryset(actor=actor).filter(pk=customer_id).exists():
        raise NotFound(_("Customer not found"))
    user_id = actor.pk if isinstance(actor, User) else None
    now = timezone.now()
    with transaction.atomic():
        follow_up = FollowUp.objects.create(customer_id=customer_id, salesperson_id=user_id, method=method,
                                            status=status, effective=bool(effective), summary=summary,
                                            next_follow_up_at=next_follow_up_at, created_at=now)
        Customer.objects.filter(pk=customer_id).update(last_follow_up_at=now, follow_up_count=F("follow_up_count") + 1,
                                                       updated_at=now)
        if user_id is not None:
            memberships = CustomerGroupMembership.objects.filter(customer_id=customer_id, salesperson_id=user_id)
            memberships.update(last_follow_up_at=now, **({"last_effective_follow_up_at": now} if effective else {}))
            Task.objects.filter(customer_id=customer_id, owner_id=user_id, type=TaskType.FOLLOW_UP,
                                progress__in=OPEN_PROGRESS).update(progress=TaskProgress.DONE, done_at=now,
                                                                   updated_at=now)
        TimelineEntry.objects.create(
            customer_id=customer_id, kind=TimelineKind.FOLLOW_UP, new=summary[:500],
            actor_id=user_id, actor_name=actor_name(actor), created_at=now,
            detail={"follow_up_id": follow_up.pk, "method": method, "status": status, "effective": bool(effective)})
        log_operation(actor=actor, action="follow_up.create", object_type="customer", object_id=customer_id,
                      object_repr=str(customer_id), detail={"follow_up_id": follow_up.pk, "method": method,
                                                            "status": status, "effective": bool(effective)})
    # the stored row, so the answer reads as every later read does (times in UTC, as stored)
    return FollowUp.objects.select_related("salesperson").get(pk=follow_up.pk)


def follow_up_list(*, actor, customer_id: int | None = None, salesperson_id: int | None = None) -> QuerySet[FollowUp]:
    """Follow-up records of customers in the actor's data scope, newest first."""
    _require(actor, FOLLOW_UP_VIEW)
    qs = FollowUp.objects.filter(customer_id__in=customer_queryset(actor=actor).values("pk"))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if salesperson_id is not None:
        qs = qs.filter(salesperson_id=salesperson_id)
    return qs.select_related("salesperson")


def follow_up_dict(f: FollowUp) -> dict:
    sp = f.salesperson
    return {"id": f.pk, "customer_id": f.customer_id, "salesperson_id": f.salesperson_id,
            "salesperson": (sp.name or sp.username) if sp else "", "method": f.method, "status": f.status,
            "effective": f.effective, "summary": f.summary, "next_follow_up_at": f.next_follow_up_at,
            "created_at": f.created_at}
