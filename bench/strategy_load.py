"""The strategies' part of ``bench_events`` (issue 14): 20 enabled strategies of which 2 match each purchase event
while the events are ingested and processed, then 100,000 due strategy tasks run by two worker processes.

- ``setup(processor)``: 20 strategies on ``purchase`` (``bench_events``' events: ``sku`` SKU0-49, ``channel``
  app): strategy n < 10 takes the skus whose number ends in n (``sku in [...]``), strategy 10 + n the same skus
  with ``channel = app`` (``sku ends_with n``): each purchase matches exactly 2, all 20 are evaluated. Each has
  one action, delayed one hour (so nothing runs while the events are measured): 2 tasks per purchase.
- ``run_two_workers(limit)``: the first ``limit`` tasks are made due, two worker processes run ``run_due``
  until none is due; then: each task claimed once (``attempts = 1``), one processor call per delivery id,
  every one executed. The action's processor is SHOAL_BENCH_STRATEGY_PROCESSOR: ``bench_noop`` (default: the
  pipeline alone — claims, the automation app's call records, results, counters) or a built-in (``add_tag``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from shoal.core.processors import SUCCEEDED, ProcessorSpec, register_processor, result

KINDS = 10


def _noop(*, customer, event_data, params, context):
    return result(SUCCEEDED)


register_processor(ProcessorSpec(code="bench_noop", label="No-op (benchmark)", run=_noop, order=1000))


def setup(processor: str) -> dict:
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

        category = TagCategory.objects.create(name=f"bench strategies {uuid.uuid4().hex[:6]}")
        params = {"tag_id": tag_services.tag_create(actor=None, data={"name": "bench", "category_id": category.pk}).pk}
    for n in range(2 * KINDS):
        digit = n % KINDS
        if n < KINDS:
            conditions = {"field": "sku", "op": "in", "value": [f"SKU{digit + 10 * k}" for k in range(5)]}
        else:
            conditions = {"all": [{"field": "channel", "op": "eq", "value": "app"},
                                  {"field": "sku", "op": "ends_with", "value": str(digit)}]}
        strategy = services.strategy_create(actor=editor, data={
            "name": f"bench {n}", "event": "purchase", "conditions": conditions,
            "actions": [{"processor": processor, "params": params, "delay_hours": 1}]})
        services.strategy_approve(actor=approver, strategy=strategy)
    return {"enabled": Strategy.objects.filter(enabled=True).count(), "processor": processor}


WORKER = """
import os, sys
sys.path.insert(0, os.getcwd())
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shoal.settings")
django.setup()
import bench.strategy_load  # the bench processor
from shoal.strategies.services.execution import run_due
total = 0
while True:
    result = run_due(max_seconds=None)
    total += result["run"]
    if not result["left"]:
        break
print(total)
"""


def run_two_workers(limit: int) -> dict:
    from django.db import connection
    from django.db.models import Count, Max
    from django.utils import timezone

    from shoal.automation.models import ProcessorCall
    from shoal.strategies.models import StrategyTask, TaskStatus

    ids = list(StrategyTask.objects.order_by("id").values_list("id", flat=True)[:limit])
    due = StrategyTask.objects.filter(pk__lte=ids[-1]) if ids else StrategyTask.objects.none()
    due.update(due_at=timezone.now())
    connection.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    counts = [int(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    seconds = time.perf_counter() - started
    states = dict(due.values_list("status").annotate(n=Count("id")))
    calls = ProcessorCall.objects.filter(key__startswith="strategy-task-").count()
    return {"tasks": len(ids), "seconds": round(seconds, 2), "per_s": round(len(ids) / seconds),
            "by_worker": counts, "statuses": states, "max_attempts": due.aggregate(m=Max("attempts"))["m"],
            "processor_calls": calls, "target_seconds": 60,
            "none_twice": (not due.exclude(attempts=1).exists() and calls == len(ids) and sum(counts) == len(ids)
                           and states == {TaskStatus.EXECUTED: len(ids)})}
