"""Pool rule runs (issue 12), at each size in SHOAL_BENCH_SIZES (default "100000"):

- ``group_rule``: one group rule (company public sea → a group, ``city in (上海, 北京, 深圳)``, about a quarter
  of the demo customers) over every customer of the database: ``run_group_rules`` (target ≤ 30 s at 1M);
- ``assign``: 100,000 group-public-sea customers (SHOAL_BENCH_POOL, default 100000, at most the size) shared
  out among 50 salespeople by one assignment rule: ``run_assignment`` (target ≤ 10 s), with the spread of
  counts and of quality sums (max/min, target ≤ 1.05) when the quality scores come from equal-score tags
  (score = 10 × the number of tags, 0-6 tags a customer);
- ``recycle``: the same 100,000 assignments, 30 days old, recycled by one rule (7 days, 3-day cooldown):
  ``run_recycle`` (target ≤ 10 s): memberships, assignment log, recycle records, cooldowns, timeline.

Every run writes the logs, tasks and timeline entries the runs write in production. The bench groups are
emptied and made again at the start, so the benchmark can be repeated on the same database.

    SHOAL_BENCH_SIZES=100000 scripts/bench.sh pools
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=100000 scripts/bench.sh pools
    SHOAL_BENCH_SIZES=1000000 … (the 1M group rule; assignment and recycling stay at 100,000)
"""

from __future__ import annotations

import os
import resource
import time

from bench.bench_customers import ensure_customers, sizes

SALESPEOPLE = 50
QUALITY = "customers_customerquality"  # the quality scores (shoal.customers.quality)
GROUP_RULE_CITIES = ["上海", "北京", "深圳"]


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _reset_groups() -> dict:
    """The bench groups, empty (memberships, rules and the cooldowns of earlier runs gone)."""
    from django.db import connection

    from shoal.customers.models import CustomerGroup, CustomerGroupMembership
    from shoal.pools.models import AssignmentRule, Cooldown, GroupRule, RecycleRule

    groups = {}
    for key, name in (("target", "bench-group-rule"), ("assign", "bench-assign")):
        group, _ = CustomerGroup.objects.get_or_create(name=name)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {CustomerGroupMembership._meta.db_table} WHERE group_id = %s", [group.pk])
        Cooldown.objects.filter(group=group).delete()
        groups[key] = group
    if connection.vendor == "postgresql":  # the rows of earlier runs deleted: their dead tuples gone too
        with connection.cursor() as cursor:
            for model in (CustomerGroupMembership, Cooldown):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    GroupRule.objects.filter(target_group__in=groups.values()).delete()
    AssignmentRule.objects.filter(group__in=groups.values()).delete()
    RecycleRule.objects.filter(group__in=groups.values()).delete()
    return groups


def _salespeople() -> list:
    from shoal.accounts.models import User

    have = {u.username: u for u in User.objects.filter(username__startswith="bench_pool_")}
    missing = [User(username=f"bench_pool_{i:02d}", name=f"销售{i:02d}") for i in range(SALESPEOPLE)
               if f"bench_pool_{i:02d}" not in have]
    if missing:
        for user in missing:
            user.set_unusable_password()
        User.objects.bulk_create(missing)
    return list(User.objects.filter(username__startswith="bench_pool_").order_by("pk")[:SALESPEOPLE])


def _analyze() -> None:
    """PostgreSQL: fresh statistics of the tables a setup step just grew (autovacuum would within a minute;
    a plan made on the statistics of an empty table reads it once per id)."""
    from django.db import connection

    from shoal.customers.models import CustomerGroupMembership
    from shoal.pools.models import Cooldown
    from shoal.sales.models import Task

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (CustomerGroupMembership, Task, Cooldown):
                cursor.execute(f"ANALYZE {model._meta.db_table}")


def group_rule_figures(group) -> dict:
    from shoal.customers.models import CustomerGroupMembership
    from shoal.pools.engine import run_group_rules
    from shoal.pools.models import GroupRule

    GroupRule.objects.create(name="bench", order=1, target_group=group,
                             query={"field": "city", "op": "in", "value": GROUP_RULE_CITIES})
    result = run_group_rules(group_id=group.pk)
    members = CustomerGroupMembership.objects.filter(group=group).count()
    again = run_group_rules(group_id=group.pk)
    return {"grouped": result["grouped"], "members": members, "seconds": result["seconds"],
            "customers_per_s": round(result["grouped"] / max(result["seconds"], 1e-9)),
            "again_seconds": again["seconds"], "again_grouped": again["grouped"], "peak_rss_mb": _rss_mb()}


def _pool_customers(count: int) -> list[int]:
    """``count`` customers (the first by id), their quality = 10 × (0-6 equal-score tags)."""
    from django.db import connection

    from shoal.customers.models import Customer

    ids = list(Customer.objects.filter(in_recycle_bin=False).order_by("pk").values_list("pk", flat=True)[:count])
    table = Customer._meta.db_table
    with connection.cursor() as cursor:  # the tags' scores as the tags app would have summed them
        cursor.execute(f"DELETE FROM {QUALITY} WHERE customer_id <= %s", [ids[-1]])
        cursor.execute(f"INSERT INTO {QUALITY} (customer_id, score) SELECT id, 10 * ((id * 7919) %% 7) FROM {table} "
                       f"WHERE id <= %s", [ids[-1]])
    return ids


def assign_and_recycle_figures(group, pool: int) -> dict:
    from datetime import timedelta

    from django.db import transaction
    from django.db.models import Count, Sum
    from django.utils import timezone

    from shoal.customers.models import CustomerGroupMembership
    from shoal.pools import moves
    from shoal.pools.engine import run_assignment, run_recycle
    from shoal.pools.models import AssignmentRule, Cooldown, RecycleRecord, RecycleRule

    people = _salespeople()
    group.salespeople.set(people)
    ids = _pool_customers(pool)
    t = time.perf_counter()
    with transaction.atomic():
        moves.join_group(ids, group.pk, moves.context(None))
    join_seconds = round(time.perf_counter() - t, 3)
    _analyze()  # as autovacuum would after 100,000 new rows: the run's plans see the table as it is
    AssignmentRule.objects.create(name="bench", group=group, order=1)
    result = run_assignment(group_id=group.pk)
    per = list(CustomerGroupMembership.objects.filter(group=group, salesperson__isnull=False)
               .values("salesperson_id").annotate(n=Count("id"), q=Sum("customer__quality__score"))
               .values_list("n", "q"))
    counts, sums = [n for n, _ in per], [q or 0 for _, q in per]
    assign = {"customers": len(ids), "salespeople": len(people), "assigned": result["assigned"],
              "seconds": result["seconds"], "customers_per_s": round(result["assigned"] / max(result["seconds"], 1e-9)),
              "count_min": min(counts), "count_max": max(counts), "quality_sum_min": min(sums),
              "quality_sum_max": max(sums), "quality_max_over_min": round(max(sums) / max(min(sums), 1), 4),
              "join_group_seconds": join_seconds, "peak_rss_mb": _rss_mb()}
    # the assignments are 30 days old; a 7-day rule with a 3-day cooldown takes them all back
    CustomerGroupMembership.objects.filter(group=group).update(assigned_at=timezone.now() - timedelta(days=30))
    RecycleRule.objects.create(name="bench", group=group, order=1, days=7, cooldown_days=3)
    _analyze()  # the 100,000 new tasks and the changed memberships, as autovacuum would see them by then
    records_before = RecycleRecord.objects.count()
    result = run_recycle(group_id=group.pk)
    recycle = {"assignments": result["recycled"], "recycled": result["recycled"], "seconds": result["seconds"],
               "customers_per_s": round(result["recycled"] / max(result["seconds"], 1e-9)),
               "records": RecycleRecord.objects.count() - records_before,
               "cooldowns": Cooldown.objects.filter(group=group).count(), "peak_rss_mb": _rss_mb()}
    return {"assign": assign, "recycle": recycle}


def run() -> dict:
    from django.db import connection

    from shoal.customers.models import Customer

    out = {}
    pool_size = int(os.environ.get("SHOAL_BENCH_POOL", "100000"))
    steps = set((os.environ.get("SHOAL_BENCH_POOL_STEPS") or "group,assign").split(","))
    for size in sizes():
        load = ensure_customers(size)
        groups = _reset_groups()
        entry = {"customers": Customer.objects.count(), "load": load, "database": connection.vendor}
        if "group" in steps:
            entry["group_rule"] = group_rule_figures(groups["target"])
            groups = _reset_groups()
        if "assign" in steps:
            entry.update(assign_and_recycle_figures(groups["assign"], min(pool_size, size)))
        out[str(size)] = entry
    return {"sizes": out}
