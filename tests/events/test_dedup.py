"""Dedup under concurrency: the same events sent at the same moment by several requests (threads with their
own database connections) are accepted once, recorded once and counted once; dedup holds for ever (the keys
outlive the history)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.events.models import Event, EventKey, EventStat
from shoal.events.services.processing import process_pending
from shoal.events.services.retention import prune_history
from tests.together import at_once

from .conftest import event, send


@pytest.mark.django_db(transaction=True)
def test_the_same_events_sent_at_once_by_four_requests_are_accepted_once(app, purchase):
    batch = [event(i, customer={"ent_user_id": f"c{i % 7}"}) for i in range(200)]
    outcomes = at_once(lambda: send(app, *batch), 4)
    statuses = [r["status"] for results in outcomes for r in results]
    assert statuses.count("accepted") == 200 and statuses.count("duplicate") == 600
    for index in range(200):  # each event accepted by exactly one request
        assert sum(results[index]["status"] == "accepted" for results in outcomes) == 1
    assert Event.objects.count() == 200 and EventKey.objects.count() == 200
    process_pending()
    assert sum(EventStat.objects.values_list("count", flat=True)) == 200
    assert EventStat.objects.count() == 7  # customers created once each despite the race


@pytest.mark.django_db
def test_dedup_outlives_the_history(app, purchase):
    send(app, event(1))
    Event.objects.update(received_at=timezone.now() - timedelta(days=400))
    prune_history(days=180)
    assert not Event.objects.exists()
    assert send(app, event(1))[0]["status"] == "duplicate"
