"""Customers: demo load rate, identify throughput (single and batch), list page and keyword search
latency (p50/p95), at each size in SHOAL_BENCH_SIZES (default "100000"; e.g. "100000,1000000").

The database is topped up with demo customers (`shoal demo --customers`) to each size in turn.
A run goes through the sizes in order, each benchmark module in turn, so give one size per run and
keep the data directory between runs (the second run tops the same database up):

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)
    SHOAL_BENCH_SIZES=100000 scripts/bench.sh customers segments
    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh customers segments

On PostgreSQL set DATABASE_URL to an empty throw-away database (see docs/benchmarks.md).
"""

from __future__ import annotations

import os
import statistics
import time

# Mobile prefixes the demo generator never uses, so identify benchmarks create new customers.
_FRESH_PREFIXES = ("147", "166", "198", "175")
_counter = {"n": 0}


def sizes() -> list[int]:
    raw = os.environ.get("SHOAL_BENCH_SIZES") or "100000"
    return sorted({int(s.replace("_", "")) for s in raw.split(",") if s.strip()})


def timed(fn, n: int) -> dict:
    """p50 / p95 wall time of ``fn`` over ``n`` calls after a warm-up, and the median CPU time this process spent
    (``cpu_p50_ms``: what a busy machine does not stretch; on SQLite the database's work is in it too)."""
    fn()  # warm-up
    samples, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95 + 0.5) - 1)], 2), "n": n,
            "cpu_p50_ms": round(statistics.median(cpu), 2)}


def ensure_customers(size: int) -> dict | str | None:
    """Top the database up to ``size`` customers with demo data; the load figures, None when the size
    is there already, "too_many" when the database has more (bench_customers adds ~7,000 a run)."""
    from shoal.accounts.demo import load
    from shoal.customers.demo import load_customers
    from shoal.customers.models import Customer

    load()
    have = Customer.objects.count()
    if have > size * 1.1:
        return "too_many"
    if have >= size:
        return None
    result = load_customers(count=size - have, seed=size)
    return {"added": result["customers"], "seconds": result["seconds"],
            "customers_per_s": round(result["customers"] / result["seconds"]), "phases": result["phases"]}


def admin_user():
    from shoal.accounts.demo import ensure_default_roles
    from shoal.accounts.models import User
    from shoal.accounts.services import user_create

    user = User.objects.filter(username="bench_admin").first()
    if user is None:
        user = user_create(actor=None, username="bench_admin", password="x-bench-1", must_change_password=False,
                           role_ids=[ensure_default_roles()["admin"].pk])
    return user


def fresh_mobile() -> str:
    _counter["n"] += 1
    n = _counter["n"] + int(time.time()) % 1000 * 100_000
    return f"+86{_FRESH_PREFIXES[n // 10**8 % len(_FRESH_PREFIXES)]}{n % 10**8:08d}"


def _item(mobile: str) -> dict:
    return {"mobile": mobile, "name": "基准客户", "city": "深圳", "source": "api",
            "attributes": {"plan": "pro", "assets": 12345.67, "files": 3}}


def identify_figures() -> dict:
    from shoal.customers.models import Customer
    from shoal.customers.services import customer_identify, customer_identify_batch

    out = {}
    n = 300
    items = [_item(fresh_mobile()) for _ in range(n)]
    t = time.perf_counter()
    for item in items:
        customer_identify(actor=None, data=item)
    out["identify_single_new_per_s"] = round(n / (time.perf_counter() - t))
    existing = list(Customer.objects.order_by("?").values_list("mobile", flat=True)[:n]) if n else []
    t = time.perf_counter()
    for mobile in existing:
        customer_identify(actor=None, data={"mobile": mobile, "city": "杭州"})
    out["identify_single_existing_per_s"] = round(len(existing) / (time.perf_counter() - t))
    for label, batches in (("new", [[_item(fresh_mobile()) for _ in range(1000)] for _ in range(5)]),):
        t = time.perf_counter()
        results = [customer_identify_batch(actor=None, items=b) for b in batches]
        elapsed = time.perf_counter() - t
        errors = sum(1 for r in results for x in r if "error" in x or "code" in x)
        out[f"identify_batch_{label}_per_s"] = round(sum(len(b) for b in batches) / elapsed)
        out[f"identify_batch_{label}_errors"] = errors
    mixed = [_item(fresh_mobile()) if i % 2 else {"mobile": m, "city": "成都"}
             for i, m in enumerate(Customer.objects.order_by("?").values_list("mobile", flat=True)[:1000])]
    t = time.perf_counter()
    customer_identify_batch(actor=None, items=mixed)
    out["identify_batch_half_existing_per_s"] = round(len(mixed) / (time.perf_counter() - t))
    return out


def latency_figures(admin) -> dict:
    from shoal.accounts.models import User
    from shoal.customers.models import Customer
    from shoal.customers.selectors import customer_list

    def page(actor, **kw):
        qs = customer_list(actor=actor, **kw)
        list(qs.select_related(None)[:20])
        qs.count()

    def rows_only(actor, **kw):
        list(customer_list(actor=actor, **kw).select_related(None)[:20])

    mobiles = list(Customer.objects.order_by("?").values_list("mobile", flat=True)[:40])
    spaced = [f"{m[3:6]} {m[6:10]} {m[10:]}" for m in mobiles]  # "138 0013 8000", as people type it
    it = iter(spaced * 10)
    out = {
        "list_page_admin": timed(lambda: page(admin), 30),
        "list_rows_admin": timed(lambda: rows_only(admin), 30),
        "search_mobile_admin": timed(lambda: page(admin, q=next(it)), 30),
    }
    sales = User.objects.filter(username="sales01").first()
    if sales is not None:
        out["list_page_salesperson"] = timed(lambda: page(sales), 30)
        out["search_mobile_salesperson"] = timed(lambda: page(sales, q=next(it)), 30)
    return out


def run():
    admin = admin_user()
    out = {}
    for size in sizes():
        figures = {}
        load = ensure_customers(size)
        if load == "too_many":
            out[str(size)] = {"skipped": "the database has more customers already; run each size separately"}
            continue
        if load:
            figures["demo_load"] = load
        figures.update(latency_figures(admin))
        figures.update(identify_figures())
        out[str(size)] = figures
    return {"sizes": out}
