"""Scoped reads (issue 12): the customer list page and the API list for a salesperson, a group admin and a
department manager, first page and a deep page, counts included, through the real views.

Data (at each size in SHOAL_BENCH_SIZES, default "100000"; the issue's figures are at 1000000): the demo
customers (``bench_customers.ensure_customers``: the demo bulk loader), then the memberships replaced by the
bench's own in one set-based statement: 5 groups (one with its public sea hidden from its salespeople), 50
salespeople (10 a group) in 3 departments, a group admin each, 3 department managers; 60% of the customers in
a group, half of those assigned to a salesperson; 2% of the customers in a second group's public sea.

Timings (p50/p95 over SHOAL_BENCH_REPEAT requests, default 20, after a warm-up) per persona:
``page_first`` / ``page_deep`` (the list page, ``?p=1`` / ``?p=5000`` at 20 a page, through the admin changelist
with a logged-in session), ``api_first`` / ``api_deep`` (``GET /api/v1/customers?page=…`` with a token); each
response carries the total count. Targets: first pages p95 ≤ 150 ms, deep pages ≤ 1 s, on both databases.

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)        # keep it: a second run reuses the loaded database
    SHOAL_BENCH_SIZES=200000 scripts/bench.sh scope
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=200000 scripts/bench.sh scope
    python -m bench.bench_scope                    # the same, without the harness
"""

from __future__ import annotations

import os
import re
import time

from bench.bench_customers import ensure_customers, sizes, timed

GROUPS = 5
SALES_PER_GROUP = 10
DEPARTMENTS = 3
DEEP_PAGE = int(os.environ.get("SHOAL_BENCH_DEEP_PAGE") or 5000)


def _repeat() -> int:
    return int(os.environ.get("SHOAL_BENCH_REPEAT") or 20)


def _user(username, role, departments=()):
    from shoal.accounts.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create(username=username, name=username, must_change_password=False)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.roles.add(role)
        user.departments.add(*departments)
    return user


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
        people = [_user(f"bench_sales_{g}_{s}", roles["salesperson"],
                        [departments[(g * SALES_PER_GROUP + s) % DEPARTMENTS]]) for s in range(SALES_PER_GROUP)]
        group.salespeople.add(*people)
        admin = _user(f"bench_admin_{g}", lead_role)
        group.admins.add(admin)
        groups.append(group)
        sales.append([p.pk for p in people])
    managers = [_user(f"bench_manager_{d}", roles["manager"], [departments[d]]) for d in range(DEPARTMENTS)]
    groups[0].admins.add(managers[0])  # a manager who also administers a group
    return {"groups": [g.pk for g in groups], "sales": sales, "managers": managers,
            "admins": [g.admins.order_by("pk").first() for g in groups]}


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


def _count_of(html: bytes) -> int | None:
    """The total the list page shows ("123 results" / "123 条结果")."""
    match = re.search(r'(\d[\d,]*)\s*(?:results?|条结果)', html.decode())
    return int(match.group(1).replace(",", "")) if match else None


def persona_figures(label: str, user, n: int) -> dict:
    from django.test import Client

    from shoal.accounts.models import ApiToken
    from shoal.customers.selectors import customer_queryset

    expected = customer_queryset(actor=user).count()
    page = Client()
    page.force_login(user)
    _, raw = ApiToken.issue(user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    seen: dict = {}

    def get_page(p):
        response = page.get("/customers/customer/", {"p": p})
        assert response.status_code == 200, (label, p, response.status_code)
        seen[f"page_{p}"] = _count_of(response.content)

    def get_api(p):
        response = api.get("/api/v1/customers", {"page": p, "page_size": 20})
        assert response.status_code == 200, (label, p, response.status_code, response.content[:300])
        data = response.json()
        seen[f"api_{p}"] = (data["count"], len(data["items"]))

    deep = min(DEEP_PAGE, max(1, (expected + 19) // 20))
    out = {"customers_in_scope": expected, "deep_page": deep,
           "page_first": timed(lambda: get_page(1), n), "page_deep": timed(lambda: get_page(deep), n),
           "api_first": timed(lambda: get_api(1), n), "api_deep": timed(lambda: get_api(deep), n)}
    counts = {seen.get("page_1"), seen.get(f"page_{deep}"), seen["api_1"][0], seen[f"api_{deep}"][0]}
    out["counts_agree"] = counts == {expected}
    if not out["counts_agree"]:
        out["counts_seen"] = {k: v for k, v in seen.items()}
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
        figures["data"] = ensure_memberships(people)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        n = _repeat()
        personas = {"salesperson": people["sales"][0][0], "group_admin": people["admins"][1],
                    "department_manager": people["managers"][1], "manager_and_group_admin": people["managers"][0]}
        from shoal.accounts.models import User

        for label, user in personas.items():
            user = user if isinstance(user, User) else User.objects.get(pk=user)
            figures[label] = persona_figures(label, user, n)
        out[str(size)] = figures
    return {"sizes": out}


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["scope"]))
