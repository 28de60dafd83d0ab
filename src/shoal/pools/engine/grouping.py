"""Group rules (分组规则): move or add the customers a rule matches from its source (the company public sea or
a group) to its target (a group or the company public sea).

Set-based: one query per window of customer ids (at most 20,000 matches each, so memory stays flat at any
size; its membership anti-joins bounded by the window's ids), then the moves of :mod:`shoal.pools.moves` for
the batch, in one transaction holding the source and target groups' rows (two workers running the job take
turns; the second one sees the first's customers in the target and skips them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.db import sqlite_page_cache
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.pools.moves import RUN_CACHE_KIB

from .. import moves
from ..models import AssignmentKind, GroupRule
from .matching import catalog, lock_groups, rule_q

BATCH = 20_000
WINDOW_MAX = 400_000  # customer ids a window spans at most


def rules_for(group_id: int | None):
    rules = GroupRule.objects.filter(enabled=True).order_by("order", "id")
    if group_id is not None:
        from django.db.models import Q

        rules = rules.filter(Q(source_group_id=group_id) | Q(target_group_id=group_id))
    return list(rules)


def matching_customers(rule: GroupRule, fields=None, *, after: int | None = None, upto: int | None = None):
    """The customers ``rule`` would move now: in its source, matching, not in the recycle bin, not in the
    target already. ``after``/``upto``: only customer ids in (after, upto]; the membership probes carry the
    same bounds, so PostgreSQL's anti-join reads the memberships of that id range, not all of them."""
    members = CustomerGroupMembership.objects.filter(customer_id=OuterRef("pk"))
    qs = Customer.objects.filter(in_recycle_bin=False)
    if after is not None:
        members = members.filter(customer_id__gt=after)
        qs = qs.filter(pk__gt=after)
    if upto is not None:
        members = members.filter(customer_id__lte=upto)
        qs = qs.filter(pk__lte=upto)
    if rule.source_group_id is None:
        qs = qs.filter(~Exists(members))
    else:
        qs = qs.filter(Exists(members.filter(group_id=rule.source_group_id)))
    if rule.target_group_id is not None:
        qs = qs.filter(~Exists(members.filter(group_id=rule.target_group_id)))
    return qs.filter(rule_q(rule, fields))


def run_rule(rule: GroupRule, *, actor=SYSTEM, now: datetime | None = None, fields=None,
             progress: Callable[[int], None] | None = None) -> int:
    """Apply one group rule; the number of customers moved."""
    source, target = rule.source_group_id, rule.target_group_id
    if source == target:  # company sea → company sea, or a group to itself: nothing to do
        return 0
    enabled = dict(CustomerGroup.objects.filter(pk__in=[g for g in (source, target) if g]).values_list("pk", "enabled"))
    if target is not None and not enabled.get(target, False):
        return 0
    ctx = moves.context(actor, auto=True, rule_id=rule.pk, now=now)
    moved, last, width = 0, 0, BATCH
    while True:
        # a window of customer ids (after, upto]: its matches, at most BATCH of them (then the next window
        # starts after the last one taken); the window widens while it yields few (a rule matching a few
        # percent of a million customers), narrows when it fills
        top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        if last >= top:
            break
        upto = min(last + width, top)
        with transaction.atomic():
            lock_groups(source, target)
            qs = matching_customers(rule, fields, after=last, upto=upto).order_by("pk").values_list("pk", flat=True)
            ids = list(qs[:BATCH])
            full = len(ids) == BATCH
            last = ids[-1] if full else upto
            width = max(BATCH, width // 2) if full else min(width * 2, WINDOW_MAX)
            if ids:
                if target is None:
                    moved += len(moves.leave_group(ids, source, ctx, to_group_id=None,
                                                   kind=AssignmentKind.RETURN_COMPANY_SEA))
                else:
                    joined = moves.join_group(ids, target, ctx, from_group_id=source)
                    if rule.break_relations and source is not None and joined:
                        moves.leave_group(joined, source, ctx, to_group_id=target,
                                          kind=AssignmentKind.RETURN_COMPANY_SEA,
                                          group_log=False)  # the join's entry says from where to where
                    moved += len(joined)
        if progress and ids:
            progress(moved)
    return moved


def run_group_rules(*, group_id: int | None = None, actor=SYSTEM, now: datetime | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the enabled group rules in order (``group_id``: only those whose source or target it is).
    ``{"grouped": customers moved, "seconds"}``."""
    started = time.perf_counter()
    now = now or timezone.now()
    fields = catalog()
    rules = rules_for(group_id)
    grouped = 0
    for index, rule in enumerate(rules):
        with sqlite_page_cache(RUN_CACHE_KIB):  # SQLite: the logs' and timeline's indexes in memory
            grouped += run_rule(rule, actor=actor, now=now, fields=fields,
                                progress=(lambda n, i=index: progress(i, len(rules))) if progress else None)
        if progress:
            progress(index + 1, len(rules))
    return {"grouped": grouped, "seconds": round(time.perf_counter() - started, 3)}
