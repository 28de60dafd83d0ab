"""Test jobs registered for the schedules tests, and helpers to make them due and run the worker."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from shoal.schedules import services
from shoal.schedules.models import ScheduledJob
from shoal.schedules.registry import register_job

CALLS = []


@register_job("test.count", cron="*/5 * * * *", description="counts its runs")
def count_job():
    CALLS.append(1)
    return {"calls": len(CALLS)}


@register_job("test.explode", cron="*/5 * * * *", description="always fails")
def explode_job():
    raise RuntimeError("boom: the data source is down")


def make_due(name):
    services.sync_registry()
    job = ScheduledJob.objects.get(name=name)
    job.next_run_at = timezone.now() - timedelta(minutes=1)
    job.save()
    ScheduledJob.objects.exclude(name=name).update(enabled=False)
    return job


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch):
    # The real worker closes "old" connections between tasks; inside a test transaction that would
    # close the test's own connection, so only that housekeeping call is disabled here.
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)


def run_worker():
    call_command("worker", batch=True, verbosity=0)
