"""The scheduler (schedules.services): registry sync, claims that run a job once, failures recorded, cron
edits checked."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from shoal.core.errors import ShoalError
from shoal.schedules import services
from shoal.schedules.models import JobRun, ScheduledJob
from shoal.schedules.registry import JOBS
from tests.schedules.conftest import CALLS, make_due, run_worker


@pytest.mark.django_db
def test_registry_jobs_appear_with_their_default_schedule():
    services.sync_registry()
    job = ScheduledJob.objects.get(name="system.clear_expired_sessions")
    assert job.cron == "0 4 * * *" and job.enabled and job.next_run_at > timezone.now()


@pytest.mark.django_db
def test_two_schedulers_that_both_see_a_due_job_run_it_once(django_capture_on_commit_callbacks):
    CALLS.clear()
    make_due("test.count")
    now = timezone.now()
    # both schedulers read the due job before either claims it
    seen_by_a, seen_by_b = services.due_jobs(now), services.due_jobs(now)
    assert [j.name for j in seen_by_a] == [j.name for j in seen_by_b] == ["test.count"]
    with django_capture_on_commit_callbacks(execute=True):
        won = [services.claim(seen_by_a[0], now), services.claim(seen_by_b[0], now)]
    assert sum(r is not None for r in won) == 1
    run_worker()
    assert len(CALLS) == 1
    run = JobRun.objects.get()
    assert run.status == "succeeded" and run.result == {"calls": 1} and run.duration_ms is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_scheduler_ticks_in_threads_enqueue_once():
    make_due("test.count")
    barrier = threading.Barrier(4)
    results = []

    def scheduler():
        try:
            barrier.wait()
            results.append(len(services.tick()))
        finally:
            if connection.vendor != "sqlite":
                connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    assert JobRun.objects.filter(job__name="test.count").count() == 1


@pytest.mark.django_db
def test_failing_job_records_the_error_and_the_scheduler_goes_on(django_capture_on_commit_callbacks):
    CALLS.clear()
    services.sync_registry()
    past = timezone.now() - timedelta(minutes=1)
    ScheduledJob.objects.update(enabled=False)
    ScheduledJob.objects.filter(name__in=["test.explode", "test.count"]).update(enabled=True, next_run_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        claimed = services.tick()
    assert {r.job.name for r in claimed} == {"test.explode", "test.count"}
    run_worker()
    failed = JobRun.objects.get(job__name="test.explode")
    assert failed.status == "failed" and "boom: the data source is down" in failed.error
    assert ScheduledJob.objects.get(name="test.explode").last_status == "failed"
    assert JobRun.objects.get(job__name="test.count").status == "succeeded"
    assert len(CALLS) == 1
    # both were moved to their next slot: the next tick claims nothing
    assert services.tick() == []


@pytest.mark.django_db
def test_a_run_executes_once_even_if_two_workers_get_it():
    CALLS.clear()
    job = make_due("test.count")
    run = JobRun.objects.create(job=job, trigger="manual")
    assert services.execute_run(run.pk) is not None
    assert services.execute_run(run.pk) is None
    assert len(CALLS) == 1


@pytest.mark.django_db
def test_run_now_queues_for_the_worker(django_capture_on_commit_callbacks):
    CALLS.clear()
    services.sync_registry()
    job = ScheduledJob.objects.get(name="test.count")
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_now(job=job)
    assert run.status == "queued" and CALLS == []
    run_worker()
    run.refresh_from_db()
    assert run.status == "succeeded" and len(CALLS) == 1


@pytest.mark.django_db
def test_cron_edit_is_validated_and_moves_next_run():
    services.sync_registry()
    job = ScheduledJob.objects.get(name="test.count")
    with pytest.raises(ShoalError):
        services.job_update(actor=None, job=job, cron="every day please")
    with pytest.raises(ShoalError):
        services.job_update(actor=None, job=job, cron="0 0 5 ? * SAT")  # Quartz syntax is refused clearly
    job = services.job_update(actor=None, job=job, cron="30 5 * * *")
    local = timezone.localtime(job.next_run_at)
    assert (local.hour, local.minute) == (5, 30)


def test_builtin_jobs_are_registered():
    assert {"system.prune_job_history", "system.clear_expired_sessions"} <= set(JOBS)
