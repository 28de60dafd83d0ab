"""The follow-up workspace (客户跟进任务, issue 13): a salesperson's page of open follow-up tasks, urgent first and
then the best customers, with the customers' key facts (masked, tags, groups, last follow-up) and the count.
Target: p95 ≤ 150 ms for a salesperson with thousands of open tasks at 1M customers and 1M tasks.

Data (at each size in SHOAL_BENCH_SIZES, default "100000"; the issue's figures are at 1000000): the demo customers
(``bench_customers.ensure_customers``), then one group with 51 salespeople and, set-based, one follow-up task per
customer (as many tasks as customers): the bench salesperson holds every 200th customer (5,000 open tasks at 1M,
priorities 1-4 spread), the 50 others the rest (30% of their tasks open, the rest done). Each assigned customer is
a membership of the group with its salesperson; the quality scores are spread (0-69).

Timings (p50/p95 over SHOAL_BENCH_REPEAT requests, default 20, after a warm-up), through the real view with a
logged-in session: ``page_first`` (page 1), ``page_deep`` (page 100 at 20 a page), ``queries`` (per page), and
``layout_only`` (a page of the same layout that reads next to nothing: the shell's share).

    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workspace
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workspace
"""

from __future__ import annotations

import os
import time

from bench.bench_customers import ensure_customers, sizes, timed
from bench.world import repeat

OTHERS = 50
QUALITY = "customers_customerquality"  # the quality scores (shoal.customers.quality)
EVERY = 200  # the bench salesperson's share of the customers
URL = "/sales/follow-up-tasks/"



def ensure_people() -> dict:
    from shoal.accounts.demo import ensure_default_roles
    from shoal.accounts.models import MaskingPolicy, User
    from shoal.customers.models import CustomerGroup

    roles = ensure_default_roles()

    def user(username):
        found = User.objects.filter(username=username).first()
        if found is None:
            found = User.objects.create(username=username, name=username, must_change_password=False,
                                        masking_policy=MaskingPolicy.EXCEPT_ASSIGNED)
            found.set_unusable_password()
            found.save(update_fields=["password"])
            found.roles.add(roles["salesperson"])
        return found

    sales = user("bench_ws_sales")
    others = [user(f"bench_ws_other_{i:02d}") for i in range(OTHERS)]
    group, _ = CustomerGroup.objects.get_or_create(name="bench-workspace")
    group.salespeople.add(sales, *others)
    return {"sales": sales, "others": others, "group": group}


def ensure_tasks(people: dict) -> dict:
    """One follow-up task per customer and the memberships that go with them (one INSERT … SELECT each);
    nothing when they are there."""
    from django.db import connection, transaction

    from shoal.customers.models import Customer, CustomerGroupMembership
    from shoal.sales.models import Task

    group, sales, others = people["group"], people["sales"], people["others"]
    if Task.objects.filter(owner=sales).exists():
        return {"tasks": "kept"}
    started = time.perf_counter()
    c, m, t = Customer._meta.db_table, CustomerGroupMembership._meta.db_table, Task._meta.db_table
    owner = (f"CASE WHEN {c}.id % {EVERY} = 0 THEN {sales.pk} ELSE CASE {c}.id % {OTHERS} "
             + " ".join(f"WHEN {i} THEN {u.pk}" for i, u in enumerate(others)) + " END END")
    progress = f"CASE WHEN {c}.id % {EVERY} = 0 OR {c}.id % 10 < 3 THEN 'not_started' ELSE 'done' END"
    with transaction.atomic(), connection.cursor() as cursor:  # no parameters below but the first: "%" is modulo
        cursor.execute(f"DELETE FROM {m} WHERE group_id = %s", [group.pk])
        cursor.execute(f"DELETE FROM {QUALITY}")
        cursor.execute(f"INSERT INTO {QUALITY} (customer_id, score) SELECT id, (id * 7919) % 70 FROM {c}")
        cursor.execute(
            f"INSERT INTO {m} (customer_id, group_id, salesperson_id, assigned_at, created_at, last_follow_up_at, "
            f"last_effective_follow_up_at, warned_at) "
            f"SELECT id, {int(group.pk)}, {owner}, created_at, created_at, NULL, NULL, NULL FROM {c}")
        cursor.execute(
            f"INSERT INTO {t} (type, name, owner_id, creator_id, customer_id, group_id, due_at, priority, progress, "
            f"remind_at, reminded_at, overdue_notified_at, details, created_at, updated_at, done_at) "
            f"SELECT 'follow_up', '', {owner}, NULL, id, {int(group.pk)}, created_at, 1 + (id / {EVERY}) % 4, "
            f"{progress}, NULL, NULL, NULL, '', created_at, created_at, NULL FROM {c}")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {t}" if connection.vendor == "postgresql" else "ANALYZE")
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {m}")
            cursor.execute(f"ANALYZE {c}")
    return {"tasks": Task.objects.count(), "seconds": round(time.perf_counter() - started, 2)}


def figures(user, n: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from shoal.sales.services.follow_ups import workspace_tasks

    open_tasks = workspace_tasks(actor=user).count()
    client = Client()
    client.force_login(user)
    seen: dict = {}

    def get(page):
        response = client.get(URL, {"page": page})
        assert response.status_code == 200, response.status_code
        seen[page] = response.content.count(b'<tbody id="task-')

    deep = min(100, max(1, (open_tasks + 19) // 20))
    out = {"open_tasks": open_tasks, "deep_page": deep, "page_first": timed(lambda: get(1), n),
           "page_deep": timed(lambda: get(deep), n),
           # the same layout around a page that reads nothing (the shell's share, on a shared machine)
           "layout_only": timed(lambda: client.get("/system/my-tokens/"), n)}
    with CaptureQueriesContext(connection) as ctx:
        get(1)
    out["queries"] = len(ctx.captured_queries)
    out["rows_first"] = seen[1]
    return out


def run():
    from django.db import connection

    os.environ.setdefault("SHOAL_FAST_HASHER", "1")
    out = {}
    for size in sizes():
        result: dict = {}
        load = ensure_customers(size)
        if load == "too_many":
            out[str(size)] = {"skipped": "the database has more customers already; run each size separately"}
            continue
        if load:
            result["demo_load"] = load
        people = ensure_people()
        result["data"] = ensure_tasks(people)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        result["salesperson"] = figures(people["sales"], repeat())
        out[str(size)] = result
    return {"sizes": out}


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["workspace"]))
