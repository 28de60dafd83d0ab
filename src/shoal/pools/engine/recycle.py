"""Recycle rules (回收规则) and their warnings.

A salesperson's customer is recycled by a rule of ``kind`` ``no_follow_up`` when its membership's
``coalesce(last_follow_up_at, assigned_at) + days < now`` (``no_effective_follow_up``: the last *effective*
follow-up). The day boundary: a customer assigned (or last followed up) exactly ``days`` days ago is still
within the N days and stays; one second later it is recycled ("no follow-up within N days of assignment":
the N days are a closed interval). Customers of the rule's ``exempt_types`` are never recycled; an optional
condition narrows the rule. Target ``group_sea``: back to the group public sea; ``company_sea``: out of the
group. Every recycled customer gets a :class:`RecycleRecord`; with ``cooldown_days`` the previous owner gets a
:class:`Cooldown` in the group until ``now + cooldown_days`` (upserted).

Warnings (``warn_days``): memberships that the rule will recycle within ``warn_days`` (its deadline
``base + days`` is at most ``warn_days`` away) and not warned yet are marked ``warned_at`` (claimed by an
UPDATE, so two workers cannot both warn) and each salesperson gets one in-site notification summarising them.
An assignment resets ``warned_at``."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from shoal.core.actors import SYSTEM
from shoal.core.batching import batched
from shoal.core.db import ids_subquery, insert_rows, sqlite_page_cache
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.pools.moves import RUN_CACHE_KIB

from .. import moves
from ..models import AssignmentKind, Cooldown, RecycleKind, RecycleRecord, RecycleRule, RecycleTarget
from .matching import catalog, has_condition, lock_groups, rule_q

BATCH = 20_000


def _base_field(rule: RecycleRule) -> str:
    return "last_effective_follow_up_at" if rule.kind == RecycleKind.NO_EFFECTIVE_FOLLOW_UP else "last_follow_up_at"


def due_memberships(rule: RecycleRule, cutoff: datetime, fields=None):
    """Memberships of the rule's group with a salesperson whose clock started before ``cutoff``, not exempt,
    matching the rule's condition."""
    qs = (CustomerGroupMembership.objects.filter(group_id=rule.group_id, salesperson__isnull=False)
          .annotate(recycle_base=Coalesce(F(_base_field(rule)), F("assigned_at")))
          .filter(recycle_base__lt=cutoff))
    if rule.exempt_types:
        qs = qs.exclude(customer__customer_type__in=list(rule.exempt_types))
    if has_condition(rule):
        qs = qs.filter(customer_id__in=Customer.objects.filter(rule_q(rule, fields)).values("pk"))
    return qs


def _upsert_cooldowns(rows: list[tuple[int, int, int]], until: datetime) -> None:
    """rows: (customer id, group id, user id); their cooldown ends at ``until`` (later of old and new)."""
    import json

    table = connection.ops.quote_name(Cooldown._meta.db_table)
    for chunk in batched(rows, BATCH):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, group_id, user_id, until) "
                    f"SELECT c, g, u, %s FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(c, g, u) "
                    f"ON CONFLICT (customer_id, group_id, user_id) DO UPDATE SET until = GREATEST({table}.until, "
                    f"EXCLUDED.until)",
                    [until, [r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]])
            else:
                cursor.execute(
                    f"INSERT INTO {table} (customer_id, group_id, user_id, until) "
                    f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), %s "
                    f"FROM json_each(%s) WHERE true "
                    f"ON CONFLICT (customer_id, group_id, user_id) DO UPDATE SET until = max({table}.until, "
                    f"excluded.until)",
                    [connection.ops.adapt_datetimefield_value(until), json.dumps([list(r) for r in chunk])])


def recycle_rule(rule: RecycleRule, *, actor=SYSTEM, now: datetime | None = None, fields=None) -> int:
    """Apply one recycle rule; the number of customers recycled."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=rule.days)
    ctx = moves.context(actor, auto=True, rule_id=rule.pk, now=now)
    group_id = rule.group_id
    base = _base_field(rule)
    qs = due_memberships(rule, cutoff, fields).order_by("pk").values_list(
        "pk", "customer_id", "salesperson_id", "assigned_at", base)
    recycled, last = 0, 0
    at = moves.row_time(now)
    while True:
        with transaction.atomic():
            lock_groups(group_id)
            rows = list(qs.filter(pk__gt=last)[:BATCH])
            if not rows:
                break
            last = rows[-1][0]
            info = {customer: (user, assigned_at, followed) for _, customer, user, assigned_at, followed in rows}
            ids = list(info)
            if rule.target == RecycleTarget.COMPANY_SEA:
                left = moves.leave_group(ids, group_id, ctx, to_group_id=None, kind=AssignmentKind.RECYCLE)
                moved = [(pk, info[pk][0]) for pk in left]
            else:
                moved = moves.unassign(ids, group_id, ctx, kind=AssignmentKind.RECYCLE)
            insert_rows(RecycleRecord._meta.db_table,
                        ["customer_id", "group_id", "salesperson_id", "rule_id", "target", "assigned_at",
                         "last_follow_up_at", "at"],
                        [[pk, group_id, old, rule.pk, rule.target, info[pk][1], info[pk][2], at] for pk, old in moved])
            if rule.cooldown_days:
                _upsert_cooldowns([(pk, group_id, old) for pk, old in moved if old is not None],
                                  now + timedelta(days=rule.cooldown_days))
            recycled += len(moved)
        if len(rows) < BATCH:
            break
    return recycled


def _rules(group_id: int | None):
    rules = RecycleRule.objects.filter(enabled=True, group__enabled=True).order_by("group_id", "order", "id")
    if group_id is not None:
        rules = rules.filter(group_id=group_id)
    return list(rules)


def run_recycle(*, group_id: int | None = None, actor=SYSTEM, now: datetime | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Run every enabled group's recycle rules (or ``group_id``'s). ``{"recycled": n, "seconds"}``."""
    started = time.perf_counter()
    now = now or timezone.now()
    fields = catalog()
    rules = _rules(group_id)
    recycled = 0
    for index, rule in enumerate(rules):
        with sqlite_page_cache(RUN_CACHE_KIB):  # SQLite: the logs' and timeline's indexes in memory
            recycled += recycle_rule(rule, actor=actor, now=now, fields=fields)
        if progress:
            progress(index + 1, len(rules))
    return {"recycled": recycled, "seconds": round(time.perf_counter() - started, 3)}


# -- warnings -------------------------------------------------------------------------------------------
def _claim_warnings(rule: RecycleRule, now: datetime, fields) -> list[tuple[int, int, int]]:
    """Mark the memberships ``rule`` recycles within ``warn_days`` as warned; (group, salesperson, customer)
    of those this call marked."""
    cutoff = now - timedelta(days=rule.days) + timedelta(days=rule.warn_days or 0)
    qs = due_memberships(rule, cutoff, fields).filter(warned_at__isnull=True).order_by("pk").values_list(
        "pk", "salesperson_id", "customer_id")
    out: list[tuple[int, int, int]] = []
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last)[:BATCH])
        if not rows:
            break
        last = rows[-1][0]
        with transaction.atomic():
            claimed = set(CustomerGroupMembership.objects.filter(
                pk__in=ids_subquery([r[0] for r in rows]), warned_at__isnull=True, salesperson__isnull=False)
                .values_list("pk", flat=True).select_for_update())
            CustomerGroupMembership.objects.filter(pk__in=ids_subquery(sorted(claimed))).update(warned_at=now)
        out += [(rule.group_id, user, customer) for pk, user, customer in rows if pk in claimed]
        if len(rows) < BATCH:
            break
    return out


def _notify(user_ids: list[int], *, kind: str, title: str, body: str, link: str, key: str) -> None:
    from shoal.sales.services import notify

    notify(user_ids=user_ids, kind=kind, title=title, body=body, link=link, key=key)


def run_warnings(*, group_id: int | None = None, actor=SYSTEM, now: datetime | None = None) -> dict:
    """Warn salespeople of the customers their groups' recycle rules will take within ``warn_days``: one
    notification per salesperson. Idempotent (a membership is warned once per assignment).
    ``{"warned": customers, "notified": salespeople, "seconds"}``."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    from shoal.accounts.models import User

    started = time.perf_counter()
    now = now or timezone.now()
    fields = catalog()
    claimed: list[tuple[int, int, int]] = []
    for rule in _rules(group_id):
        if rule.warn_days:
            claimed += _claim_warnings(rule, now, fields)
    per_user: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for group, user, customer in claimed:
        per_user[user][group].add(customer)
    names = dict(CustomerGroup.objects.filter(pk__in={g for g, _, _ in claimed}).values_list("pk", "name"))
    languages = dict(User.objects.filter(pk__in=list(per_user)).values_list("pk", "language"))
    key = f"pools.recycle_warning:{now.strftime('%Y%m%d%H%M%S%f')}"
    link = reverse("admin:pools_my_customers")  # where the salesperson follows them up
    for user, groups in per_user.items():
        total = sum(len(c) for c in groups.values())
        with translation.override(languages.get(user) or settings.LANGUAGE_CODE):
            title = ngettext("%(n)d customer will be recycled soon", "%(n)d customers will be recycled soon",
                             total) % {"n": total}
            body = "\n".join(_("%(group)s: %(n)d") % {"group": names.get(g, ""), "n": len(c)}
                             for g, c in sorted(groups.items()))
            body = _("Follow them up before they go back to the public sea.") + "\n" + body
        _notify([user], kind="recycle_warning", title=title, body=body, link=link, key=key)
    return {"warned": len(claimed), "notified": len(per_user), "seconds": round(time.perf_counter() - started, 3)}
