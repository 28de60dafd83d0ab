"""Manual operations on customers (one or a selection): group, assign, return to the group or the company
public sea, recycle bin and back, claim; batch transfers; the pool logs. Keyword-only, with an explicit
``actor``.

Each operation checks the permission (``pools.seas.<action>``; a group's admins may also act on their group's
customers), refuses the whole selection when a customer is outside the actor's reach (nothing is done), then
moves in one transaction through :mod:`shoal.pools.moves` and answers ``{"done", "skipped", "reasons"}``:
what was left out and why (already there, capacity, cooldown, claim limit, taken meanwhile...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import DataScope, User
from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.batching import batched
from shoal.core.db import ids_subquery
from shoal.core.errors import NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.customers.selectors import customer_queryset, department_user_ids
from shoal.sales.services.notifications import assignment_notices

from .. import moves
from ..models import AssignmentKind, AssignmentLog, Cooldown, GroupLog, RecycleRecord, Transfer

MAX_CUSTOMERS = 100_000  # per operation
SAMPLE = 100  # skipped ids reported per reason

ACTIONS = ("group", "assign", "return_to_group_sea", "return_to_company_sea", "recycle_bin", "restore", "claim")
PERMISSION = {
    "group": "pools.seas.group",
    "assign": "pools.seas.assign",
    "return_to_group_sea": "pools.seas.return",
    "return_to_company_sea": "pools.seas.return",
    "recycle_bin": "pools.seas.recycle_bin",
    "restore": "pools.seas.restore",
    "claim": "pools.seas.claim",
}
GROUP_ADMIN_ACTIONS = {"group", "assign", "return_to_group_sea", "return_to_company_sea"}
TRANSFER = "pools.seas.transfer"
LOGS_VIEW = "pools.logs.view"


# -- who may do what ---------------------------------------------------------------------------------------
def _denied(code: str) -> ShoalError:
    return ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                      {"permission": code}, status=403)


def _scope(actor) -> str:
    if is_system(actor):
        return DataScope.ALL
    return actor.data_scope() if isinstance(actor, User) and actor.is_active else ""


def _is_group_admin(actor, group_id: int | None) -> bool:
    return (group_id is not None and isinstance(actor, User)
            and CustomerGroup.objects.filter(pk=group_id, admins=actor).exists())


def _reachable(actor, group_id: int | None) -> QuerySet[Customer]:
    """The customers ``actor`` may act on: their data scope, plus (as a group's admin) the group's customers."""
    qs = customer_queryset(actor=actor)
    if _is_group_admin(actor, group_id):
        qs = Customer.objects.filter(Q(pk__in=qs.values("pk"))
                                     | Q(pk__in=CustomerGroupMembership.objects.filter(group_id=group_id)
                                         .values("customer_id")))
    return qs


def _held_q(actor, group_id: int | None) -> Q:
    """The memberships whose salesperson ``actor`` may change: all (data scope "all", or the group's admin),
    else those held by the actor (and, for a department scope, by the departments' people)."""
    scope = _scope(actor)
    if scope == DataScope.ALL or _is_group_admin(actor, group_id):
        return Q()
    q = Q(salesperson=actor)
    if scope in (DataScope.GROUPS, DataScope.DEPARTMENTS):
        q |= Q(group__admins=actor)
    if scope == DataScope.DEPARTMENTS:
        q |= Q(salesperson__in=department_user_ids(actor))
    return q


def _clean_ids(customer_ids) -> list[int]:
    if customer_ids is None or isinstance(customer_ids, str | bytes) or not isinstance(customer_ids, Iterable):
        raise ShoalError("invalid", _("customer_ids must be a list of customer ids"), {"field": "customer_ids"})
    try:
        ids = list(dict.fromkeys(int(i) for i in customer_ids))
    except (TypeError, ValueError):
        raise ShoalError("invalid", _("customer_ids must be a list of customer ids"), {"field": "customer_ids"})
    if not ids:
        raise ShoalError("invalid", _("Choose at least one customer"), {"field": "customer_ids"})
    if len(ids) > MAX_CUSTOMERS:
        raise ShoalError("invalid", _("At most %(n)d customers at a time") % {"n": MAX_CUSTOMERS},
                         {"field": "customer_ids"})
    if any(abs(i) > 2**63 - 1 for i in ids):
        raise NotFound(_("Customers not found"), {"customer_ids": [i for i in ids if abs(i) > 2**63 - 1][:SAMPLE]})
    return ids


def _existing_in(qs: QuerySet[Customer], ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in batched(ids, 20_000):
        found |= set(qs.filter(pk__in=ids_subquery(chunk)).values_list("pk", flat=True))
    return found


def _check_reach(actor, ids: Sequence[int], group_id: int | None, *, extra: QuerySet | None = None) -> None:
    """404 (nothing done) when any customer is outside the actor's reach (or does not exist)."""
    found = _existing_in(_reachable(actor, group_id), ids)
    missing = [i for i in ids if i not in found]
    if missing and extra is not None:
        more = _existing_in(extra, missing)
        missing = [i for i in missing if i not in more]
    if missing:
        raise NotFound(_("%(n)d customer(s) not found or outside your data scope") % {"n": len(missing)},
                       {"customer_ids": missing[:SAMPLE]})


def _group(group_id, *, required: bool = True) -> CustomerGroup | None:
    if group_id is None:
        if required:
            raise ShoalError("invalid", _("Choose a group"), {"field": "group_id"})
        return None
    try:
        group = CustomerGroup.objects.filter(pk=int(group_id)).first()
    except (TypeError, ValueError, OverflowError):
        group = None
    if group is None:
        raise NotFound(_("Group not found"), {"group_id": group_id})
    return group


def _salesperson_of(group: CustomerGroup, user_id) -> User:
    try:
        user = User.objects.filter(pk=int(user_id)).first() if user_id is not None else None
    except (TypeError, ValueError, OverflowError):
        user = None
    if user_id is None:
        raise ShoalError("invalid", _("Choose a salesperson"), {"field": "salesperson_id"})
    if user is None:
        raise NotFound(_("User not found"), {"salesperson_id": user_id})
    if not user.is_active or not group.salespeople.filter(pk=user.pk).exists():
        raise ShoalError("not_group_salesperson",
                         _("%(user)s is not a salesperson of the group %(group)s")
                         % {"user": user.name or user.username, "group": group.name},
                         {"salesperson_id": user.pk, "group_id": group.pk})
    return user


class _Result:
    def __init__(self, action: str):
        self.action = action
        self.done: list[int] = []
        self.reasons: dict[str, list[int]] = {}

    def skip(self, reason: str, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            self.reasons.setdefault(reason, []).extend(ids)

    def as_dict(self, **extra) -> dict:
        skipped = sorted({i for ids in self.reasons.values() for i in ids} - set(self.done))
        return {"action": self.action, "done": len(set(self.done)), "skipped": len(skipped),
                "reasons": {r: len(ids) for r, ids in self.reasons.items()},
                "skipped_ids": {r: ids[:SAMPLE] for r, ids in self.reasons.items()}, **extra}


def _today_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _in_cooldown(ids: Sequence[int], group_id: int, user_id: int, now: datetime) -> set[int]:
    out: set[int] = set()
    for chunk in batched(ids, 20_000):
        out |= set(Cooldown.objects.filter(group_id=group_id, user_id=user_id, until__gt=now,
                                           customer_id__in=ids_subquery(chunk)).values_list("customer_id", flat=True))
    return out


def _memberships(ids: Sequence[int], **filters) -> list[tuple[int, int, int | None]]:
    """(customer id, group id, salesperson id) of the customers' memberships matching ``filters``."""
    rows: list[tuple[int, int, int | None]] = []
    for chunk in batched(ids, 20_000):
        rows += list(CustomerGroupMembership.objects.filter(customer_id__in=ids_subquery(chunk), **filters)
                     .values_list("customer_id", "group_id", "salesperson_id"))
    return rows


def _lock_user(user_id: int) -> None:
    """Serialise the capacity and claim-limit checks of one salesperson (PostgreSQL: a row lock)."""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def _room(group: CustomerGroup, user_id: int) -> int | None:
    if group.capacity is None:
        return None
    held = CustomerGroupMembership.objects.filter(group=group, salesperson_id=user_id).count()
    return max(0, group.capacity - held)


# -- the batch operation -------------------------------------------------------------------------------------
def customers_batch(*, actor, action: str, customer_ids, group_id: int | None = None,
                    salesperson_id: int | None = None) -> dict:
    """Do ``action`` on the customers; see the module's text. Returns the counts and the reasons of the skipped."""
    if action not in ACTIONS:
        raise ShoalError("invalid", _("Unknown action %(action)s") % {"action": action}, {"field": "action"})
    code = PERMISSION[action]
    group = _group(group_id, required=action in ("group", "assign", "claim"))
    allowed = is_system(actor) or user_can(actor, code) or (
        action in GROUP_ADMIN_ACTIONS and group is not None and _is_group_admin(actor, group.pk))
    if not allowed:
        raise _denied(code)
    ids = _clean_ids(customer_ids)
    ctx = moves.context(actor)
    result = _Result(action)
    extra: dict = {}
    with transaction.atomic(), assignment_notices():  # the salesperson given customers: one notification
        if action == "claim":
            _claim(actor, ids, group, ctx, result)
        else:
            _check_reach(actor, ids, group.pk if group else None)
            if action == "group":
                _join(ids, group, ctx, result)
            elif action == "assign":
                extra["joined"] = _assign(ids, group, _salesperson_of(group, salesperson_id), ctx, result)
            elif action == "return_to_group_sea":
                _return(actor, ids, group, ctx, result, to_company=False)
            elif action == "return_to_company_sea":
                _return(actor, ids, group, ctx, result, to_company=True)
            elif action == "recycle_bin":
                done = moves.to_recycle_bin(ids, ctx)
                result.done += done
                result.skip("already_in_recycle_bin", set(ids) - set(done))
            elif action == "restore":
                done = moves.restore(ids, ctx)
                result.done += done
                result.skip("not_in_recycle_bin", set(ids) - set(done))
        out = result.as_dict(**extra)
        log_operation(actor=actor, action=f"customers.batch.{action}",
                      object_type="customergroup" if group else "", object_id=group.pk if group else "",
                      object_repr=group.name if group else "",
                      detail={"customers": len(ids), "done": out["done"], "skipped": out["skipped"],
                              "reasons": out["reasons"], "group_id": group.pk if group else None,
                              "salesperson_id": salesperson_id, "customer_ids": ids[:SAMPLE]})
    return out


def _join(ids, group, ctx, result: _Result) -> list[int]:
    done = moves.join_group(ids, group.pk, ctx)
    result.done += done
    rest = set(ids) - set(done)
    if rest:
        binned = _existing_in(Customer.objects.filter(in_recycle_bin=True), list(rest))
        result.skip("in_recycle_bin", [i for i in ids if i in binned])
        result.skip("already_in_group", [i for i in ids if i in rest and i not in binned])
    return done


def _assign(ids, group: CustomerGroup, user: User, ctx, result: _Result) -> int:
    """Customers not in the group join it first; the group-public-sea ones go to ``user`` within capacity."""
    binned = _existing_in(Customer.objects.filter(in_recycle_bin=True), ids)
    result.skip("in_recycle_bin", [i for i in ids if i in binned])
    ids = [i for i in ids if i not in binned]
    held = {pk: sp for pk, _, sp in _memberships(ids, group_id=group.pk)}
    joined = moves.join_group([i for i in ids if i not in held], group.pk, ctx) if len(held) < len(ids) else []
    result.skip("already_assigned", [i for i in ids if held.get(i) == user.pk])
    result.skip("assigned_to_another", [i for i in ids if held.get(i) not in (None, user.pk)])
    free = [i for i in ids if i in set(joined) or (i in held and held[i] is None)]
    cooling = _in_cooldown(free, group.pk, user.pk, ctx.now)
    result.skip("cooldown", [i for i in free if i in cooling])
    free = [i for i in free if i not in cooling]
    _lock_user(user.pk)
    room = _room(group, user.pk)
    if room is not None and len(free) > room:
        result.skip("capacity", free[room:])
        free = free[:room]
    done = [pk for pk, _ in moves.assign([(pk, user.pk) for pk in free], group.pk, ctx)]
    result.done += done
    result.skip("taken_meanwhile", set(free) - set(done))
    return len(joined)


def _return(actor, ids, group: CustomerGroup | None, ctx, result: _Result, *, to_company: bool) -> None:
    """Back to the group public sea (unassign) or the company public sea (leave the group), in ``group`` or,
    with no group, in every group where the actor may change the customer's salesperson."""
    filters = {"group_id": group.pk} if group else {}
    if not to_company:
        filters["salesperson__isnull"] = False
    rows = _memberships(ids, **filters)
    held_q = _held_q(actor, group.pk if group else None)
    may: set[tuple[int, int]] = set()
    for chunk in batched(ids, 20_000):
        may |= set(CustomerGroupMembership.objects.filter(held_q, customer_id__in=ids_subquery(chunk), **filters)
                   .values_list("customer_id", "group_id"))
    by_group: dict[int, list[int]] = {}
    not_yours: set[int] = set()
    for pk, gid, _sp in rows:
        if (pk, gid) in may:
            by_group.setdefault(gid, []).append(pk)
        else:
            not_yours.add(pk)
    done: set[int] = set()
    for gid, members in sorted(by_group.items()):
        if to_company:
            done |= set(moves.leave_group(members, gid, ctx, kind=AssignmentKind.RETURN_COMPANY_SEA))
        else:
            done |= {pk for pk, _ in moves.unassign(members, gid, ctx, kind=AssignmentKind.RETURN_GROUP_SEA)}
    result.done += sorted(done)
    present = {pk for pk, _, _ in rows}
    result.skip("not_yours", [i for i in ids if i in not_yours and i not in done])
    result.skip("not_in_group" if to_company else "not_assigned", [i for i in ids if i not in present])
    result.skip("taken_meanwhile", [i for i in ids if i in present and i not in not_yours and i not in done])


def _claim(actor, ids, group: CustomerGroup, ctx, result: _Result) -> None:
    if not isinstance(actor, User) or not group.salespeople.filter(pk=actor.pk).exists():
        raise ShoalError("not_group_salesperson",
                         _("Only the salespeople of the group %(group)s may claim its customers") % {"group": group.name},
                         {"group_id": group.pk}, status=403)
    sea = Customer.objects.filter(pk__in=CustomerGroupMembership.objects.filter(group=group, salesperson__isnull=True)
                                  .values("customer_id"))
    if group.public_sea_visible or _scope(actor) == DataScope.ALL or _is_group_admin(actor, group.pk):
        _check_reach(actor, ids, group.pk, extra=sea)
    else:
        raise ShoalError("public_sea_hidden", _("The public sea of the group %(group)s is not open to its salespeople")
                         % {"group": group.name}, {"group_id": group.pk}, status=403)
    held = {pk: sp for pk, _, sp in _memberships(ids, group_id=group.pk)}
    result.skip("not_in_group", [i for i in ids if i not in held])
    result.skip("already_yours", [i for i in ids if held.get(i) == actor.pk])
    result.skip("assigned_to_another", [i for i in ids if held.get(i) not in (None, actor.pk) and i in held])
    free = [i for i in ids if i in held and held[i] is None]
    cooling = _in_cooldown(free, group.pk, actor.pk, ctx.now)
    result.skip("cooldown", [i for i in free if i in cooling])
    free = [i for i in free if i not in cooling]
    _lock_user(actor.pk)
    if group.daily_claim_limit is not None:
        claimed = AssignmentLog.objects.filter(salesperson=actor, group=group, kind=AssignmentKind.CLAIM,
                                               at__gte=_today_start(ctx.now)).count()
        left = max(0, group.daily_claim_limit - claimed)
        if len(free) > left:
            result.skip("daily_claim_limit", free[left:])
            free = free[:left]
    room = _room(group, actor.pk)
    if room is not None and len(free) > room:
        result.skip("capacity", free[room:])
        free = free[:room]
    done = [pk for pk, _ in moves.assign([(pk, actor.pk) for pk in free], group.pk, ctx, kind=AssignmentKind.CLAIM)]
    result.done += done
    result.skip("taken_meanwhile", set(free) - set(done))


# -- transfers -----------------------------------------------------------------------------------------------
def _user(user_id, field: str) -> User:
    try:
        user = User.objects.filter(pk=int(user_id)).first() if user_id is not None else None
    except (TypeError, ValueError, OverflowError):
        user = None
    if user is None:
        raise NotFound(_("User not found"), {field: user_id})
    return user


def transfer_create(*, actor, from_user_id: int, to_user_id: int, customer_ids=None, reason: str) -> dict:
    """Move all (``customer_ids`` None) or the chosen customers of ``from_user`` to ``to_user``, in each group
    where ``from_user`` holds them; a group where ``to_user`` is not a salesperson is skipped with a reason.
    Capacity and cooldown do not hold a transfer back (someone is leaving: their customers must go)."""
    if not (is_system(actor) or user_can(actor, TRANSFER)):
        raise _denied(TRANSFER)
    reason = (reason or "").strip()
    if not reason:
        raise ShoalError("invalid", _("Give the reason of the transfer"), {"field": "reason"})
    if len(reason) > 255:
        raise ShoalError("invalid", _("The reason has at most 255 characters"), {"field": "reason"})
    source, target = _user(from_user_id, "from_user_id"), _user(to_user_id, "to_user_id")
    if source.pk == target.pk:
        raise ShoalError("invalid", _("Choose two different salespeople"), {"field": "to_user_id"})
    if not target.is_active:
        raise ShoalError("invalid", _("%(user)s is not active") % {"user": target.name or target.username},
                         {"field": "to_user_id"})
    held_q = _held_q(actor, None)
    result = _Result("transfer")
    ctx = moves.context(actor)
    with transaction.atomic(), assignment_notices():  # the receiving salesperson: one notification
        memberships = CustomerGroupMembership.objects.filter(salesperson=source)
        if customer_ids is not None:
            ids = _clean_ids(customer_ids)
            _check_reach(actor, ids, None, extra=Customer.objects.filter(
                pk__in=memberships.filter(held_q).values("customer_id")))
            rows = _memberships(ids, salesperson=source)
            result.skip("not_held", [i for i in ids if i not in {pk for pk, _, _ in rows}])
            reach = set()
            for chunk in batched(ids, 20_000):
                reach |= set(memberships.filter(held_q, customer_id__in=ids_subquery(chunk))
                             .values_list("customer_id", "group_id"))
        else:  # all of them: those the actor may change (their scope, or groups they administer)
            rows = list(memberships.filter(held_q).values_list("customer_id", "group_id", "salesperson_id"))
            reach = {(pk, gid) for pk, gid, _ in rows}
        by_group: dict[int, list[int]] = {}
        for pk, gid, _sp in rows:
            if (pk, gid) in reach:
                by_group.setdefault(gid, []).append(pk)
            else:
                result.skip("not_yours", [pk])
        target_groups = set(CustomerGroup.objects.filter(pk__in=list(by_group), salespeople=target)
                            .values_list("pk", flat=True))
        for gid, members in sorted(by_group.items()):
            if gid not in target_groups:
                result.skip("not_group_salesperson", members)
                continue
            result.done += moves.reassign(members, gid, source.pk, target.pk, ctx, kind=AssignmentKind.TRANSFER)
        done = set(result.done)
        record = Transfer.objects.create(from_user=source, to_user=target, reason=reason, customer_count=len(done),
                                         all_customers=customer_ids is None,
                                         operator=actor if isinstance(actor, User) else None, at=ctx.now)
        # a customer moved in one group and skipped in another counts as done (and is reported in reasons)
        out = result.as_dict(id=record.pk)
        out["skipped"] = len({i for ids in result.reasons.values() for i in ids})
        log_operation(actor=actor, action="transfer.create", obj=record,
                      object_repr=f"{source.username} → {target.username}",
                      detail={"from_user_id": source.pk, "to_user_id": target.pk, "customers": len(done),
                              "all": customer_ids is None, "reason": reason, "reasons": out["reasons"]})
    return out


def _people_q(actor, fields: Sequence[str]) -> Q | None:
    """Records about people: None (all) for a data scope "all", else those naming the actor (or, for a
    department scope, the departments' people) in one of ``fields``."""
    scope = _scope(actor)
    if scope == DataScope.ALL:
        return None
    people = [actor.pk]
    q = Q()
    for f in fields:
        q |= Q(**{f"{f}_id__in": people})
        if scope == DataScope.DEPARTMENTS:
            q |= Q(**{f"{f}__in": department_user_ids(actor)})
    return q


def transfer_list(*, actor) -> QuerySet[Transfer]:
    if not (is_system(actor) or user_can(actor, TRANSFER) or user_can(actor, LOGS_VIEW)):
        raise _denied(TRANSFER)
    qs = Transfer.objects.select_related("from_user", "to_user", "operator")
    q = _people_q(actor, ("from_user", "to_user", "operator"))
    return qs if q is None else qs.filter(q)


# -- logs ----------------------------------------------------------------------------------------------------
def _day_range(date_from: date | None, date_to: date | None) -> tuple[datetime, datetime]:
    today = timezone.localdate()
    date_from = date_from or (date_to if date_to and date_to < today else today)
    date_to = date_to or max(date_from, today)
    for value, name in ((date_from, "date_from"), (date_to, "date_to")):
        if not date(1900, 1, 1) <= value <= date(9000, 12, 31):
            raise ShoalError("invalid", _("Choose a date between 1900 and 9000"), {"field": name})
    if date_to < date_from:
        raise ShoalError("invalid", _("The end date is before the start date"), {"field": "date_to"})
    if (date_to - date_from).days > 366 * 5:
        raise ShoalError("invalid", _("Choose at most five years"), {"field": "date_from"})
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return start, end


def _log_qs(actor, model, *, date_from, date_to, customer_id) -> QuerySet:
    if not (is_system(actor) or user_can(actor, LOGS_VIEW)):
        raise _denied(LOGS_VIEW)
    start, end = _day_range(date_from, date_to)
    qs = model.objects.filter(at__gte=start, at__lt=end)
    if _scope(actor) != DataScope.ALL:
        qs = qs.filter(customer_id__in=customer_queryset(actor=actor).values("pk"))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs


def group_log_list(*, actor, date_from: date | None = None, date_to: date | None = None,
                   customer_id: int | None = None, group_id: int | None = None, kind: str | None = None,
                   salesperson_id: int | None = None) -> QuerySet[GroupLog]:
    """Group log entries of customers in the actor's scope; ``kind``: "auto" or "manual"; ``salesperson_id``:
    entries by that operator."""
    qs = _log_qs(actor, GroupLog, date_from=date_from, date_to=date_to, customer_id=customer_id)
    if group_id is not None:
        qs = qs.filter(Q(from_group_id=group_id) | Q(to_group_id=group_id))
    if kind is not None:
        if kind not in ("auto", "manual"):
            raise ShoalError("invalid", _("Unknown kind %(kind)s") % {"kind": kind}, {"field": "kind"})
        qs = qs.filter(auto=kind == "auto")
    if salesperson_id is not None:
        qs = qs.filter(operator_id=salesperson_id)
    return qs.select_related("from_group", "to_group", "operator")


def assignment_log_list(*, actor, date_from: date | None = None, date_to: date | None = None,
                        customer_id: int | None = None, group_id: int | None = None, kind: str | None = None,
                        salesperson_id: int | None = None) -> QuerySet[AssignmentLog]:
    """Assignment log entries of customers in the actor's scope (``salesperson_id``: the new or previous one)."""
    qs = _log_qs(actor, AssignmentLog, date_from=date_from, date_to=date_to, customer_id=customer_id)
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    if kind is not None:
        if kind not in AssignmentKind.values:
            raise ShoalError("invalid", _("Unknown kind %(kind)s") % {"kind": kind}, {"field": "kind"})
        qs = qs.filter(kind=kind)
    if salesperson_id is not None:
        qs = qs.filter(Q(salesperson_id=salesperson_id) | Q(previous_salesperson_id=salesperson_id))
    return qs.select_related("group", "salesperson", "previous_salesperson", "operator")


def recycle_log_list(*, actor, date_from: date | None = None, date_to: date | None = None,
                     customer_id: int | None = None, group_id: int | None = None, kind: str | None = None,
                     salesperson_id: int | None = None) -> QuerySet[RecycleRecord]:
    """Recycle history of customers in the actor's scope; ``kind``: where they were sent (group_sea,
    company_sea)."""
    from ..models import RecycleTarget

    qs = _log_qs(actor, RecycleRecord, date_from=date_from, date_to=date_to, customer_id=customer_id)
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    if kind is not None:
        if kind not in RecycleTarget.values:
            raise ShoalError("invalid", _("Unknown kind %(kind)s") % {"kind": kind}, {"field": "kind"})
        qs = qs.filter(target=kind)
    if salesperson_id is not None:
        qs = qs.filter(salesperson_id=salesperson_id)
    return qs.select_related("group", "salesperson", "rule")

