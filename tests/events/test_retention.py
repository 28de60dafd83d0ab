"""Retention: the daily job removes history older than EVENTS_RETENTION_DAYS (and the strategies' results
with it); statistics and dedup keys stay. On PostgreSQL the events table is partitioned by month: the job
keeps months ahead ready and drops expired months whole."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shoal.core import parameters
from shoal.events import partitions
from shoal.events.models import Event, EventResult, EventStat
from shoal.events.services.processing import process_pending
from shoal.events.services.retention import prune_history
from shoal.schedules.registry import JOBS

from .conftest import event, send

pytestmark = pytest.mark.django_db


def _age(client_id: str, days: int):
    at = timezone.now() - timedelta(days=days)
    Event.objects.filter(client_id=client_id).update(received_at=at)
    EventResult.objects.filter(event_id__in=Event.objects.filter(client_id=client_id).values("id")) \
        .update(event_received_at=at)


def test_old_history_goes_and_statistics_stay(app, purchase):
    send(app, event(1), event(2), event(3, data={}))
    process_pending()
    for e in Event.objects.all():
        EventResult.objects.create(event_id=e.pk, event_received_at=e.received_at, strategy_name="S")
    _age("e1", 200)
    _age("e3", 181)
    result = prune_history()
    assert result["events_deleted"] == 2 and result["results_deleted"] == 2
    assert list(Event.objects.values_list("client_id", flat=True)) == ["e2"]
    assert EventStat.objects.count() == 2


def test_the_retention_is_a_parameter(app, purchase):
    send(app, event(1))
    _age("e1", 40)
    parameters.set_value("EVENTS_RETENTION_DAYS", 30)
    JOBS["events.prune"].func()
    assert not Event.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="monthly partitions exist on PostgreSQL only")
def test_partitions_are_kept_ahead_and_expired_months_dropped(app, purchase):
    assert partitions.partitioned()
    now = datetime.now(UTC)
    created = partitions.ensure_partitions(months_ahead=5, now=now)
    assert len(created) == 3  # the migration made this month and the next two; 5 ahead adds three
    names = partitions.partitions()
    assert names[0] == f"events_event_p{now.year:04d}{now.month:02d}" and len(names) == 6
    # an event of a month without a partition lands in the default one; creating the month moves it
    old = datetime(2024, 3, 15, tzinfo=UTC)
    send(app, event(1))
    Event.objects.filter(client_id="e1").update(received_at=old)
    made = partitions.ensure_partitions(months_ahead=0, now=old)
    assert made == ["events_event_p202403"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event_p202403")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM events_event_default")
        assert cursor.fetchone()[0] == 0
    assert Event.objects.get().received_at == old
    dropped = partitions.drop_expired(datetime(2024, 5, 1, tzinfo=UTC))
    assert dropped == ["events_event_p202403"]
    assert not Event.objects.exists()
