"""Delayed actions run exactly once with two workers and two schedulers: threads with their own database
connections on PostgreSQL (SQLite serialises its writers: one connection at a time)."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.utils import timezone

from shoal.strategies import processors
from shoal.strategies.models import StrategyTask, TaskStatus
from tests.strategies.conftest import approved_strategy, send

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="threads with real connections: PostgreSQL")


def _threads(*targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


@pytest.fixture
def counted(monkeypatch):
    """Every processor run the workers ask for, by delivery id (before the automation app's own dedup)."""
    runs, lock, real = Counter(), threading.Lock(), processors.run_many

    def run_many(items):
        with lock:
            runs.update(item.delivery_id for item in items)
        return real(items)

    monkeypatch.setattr(processors, "run_many", run_many)
    return runs


@pytest.mark.django_db(transaction=True)
def test_two_workers_and_two_schedulers_run_each_delayed_action_once(roles, counted, calls):
    from shoal.events.models import EventType
    from shoal.schedules import services as schedules
    from shoal.schedules.execution import execute_run
    from shoal.schedules.models import JobRun, ScheduledJob
    from shoal.strategies.services.execution import run_due
    from tests.conftest import make_user
    from tests.strategies.conftest import FIELDS

    EventType.objects.create(name="Payment", code="payment", fields=FIELDS)
    editor, approver = make_user("c_editor", roles["admin"]), make_user("c_approver", roles["admin"])
    approved_strategy(editor, approver, conditions=None,
                      actions=[{"processor": "test_count", "params": {}, "delay_hours": 1},
                               {"processor": "test_count", "params": {}, "delay_hours": 2}])
    send(*({"mobile": f"1390000{i:04d}", "data": {"amount": i}} for i in range(400)))
    assert StrategyTask.objects.filter(status=TaskStatus.PENDING).count() == 800
    StrategyTask.objects.update(due_at=timezone.now())  # the time has come
    schedules.sync_registry()
    ScheduledJob.objects.filter(name="strategies.run_due").update(next_run_at=timezone.now())
    claimed_runs = []

    def scheduler():
        for run in schedules.tick():
            claimed_runs.append(run.pk)
            execute_run(run.pk)

    def worker():
        run_due(limit=25)

    _threads(scheduler, scheduler, worker, worker)
    assert JobRun.objects.filter(job__name="strategies.run_due").count() == 1  # one slot, one run
    run_due()  # whatever a scheduler's run left (nothing, unless every thread finished early)
    tasks = list(StrategyTask.objects.values_list("id", "status", "attempts"))
    assert {status for _, status, _ in tasks} == {TaskStatus.EXECUTED}
    assert {attempts for _, _, attempts in tasks} == {1}
    assert counted == Counter({f"strategy-task-{pk}": 1 for pk, _, _ in tasks})
    assert calls.keys == counted
