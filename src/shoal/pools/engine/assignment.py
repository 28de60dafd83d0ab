"""Assignment rules (分配规则): share a group's public-sea customers out among its salespeople.

Per group, the enabled rules run in order; each takes the group-public-sea customers it matches that earlier
rules of the run did not assign. Sharing out: customers in descending quality score (ties by id); each goes
to the eligible salesperson with the fewest customers given in this run, then the lowest quality sum given
so far, then the lowest id (a heap: O(n log k)), so counts differ by at most one and quality sums stay
close. An invited customer (``invited_by``) goes first to the salesperson who holds the inviter in this
group, when that one is eligible.

Eligible: chosen by the rule (none chosen: every salesperson of the group), an active user, still a
salesperson of the group, under the group's capacity (their memberships in the group count), not in a
cooldown for that customer. Customers nobody may take stay in the group public sea.

A group's run is one transaction holding the group's row: a second run (another worker) waits, then finds
the customers taken; and :func:`shoal.pools.moves.assign` only takes customers still without salesperson."""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.batching import batched
from shoal.core.db import ids_subquery, sqlite_page_cache
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.quality import with_quality
from shoal.pools.moves import RUN_CACHE_KIB

from .. import moves
from ..models import AssignmentRule, Cooldown
from .matching import catalog, lock_groups, rule_q


@dataclass
class Tally:
    """What a run has given each salesperson of a group, and the room they have left."""

    given: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    quality: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    room: dict[int, float] = field(default_factory=dict)  # capacity left (inf: no limit)

    def key(self, user_id: int) -> tuple[int, int, int]:
        return (self.given[user_id], self.quality[user_id], user_id)

    def give(self, user_id: int, score: int) -> None:
        self.given[user_id] += 1
        self.quality[user_id] += score
        self.room[user_id] -= 1


def share_out(customers: Sequence[tuple[int, int, int | None]], eligible: Sequence[int], tally: Tally, *,
              holder_of: dict[int, int] | None = None,
              cooling: dict[int, set[int]] | None = None) -> list[tuple[int, int]]:
    """customers: (id, quality score, inviter id) in the order to give them. Returns (customer id, user id).

    ``holder_of``: inviter id → the salesperson holding the inviter in the group; ``cooling``: customer id
    → users in a cooldown for it. ``tally`` is updated (it spans the rules of a group's run)."""
    holder_of, cooling = holder_of or {}, cooling or {}
    eligible_set = {u for u in eligible if tally.room.get(u, 0) > 0}
    heap = [tally.key(u) for u in eligible_set]
    heapq.heapify(heap)
    pairs: list[tuple[int, int]] = []
    for pk, score, inviter in customers:
        if not heap:
            break
        blocked = cooling.get(pk, ())
        holder = holder_of.get(inviter) if inviter is not None else None
        if holder is not None and holder in eligible_set and tally.room[holder] > 0 and holder not in blocked:
            chosen = holder  # its old heap entry goes stale (its key no longer matches) and is dropped when met
        else:
            chosen, skipped = None, []
            while heap:
                entry = heapq.heappop(heap)
                user = entry[2]
                if entry != tally.key(user) or tally.room[user] <= 0:
                    continue  # stale, or full
                if user in blocked:
                    skipped.append(entry)
                    continue
                chosen = user
                break
            for entry in skipped:
                heapq.heappush(heap, entry)
            if chosen is None:
                continue  # nobody may take this one: it stays in the group public sea
        tally.give(chosen, score)
        pairs.append((pk, chosen))
        if tally.room[chosen] > 0:
            heapq.heappush(heap, tally.key(chosen))
    return pairs


def _group_salespeople(group: CustomerGroup) -> list[int]:
    return sorted(group.salespeople.filter(is_active=True).values_list("pk", flat=True))


def _sea_customers(group_id: int, rule: AssignmentRule, fields,
                   customer_ids: Sequence[int] | None = None) -> list[tuple[int, int, int | None]]:
    sea = CustomerGroupMembership.objects.filter(customer_id=OuterRef("pk"), group_id=group_id,
                                                 salesperson__isnull=True)
    qs = Customer.objects.filter(Exists(sea), in_recycle_bin=False)
    if customer_ids is not None:  # a run for a few customers (an automation action)
        qs = qs.filter(pk__in=list(customer_ids))
    qs = (with_quality(qs.filter(rule_q(rule, fields)))
          .order_by("-quality_score", "pk").values_list("pk", "quality_score", "invited_by_id"))
    return list(qs)  # a plain read: a server-side cursor (PostgreSQL) only added round trips


def _holders(group_id: int, inviter_ids: set[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in batched(sorted(inviter_ids), 20_000):
        out.update(CustomerGroupMembership.objects.filter(
            group_id=group_id, salesperson__isnull=False, customer_id__in=ids_subquery(chunk))
            .values_list("customer_id", "salesperson_id"))
    return out


def _cooling(group_id: int, now: datetime) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for customer_id, user_id in Cooldown.objects.filter(group_id=group_id, until__gt=now).values_list(
            "customer_id", "user_id"):
        out[customer_id].add(user_id)
    return out


def assign_group(group: CustomerGroup, *, actor=SYSTEM, now: datetime | None = None, fields=None,
                 customer_ids: Sequence[int] | None = None) -> int:
    """One group's assignment run (in one transaction holding the group's row). Customers assigned.
    ``customer_ids``: only these of the group public sea (the ``assign`` processor of automation)."""
    now = now or timezone.now()
    rules = list(AssignmentRule.objects.filter(group=group, enabled=True).order_by("order", "id")
                 .prefetch_related("salespeople"))
    if not rules:
        return 0
    assigned = 0
    with transaction.atomic():
        lock_groups(group.pk)
        members = _group_salespeople(group)
        if not members:
            return 0
        held = dict(CustomerGroupMembership.objects.filter(group=group, salesperson_id__in=members)
                    .values_list("salesperson_id").annotate(n=Count("id")).values_list("salesperson_id", "n"))
        capacity = group.capacity
        tally = Tally(room={u: (float("inf") if capacity is None else capacity - held.get(u, 0)) for u in members})
        cooling = _cooling(group.pk, now)
        member_set = set(members)
        for rule in rules:
            chosen = [u.pk for u in rule.salespeople.all()]
            eligible = sorted(member_set & set(chosen)) if chosen else members
            if not eligible or all(tally.room[u] <= 0 for u in eligible):
                continue
            customers = _sea_customers(group.pk, rule, fields, customer_ids)
            if not customers:
                continue
            inviters = {inv for _, _, inv in customers if inv is not None}
            holder_of = _holders(group.pk, inviters) if inviters else {}
            pairs = share_out(customers, eligible, tally, holder_of=holder_of, cooling=cooling)
            ctx = moves.context(actor, auto=True, rule_id=rule.pk, now=now)
            done = moves.assign(pairs, group.pk, ctx)
            assigned += len(done)
            if len(done) != len(pairs):  # taken meanwhile by someone else (a claim): the tally gives them back
                got = set(done)
                for pk, user in pairs:
                    if (pk, user) not in got:
                        tally.given[user] -= 1
                        tally.room[user] += 1
    return assigned


def run_assignment(*, group_id: int | None = None, actor=SYSTEM, now: datetime | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Run every enabled group's assignment rules (or ``group_id``'s). ``{"assigned": n, "seconds"}``."""
    started = time.perf_counter()
    groups = CustomerGroup.objects.filter(enabled=True).order_by("pk")
    if group_id is not None:
        groups = groups.filter(pk=group_id)
    groups = list(groups)
    fields = catalog()
    assigned = 0
    from shoal.sales.services.notifications import assignment_notices

    with assignment_notices():  # each salesperson: one notification for the whole run
        for index, group in enumerate(groups):
            with sqlite_page_cache(RUN_CACHE_KIB):  # SQLite: the logs' and timeline's indexes in memory
                assigned += assign_group(group, actor=actor, now=now, fields=fields)
            if progress:
                progress(index + 1, len(groups))
    return {"assigned": assigned, "seconds": round(time.perf_counter() - started, 3)}
