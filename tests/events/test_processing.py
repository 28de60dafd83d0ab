"""The workers: per-customer statistics, the processor hook inside the batch's transaction, exactly once with
two workers, and a worker killed with SIGKILL in the middle of a batch that loses and repeats nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import Customer
from shoal.events.hooks import register_event_processor, unregister_event_processor
from shoal.events.models import Event, EventResult, EventStat, PendingEvent
from shoal.events.services.processing import process_batch, process_pending
from tests.together import at_once

from .conftest import event, send


@pytest.mark.django_db
def test_statistics_count_and_keep_the_first_and_last_time_and_the_last_data(app, purchase, login):
    send(app,
         event(1, customer={"ent_user_id": "a"}, data={"amount": 1}, timestamp="2026-11-02T10:00:00Z"),
         event(2, customer={"ent_user_id": "a"}, data={"amount": 2}, timestamp="2026-11-05T10:00:00Z"),
         event(3, customer={"ent_user_id": "a"}, data={"amount": 3}, timestamp="2026-11-01T10:00:00Z"),
         event(4, code="login", customer={"ent_user_id": "a"}, data={}, timestamp="2026-11-03T10:00:00Z"))
    assert process_pending()["processed"] == 4
    send(app, event(5, customer={"ent_user_id": "a"}, data={"amount": 5}, timestamp="2026-10-01T00:00:00Z"))
    process_pending()
    stat = EventStat.objects.get(event_type=purchase)
    assert stat.count == 4
    assert stat.first_at.isoformat() == "2026-10-01T00:00:00+00:00"
    assert stat.last_at.isoformat() == "2026-11-05T10:00:00+00:00"
    assert stat.last_data == {"amount": 2}  # the latest event's data, not the last one received
    assert EventStat.objects.get(event_type=login).count == 1
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db
def test_events_at_the_same_time_keep_the_data_of_the_last_one_received(app, purchase):
    at = "2026-11-02T10:00:00Z"
    send(app, *(event(i, customer={"ent_user_id": "a"}, data={"amount": i}, timestamp=at) for i in (1, 2, 3)))
    process_pending()
    assert EventStat.objects.get().last_data == {"amount": 3}
    send(app, event(4, customer={"ent_user_id": "a"}, data={"amount": 4}, timestamp=at),
         event(5, customer={"ent_user_id": "a"}, data={"amount": 5}, timestamp="2026-11-01T10:00:00Z"))
    process_pending()
    stat = EventStat.objects.get()
    assert (stat.count, stat.last_data) == (5, {"amount": 4})  # a tie with the statistics: the later batch


@pytest.mark.django_db
def test_an_event_without_data_counts_with_empty_data(app, purchase, login):
    seen = []

    def collect(events):
        seen.extend(e.data for e in events)

    register_event_processor(collect)
    try:
        body = event(1, code="login")
        del body["data"]
        assert send(app, body)[0]["status"] == "accepted"
        process_pending()
    finally:
        unregister_event_processor(collect)
    assert seen == [{}]
    assert EventStat.objects.get().last_data == {}


@pytest.mark.django_db
def test_an_event_without_timestamp_counts_at_its_receipt(app, purchase):
    body = event(1)
    send(app, body)
    process_pending()
    stat, stored = EventStat.objects.get(), Event.objects.get()
    assert stat.first_at == stat.last_at == stored.received_at


@pytest.mark.django_db
def test_refused_and_duplicate_events_are_not_counted(app, purchase):
    send(app, event(1), event(1), event(2, data={}))
    process_pending()
    assert list(EventStat.objects.values_list("count", flat=True)) == [1]


@pytest.mark.django_db
def test_processors_get_each_batch_inside_its_transaction(app, purchase):
    seen = []

    def processor(events):
        seen.append([(e.event_code, e.client_id, e.data, e.customer_id) for e in events])
        EventResult.objects.create(event_id=events[0].id, event_received_at=events[0].received_at, strategy_id=7,
                                   strategy_name="S", matched=True)

    register_event_processor(processor)
    try:
        send(app, event(1), event(2))
        process_pending()
    finally:
        unregister_event_processor(processor)
    customer = Customer.objects.get(ent_user_id="u1")
    assert seen[0][0] == ("purchase", "e1", {"amount": 1}, customer.pk)
    assert len(seen) == 1 and len(seen[0]) == 2
    assert EventResult.objects.count() == 1


@pytest.mark.django_db
def test_a_failing_processor_rolls_the_whole_batch_back(app, purchase):
    def broken(events):
        EventResult.objects.create(event_id=events[0].id, event_received_at=events[0].received_at)
        raise RuntimeError("boom")

    send(app, event(1), event(2))
    register_event_processor(broken)
    try:
        with pytest.raises(RuntimeError):
            process_batch()
    finally:
        unregister_event_processor(broken)
    assert PendingEvent.objects.count() == 2
    assert not EventStat.objects.exists() and not EventResult.objects.exists()
    process_pending()
    assert sorted(EventStat.objects.values_list("count", flat=True)) == [1, 1]


@pytest.mark.django_db
def test_merging_customers_combines_their_statistics(app, purchase):
    send(app, event(1, customer={"ent_user_id": "a"}, timestamp="2026-11-01T00:00:00Z"),
         event(2, customer={"ent_user_id": "b"}, data={"amount": 9}, timestamp="2026-11-09T00:00:00Z"),
         event(3, customer={"ent_user_id": "b"}, timestamp="2026-10-09T00:00:00Z"))
    process_pending()
    a, b = Customer.objects.get(ent_user_id="a"), Customer.objects.get(ent_user_id="b")
    customer_services.customer_merge(actor=SYSTEM, keep=a, other=b)
    stat = EventStat.objects.get()
    assert (stat.customer_id, stat.count, stat.last_data) == (a.pk, 3, {"amount": 9})
    assert stat.first_at.isoformat() == "2026-10-09T00:00:00+00:00"


@pytest.mark.django_db
def test_deleting_customers_deletes_their_statistics(app, purchase):
    send(app, event(1), event(2))
    process_pending()
    customer_services.customers_delete(actor=SYSTEM, customer_ids=[Customer.objects.get(ent_user_id="u1").pk])
    assert EventStat.objects.count() == 1


def _events(n: int, customers: int) -> list[dict]:
    return [event(i, customer={"ent_user_id": f"c{i % customers}"}, data={"amount": i}) for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_process_every_event_once(app, purchase):
    for start in range(0, 3000, 1000):
        send(app, *[{**e, "id": f"w{start + i}"} for i, e in enumerate(_events(1000, 50))])
    def worker():
        while process_batch(100):
            pass

    at_once(worker)
    assert sum(EventStat.objects.values_list("count", flat=True)) == 3000
    assert EventStat.objects.count() == 50
    assert not PendingEvent.objects.exists()


KILL_SCRIPT = r"""
import json, os, signal, sys, time
import django
django.setup()
from shoal.events.hooks import register_event_processor
from shoal.events.models import EventResult
from shoal.events.services.processing import process_pending

calls = []

def record(events):
    EventResult.objects.bulk_create([EventResult(event_id=e.id, event_received_at=e.received_at, strategy_id=1,
                                                 strategy_name="kill", matched=True) for e in events])
    calls.append(len(events))
    if sys.argv[1] == "die" and len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # killed inside the third batch, its writes not committed

register_event_processor(record)
print(json.dumps(process_pending(batch=500)))
"""


def _worker_env() -> dict:
    """The environment of a worker subprocess on the test database."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    else:
        url = f"sqlite:///{settings['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "shoal.settings"}


@pytest.mark.django_db(transaction=True)
def test_a_following_worker_processes_what_arrives_and_stops_on_sigterm(app, purchase):
    worker = subprocess.Popen([sys.executable, "-m", "shoal.cli", "events", "-v", "0", "process", "--follow",
                               "--interval", "0.05", "--batch", "100"], env=_worker_env(), stdout=subprocess.PIPE,
                              text=True)
    try:
        for start in range(0, 600, 200):
            send(app, *[{**e, "id": f"f{start + i}"} for i, e in enumerate(_events(200, 30))])
        deadline = time.monotonic() + 120
        while PendingEvent.objects.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["processed"] == 600
    assert not PendingEvent.objects.exists()
    assert sum(EventStat.objects.values_list("count", flat=True)) == 600


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(app, purchase, tmp_path):
    for start in range(0, 3000, 1000):
        send(app, *[{**e, "id": f"k{start + i}"} for i, e in enumerate(_events(1000, 250))])
    env = _worker_env()

    def worker(mode):
        return subprocess.run([sys.executable, "-c", KILL_SCRIPT, mode], env=env, capture_output=True, text=True,
                              timeout=300)

    died = worker("die")
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert PendingEvent.objects.count() == 2000  # two batches of 500 committed, the third rolled back
    assert EventResult.objects.count() == 1000
    assert sum(EventStat.objects.values_list("count", flat=True)) == 1000
    finished = worker("live")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout.strip().splitlines()[-1])["processed"] == 2000
    assert not PendingEvent.objects.exists()
    assert EventResult.objects.count() == 3000
    assert EventResult.objects.values("event_id").distinct().count() == 3000  # none twice
    assert sum(EventStat.objects.values_list("count", flat=True)) == 3000
    assert set(EventStat.objects.values_list("count", flat=True)) == {12}  # 3000 events over 250 customers
