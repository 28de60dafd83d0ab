"""Events → strategy tasks (in the events worker's transaction) → the tasks job: what runs, when, and what
the event history and the results show."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from shoal.strategies.models import StrategyStat, StrategyTask, TaskStatus
from shoal.strategies.services.execution import run_due
from tests.strategies.conftest import approved_strategy, send

pytestmark = pytest.mark.django_db


def _tasks(**filters):
    return list(StrategyTask.objects.filter(**filters).order_by("id"))


def test_matching_events_become_tasks_run_by_the_job_once(event_type, editor, approver, calls):
    strategy = approved_strategy(editor, approver)
    send({"data": {"amount": 150}}, {"data": {"amount": 50}}, {"data": {"amount": 101.5}}, {"data": {}})
    tasks = _tasks()
    assert [t.status for t in tasks] == [TaskStatus.PENDING] * 2 and not calls.keys  # nothing runs in the worker
    assert run_due()["run"] == 2
    assert run_due()["run"] == 0
    assert {t.status for t in _tasks()} == {TaskStatus.EXECUTED}
    assert sorted(calls.keys) == sorted(f"strategy-task-{t.pk}" for t in tasks) and set(calls.keys.values()) == {1}
    stat = StrategyStat.objects.get(strategy_id=strategy.pk)
    assert (stat.matched, stat.run, stat.succeeded, stat.failed) == (2, 2, 2, 0)


def test_the_event_history_shows_the_matched_strategy_and_the_processor_result(event_type, editor, approver, calls):
    from shoal.events.models import EventResult

    strategy = approved_strategy(editor, approver)
    send({"data": {"amount": 150}})
    rows = list(EventResult.objects.order_by("id").values("strategy_id", "strategy_name", "matched", "processor",
                                                          "status"))
    assert {"strategy_id": strategy.pk, "strategy_name": "Big payments", "matched": True, "processor": "",
            "status": ""} in rows
    assert len(rows) == 1  # the action has not run yet: no processor row (the task list shows it pending)
    run_due()
    assert EventResult.objects.get(processor="test_count").status == "success"
    assert EventResult.objects.get(processor="test_count").strategy_name == "Big payments"


def test_a_delayed_action_waits_for_its_time(event_type, editor, approver, calls):
    approved_strategy(editor, approver, actions=[{"processor": "test_count", "params": {}, "delay_hours": 2}])
    send({"data": {"amount": 150}})
    task = _tasks()[0]
    assert task.due_at - task.event_received_at == timedelta(hours=2)
    assert run_due()["run"] == 0
    StrategyTask.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    assert run_due()["run"] == 1 and list(calls.keys.values()) == [1]


def test_an_action_at_a_time_that_has_passed_is_skipped_and_recorded(event_type, editor, approver, calls):
    past, future = timezone.now() - timedelta(hours=1), timezone.now() + timedelta(days=3)
    strategy = approved_strategy(editor, approver, actions=[
        {"processor": "test_count", "params": {}, "at": past.isoformat()},
        {"processor": "test_count", "params": {}, "at": future.isoformat()}])
    send({"data": {"amount": 150}})
    skipped, pending = _tasks()
    assert skipped.status == TaskStatus.SKIPPED and skipped.error == "time_passed" and skipped.finished_at
    assert pending.status == TaskStatus.PENDING and abs(pending.due_at - future) < timedelta(seconds=1)
    assert run_due()["run"] == 0 and not calls.keys
    assert StrategyStat.objects.get(strategy_id=strategy.pk).skipped == 1
    from shoal.events.models import EventResult

    assert EventResult.objects.get(processor="test_count", event_id=skipped.event_id).status == "skipped"


def test_customer_conditions_are_checked_per_batch(event_type, editor, approver, calls):
    from shoal.customers.models import Customer

    approved_strategy(editor, approver, customer_conditions={"field": "city", "op": "eq", "value": "深圳"})
    send({"mobile": "13800000001", "data": {"amount": 150}}, {"mobile": "13800000002", "data": {"amount": 150}})
    assert not _tasks()
    Customer.objects.filter(mobile__endswith="0000002").update(city="深圳")
    send({"mobile": "13800000001", "data": {"amount": 150}}, {"mobile": "13800000002", "data": {"amount": 150}})
    (task,) = _tasks()
    assert Customer.objects.get(pk=task.customer_id).city == "深圳"


def test_strategies_of_other_event_types_and_disabled_ones_do_not_match(event_type, editor, approver, calls):
    from shoal.events.models import EventType
    from shoal.strategies.services import strategies as services

    EventType.objects.create(name="Login", code="login", fields=[])
    approved_strategy(editor, approver, name="On login", event="login", conditions=None)
    services.strategy_create(actor=editor, data={"name": "Not approved", "event": "payment",
                                                 "actions": [{"processor": "test_count"}]})
    send({"data": {"amount": 150}})
    assert not _tasks()
    send({"data": {}}, code="login")
    assert len(_tasks()) == 1


def test_two_strategies_and_two_actions_each(event_type, editor, approver, calls):
    for name in ("A", "B"):
        approved_strategy(editor, approver, name=name, conditions=None,
                          actions=[{"processor": "test_count"}, {"processor": "test_count", "delay_hours": 1}])
    send({"data": {"amount": 1}})
    assert len(_tasks()) == 4 and len(_tasks(status=TaskStatus.PENDING, due_at__lte=timezone.now())) == 2


def test_a_failing_processor_fails_the_task(event_type, editor, approver):
    from shoal.customers.models import Customer

    approved_strategy(editor, approver, actions=[{"processor": "test_count"}])
    send({"data": {"amount": 150}})
    Customer.objects.all().delete()
    run_due()
    (task,) = _tasks()
    assert task.status == TaskStatus.FAILED and task.error


def test_an_event_processed_again_gets_no_second_task_nor_history_row(event_type, editor, approver, calls):
    """Belt and braces under the batch's transaction: the unique key (strategy, action, event). A batch large
    enough to be copied straight into the table (PostgreSQL) holds events whose tasks exist (put back in the
    queue by hand) and new ones: the copy is undone and the rows are inserted skipping the existing keys."""
    from shoal.core.batch_sql import COPY_FROM
    from shoal.events.models import Event, EventResult, PendingEvent

    for name in ("A", "B"):
        approved_strategy(editor, approver, name=name, conditions=None, actions=[{"processor": "test_count",
                                                                                  "delay_hours": 1}])
    n = COPY_FROM // 2 + 10  # two tasks an event: past the copy threshold
    send(*({"data": {"amount": i}} for i in range(n)))
    assert len(_tasks()) == 2 * n
    PendingEvent.objects.bulk_create([PendingEvent(event_id=e.pk, received_at=e.received_at)
                                      for e in Event.objects.order_by("id")[:n // 2]])
    send(*({"data": {"amount": i}} for i in range(n)))  # in the same batch as the events put back
    assert len(_tasks()) == 4 * n
    assert EventResult.objects.filter(matched=True, processor="").count() == 4 * n
    assert not StrategyTask.objects.values("strategy_id", "action_id", "event_id").annotate(
        n=Count("id")).filter(n__gt=1).exists()


def test_history_rows_keep_names_with_backslashes_tabs_and_new_lines(event_type, editor, approver, calls):
    from shoal.events.models import EventResult
    from shoal.strategies.models import Strategy

    strategy = approved_strategy(editor, approver, name="大单 \\N\\t")
    Strategy.objects.filter(pk=strategy.pk).update(name="大单\t\\N \\t\n\r新")  # as a raw write could leave it
    send({"data": {"amount": 150}})
    assert EventResult.objects.get(matched=True).strategy_name == "大单\t\\N \\t\n\r新"
