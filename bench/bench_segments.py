"""Segments (condition trees): count for one indexed field, for two custom fields, a list page with a
3-leaf tree sorted by created time (p50/p95) and page 1000 of it, at each size in SHOAL_BENCH_SIZES
(default "100000"). Uses the demo custom fields (plan, assets, …); see bench_customers for sizes.
"""

from __future__ import annotations

import time

from bench.bench_customers import admin_user, ensure_customers, sizes, timed

ONE_STANDARD = {"field": "source", "op": "eq", "value": "ads"}  # customer_source_idx
ONE_CUSTOM = {"field": "plan", "op": "eq", "value": "enterprise"}  # custom field shown in filters (indexed)
TWO_CUSTOM = {"all": [{"field": "plan", "op": "eq", "value": "pro"},
                      {"field": "assets", "op": "gte", "value": 100000}]}
# Broad enough (~75% of demo customers) that page 1000 exists at 100k.
THREE_LEAVES = {"all": [{"field": "plan", "op": "in", "value": ["free", "basic", "pro"]},
                        {"field": "assets", "op": "gte", "value": 1000},
                        {"field": "vip", "op": "eq", "value": False}]}
# Selective (~1%): the newest-first scan must read far before it finds 20.
SELECTIVE = {"all": [{"field": "plan", "op": "in", "value": ["pro", "enterprise"]},
                     {"field": "assets", "op": "gte", "value": 10000},
                     {"field": "city", "op": "eq", "value": "上海"}]}
NEWEST = [{"field": "created_at", "dir": "desc"}]


def _once(fn) -> dict:
    fn()  # warm-up
    samples = []
    for _ in range(3):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return {"ms": round(min(samples), 2), "max_ms": round(max(samples), 2), "result": result}


def figures(admin) -> dict:
    from shoal.segments.selectors import segment_page, segment_queryset

    def count(query):
        return lambda: segment_queryset(actor=admin, query=query).order_by().count()

    totals = {}

    def page(number, query=THREE_LEAVES):
        # the page query as /customers/search runs it; its count is the "count" figures above
        key = str(query)
        if key not in totals:
            totals[key] = segment_queryset(actor=admin, query=query).order_by().count()

        def fetch():
            qs = segment_queryset(actor=admin, query=query, sort=NEWEST)
            rows = qs.values("id", "name", "mobile", "created_at", "attributes")
            return len(segment_page(rows, start=(number - 1) * 20, size=20, total=totals[key]))
        return fetch

    return {
        "count_one_standard_indexed": _once(count(ONE_STANDARD)),
        "count_one_custom_indexed": _once(count(ONE_CUSTOM)),
        "count_two_custom": _once(count(TWO_CUSTOM)),
        "count_three_leaves": _once(count(THREE_LEAVES)),
        "list_page_1_three_leaves_newest": timed(page(1), 20),
        "list_page_1000_three_leaves_newest": _once(page(1000)),
        "list_page_1_selective_three_leaves_newest": timed(page(1, SELECTIVE), 20),
        "list_page_1000_selective_three_leaves_newest": _once(page(1000, SELECTIVE)),
    }


def run():
    admin = admin_user()
    out = {}
    for size in sizes():
        load = ensure_customers(size)
        if load == "too_many":
            out[str(size)] = {"skipped": "the database has more customers already; run each size separately"}
            continue
        out[str(size)] = {**({"demo_load": load} if load else {}), **figures(admin)}
    return {"sizes": out}
