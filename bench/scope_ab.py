"""In-process A/B of the customer list page and the API list on a bench_scope world: requests alternate the
per-request memo + fast cells (on) and unfold's cells without the memo (off), so a loaded machine stretches both
alike; CPU time and wall medians, queries per request.

    SHOAL_DATA_DIR=<a bench_scope world> PYTHONPATH=src:. python -m bench.scope_ab 30
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time

PERSONAS = ("bench_sales_0_0", "bench_admin_1", "bench_manager_1")


def _one(fn, on_off, n: int) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cpu, wall, queries = {True: [], False: []}, {True: [], False: []}, {}
    for on in (True, False):
        on_off(on)
        fn()
        with CaptureQueriesContext(connection) as ctx:
            assert fn().status_code == 200
        queries[on] = len(ctx.captured_queries)
    for i in range(n):
        for on in ((True, False) if i % 2 else (False, True)):
            on_off(on)
            t, c = time.perf_counter(), time.process_time()
            fn()
            cpu[on].append((time.process_time() - c) * 1000)
            wall[on].append((time.perf_counter() - t) * 1000)
    med = statistics.median
    return (f"cpu p50 off {med(cpu[False]):6.1f} on {med(cpu[True]):6.1f} ms | wall p50 off {med(wall[False]):6.1f} "
            f"on {med(wall[True]):6.1f} | queries off {queries[False]} on {queries[True]}")


def main(n: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
    import django

    django.setup()
    from django.test import Client
    from unfold.templatetags import unfold_list

    from shoal.accounts.models import ApiToken, User
    from shoal.core import admin_lists, request_memo
    from shoal.core.warm import freeze

    freeze()
    fast, real_active = unfold_list.items_for_result, request_memo.active

    def on_off(on: bool) -> None:
        unfold_list.items_for_result = fast if on else admin_lists._original_items_for_result
        request_memo.active = real_active if on else contextlib.nullcontext

    for name in PERSONAS:
        user = User.objects.get(username=name)
        page = Client()
        page.force_login(user)
        _, raw = ApiToken.issue(user)
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        print(f"{name:16s} page p1 ", _one(lambda p=page: p.get("/customers/customer/", {"p": 1}), on_off, n),
              flush=True)
        print(f"{name:16s} API p1  ", _one(lambda a=api: a.get("/api/v1/customers", {"page": 1, "page_size": 20}),
                                           on_off, n), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
