"""Sales work (issue 13): the task center, the follow-up workspace and the workbench, through the real views.

Data (at each size in SHOAL_BENCH_SIZES, default "100000"; the issue's figures are at 1000000): ``bench.world``
with its work (shared with the scope and workbench benches, kept between runs): the demo customers, 5 groups, 50
salespeople in 3 departments, 60% of the customers in a group, half of those assigned, then as many tasks as
customers and twice as many follow-up records, spread over the 50 salespeople and the last 60 days:

- tasks: a follow-up task for each assigned customer (its salesperson), a normal task otherwise (a salesperson
  by id); 10% open, due from 30 days ago to 30 days ahead, priorities 1-4; the rest done or cancelled;
- follow-up records: two a customer, by the task's owner, in the last 60 days, a quarter effective, with a call
  time.

Timings (p50/p95 over SHOAL_BENCH_REPEAT requests, default 20, after a warm-up; ``cpu_p50_ms``: this process's
CPU time, which the machine's load does not stretch), logged in with a session, for a salesperson and for a manager
of the 50 salespeople (a manager in the three departments): ``task_center`` (the grouped task page),
``task_list`` (the list view), ``workspace`` (客户跟进任务), ``workbench`` (the workbench page alone),
``workbench_with_all_boards`` (the page and then every board it loads, one after the other: the most the user waits)
and each ``board:<url>`` on its own. Yesterday's rankings are kept 10 minutes a process: the ``…_cold`` figures are
the first reader's (the cache emptied before each request). Targets: pages p95 ≤ 150 ms; workbench with all
boards ≤ 300 ms, each board ≤ 300 ms.

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)        # keep it: a second run reuses the loaded database
    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh sales
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=1000000 scripts/bench.sh sales
"""

from __future__ import annotations

import re

from bench.bench_customers import timed
from bench.world import each_size, manager_of_all, repeat


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
    from django.core.cache import cache
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

    def whole_workbench(cold=False):
        if cold:  # yesterday's rankings are kept 10 minutes (sales.boards.ranking_rows): the first reader's wait
            cache.clear()
        get(_pages()["workbench"][0])
        for board in boards:
            get(board)

    out["workbench_with_all_boards"] = timed(whole_workbench, max(3, n // 4))
    out["workbench_with_all_boards_cold"] = timed(lambda: whole_workbench(cold=True), max(3, n // 4))
    for board in boards:
        out[f"board:{board}"] = timed(lambda board=board: get(board), n)
        if "ranking" in board:
            out[f"board:{board}:cold"] = timed(lambda board=board: (cache.clear(), get(board)), max(3, n // 4))
    return out


def run():
    def measure(people: dict) -> dict:
        from shoal.accounts.models import User

        personas = {"salesperson": User.objects.get(pk=people["sales"][0][0]), "manager_of_50": manager_of_all(people)}
        return {label: persona_figures(label, user, repeat()) for label, user in personas.items()}

    return each_size(measure, work=True)


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["sales"]))
