"""Benchmark harness: runs every bench_*.py module's ``run()`` and prints one JSON object per benchmark.

Usage: python -m bench.run [name ...]   (names without the bench_ prefix; default: all)
Each benchmark gets a fresh database of its own under a temporary SHOAL_DATA_DIR unless
DATABASE_URL is set (then it must point at an empty, throw-away PostgreSQL database).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import tempfile
import time


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def main(argv: list[str]) -> int:
    os.environ.setdefault("SHOAL_DATA_DIR", tempfile.mkdtemp(prefix="shoal-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from shoal.core.warm import freeze

    freeze()  # as the server does at start (shoal.wsgi): the timings are those of a server process
    import bench

    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")]
    wanted = {f"bench_{n}" for n in argv} or set(names)
    status = 0
    for name in sorted(wanted & set(names)):
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        try:
            result = module.run()
        except Exception as exc:  # report and go on with the next benchmark
            result, status = {"error": f"{type(exc).__name__}: {exc}"}, 1
        print(json.dumps({"benchmark": name.removeprefix("bench_"), "database": connection.vendor,
                          "seconds": round(time.perf_counter() - started, 3), "machine": machine(), **result},
                         ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
