"""Running strategy tasks: a task whose worker was lost runs again without acting twice; claims that run out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.strategies.models import StrategyTask, TaskStatus
from shoal.strategies.services.execution import LEASE, claim, recover_stale, run_claimed, run_due
from tests.strategies.conftest import approved_strategy, send

pytestmark = pytest.mark.django_db


def test_a_lost_worker_s_task_runs_again_without_acting_twice(event_type, editor, approver, calls):
    approved_strategy(editor, approver)
    send({"data": {"amount": 150}})
    claimed = claim(token="lost")
    assert len(claimed) == 1 and StrategyTask.objects.get().status == TaskStatus.RUNNING
    run_claimed(claimed, token="lost")  # the processor ran and its call was recorded ...
    StrategyTask.objects.update(status=TaskStatus.RUNNING, claim="lost", finished_at=None)  # ... the worker died
    assert run_due()["run"] == 0  # its lease still holds: nobody takes it
    StrategyTask.objects.update(claimed_at=timezone.now() - LEASE - timedelta(seconds=1))
    assert recover_stale() == 1
    assert run_due()["run"] == 1
    task = StrategyTask.objects.get()
    assert task.status == TaskStatus.EXECUTED and task.attempts == 2
    assert list(calls.keys.values()) == [1]  # the processor acted once: the recorded call answered the retry


def test_results_of_a_claim_taken_over_are_not_written(event_type, editor, approver, calls):
    approved_strategy(editor, approver)
    send({"data": {"amount": 150}})
    claimed = claim(token="slow")
    StrategyTask.objects.update(claim="other")  # the lease ran out and another worker has it now
    assert run_claimed(claimed, token="slow")["written"] == 0
    assert StrategyTask.objects.get().status == TaskStatus.RUNNING
