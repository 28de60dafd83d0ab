"""Strategy tasks: cancelling one or a selection, and who may."""

import pytest
from django.utils import translation

from shoal.core.errors import ShoalError
from shoal.strategies.models import StrategyTask, TaskStatus
from shoal.strategies.selectors import task_page
from shoal.strategies.services.execution import run_due
from shoal.strategies.services.tasks import task_cancel, tasks_cancel
from tests.conftest import make_user
from tests.strategies.conftest import approved_strategy, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def delayed(event_type, editor, approver):
    approved_strategy(editor, approver, actions=[{"processor": "test_count", "params": {}, "delay_hours": 1}])
    send(*({"data": {"amount": 150}} for _ in range(4)))
    return list(StrategyTask.objects.order_by("id"))


def test_cancelling_a_selection_cancels_the_pending_ones_only(delayed, editor, calls):
    StrategyTask.objects.filter(pk=delayed[0].pk).update(status=TaskStatus.EXECUTED)
    assert tasks_cancel(actor=editor, ids=[t.pk for t in delayed[:3]]) == 2
    assert dict(StrategyTask.objects.values_list("id", "status")) == {
        delayed[0].pk: TaskStatus.EXECUTED, delayed[1].pk: TaskStatus.CANCELLED,
        delayed[2].pk: TaskStatus.CANCELLED, delayed[3].pk: TaskStatus.PENDING}
    StrategyTask.objects.update(due_at=delayed[0].created_at)
    run_due()
    assert list(calls.keys) == [f"strategy-task-{delayed[3].pk}"]


def test_cancelling_a_task_that_is_not_pending_is_a_conflict(delayed, editor):
    task_cancel(actor=editor, task_id=delayed[0].pk)
    with pytest.raises(ShoalError) as err, translation.override("en"):
        task_cancel(actor=editor, task_id=delayed[0].pk)
    assert err.value.status == 409 and err.value.detail["status"] == "cancelled"


def test_cancelling_needs_the_permission(delayed, roles):
    salesperson = make_user("st_sales", roles["salesperson"])
    with pytest.raises(ShoalError) as err:
        tasks_cancel(actor=salesperson, ids=[delayed[0].pk])
    assert err.value.status == 403


def test_the_list_by_status(delayed, editor):
    tasks_cancel(actor=editor, ids=[delayed[0].pk])
    total, items = task_page(actor=editor, status="pending")
    assert total == 3 and [i["id"] for i in items] == [t.pk for t in delayed[1:]]
    assert items[0]["strategy"] == "Big payments" and items[0]["event"] == "payment"
    assert task_page(actor=editor, status="cancelled")[0] == 1
