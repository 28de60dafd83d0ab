"""Retention of the automation logs: processor calls (with their webhook attempts), SMS and email log entries
older than AUTOMATION_LOG_RETENTION_DAYS go in chunks by the daily ``automation.prune`` job (or ``shoal
automation prune``); newer ones and calls still waiting for a retry stay; twice, or on two workers, is the same
as once."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from shoal.automation.models import (
    CallStatus,
    Channel,
    DeliveryAttempt,
    MessageLog,
    MessageStatus,
    ProcessorCall,
)
from shoal.automation.retention import prune_logs
from shoal.core import parameters, retention
from shoal.schedules.registry import JOBS
from tests.together import at_once


def _call(key: str, days: int, status=CallStatus.SUCCEEDED, attempts: int = 0) -> ProcessorCall:
    call = ProcessorCall.objects.create(key=key, processor_code="sms", status=status,
                                        created_at=timezone.now() - timedelta(days=days))
    for number in range(1, attempts + 1):
        DeliveryAttempt.objects.create(call=call, number=number, outcome="retry")
    return call


def _log(channel: str, days: int, recipient: str = "13800000000") -> MessageLog:
    return MessageLog.objects.create(channel=channel, recipient=recipient, status=MessageStatus.SENT,
                                     created_at=timezone.now() - timedelta(days=days))


def _world():
    """Old and new rows of each log: (what must stay, by kind)."""
    _call("old-1", 200, attempts=3)
    _call("old-2", 181, status=CallStatus.FAILED, attempts=1)
    _call("old-3", 190, status=CallStatus.SKIPPED)
    kept_calls = {_call("new-1", 10, attempts=2).key, _call("new-2", 179).key,
                  _call("old-pending", 300, status=CallStatus.PENDING, attempts=2).key}
    for days in (181, 365, 400):
        _log(Channel.SMS, days)
    _log(Channel.EMAIL, 200, "a@example.com")
    kept_logs = {_log(Channel.SMS, 1).pk, _log(Channel.EMAIL, 100, "b@example.com").pk}
    return kept_calls, kept_logs


def _assert_pruned(kept_calls, kept_logs):
    assert set(ProcessorCall.objects.values_list("key", flat=True)) == kept_calls
    assert set(DeliveryAttempt.objects.values_list("call__key", flat=True)) == {"new-1", "old-pending"}
    assert DeliveryAttempt.objects.count() == 4
    assert set(MessageLog.objects.values_list("pk", flat=True)) == kept_logs


@pytest.mark.django_db
def test_older_calls_attempts_and_message_logs_go_newer_and_pending_ones_stay():
    kept_calls, kept_logs = _world()
    result = prune_logs()
    assert (result["calls_deleted"], result["attempts_deleted"], result["sms_deleted"], result["emails_deleted"]) \
        == (3, 4, 3, 1)
    _assert_pruned(kept_calls, kept_logs)
    again = prune_logs()  # idempotent: nothing more to do
    assert (again["calls_deleted"], again["attempts_deleted"], again["sms_deleted"], again["emails_deleted"]) \
        == (0, 0, 0, 0)
    _assert_pruned(kept_calls, kept_logs)


@pytest.mark.django_db
def test_the_work_goes_in_chunks(monkeypatch):
    monkeypatch.setattr(retention, "CHUNK", 2)
    for i in range(7):
        _call(f"old-{i}", 200, attempts=i % 3)
    for _ in range(5):
        _log(Channel.EMAIL, 200, "x@example.com")
    _call("new", 1)
    result = prune_logs()
    assert (result["calls_deleted"], result["attempts_deleted"], result["emails_deleted"]) == (7, 6, 5)  # attempts: 0+1+2+0+1+2+0
    assert list(ProcessorCall.objects.values_list("key", flat=True)) == ["new"]
    assert not DeliveryAttempt.objects.exists() and not MessageLog.objects.exists()


@pytest.mark.django_db
def test_the_retention_is_a_parameter_and_the_daily_job_applies_it():
    job = JOBS["automation.prune"]
    assert job.cron.split()[2:] == ["*", "*", "*"]  # daily
    _call("d40", 40)
    _call("d20", 20)
    _log(Channel.SMS, 40)
    assert job.func()["calls_deleted"] == 0  # 180 days by default
    parameters.set_value("AUTOMATION_LOG_RETENTION_DAYS", 30)
    result = job.func()
    assert (result["calls_deleted"], result["sms_deleted"]) == (1, 1)
    assert list(ProcessorCall.objects.values_list("key", flat=True)) == ["d20"]


@pytest.mark.django_db
def test_the_command_line_prunes_and_prints_a_json_summary():
    kept_calls, kept_logs = _world()
    out = StringIO()
    call_command("automation", "prune", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (summary["calls_deleted"], summary["sms_deleted"], summary["emails_deleted"]) == (3, 3, 1)
    _assert_pruned(kept_calls, kept_logs)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two workers with their own connections: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_pruning_at_once_delete_each_row_once(monkeypatch):
    monkeypatch.setattr(retention, "CHUNK", 50)
    old = timezone.now() - timedelta(days=365)
    ProcessorCall.objects.bulk_create(ProcessorCall(key=f"old-{i}", processor_code="sms", status=CallStatus.SUCCEEDED,
                                                    created_at=old) for i in range(1000))
    calls = list(ProcessorCall.objects.all())
    DeliveryAttempt.objects.bulk_create(DeliveryAttempt(call=c, number=1) for c in calls[::2])
    MessageLog.objects.bulk_create(MessageLog(channel=Channel.SMS, recipient="1", created_at=old) for _ in range(600))
    _call("new", 1)
    results = at_once(prune_logs)
    assert sum(r["calls_deleted"] for r in results) == 1000
    assert sum(r["attempts_deleted"] for r in results) == 500
    assert sum(r["sms_deleted"] for r in results) == 600
    assert list(ProcessorCall.objects.values_list("key", flat=True)) == ["new"]
    assert not DeliveryAttempt.objects.exists() and not MessageLog.objects.exists()
