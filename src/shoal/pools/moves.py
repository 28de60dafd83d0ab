"""The set-based moves every pool operation is made of: manual operations, claims, transfers and the rule
runs call these and nothing else writes memberships.

Each move changes the memberships in a few statements whatever the number of customers, and writes its
logs (group log, assignment log), the customers' timeline entries and, for assignments, one follow-up task
per customer. A move takes only what is still where it expects it (``salesperson IS NULL`` for an
assignment, the previous salesperson for a transfer): when two runs or two users race, the first takes the
customer and the second skips it, so a customer is never assigned twice in a group.

Call them inside ``transaction.atomic()`` (the callers do): a move's writes stand or fall together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from shoal.accounts.models import User
from shoal.core.actors import is_system
from shoal.core.batching import batched
from shoal.core.db import ids_subquery, insert_rows
from shoal.customers.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMembership,
    TimelineEntry,
    TimelineKind,
)

from .models import AssignmentKind, AssignmentLog, GroupLog

CHUNK = 20_000  # customers per statement
TASK_DUE = timedelta(days=1)
RUN_CACHE_KIB = 256 * 1024  # SQLite page cache of a rule run: the indexes its 100,000s of log rows go into  # a follow-up task made by an assignment is due a day later


@dataclass
class Context:
    """Who moves, how, and when: one per operation, shared by all its moves (one time for all its logs)."""

    operator_id: int | None = None
    operator_name: str = ""
    auto: bool = False
    rule_id: int | None = None
    now: datetime = field(default_factory=timezone.now)
    _names: dict = field(default_factory=dict)  # group and user names for timeline texts

    def group_name(self, group_id: int | None) -> str:
        if group_id is None:
            return ""
        key = ("g", group_id)
        if key not in self._names:
            self._names[key] = CustomerGroup.objects.filter(pk=group_id).values_list("name", flat=True).first() or ""
        return self._names[key]

    def user_names(self, user_ids: Iterable[int]) -> dict[int, str]:
        user_ids = set(user_ids)  # callers pass generators: read once
        missing = [u for u in user_ids if u is not None and ("u", u) not in self._names]
        if missing:
            for pk, name, username in User.objects.filter(pk__in=missing).values_list("pk", "name", "username"):
                self._names[("u", pk)] = name or username
        return {u: self._names.get(("u", u), "") for u in user_ids if u is not None}


def context(actor=None, *, auto: bool = False, rule_id: int | None = None, now: datetime | None = None) -> Context:
    """The context of an operation by ``actor`` (a user, or the system for rule runs)."""
    from shoal.customers.services.timeline import actor_name

    operator_id = None if is_system(actor) else getattr(actor, "pk", None)
    return Context(operator_id=operator_id, operator_name=actor_name(actor),
                   auto=auto, rule_id=rule_id, now=now or timezone.now())


# -- SQL helpers ----------------------------------------------------------------------------------------
def _ids(ids) -> tuple[str, list]:
    """``IN (<this>)`` for many ids as one parameter."""
    raw = ids_subquery(ids)
    return raw.sql, list(raw.params)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _membership_update(set_sql: str, set_params: list, where_sql: str, where_params: list,
                       customer_ids: Sequence[int]) -> list[tuple[int, int | None]]:
    """UPDATE memberships of ``customer_ids`` matching ``where``; [(customer id, salesperson id before)].

    The old salesperson is read in the same statement (a CTE on PostgreSQL, RETURNING of a correlated
    value is not possible; on SQLite the write lock is held from the read on, so the read is exact)."""
    out: list[tuple[int, int | None]] = []
    m = _table(CustomerGroupMembership)
    for chunk in batched(customer_ids, CHUNK):
        ids_sql, ids_params = _ids(chunk)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH old AS (SELECT id, salesperson_id FROM {m} WHERE customer_id IN ({ids_sql}) AND {where_sql} "
                    f"FOR UPDATE) UPDATE {m} SET {set_sql} FROM old WHERE {m}.id = old.id "
                    f"RETURNING {m}.customer_id, old.salesperson_id",
                    ids_params + where_params + set_params)
                out += cursor.fetchall()
            else:
                cursor.execute(f"SELECT id, customer_id, salesperson_id FROM {m} WHERE customer_id IN ({ids_sql}) "
                               f"AND {where_sql}", ids_params + where_params)
                rows = cursor.fetchall()
                if rows:
                    pk_sql, pk_params = _ids([r[0] for r in rows])
                    cursor.execute(f"UPDATE {m} SET {set_sql} WHERE id IN ({pk_sql}) AND {where_sql}",
                                   set_params + pk_params + where_params)
                out += [(r[1], r[2]) for r in rows]
    return sorted(out)  # by customer id on both databases (RETURNING order is not defined)


# -- logs and timeline ----------------------------------------------------------------------------------
def row_time(value: datetime) -> datetime | str:
    """A time as the rows of ``insert_rows`` carry it: on SQLite the text its datetime adapter (registered by
    Django: ``isoformat(" ")``) would write, made once per move instead of once per row and column (900,000
    adaptations in a 100k assignment and recycling); PostgreSQL's COPY takes the datetime."""
    return value.isoformat(" ") if connection.vendor == "sqlite" else value


# Rows go in by customer id: the logs' and timeline's customer-first indexes then take them in order (a run's
# customers come in quality order, i.e. at random places of those indexes, which costs a page read each).
def _first(row):
    return row[0]


def _group_log(ctx: Context, customer_ids: Sequence[int], from_group: int | None, to_group: int | None,
               *, rule_id: int | None = None) -> None:
    rule = rule_id if rule_id is not None else (ctx.rule_id if ctx.auto else None)
    at = row_time(ctx.now)
    insert_rows(GroupLog._meta.db_table, ["customer_id", "from_group_id", "to_group_id", "auto", "rule_id",
                                          "operator_id", "at"],
                [[pk, from_group, to_group, ctx.auto, rule, ctx.operator_id, at] for pk in sorted(customer_ids)])


def _assignment_log(ctx: Context, rows: Sequence[tuple[int, int | None, int | None]], group_id: int | None,
                    kind: str) -> None:
    """rows: (customer id, new salesperson, previous salesperson)."""
    at = row_time(ctx.now)
    insert_rows(AssignmentLog._meta.db_table,
                ["customer_id", "group_id", "salesperson_id", "previous_salesperson_id", "kind", "auto", "rule_id",
                 "operator_id", "at"],
                [[pk, group_id, new, old, kind, ctx.auto, ctx.rule_id, ctx.operator_id, at]
                 for pk, new, old in sorted(rows, key=_first)])


def _timeline(ctx: Context, entries: Sequence[tuple[int, str, dict]], kind: str = TimelineKind.GROUP) -> None:
    """entries: (customer id, text, detail). The text names groups and people (no translated words): the
    page shows the kind's label and ``detail["action"]``'s label beside it.

    Written as rows (``insert_rows``: COPY on PostgreSQL), not model instances: a rule run writes one entry
    per customer moved, 100,000 at a time, and building and preparing that many objects took most of a run."""
    if not entries:
        return
    import json

    # as Django's JSONField stores them; a move's entries share a few texts and details (one per group or
    # salesperson): each distinct one is encoded once (keyed by the object: callers share the dict)
    texts: dict[str, str] = {}
    details: dict[int, str] = {}

    def text_json(text: str) -> str:
        out = texts.get(text)
        if out is None:
            out = texts[text] = json.dumps(text)
        return out

    def detail_json(detail: dict) -> str:
        out = details.get(id(detail))
        if out is None:
            out = details[id(detail)] = json.dumps({**detail, "auto": ctx.auto})
        return out

    at = row_time(ctx.now)
    insert_rows(TimelineEntry._meta.db_table,
                ["customer_id", "kind", "field", "old", "new", "actor_id", "actor_name", "created_at", "detail"],
                [[pk, kind, "", None, text_json(text), ctx.operator_id, ctx.operator_name, at, detail_json(detail)]
                 for pk, text, detail in sorted(entries, key=_first)])


# -- moves ----------------------------------------------------------------------------------------------
def join_group(customer_ids: Sequence[int], group_id: int, ctx: Context, *,
               from_group_id: int | None = None) -> list[int]:
    """Put customers in ``group_id``'s public sea. Customers already in the group (they keep their
    salesperson) and customers in the recycle bin are left out. Returns the ids that joined."""
    joined: list[int] = []
    mt, ct = _table(CustomerGroupMembership), _table(Customer)
    for chunk in batched(customer_ids, CHUNK):
        # one statement: the unique (customer, group) decides who is there already, also against a
        # concurrent run (a read of the present ones first was planned badly on a fresh membership table)
        ids_sql, ids_params = _ids(chunk)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {mt} (customer_id, group_id, salesperson_id, assigned_at, created_at) "
                f"SELECT c.id, %s, NULL, NULL, %s FROM {ct} c WHERE c.id IN ({ids_sql}) AND c.in_recycle_bin = %s "
                f"ON CONFLICT (customer_id, group_id) DO NOTHING RETURNING customer_id",
                [group_id, ctx.now, *ids_params, False])
            added = {pk for (pk,) in cursor.fetchall()}
        joined += [pk for pk in dict.fromkeys(chunk) if pk in added]
    if joined:
        _group_log(ctx, joined, from_group_id, group_id)
        name = ctx.group_name(group_id)
        detail = {"action": "join_group", "group": name, "group_id": group_id}
        _timeline(ctx, [(pk, name, detail) for pk in joined])
    return joined


def leave_group(customer_ids: Sequence[int], group_id: int, ctx: Context, *, to_group_id: int | None = None,
                kind: str = AssignmentKind.RETURN_COMPANY_SEA, group_log: bool = True) -> list[int]:
    """Take customers out of ``group_id`` (with their salesperson there). ``to_group_id``: where they go
    (for the group log; None = the company public sea unless they are in other groups). Customers assigned
    there get an assignment-log entry of ``kind``. Returns the ids that left."""
    return [pk for pk, _ in _leave(customer_ids, group_id, ctx, to_group_id=to_group_id, kind=kind,
                                   group_log=group_log)]


def _leave(customer_ids, group_id, ctx, *, to_group_id, kind, group_log: bool = True) -> list[tuple[int, int | None]]:
    left: list[tuple[int, int | None]] = []
    mt = _table(CustomerGroupMembership)
    for chunk in batched(customer_ids, CHUNK):
        ids_sql, ids_params = _ids(chunk)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {mt} WHERE group_id = %s AND customer_id IN ({ids_sql}) "
                           f"RETURNING customer_id, salesperson_id", [group_id, *ids_params])
            left += cursor.fetchall()
    if not left:
        return []
    ids = [pk for pk, _ in left]
    if group_log:  # a move from one group to another is one entry, written by its join_group
        _group_log(ctx, ids, group_id, to_group_id)
    assigned = [(pk, None, old) for pk, old in left if old is not None]
    if assigned:
        _assignment_log(ctx, assigned, group_id, kind)
        _close_tasks([(pk, old) for pk, _, old in assigned], group_id, ctx)
    name = ctx.group_name(group_id)
    detail = {"action": "leave_group", "group": name, "group_id": group_id}
    _timeline(ctx, [(pk, f"{name} →", detail) for pk in ids])
    return left


def assign(pairs: Sequence[tuple[int, int]], group_id: int, ctx: Context, *, kind: str = AssignmentKind.ASSIGN,
           task: bool = True) -> list[tuple[int, int]]:
    """Give group-public-sea customers of ``group_id`` to salespeople: pairs (customer id, salesperson id).
    Only customers still without a salesperson there are taken; returns the pairs that were assigned. Each
    gets an assignment-log entry, a timeline entry and (``task``) an open follow-up task due a day later."""
    wanted = dict(pairs)  # one salesperson per customer (the last pair wins, as the per-user updates did)
    done: list[tuple[int, int]] = []
    m = _table(CustomerGroupMembership)
    for chunk in batched(list(wanted.items()), CHUNK):
        # one UPDATE … FROM (customer, salesperson) pairs per chunk: the row lock of the UPDATE and its
        # re-check of ``salesperson_id IS NULL`` decide a race (a customer taken meanwhile is skipped)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{_PAIRS[connection.vendor == 'postgresql']} UPDATE {m} SET salesperson_id = v.u, assigned_at = %s, "
                f"last_follow_up_at = NULL, last_effective_follow_up_at = NULL, warned_at = NULL FROM v "
                f"WHERE {m}.customer_id = v.c AND {m}.group_id = %s AND {m}.salesperson_id IS NULL "
                f"RETURNING {m}.customer_id, {m}.salesperson_id", [*_pairs_params(chunk), ctx.now, group_id])
            done += cursor.fetchall()
    _after_assign(done, group_id, ctx, kind=kind, previous={}, task=task)
    return done


def reassign(customer_ids: Sequence[int], group_id: int, from_user_id: int, to_user_id: int, ctx: Context, *,
             kind: str = AssignmentKind.TRANSFER, task: bool = True) -> list[int]:
    """Move customers of ``from_user_id`` in ``group_id`` to ``to_user_id`` (a transfer). Returns the ids moved."""
    moved = _membership_update(
        "salesperson_id = %s, assigned_at = %s, last_follow_up_at = NULL, last_effective_follow_up_at = NULL, "
        "warned_at = NULL", [to_user_id, ctx.now], "group_id = %s AND salesperson_id = %s", [group_id, from_user_id],
        customer_ids)
    ids = [pk for pk, _ in moved]
    if ids:
        _close_tasks([(pk, from_user_id) for pk in ids], group_id, ctx)
    _after_assign([(pk, to_user_id) for pk in ids], group_id, ctx, kind=kind,
                  previous={pk: from_user_id for pk in ids}, task=task)
    return ids


def unassign(customer_ids: Sequence[int], group_id: int, ctx: Context, *,
             kind: str = AssignmentKind.RETURN_GROUP_SEA) -> list[tuple[int, int]]:
    """Take customers of ``group_id`` back from their salesperson to the group public sea.
    Returns (customer id, previous salesperson id) of those that had one."""
    moved = _membership_update(
        "salesperson_id = NULL, assigned_at = NULL, last_follow_up_at = NULL, last_effective_follow_up_at = NULL, "
        "warned_at = NULL", [], "group_id = %s AND salesperson_id IS NOT NULL", [group_id], customer_ids)
    if moved:
        _assignment_log(ctx, [(pk, None, old) for pk, old in moved], group_id, kind)
        _close_tasks(moved, group_id, ctx)
        name = ctx.group_name(group_id)
        names = ctx.user_names(old for _, old in moved)
        per_user = {old: (f"{names.get(old, '')} → {name}",  # one text and detail per previous salesperson
                          {"action": kind, "group": name, "group_id": group_id, "previous": names.get(old, "")})
                    for old in {old for _, old in moved}}
        _timeline(ctx, [(pk, *per_user[old]) for pk, old in moved])
    return [(pk, old) for pk, old in moved]


def _after_assign(done: Sequence[tuple[int, int]], group_id: int, ctx: Context, *, kind: str,
                  previous: dict[int, int], task: bool) -> None:
    if not done:
        return
    done = sorted(done)  # by customer id (see _first)
    from shoal.sales.services.notifications import record_assignments  # one notice per operation (its block)

    record_assignments(done, operator_id=ctx.operator_id, auto=ctx.auto, at=ctx.now)
    _assignment_log(ctx, [(pk, user, previous.get(pk)) for pk, user in done], group_id, kind)
    if task:
        from shoal.sales.models import Task, TaskPriority, TaskProgress, TaskType

        at, due = row_time(ctx.now), row_time(ctx.now + TASK_DUE)
        insert_rows(Task._meta.db_table,
                    ["type", "owner_id", "customer_id", "group_id", "name", "due_at", "priority", "progress",
                     "details", "created_at", "updated_at"],
                    [[TaskType.FOLLOW_UP, user, pk, group_id, "", due, TaskPriority.MEDIUM,
                      TaskProgress.NOT_STARTED, "", at, at] for pk, user in done])
    name = ctx.group_name(group_id)
    names = ctx.user_names(user for _, user in done)
    per_user = {user: (f"{name} → {names.get(user, '')}",  # one text and detail per salesperson
                       {"action": kind, "group": name, "group_id": group_id, "salesperson": names.get(user, ""),
                        "salesperson_id": user}) for user in {user for _, user in done}}
    _timeline(ctx, [(pk, *per_user[user]) for pk, user in done])


def _close_tasks(pairs: Sequence[tuple[int, int]], group_id: int, ctx: Context) -> None:
    """The previous salesperson's open follow-up tasks for these customers (in this group) are cancelled:
    they no longer hold the customer."""
    from shoal.sales.models import OPEN_PROGRESS, Task, TaskProgress

    t = _table(Task)
    for chunk in batched([(pk, user) for pk, user in pairs if user is not None], CHUNK):
        # one UPDATE … FROM (customer, salesperson) pairs per chunk, each pair looked up on task_customer_idx: the
        # unary ``+`` keeps SQLite off the group and owner indexes (every task of a run has the same group, so
        # a probe by group read all of them once per pair: quadratic, 100,000 × 100,000 in a 100k recycle)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{_PAIRS[connection.vendor == 'postgresql']} UPDATE {t} SET progress = %s, done_at = %s, updated_at = %s "
                f"FROM v WHERE {t}.customer_id = v.c AND +{t}.owner_id = v.u AND +{t}.group_id = %s "
                f"AND {t}.progress IN (%s, %s)",
                [*_pairs_params(chunk), TaskProgress.CANCELLED, ctx.now, ctx.now, group_id, *OPEN_PROGRESS])


# ``WITH v(c, u)``: pairs of ids as a relation from one or two parameters (:func:`_pairs_params`). SQLite:
# materialized, so the statement looks each pair up by index (a json_each joined directly is scanned once per
# row of the other side: quadratic)
_PAIRS = {True: "WITH v(c, u) AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
          False: "WITH v(c, u) AS MATERIALIZED (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                 "FROM json_each(%s))"}


def _pairs_params(pairs: Sequence[tuple[int, int]]) -> list:
    if connection.vendor == "postgresql":
        return [[int(a) for a, _ in pairs], [int(b) for _, b in pairs]]
    import json

    return [json.dumps([[int(a), int(b)] for a, b in pairs])]


def to_recycle_bin(customer_ids: Sequence[int], ctx: Context) -> list[int]:
    """Put customers in the recycle bin: out of every group (with their salespeople). Returns the ids moved."""
    moved: list[int] = []
    for chunk in batched(customer_ids, CHUNK):
        ids = list(Customer.objects.filter(pk__in=ids_subquery(chunk), in_recycle_bin=False).values_list("pk", flat=True))
        if not ids:
            continue
        groups: dict[int, list[int]] = defaultdict(list)
        for pk, group_id in CustomerGroupMembership.objects.filter(customer_id__in=ids_subquery(ids)).values_list(
                "customer_id", "group_id"):
            groups[group_id].append(pk)
        had_salesperson: set[int] = set()
        for group_id, members in groups.items():
            had_salesperson |= {pk for pk, old in _leave(members, group_id, ctx, to_group_id=None,
                                                         kind=AssignmentKind.RECYCLE_BIN) if old is not None}
        Customer.objects.filter(pk__in=ids_subquery(ids)).update(in_recycle_bin=True, updated_at=ctx.now)
        # customers that had no salesperson anywhere get one assignment-log entry (group: none)
        _assignment_log(ctx, [(pk, None, None) for pk in ids if pk not in had_salesperson], None,
                        AssignmentKind.RECYCLE_BIN)
        _timeline(ctx, [(pk, "", {"action": AssignmentKind.RECYCLE_BIN}) for pk in ids], kind=TimelineKind.RECYCLE)
        moved += ids
    return moved


def restore(customer_ids: Sequence[int], ctx: Context) -> list[int]:
    """Return customers from the recycle bin to the company public sea. Returns the ids restored."""
    restored: list[int] = []
    for chunk in batched(customer_ids, CHUNK):
        ids = list(Customer.objects.filter(pk__in=ids_subquery(chunk), in_recycle_bin=True).values_list("pk", flat=True))
        if not ids:
            continue
        Customer.objects.filter(pk__in=ids_subquery(ids)).update(in_recycle_bin=False, updated_at=ctx.now)
        _assignment_log(ctx, [(pk, None, None) for pk in ids], None, AssignmentKind.RESTORE)
        _timeline(ctx, [(pk, "", {"action": AssignmentKind.RESTORE}) for pk in ids], kind=TimelineKind.RECYCLE)
        restored += ids
    return restored
