"""Customer groups (客户分组管理): reads and writes. Keyword-only, with an explicit ``actor``.

Who may do what: the menu permissions ``pools.groups.view|create|edit|delete`` (a group's assignment and
recycle rules and its request-task settings are part of editing the group: ``pools.groups.edit``). A group
admin without the permission sees no group management (their customers they see on the customer pages).

Deleting a group sends its customers back to the company public sea (unless they are in other groups):
the memberships go with the group; each customer gets a group-log entry (to the company public sea), an
assigned customer an assignment-log entry, and a timeline entry, all written set-based before the delete.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q
from django.utils.translation import gettext as _

from shoal.core.actors import is_system
from shoal.core.auth import user_can
from shoal.core.errors import Conflict, NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update
from shoal.customers.models import CustomerGroup, CustomerGroupMembership

VIEW, CREATE, EDIT, DELETE = (f"pools.groups.{a}" for a in ("view", "create", "edit", "delete"))
MAX_INT = 2**31 - 1
MAX_MEMBERS = 10_000  # admins or salespeople of one group


# -- permission ------------------------------------------------------------------------------------------
def check_permission(actor, code: str) -> None:
    """403 unless ``actor`` (a user) holds ``code``; the system may do everything."""
    if is_system(actor):
        return
    if not user_can(actor, code):
        raise ShoalError("permission_denied", _("Missing permission %(code)s") % {"code": code},
                         {"permission": code}, status=403)


def _user_id(actor):
    return None if is_system(actor) or not getattr(actor, "is_authenticated", False) else actor.pk


# -- reads -----------------------------------------------------------------------------------------------
def group_queryset(*, actor):
    """Every group, with its admins and salespeople (for users who may view group management)."""
    check_permission(actor, VIEW)
    users = get_user_model().objects.only("id", "username", "name").order_by("id")
    return CustomerGroup.objects.prefetch_related(Prefetch("admins", queryset=users),
                                                  Prefetch("salespeople", queryset=users)).order_by("id")


def group_get(*, actor, pk) -> CustomerGroup:
    group = group_queryset(actor=actor).filter(pk=pk).first()
    if group is None:
        raise NotFound(_("Group not found"))
    return group


def customer_counts(group_ids) -> dict[int, dict[str, int]]:
    """Per group: customers in its public sea and customers assigned to a salesperson (one aggregate)."""
    counts = {pk: {"sea_count": 0, "assigned_count": 0} for pk in group_ids}
    if not counts:
        return counts
    rows = (CustomerGroupMembership.objects.filter(group_id__in=list(counts)).values("group_id")
            .annotate(sea=Count("id", filter=Q(salesperson__isnull=True)),
                      assigned=Count("id", filter=Q(salesperson__isnull=False))).order_by())
    for row in rows:
        counts[row["group_id"]] = {"sea_count": row["sea"], "assigned_count": row["assigned"]}
    return counts


def with_counts(groups) -> list[CustomerGroup]:
    """The groups with ``sea_count`` and ``assigned_count`` set."""
    groups = list(groups)
    counts = customer_counts([g.pk for g in groups])
    for g in groups:
        g.sea_count = counts[g.pk]["sea_count"]
        g.assigned_count = counts[g.pk]["assigned_count"]
    return groups


# -- validation ------------------------------------------------------------------------------------------
def clean_user_ids(value, field: str) -> list[int]:
    """A list of ids of existing active users (a clear error naming the bad ids)."""
    if value is None:
        return []
    if (not isinstance(value, (list, tuple)) or len(value) > MAX_MEMBERS
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
        raise ShoalError("invalid", _("%(field)s must be a list of user ids") % {"field": field}, {"field": field})
    ids = sorted(set(value))
    known = set(get_user_model().objects.filter(pk__in=[i for i in ids if 0 < i <= 2**63 - 1], is_active=True)
                .values_list("pk", flat=True))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ShoalError("unknown_user", _("Unknown or inactive users in %(field)s: %(ids)s")
                         % {"field": field, "ids": ", ".join(map(str, unknown))}, {"field": field, "ids": unknown})
    return ids


def _optional_count(data: dict, key: str, label: str):
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise ShoalError("invalid", _("%(label)s must be empty or a whole number of at least 1") % {"label": label},
                         {"field": key})
    return value


def _count(data: dict, key: str, label: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise ShoalError("invalid", _("%(label)s must be a whole number of at least 1") % {"label": label},
                         {"field": key})
    return value


def clean_bool(data: dict, key: str) -> bool:
    """``data[key]``, which must be true or false (ShoalError 400 naming the key)."""
    value = data.get(key)
    if not isinstance(value, bool):
        raise ShoalError("invalid", _("%(field)s must be true or false") % {"field": key}, {"field": key})
    return value


def _clean_group(data: dict, *, instance: CustomerGroup | None = None) -> tuple[dict, dict]:
    """(field values, many-to-many ids) of the keys ``data`` holds (all of them when creating)."""
    creating = instance is None
    out: dict = {}
    m2m: dict = {}
    if "name" in data or creating:
        name = data.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > 100:
            raise ShoalError("invalid", _("A group needs a name of at most 100 characters"), {"field": "name"})
        clash = CustomerGroup.objects.filter(name=name)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise _duplicate()
        out["name"] = name
    if "description" in data:
        description = data.get("description") or ""
        if not isinstance(description, str) or len(description) > 255:
            raise ShoalError("invalid", _("The description may have at most 255 characters"), {"field": "description"})
        out["description"] = description.strip()
    if "capacity" in data:
        out["capacity"] = _optional_count(data, "capacity", _("The private-sea capacity"))
    if "daily_claim_limit" in data:
        out["daily_claim_limit"] = _optional_count(data, "daily_claim_limit", _("The daily claim limit"))
    if "request_times_per_day" in data:
        out["request_times_per_day"] = _count(data, "request_times_per_day", _("Requests a day"))
    if "request_size" in data:
        out["request_size"] = _count(data, "request_size", _("Customers per request"))
    for key in ("public_sea_visible", "request_tasks", "enabled"):
        if key in data:
            out[key] = clean_bool(data, key)
    for key in ("admin_ids", "salesperson_ids"):
        if key in data:
            m2m[key] = clean_user_ids(data.get(key), key)
    return out, m2m


def _duplicate() -> Conflict:
    return Conflict("duplicate", _("A group with this name already exists"), {"field": "name"})


def _set_members(group: CustomerGroup, m2m: dict) -> None:
    if "admin_ids" in m2m:
        group.admins.set(m2m["admin_ids"])
    if "salesperson_ids" in m2m:
        group.salespeople.set(m2m["salesperson_ids"])


# -- writes ----------------------------------------------------------------------------------------------
def group_create(*, actor, data: dict) -> CustomerGroup:
    check_permission(actor, CREATE)
    values, m2m = _clean_group(data)
    try:
        with transaction.atomic():
            group = CustomerGroup.objects.create(created_by_id=_user_id(actor), **values)
            _set_members(group, m2m)
    except IntegrityError:
        raise _duplicate()
    log_operation(actor=actor, action="customer_group.create", obj=group)
    return group


def group_update(*, actor, group: CustomerGroup, data: dict) -> CustomerGroup:
    check_permission(actor, EDIT)
    values, m2m = _clean_group(data, instance=group)
    try:
        with transaction.atomic():
            model_update(instance=group, fields=list(values), data=values)
            _set_members(group, m2m)
    except IntegrityError:
        raise _duplicate()
    log_operation(actor=actor, action="customer_group.update", obj=group,
                  detail={"fields": sorted(set(values) | set(m2m))})
    return group


def group_delete(*, actor, group: CustomerGroup) -> int:
    """Delete the group; its customers go back to the company public sea (or stay in their other groups),
    through the same move as any departure (group log, assignment log, timeline, open tasks closed).
    Returns how many customers left it."""
    from shoal.pools import moves

    check_permission(actor, DELETE)
    with transaction.atomic():
        locked = CustomerGroup.objects.select_for_update().filter(pk=group.pk).first()
        if locked is None:
            raise NotFound(_("Group not found"))
        ctx = moves.context(actor)
        members = CustomerGroupMembership.objects.filter(group=group).order_by("customer_id")
        left = len(moves.leave_group(list(members.values_list("customer_id", flat=True)), group.pk, ctx))
        from shoal.sales.models import (  # the group's open tasks are cancelled
            OPEN_PROGRESS,
            Task,
            TaskProgress,
        )

        Task.objects.filter(group=group, progress__in=OPEN_PROGRESS).update(
            progress=TaskProgress.CANCELLED, done_at=ctx.now, updated_at=ctx.now)
        log_operation(actor=actor, action="customer_group.delete", obj=group, detail={"customers": left})
        group.delete()
    return left
