"""Scoped reads (issue 12): the customer list page and the API list for a salesperson, a group admin and a
department manager, first page and a deep page, counts included, through the real views.

Data (at each size in SHOAL_BENCH_SIZES, default "100000"; the issue's figures are at 1000000): ``bench.world``
(shared with the sales and workbench benches): the demo customers, then the memberships replaced by the bench's
own in one set-based statement: 5 groups (one with its public sea hidden from its salespeople), 50 salespeople
(10 a group) in 3 departments, a group admin each, 3 department managers; 60% of the customers in a group, half of
those assigned to a salesperson; 2% of the customers in a second group's public sea.

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

from bench.bench_customers import timed
from bench.world import each_size, repeat

DEEP_PAGE = int(os.environ.get("SHOAL_BENCH_DEEP_PAGE") or 5000)


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
    def measure(people: dict) -> dict:
        from shoal.accounts.models import User

        personas = {"salesperson": people["sales"][0][0], "group_admin": people["admins"][1],
                    "department_manager": people["managers"][1], "manager_and_group_admin": people["managers"][0]}
        n = repeat()
        return {label: persona_figures(label, u if isinstance(u, User) else User.objects.get(pk=u), n)
                for label, u in personas.items()}

    return each_size(measure)


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["scope"]))
