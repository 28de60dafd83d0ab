"""Sales work (issue 13): the task center, the follow-up workspace and the workbench, through the real views.

Data (at each size in SHOAL_BENCH_SIZES, default "100000"; the issue's figures are at 1000000): the demo
customers and the scoped-read bench's people and memberships (``bench_scope``: 5 groups, 50 salespeople in 3
departments, 60% of the customers in a group, half of those assigned), then as many tasks as customers and twice
as many follow-up records, spread over the 50 salespeople and the last 60 days:

- tasks: a follow-up task for each assigned customer (its salesperson), a normal task otherwise (a salesperson
  by id); 10% open, due from 30 days ago to 30 days ahead, priorities 1-4; the rest done or cancelled;
- follow-up records: two a customer, by the task's owner, in the last 60 days, a quarter effective, with a call
  time.

Timings (p50/p95 over SHOAL_BENCH_REPEAT requests, default 20, after a warm-up), logged in with a session:
``task_center`` (the grouped task page of the salesperson), ``task_list`` (the list view), ``workspace`` (客户跟进任务),
``workbench`` (the workbench page and then every board it loads, one after the other: the total is what the
user waits for at most) and each ``board:<code>`` on its own, for a salesperson and for a manager of the 50
salespeople (a manager in the three departments). Targets: pages p95 ≤ 150 ms; workbench with all boards
≤ 300 ms, each board ≤ 300 ms.

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)        # keep it: a second run reuses the loaded database
    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh sales
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=1000000 scripts/bench.sh sales
"""

from __future__ import annotations

import os
import random
import re
import time
from datetime import timedelta

from bench.bench_customers import ensure_customers, sizes, timed
from bench.bench_scope import _repeat, _user, ensure_memberships, ensure_people

CHUNK = 50_000


def _manager_of_all(people: dict):
    """A manager in the three bench departments: their scope holds the 50 salespeople."""
    from shoal.accounts.demo import ensure_default_roles
    from shoal.accounts.models import Department

    departments = list(Department.objects.filter(name__startswith="bench-dept-"))
    return _user("bench_manager_all", ensure_default_roles()["manager"], departments)


def ensure_work(size: int, people: dict) -> dict:
    """Tasks (one a customer) and follow-up records (two a customer); nothing when they are there."""
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
        print(f"bench_sales: {tasks:,} tasks, {follow_ups:,} follow-ups", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"tasks": tasks, "follow_ups": follow_ups, "seconds": round(time.perf_counter() - started, 1)}


def _pages() -> dict:
    """The pages timed: name → (URL, query). Filled from the URL names of the sales pages."""
    from django.urls import reverse

    return {"task_center": (reverse("admin:sales_tasks"), {"view": "mine", "group_by": "date"}),
            "task_list": (reverse("admin:sales_tasks"), {"view": "mine", "mode": "list"}),
            "workspace": (reverse("admin:sales_workspace"), {}),
            "workbench": (reverse("admin:index"), {})}


def _board_urls(html: str) -> list[str]:
    """The boards a workbench page loads on its own (``hx-get`` of each board placeholder)."""
    return re.findall(r'hx-get="([^"]*board[^"]*)"', html)


def persona_figures(label: str, user, n: int) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    out: dict = {}

    def get(url, query=None):
        response = client.get(url, query or {})
        assert response.status_code == 200, (label, url, response.status_code)
        return response

    for name, (url, query) in _pages().items():
        out[name] = timed(lambda url=url, query=query: get(url, query), n)
    boards = _board_urls(get(_pages()["workbench"][0]).content.decode())
    out["boards"] = len(boards)

    def whole_workbench():
        get(_pages()["workbench"][0])
        for board in boards:
            get(board)

    out["workbench_with_all_boards"] = timed(whole_workbench, max(3, n // 4))
    for board in boards:
        out[f"board:{board}"] = timed(lambda board=board: get(board), n)
    return out


def run():
    from django.db import connection

    os.environ.setdefault("SHOAL_FAST_HASHER", "1")
    out = {}
    for size in sizes():
        figures: dict = {}
        load = ensure_customers(size)
        if load == "too_many":
            out[str(size)] = {"skipped": "the database has more customers already; run each size separately"}
            continue
        if load:
            figures["demo_load"] = load
        people = ensure_people()
        figures["memberships"] = ensure_memberships(people)
        figures["work"] = ensure_work(size, people)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        from shoal.accounts.models import User

        n = _repeat()
        personas = {"salesperson": User.objects.get(pk=people["sales"][0][0]),
                    "manager_of_50": _manager_of_all(people)}
        for label, user in personas.items():
            figures[label] = persona_figures(label, user, n)
        out[str(size)] = figures
    return {"sizes": out}


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["sales"]))
