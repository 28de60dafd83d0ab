"""The data the scoped-read, sales and workbench benches share (``bench_scope``, ``bench_sales``,
``bench_workbench``), made once and kept: a second run (or another of these benches) on the same database finds
it and reuses it.

- customers: the demo customers up to the size (``bench_customers.ensure_customers``: kept when the database holds
  them; a database with more is refused: run each size separately);
- people: 5 groups (one with its public sea hidden from its salespeople), 50 salespeople (10 a group) in 3
  departments, a group admin each, 3 department managers (kept when they exist);
- memberships: the bench's own, in one set-based statement: 60% of the customers in a group, half of those assigned
  to a salesperson, 2% also in a second group's public sea (kept when group 0 has members);
- work (``work=True``): as many tasks as customers and twice as many follow-up records over the last 60 days,
  spread over the 50 salespeople (kept when a task named "bench" exists).

:func:`each_size` runs a bench's measures at each size in SHOAL_BENCH_SIZES (default "100000") on that data."""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

from bench.bench_customers import ensure_customers, sizes

GROUPS = 5
SALES_PER_GROUP = 10
DEPARTMENTS = 3
CHUNK = 50_000


def repeat() -> int:
    """Requests timed per figure (SHOAL_BENCH_REPEAT, default 20)."""
    return int(os.environ.get("SHOAL_BENCH_REPEAT") or 20)


def user(username, role, departments=()):
    from shoal.accounts.models import User

    found = User.objects.filter(username=username).first()
    if found is None:
        found = User.objects.create(username=username, name=username, must_change_password=False)
        found.set_unusable_password()
        found.save(update_fields=["password"])
        found.roles.add(role)
        found.departments.add(*departments)
    return found


def ensure_people() -> dict:
    """Roles, departments, 5 groups with 10 salespeople and an admin each, 3 department managers."""
    from shoal.accounts.demo import ensure_default_roles
    from shoal.accounts.models import DataScope, Department, Role
    from shoal.customers.models import CustomerGroup

    roles = ensure_default_roles()
    lead_role, _ = Role.objects.get_or_create(code="bench_group_admin", defaults={
        "name": "bench group admin", "data_scope": DataScope.GROUPS, "permissions": roles["manager"].permissions})
    departments = [Department.objects.get_or_create(name=f"bench-dept-{d}", parent=None)[0] for d in range(DEPARTMENTS)]
    groups, sales = [], []
    for g in range(GROUPS):
        group, _ = CustomerGroup.objects.get_or_create(name=f"bench-group-{g}",
                                                       defaults={"public_sea_visible": g != GROUPS - 1})
        people = [user(f"bench_sales_{g}_{s}", roles["salesperson"],
                       [departments[(g * SALES_PER_GROUP + s) % DEPARTMENTS]]) for s in range(SALES_PER_GROUP)]
        group.salespeople.add(*people)
        admin = user(f"bench_admin_{g}", lead_role)
        group.admins.add(admin)
        groups.append(group)
        sales.append([p.pk for p in people])
    managers = [user(f"bench_manager_{d}", roles["manager"], [departments[d]]) for d in range(DEPARTMENTS)]
    groups[0].admins.add(managers[0])  # a manager who also administers a group
    return {"groups": [g.pk for g in groups], "sales": sales, "managers": managers,
            "admins": [g.admins.order_by("pk").first() for g in groups]}


def manager_of_all(people: dict):
    """A manager in the three bench departments: their scope holds the 50 salespeople."""
    from shoal.accounts.demo import ensure_default_roles
    from shoal.accounts.models import Department

    departments = list(Department.objects.filter(name__startswith="bench-dept-"))
    return user("bench_manager_all", ensure_default_roles()["manager"], departments)


def ensure_memberships(people: dict) -> dict:
    """Replace the memberships with the bench's (one INSERT … SELECT); nothing when they are there."""
    from django.db import connection, transaction

    from shoal.customers.models import Customer, CustomerGroupMembership

    groups, sales = people["groups"], people["sales"]
    m = CustomerGroupMembership._meta.db_table
    c = Customer._meta.db_table
    if CustomerGroupMembership.objects.filter(group_id=groups[0]).exists():
        return {"memberships": "kept"}
    started = time.perf_counter()
    group_case = " ".join(f"WHEN {i} THEN {gid}" for i, gid in enumerate(groups))
    # salespeople of a group are not contiguous ids in general: CASE over (group, slot)
    sales_case = " ".join(f"WHEN {i * SALES_PER_GROUP + s} THEN {pk}"
                          for i, ids in enumerate(sales) for s, pk in enumerate(ids))
    slot = f"(({c}.id / 10) % {GROUPS}) * {SALES_PER_GROUP} + ({c}.id / 100) % {SALES_PER_GROUP}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {m}")
        cursor.execute(
            f"INSERT INTO {m} (customer_id, group_id, salesperson_id, assigned_at, created_at, last_follow_up_at, "
            f"last_effective_follow_up_at, warned_at) "
            f"SELECT id, CASE ({c}.id / 10) % {GROUPS} {group_case} END, "
            f"CASE WHEN ({c}.id / 1000) % 2 = 0 THEN CASE {slot} {sales_case} END END, "
            f"CASE WHEN ({c}.id / 1000) % 2 = 0 THEN created_at END, created_at, NULL, NULL, NULL "
            f"FROM {c} WHERE {c}.id % 10 < 6")
        cursor.execute(  # 2%: also in the next group's public sea
            f"INSERT INTO {m} (customer_id, group_id, salesperson_id, assigned_at, created_at, last_follow_up_at, "
            f"last_effective_follow_up_at, warned_at) "
            f"SELECT id, CASE (({c}.id / 10) + 1) % {GROUPS} {group_case} END, NULL, NULL, created_at, NULL, NULL, NULL "
            f"FROM {c} WHERE {c}.id % 50 = 3")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {m}" if connection.vendor == "postgresql" else "ANALYZE")
    return {"memberships": CustomerGroupMembership.objects.count(), "seconds": round(time.perf_counter() - started, 2)}


def ensure_work(size: int, people: dict) -> dict:
    """Tasks (one a customer) and follow-up records (two a customer); nothing when they are there.

    - tasks: a follow-up task for each assigned customer (its salesperson), a normal task otherwise (a salesperson
      by id); 10% open, due from 30 days ago to 30 days ahead, priorities 1-4; the rest done or cancelled;
    - follow-up records: two a customer, by the task's owner, in the last 60 days, a quarter effective, with a
      call time."""
    from django.db import connection
    from django.utils import timezone

    from shoal.core.db import insert_rows
    from shoal.customers.models import Customer, CustomerGroupMembership
    from shoal.sales.models import FollowUp, Task

    if Task.objects.filter(name="bench").exists():
        return {"tasks": "kept"}
    started = time.perf_counter()
    sales = [pk for ids in people["sales"] for pk in ids]
    owner_of = dict(CustomerGroupMembership.objects.filter(salesperson__isnull=False)
                    .values_list("customer_id", "salesperson_id"))
    group_of = dict(CustomerGroupMembership.objects.filter(salesperson__isnull=False)
                    .values_list("customer_id", "group_id"))
    now = timezone.now()
    rnd = random.Random(13)
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:size])
    task_columns = ["type", "owner_id", "creator_id", "customer_id", "group_id", "name", "due_at", "priority",
                    "progress", "remind_at", "reminded_at", "details", "created_at", "updated_at", "done_at"]
    follow_columns = ["customer_id", "salesperson_id", "method", "status", "effective", "summary",
                      "maturity", "invitation_type", "call_seconds", "created_at"]
    tasks = follow_ups = 0
    for start in range(0, len(ids), CHUNK):
        task_rows, follow_rows = [], []
        for pk in ids[start:start + CHUNK]:
            owner = owner_of.get(pk) or sales[pk % len(sales)]
            follow_up = pk in owner_of
            open_ = rnd.random() < 0.10
            due = now + timedelta(minutes=rnd.randint(-30 * 1440, 30 * 1440))
            created = now - timedelta(minutes=rnd.randint(0, 60 * 1440))
            progress = rnd.choice(["not_started", "in_progress"]) if open_ else rnd.choice(["done", "done", "cancelled"])
            task_rows.append(["follow_up" if follow_up else "normal", owner, None if follow_up else owner,
                              pk if follow_up else None, group_of.get(pk), "bench", due, rnd.randint(1, 4), progress,
                              None, None, "", created, created, None if open_ else created])
            for _ in range(2):
                at = now - timedelta(minutes=rnd.randint(0, 60 * 1440))
                follow_rows.append([pk, owner, rnd.choice(["phone", "wechat", "visit"]),
                                    rnd.choice(["reached", "not_reached", "interested"]), rnd.random() < 0.25,
                                    "bench", "", "", rnd.randint(0, 900), at])
        insert_rows(Task._meta.db_table, task_columns, task_rows)
        insert_rows(FollowUp._meta.db_table, follow_columns, follow_rows)
        tasks += len(task_rows)
        follow_ups += len(follow_rows)
        print(f"bench world: {tasks:,} tasks, {follow_ups:,} follow-ups", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"tasks": tasks, "follow_ups": follow_ups, "seconds": round(time.perf_counter() - started, 1)}


def prepare(size: int, *, work: bool = False) -> dict | None:
    """The data at ``size`` (see the module's docstring), made or found: ``{"people", "figures"}`` (what it took to
    make); None when the database holds more customers than ``size``."""
    from django.db import connection

    figures: dict = {}
    load = ensure_customers(size)
    if load == "too_many":
        return None
    if load:
        figures["demo_load"] = load
    people = ensure_people()
    figures["memberships"] = ensure_memberships(people)
    if work:
        figures["work"] = ensure_work(size, people)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"people": people, "figures": figures}


def each_size(measure, *, work: bool = False) -> dict:
    """A bench's result: at each size of SHOAL_BENCH_SIZES the data (:func:`prepare`), then ``measure(people)``'s
    figures: ``{"sizes": {size: figures}}``."""
    os.environ.setdefault("SHOAL_FAST_HASHER", "1")
    out = {}
    for size in sizes():
        prepared = prepare(size, work=work)
        if prepared is None:
            out[str(size)] = {"skipped": "the database has more customers already; run each size separately"}
            continue
        out[str(size)] = {**prepared["figures"], **measure(prepared["people"])}
    return {"sizes": out}
