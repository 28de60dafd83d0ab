"""The workbench (issue 13) alone: the page, each board on its own and the whole workbench (the page then every
board, one after the other: the most a user waits), and ``GET /api/v1/workbench``, for a salesperson, a manager of
the 50 salespeople (three departments) and an admin (data scope "all").

Data: the same as ``bench_sales`` (``bench.world`` with its work: the demo customers, 5 groups and 50
salespeople, as many tasks as customers and twice as many follow-up records over the last 60 days, today's and
yesterday's among them). Targets: the whole workbench ≤ 300 ms, each board ≤ 300 ms (p95).

    export SHOAL_BENCH_DATA_DIR=$(mktemp -d)        # keep it: a second run reuses the loaded database
    SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workbench
    DATABASE_URL=postgres://… SHOAL_BENCH_SIZES=1000000 scripts/bench.sh workbench
"""

from __future__ import annotations

from bench.bench_customers import timed
from bench.bench_sales import _board_urls
from bench.world import each_size, manager_of_all, repeat, user


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
    def measure(people: dict) -> dict:
        from shoal.accounts.demo import ensure_default_roles
        from shoal.accounts.models import User

        personas = {"salesperson": User.objects.get(pk=people["sales"][0][0]), "manager_of_50": manager_of_all(people),
                    "admin": user("bench_workbench_admin", ensure_default_roles()["admin"])}
        return {label: persona_figures(u, repeat()) for label, u in personas.items()}

    return each_size(measure, work=True)


if __name__ == "__main__":
    import sys

    from bench.run import main

    sys.exit(main(["workbench"]))
