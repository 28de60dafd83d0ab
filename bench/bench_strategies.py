"""Strategies (issue 14): events matched by 20 enabled strategies end to end, and due strategy tasks run by two
workers.

1. ``ingest`` / ``process``: SHOAL_BENCH_EVENTS events (default 50,000) of one type, for 10,000 customers, sent
   through the ingestion service in batches of 1,000 (what ``POST /api/v1/events/batch`` calls), then processed
   by the events worker (statistics, then the strategies: matching in memory, customer look-ups, one INSERT
   each of the tasks, the history's results and the counters per batch). 20 strategies are enabled and each
   event matches exactly 2 of them (``kind = k<n>`` and ``channel = app``; the other 18 are evaluated and do
   not match); each strategy has one action, delayed one hour, so 2 tasks per event. ``events_per_s`` is
   events accepted and processed per second (ingestion + processing); ``baseline_process_events_per_s`` is
   the same processing with no strategy enabled (the events app alone).
2. ``run``: the tasks made above (2 per event: 100,000 at the default size) are made due, then two worker
   processes run ``run_due`` until none is left; ``run_s`` is the wall time. Each task must have been claimed
   once (``attempts = 1``), run once (one processor call per delivery id) and be executed. The action's
   processor is SHOAL_BENCH_STRATEGY_PROCESSOR: ``bench_noop`` (default: the pipeline alone — claims, the
   automation app's call record, results) or a built-in such as ``add_tag``.

    SHOAL_BENCH_EVENTS=50000 scripts/bench.sh strategies
    DATABASE_URL=postgres://… SHOAL_BENCH_EVENTS=50000 scripts/bench.sh strategies
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from shoal.core.processors import SUCCEEDED, ProcessorSpec, register_processor, result

CUSTOMERS = 10_000
KINDS = 10
BATCH = 1000


def _noop(*, customer, event_data, params, context):
    return result(SUCCEEDED)


register_processor(ProcessorSpec(code="bench_noop", label="No-op (benchmark)", run=_noop, order=1000))


def _setup(processor: str) -> dict:
    from shoal.accounts import services as accounts
    from shoal.accounts.demo import ensure_default_roles
    from shoal.strategies.models import Strategy
    from shoal.strategies.services import strategies as services

    admin = ensure_default_roles()["admin"]
    editor, approver = (accounts.user_create(actor=None, username=f"bench_{who}_{uuid.uuid4().hex[:6]}",
                                             role_ids=[admin.pk], must_change_password=False, password="bench-pass-1")
                        for who in ("editor", "approver"))
    params = {}
    if processor == "add_tag":
        from shoal.tags import services as tag_services
        from shoal.tags.models import TagCategory

        category = TagCategory.objects.create(name="bench strategies")
        params = {"tag_id": tag_services.tag_create(actor=None, data={"name": "bench", "category_id": category.pk}).pk}
    for n in range(2 * KINDS):
        second = n >= KINDS
        conditions = {"all": [{"field": "kind", "op": "eq", "value": f"k{n % KINDS}"},
                              ({"field": "channel", "op": "eq", "value": "app"} if second else
                               {"field": "amount", "op": "gt", "value": 0})]}
        strategy = services.strategy_create(actor=editor, data={
            "name": f"bench {n}", "event": "bench_pay", "conditions": conditions,
            "actions": [{"processor": processor, "params": params, "delay_hours": 1}]})
        services.strategy_approve(actor=approver, strategy=strategy)
    return {"strategies": Strategy.objects.filter(enabled=True).count()}


def _events(count: int, offset: int = 0) -> list[dict]:
    return [{"event": "bench_pay", "id": f"bench-{offset + i}", "customer": {"mobile": f"1370000{(offset + i) % CUSTOMERS:04d}"},
             "data": {"amount": (i % 500) + 1, "kind": f"k{i % KINDS}", "channel": "app"}} for i in range(count)]


def _ingest(items: list[dict]) -> float:
    from shoal.events.services.ingest import Caller, ingest

    caller = Caller(source="cli", rate_limited=False)
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        results = ingest(caller=caller, items=items[start:start + BATCH])
        assert all(r["status"] == "accepted" for r in results), results[:3]
    return time.perf_counter() - started


def _process() -> float:
    from shoal.events.services.processing import process_pending

    started = time.perf_counter()
    process_pending()
    return time.perf_counter() - started


WORKER = """
import os, sys, time
sys.path.insert(0, os.getcwd())
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
django.setup()
import bench.bench_strategies  # the bench processor
from shoal.strategies.services.execution import run_due
total = 0
while True:
    result = run_due(max_seconds=None, limit=int(os.environ.get("SHOAL_BENCH_CLAIM", "500")))
    total += result["run"]
    if not result["left"]:
        break
print(total)
"""


def _run_two_workers() -> tuple[float, list[int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    counts = [int(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    return time.perf_counter() - started, counts


def run() -> dict:
    from django.db.models import Count, Max
    from django.utils import timezone

    from shoal.automation.models import ProcessorCall
    from shoal.strategies.models import Strategy, StrategyTask, TaskStatus

    size = int(os.environ.get("SHOAL_BENCH_EVENTS", "50000"))
    processor = os.environ.get("SHOAL_BENCH_STRATEGY_PROCESSOR", "bench_noop")
    out = {"events": size, "processor": processor}
    from shoal.events.models import EventType

    EventType.objects.create(name="Bench payment", code="bench_pay", create_customers=True, fields=[
        {"key": "amount", "type": "number", "label": "Amount"}, {"key": "kind", "type": "text", "label": "Kind"},
        {"key": "channel", "type": "text", "label": "Channel"}])
    # customers first (their creation is the events app's first-contact cost, not the steady state)
    _ingest(_events(CUSTOMERS, offset=10_000_000))
    _process()
    baseline_items = _events(min(size, 20_000), offset=20_000_000)
    ingest_s = _ingest(baseline_items)
    process_s = _process()
    out["baseline_process_events_per_s"] = round(len(baseline_items) / process_s)
    out["baseline_ingest_events_per_s"] = round(len(baseline_items) / ingest_s)
    out.update(_setup(processor))
    ingest_s = _ingest(_events(size))
    process_s = _process()
    tasks = StrategyTask.objects.count()
    out.update({"ingest_s": round(ingest_s, 2), "process_s": round(process_s, 2),
                "ingest_events_per_s": round(size / ingest_s), "process_events_per_s": round(size / process_s),
                "events_per_s": round(size / (ingest_s + process_s)), "tasks": tasks,
                "tasks_per_event": round(tasks / size, 3), "target_events_per_s": 5000})
    StrategyTask.objects.update(due_at=timezone.now())
    run_s, counts = _run_two_workers()
    states = dict(StrategyTask.objects.values_list("status").annotate(n=Count("id")))
    calls = ProcessorCall.objects.filter(key__startswith="strategy-task-")
    out.update({"run_s": round(run_s, 2), "run_per_s": round(tasks / run_s), "run_by_worker": counts,
                "statuses": states, "max_attempts": StrategyTask.objects.aggregate(m=Max("attempts"))["m"],
                "processor_calls": calls.count(), "target_run_s": 60,
                "none_twice": StrategyTask.objects.exclude(attempts=1).count() == 0 and calls.count() == tasks
                and sum(counts) == tasks and states == {TaskStatus.EXECUTED: tasks}})
    Strategy.objects.update(enabled=False)
    return out
