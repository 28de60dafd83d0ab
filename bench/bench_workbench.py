"""The workbench (issue 13) alone: the page, each board on its own and the whole workbench (the page then every
board, one after the other: the most a user waits), and ``GET /api/v1/workbench``, for a salesperson, a manager of
the 50 salespeople (three departments) and an admin (data scope "all").

Data: the same as ``bench_sales`` (its ``ensure_work``: the demo customers, 5 groups and 50 salespeople, as many
tasks as customers and twice as many follow-up records over the last 60 days), plus today's and yesterday's share
of those records. Targets: the whole workbench ≤ 300 ms, each board ≤ 300 ms (p95).

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)        # keep it: a second run reuses the loaded database
    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workbench
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workbench
"""

from __future__ import annotations

import os

from bench.bench_customers import ensure_customers, sizes, timed
from bench.bench_sales import _board_urls, _manager_of_all, ensure_work
from bench.bench_scope import _repeat, _user, ensure_memberships, ensure_people


def persona_figures(user, n: int) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    out: dict = {}

    def get(url, **headers):
        response = client.get(url, **headers)
        assert response.status_code == 200, (user.username, url, response.status_code)
        return response

    out["page"] = timed(lambda: get("/"), n)
    boards = _board_urls(get("/").content.decode())
    out["boards"] = len(boards)

    def whole():
        get("/")
        for board in boards:
            get(board)

    out["workbench_with_all_boards"] = timed(whole, max(3, n // 4))
    for board in boards:
        out["board:" + board.rstrip("/").rsplit("/", 1)[1]] = timed(lambda board=board: get(board), n)
    out["api"] = timed(lambda: get("/api/v1/workbench"), max(3, n // 4))
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
        people = ensure_people()
        figures["memberships"] = ensure_memberships(people)
        figures["work"] = ensure_work(size, people)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        from shoal.accounts.demo import ensure_default_roles
        from shoal.accounts.models import User

        n = _repeat()
        personas = {"salesperson": User.objects.get(pk=people["sales"][0][0]),
                    "manager_of_50": _manager_of_all(people),
                    "admin": _user("bench_workbench_admin", ensure_default_roles()["admin"])}
        for label, user in personas.items():
            figures[label] = persona_figures(user, n)
        out[str(size)] = figures
    return {"sizes": out}


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["workbench"]))
