"""PostgreSQL: the monthly partitions of the events table (``events_event_pYYYYMM``, UTC months, plus a
default partition that catches what no month holds).

``ensure_partitions`` creates the current month and the ones ahead (the daily job runs it, so the default
partition stays empty; should it hold rows of a month being created, they are moved into it);
``drop_expired`` drops the months wholly older than the retention cut-off (instant, no row deletes).
Elsewhere both do nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db import connection, transaction

from .models import Event

TABLE = Event._meta.db_table
NAME_RE = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s AND pg_table_is_visible(c.oid)", [TABLE])
        return cursor.fetchone() is not None


def partitions() -> list[str]:
    """The month partitions, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s AND pg_table_is_visible(p.oid)",
                       [TABLE])
        names = [row[0] for row in cursor.fetchall()]
    return sorted(n for n in names if NAME_RE.match(n))


def ensure_partitions(*, months_ahead: int = 3, now: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the ``months_ahead`` next ones that are missing."""
    if not partitioned():
        return []
    now = now or datetime.now(UTC)
    have = set(partitions())
    qn = connection.ops.quote_name
    created = []
    year, month = now.year, now.month
    for _ in range(months_ahead + 1):
        name = f"{TABLE}_p{year:04d}{month:02d}"
        upper = _next(year, month)
        if name not in have:
            low, high = _month_start(year, month), _month_start(*upper)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {qn(TABLE + '_default')} "
                               f"WHERE received_at >= %s AND received_at < %s)", [low, high])
                stranded = cursor.fetchone()[0]
                bounds = f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
                if not stranded:
                    cursor.execute(f"CREATE TABLE {qn(name)} PARTITION OF {qn(TABLE)} {bounds}")
                else:  # the default partition holds rows of this month: move them into the new partition
                    cursor.execute(f"ALTER TABLE {qn(TABLE)} DETACH PARTITION {qn(TABLE + '_default')}")
                    cursor.execute(f"CREATE TABLE {qn(name)} PARTITION OF {qn(TABLE)} {bounds}")
                    cursor.execute(f"INSERT INTO {qn(TABLE)} SELECT * FROM {qn(TABLE + '_default')} "
                                   f"WHERE received_at >= %s AND received_at < %s", [low, high])
                    cursor.execute(f"DELETE FROM {qn(TABLE + '_default')} WHERE received_at >= %s AND received_at < %s",
                                   [low, high])
                    cursor.execute(f"ALTER TABLE {qn(TABLE)} ATTACH PARTITION {qn(TABLE + '_default')} DEFAULT")
            created.append(name)
        year, month = upper
    return created


def drop_expired(cutoff: datetime) -> list[str]:
    """Drop the month partitions that end at or before ``cutoff``."""
    if not partitioned():
        return []
    dropped = []
    qn = connection.ops.quote_name
    for name in partitions():
        year, month = (int(x) for x in NAME_RE.match(name).groups())
        if _month_start(*_next(year, month)) <= cutoff:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {qn(name)}")
            dropped.append(name)
    return dropped
