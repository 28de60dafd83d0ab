"""``core.db.sqlite_checkpoints_aside``: during a run of bulk commits, SQLite's checkpoints run in a thread of their
own instead of inside the commits; afterwards the connection checkpoints as before. Elsewhere it changes nothing."""

import threading
import time

import pytest
from django.db import connection

from shoal.core.db import sqlite_checkpoints_aside

pytestmark = pytest.mark.django_db(transaction=True)


def _setting():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


def _checkpointers():
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoints"]


def test_commits_inside_leave_the_checkpoints_to_a_thread_and_the_setting_comes_back():
    from shoal.customers.models import CustomField

    if connection.vendor != "sqlite":
        with sqlite_checkpoints_aside(every=0.05):
            assert _checkpointers() == []
        return
    import os

    database = connection.settings_dict["NAME"]
    before = _setting()
    assert before > 0

    def commits_then_wait(start: int) -> bool:
        """Whether the database file (not the WAL) was written while commits went in: only a checkpoint writes it."""
        stamp = os.stat(database).st_mtime_ns
        for i in range(start, start + 5):  # commits: their pages go into the WAL
            CustomField.objects.create(key=f"k{i}", label=f"字段{i}", type="text")
        time.sleep(0.4)
        return os.stat(database).st_mtime_ns != stamp

    with connection.cursor() as cursor:  # every commit checkpoints (so the file is written by the commits alone)
        cursor.execute("PRAGMA wal_autocheckpoint = 1")
    try:
        assert commits_then_wait(0)  # without the block: the commits write the database file
        with sqlite_checkpoints_aside(every=60):  # the thread does not come round: nothing copies the pages
            assert _setting() == 0 and len(_checkpointers()) == 1
            assert not commits_then_wait(10)
        with sqlite_checkpoints_aside(every=0.05):  # the thread copies them
            assert commits_then_wait(20)
        assert _setting() == 1 and _checkpointers() == []
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {before}")
