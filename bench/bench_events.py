"""Events (issue 14): ingestion end to end over real HTTP, and single-event latency.

A gunicorn server (``shoal serve``, 2 processes × 4 threads) and SHOAL_BENCH_EVENT_WORKERS events workers
(``shoal events process --follow``, default 1) run as subprocesses on the benchmark's database; clients post over
HTTP with an application key.

- ``batch``: SHOAL_BENCH_EVENTS events (default 100,000) in batches of 1,000 from 2 client threads, for
  SHOAL_BENCH_EVENT_CUSTOMERS customers (default 20,000, created by a first pass; 1 % of the measured events
  name a new customer, created on the way); timed from the first request until every event is accepted AND
  processed into the per-customer statistics (the queue is empty). Target: ≥ 5,000 events/s.
- ``single``: 2,000 single events, one after the other (p50 / p95 / p99 latency). Target: p99 ≤ 50 ms.

Checks at the end: the statistics count every accepted event exactly once (with two workers too: each batch is
claimed by one of them); nothing is left in the queue.

Strategies (``bench/strategy_load.py``; SHOAL_BENCH_STRATEGIES=0 leaves them out): before the measured batches,
20 strategies are enabled of which 2 match each purchase event (3 events in 4), each with one action delayed an
hour, so the worker's processing includes matching them and writing their tasks. At the end, SHOAL_BENCH_TASKS
(default 100,000) of those tasks are made due and two worker processes run them (``strategy_tasks``: seconds,
target ≤ 60, and a check that none ran twice).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.5) - 1))], 2)


def _event(i: int, customer: str, prefix: str) -> dict:
    return {"event": "purchase" if i % 4 else "login", "id": f"{prefix}-{i}",
            "timestamp": "2026-12-01T10:00:00+08:00", "customer": {"ent_user_id": customer},
            "data": {"amount": i % 997, "sku": f"SKU{i % 50}", "channel": "app"} if i % 4 else {"device": "ios"}}


def _wait_queue_empty(workers, timeout: float = 600) -> float:
    from shoal.events.models import PendingEvent

    deadline = time.perf_counter() + timeout
    while PendingEvent.objects.exists():
        if time.perf_counter() > deadline or any(w.poll() is not None for w in workers):
            raise RuntimeError("the workers did not empty the queue")
        time.sleep(0.02)
    return time.perf_counter()


def _worker_summary(proc) -> dict:
    """The JSON summary an events worker prints when it stops (``processed``: the events it claimed)."""
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {}
    lines = (out or "").strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}


def run():
    import logging

    import httpx
    from django.db import connection

    logging.getLogger("httpx").setLevel(logging.WARNING)

    from shoal.accounts import services as accounts
    from shoal.core.actors import SYSTEM
    from shoal.events.models import Event, EventResult, EventStat
    from shoal.events.services import types
    from shoal.events.services.ingest import Caller, ingest
    from shoal.events.services.processing import process_pending

    total = int(os.environ.get("SHOAL_BENCH_EVENTS", "100000"))
    customers = int(os.environ.get("SHOAL_BENCH_EVENT_CUSTOMERS", "20000"))
    app, key = accounts.application_create(actor=SYSTEM, name=f"bench-{time.time_ns()}")
    for code, fields in (("purchase", [{"key": "amount", "type": "number", "required": True},
                                       {"key": "sku", "type": "text"}, {"key": "channel", "type": "text"}]),
                         ("login", [{"key": "device", "type": "text"}])):
        if not types.EventType.objects.filter(code=code).exists():
            types.event_type_create(actor=SYSTEM, data={"name": code, "code": code, "fields": fields})

    # the customers, created by events (in process: this is not what is measured)
    started = time.perf_counter()
    caller = Caller(application=app, rate_limited=False)
    for start in range(0, customers, 1000):
        ingest(caller=caller, items=[_event(i, f"bench-{i}", "seed") for i in range(start, min(customers, start + 1000))])
    process_pending()
    seeded = {"customers": customers, "seconds": round(time.perf_counter() - started, 2)}
    with_strategies = os.environ.get("SHOAL_BENCH_STRATEGIES", "1") != "0"
    if with_strategies:
        from bench import strategy_load

        seeded["strategies"] = strategy_load.setup(os.environ.get("SHOAL_BENCH_STRATEGY_PROCESSOR", "bench_noop"))
    connection.close()

    port = _free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2"}
    web = subprocess.Popen([sys.executable, "-m", "shoal.cli", "serve", "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen([sys.executable, "-m", "shoal.cli", "events", "-v", "0", "process", "--follow",
                                 "--interval", "0.05"], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(max(1, int(os.environ.get("SHOAL_BENCH_EVENT_WORKERS", "1"))))]
    base = f"http://127.0.0.1:{port}"
    headers = {"X-App-Key": key}
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

        # -- batches from two client threads
        batches = [json.dumps({"events": [_event(i, f"bench-{i % customers}" if i % 100 else f"bench-new-{i}", "batch")
                                          for i in range(start, min(total, start + 1000))]})
                   for start in range(0, total, 1000)]  # encoded before the clock starts
        statuses: dict[str, int] = {}
        request_ms: list[float] = []
        lock = threading.Lock()

        def client(mine):
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                for batch in mine:
                    t = time.perf_counter()
                    resp = http.post("/api/v1/events/batch", content=batch,
                                     headers={"Content-Type": "application/json"})
                    elapsed = (time.perf_counter() - t) * 1000
                    resp.raise_for_status()
                    with lock:
                        request_ms.append(elapsed)
                        for r in resp.json()["results"]:
                            statuses[r["status"]] = statuses.get(r["status"], 0) + 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(batches[n::2],)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_at = time.perf_counter()
        done_at = _wait_queue_empty(workers)
        seconds = done_at - t0
        batch_result = {
            "events": total, "statuses": statuses, "accept_seconds": round(accepted_at - t0, 2),
            "end_to_end_seconds": round(seconds, 2), "events_per_s": round(total / seconds),
            "accepted_per_s": round(total / (accepted_at - t0)),
            "batch_request_p50_ms": _percentile(request_ms, 0.5), "batch_request_p99_ms": _percentile(request_ms, 0.99),
        }

        # -- single events, one after the other
        samples = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for i in range(2000):
                body = json.dumps(_event(i, f"bench-{(i * 7) % customers}", "single"))
                t = time.perf_counter()
                resp = http.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
                samples.append((time.perf_counter() - t) * 1000)
                if resp.status_code != 202:
                    raise RuntimeError(resp.text)
        _wait_queue_empty(workers)
        single = {"n": len(samples), "p50_ms": round(statistics.median(samples), 2),
                  "p95_ms": _percentile(samples, 0.95), "p99_ms": _percentile(samples, 0.99),
                  "max_ms": round(max(samples), 2)}
    finally:
        web.terminate()
        for proc in workers:
            proc.terminate()  # a worker stops on SIGTERM and prints its summary
        by_worker = [_worker_summary(proc) for proc in workers]
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()

    counted = sum(EventStat.objects.values_list("count", flat=True))
    succeeded = Event.objects.filter(status="success").count()
    measured = statuses.get("accepted", 0) + len(samples)  # the seed was processed in this process
    processed = [w.get("processed") for w in by_worker]
    out = {"event_workers": len(workers), "seed": seeded, "batch": batch_result, "single": single,
           "check": {"events_succeeded": succeeded, "stats_count_sum": counted, "exact": counted == succeeded,
                     "processed_by_worker": processed, "each_once": sum(filter(None, processed)) == measured}}
    if with_strategies:
        from shoal.strategies.models import StrategyTask

        purchases = Event.objects.filter(status="success", event_code="purchase", client_id__startswith="batch-").count()
        tasks = StrategyTask.objects.filter(event_id__in=Event.objects.filter(client_id__startswith="batch-")
                                            .values("pk")).count()
        matched = EventResult.objects.filter(event_id__in=Event.objects.filter(client_id__startswith="batch-")
                                             .values("pk"), matched=True, processor="").count()
        out["strategy_matching"] = {"purchases": purchases, "tasks": tasks, "history_matched": matched,
                                    "exact": tasks == matched == 2 * purchases}
        out["strategy_tasks"] = strategy_load.run_two_workers(int(os.environ.get("SHOAL_BENCH_TASKS", "100000")))
    return {**out, "load_average": os.getloadavg()}
