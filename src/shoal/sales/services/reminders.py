"""Task reminders (任务提醒): at a task's reminder time its owner gets an in-site notification (and an email when
the parameter ``TASK_REMINDER_EMAIL`` is on and SMTP is set up); a task past its deadline and still open gets
its owner an overdue notice, once.

Exactly once, even with two workers at once: a run *claims* the tasks it reminds of with one conditional
UPDATE per batch (``SET reminded_at = now WHERE … AND reminded_at IS NULL … RETURNING``; on PostgreSQL the
candidate rows are picked ``FOR UPDATE SKIP LOCKED``, so two workers take disjoint sets without waiting). The
notifications are written in the same transaction as the claim, and their key (``task_remind:<id>``) is a second
guard. A worker that dies mid-batch rolls both back; the next run takes the tasks again. Emails go after the
commit, so a task is never emailed twice (a mail server that fails loses that email, not the notification).

Set-based: a run handles thousands of due tasks in a few statements per batch of :data:`BATCH`."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shoal.accounts.models import User
from shoal.core import parameters

from ..models import OPEN_PROGRESS, Task, TaskType
from .notifications import KIND_TASK_OVERDUE, KIND_TASK_REMINDER, Notice, email_notices, notify_many

BATCH = 5000
OVERDUE_LISTED = 10  # task names an overdue notice lists
TASK_PAGES = ("admin:sales_tasks", "admin:notifications")  # the task center (helper "tasks"), else the list


def task_link() -> str:
    for name in TASK_PAGES:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


def email_on() -> bool:
    return bool(parameters.get("TASK_REMINDER_EMAIL"))


# -- claims ----------------------------------------------------------------------------------------------------
_COLUMNS = "id, owner_id, name, type, due_at, remind_at, details"


# the open progresses written out (our own constants), not bound: SQLite uses a partial index only when the query
# names its condition's values (task_remind_open_idx, task_overdue_idx: open tasks not yet reminded / noticed)
OPEN_SQL = ", ".join(f"'{p.value}'" for p in OPEN_PROGRESS)


def candidates_sql(mark: str, due: str, op: str) -> str:
    """The open tasks with ``due op %s`` and no ``mark``, at most ``%s``: read from the partial index of the open
    tasks not yet marked (a closed task is not in it)."""
    table = connection.ops.quote_name(Task._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    return (f"SELECT id FROM {table} WHERE {due} {op} %s AND {mark} IS NULL AND progress IN ({OPEN_SQL}) "
            f"ORDER BY {due}, id LIMIT %s{lock}")


def _claim_sql(mark: str, due: str, op: str) -> str:
    """The claim: the candidates marked ``%s``, returned."""
    table = connection.ops.quote_name(Task._meta.db_table)
    # the candidates in a materialized CTE: evaluated once (an IN (subquery … LIMIT) may be run again by the
    # planner and take more than ``limit`` rows)
    return (f"WITH c AS MATERIALIZED ({candidates_sql(mark, due, op)}) "
            f"UPDATE {table} SET {mark} = %s WHERE id IN (SELECT id FROM c) AND {mark} IS NULL RETURNING {_COLUMNS}")


def _claim(mark: str, due: str, op: str, now: datetime, limit: int) -> list[dict]:
    """Mark up to ``limit`` open tasks with ``due op now`` whose ``mark`` is empty; their rows (this call's only:
    the ``mark IS NULL`` of the UPDATE is checked again on the locked row)."""
    sql = _claim_sql(mark, due, op)
    at = connection.ops.adapt_datetimefield_value(now)  # as the ORM stores it (SQLite: naive UTC text)
    params = [at, limit, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # SQLite returns the datetimes as text
        for key in ("due_at", "remind_at"):
            row[key] = _aware(row[key])
    return rows


def _aware(value):
    """A datetime of a RETURNING row (SQLite: naive UTC, or its text) as an aware one."""
    from datetime import UTC

    from django.utils.dateparse import parse_datetime

    if value is not None and not isinstance(value, datetime):
        value = parse_datetime(str(value))
    return value if value is None or timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _languages(user_ids) -> dict[int, str]:
    return dict(User.objects.filter(pk__in=list(user_ids)).values_list("pk", "language"))


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _task_name(row: dict) -> str:
    if row["name"]:
        return row["name"]
    return _("Follow-up task") if row["type"] == TaskType.FOLLOW_UP else _("Task")


# -- reminders ---------------------------------------------------------------------------------------------------
def _reminder_notices(rows: list[dict]) -> list[Notice]:
    languages, link = _languages({r["owner_id"] for r in rows}), task_link()
    by_language: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_language[languages.get(row["owner_id"]) or settings.LANGUAGE_CODE].append(row)
    notices = []
    for language, group in by_language.items():
        with translation.override(language):  # once per language, not per task
            for row in group:
                title = _("Task reminder: %(task)s") % {"task": _task_name(row)}
                lines = [_("Deadline: %(time)s") % {"time": _when(row["due_at"])}] if row["due_at"] else []
                if row["details"]:
                    lines.append(row["details"][:500])
                notices.append(Notice(row["owner_id"], KIND_TASK_REMINDER, title, "\n".join(lines), link,
                                      f"task_remind:{row['id']}"))
    return notices


def _send_claimed(mark: str, field: str, op: str, now: datetime, batch: int, build) -> tuple[int, int, int]:
    """Claim the open tasks due by ``field`` batch by batch (``mark`` set in the same transaction: once per task,
    also with two workers), notify what ``build(rows)`` makes of each batch, then email it when mail is on.
    Returns (tasks, notices, emails)."""
    tasks = notified = emailed = 0
    mail = email_on()
    while True:
        with transaction.atomic():
            rows = _claim(mark, field, op, now, batch)
            notices = build(rows)
            notify_many(notices, now=now)
        tasks += len(rows)
        notified += len(notices)
        if mail:
            emailed += email_notices(notices)
        if len(rows) < batch:
            return tasks, notified, emailed


def send_due_reminders(*, now: datetime | None = None, batch: int = BATCH) -> dict:
    """Remind the owners of the open tasks whose reminder time has come, once per task.
    ``{"reminded": tasks, "emailed": emails, "seconds"}``."""
    started, now = time.perf_counter(), now or timezone.now()
    reminded, _notified, emailed = _send_claimed("reminded_at", "remind_at", "<=", now, batch, _reminder_notices)
    return {"reminded": reminded, "emailed": emailed, "seconds": round(time.perf_counter() - started, 3)}


# -- overdue -----------------------------------------------------------------------------------------------------
def _overdue_notices(rows: list[dict]) -> list[Notice]:
    """One notice per owner for the tasks of this batch (a salesperson with 300 follow-up tasks past their
    deadline gets one line in the bell, not 300), listing the first few."""
    per_owner: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        per_owner[row["owner_id"]].append(row)
    languages, link = _languages(per_owner), task_link()
    notices = []
    for owner, tasks in sorted(per_owner.items()):
        tasks.sort(key=lambda r: (r["due_at"], r["id"]))
        with translation.override(languages.get(owner) or settings.LANGUAGE_CODE):
            n = len(tasks)
            if n == 1:
                title = _("Task overdue: %(task)s") % {"task": _task_name(tasks[0])}
            else:
                title = ngettext("%(n)d task is overdue", "%(n)d tasks are overdue", n) % {"n": n}
            lines = [_("%(task)s (deadline %(time)s)") % {"task": _task_name(r), "time": _when(r["due_at"])}
                     for r in tasks[:OVERDUE_LISTED]]
            if n > OVERDUE_LISTED:
                lines.append(_("and %(n)d more") % {"n": n - OVERDUE_LISTED})
        notices.append(Notice(owner, KIND_TASK_OVERDUE, title, "\n".join(lines), link,
                              f"task_overdue:{min(r['id'] for r in tasks)}"))
    return notices


def send_overdue_notices(*, now: datetime | None = None, batch: int = BATCH) -> dict:
    """Tell owners of the open tasks past their deadline, once per task (``overdue_notified_at``).
    ``{"overdue": tasks, "notified": notices, "emailed": emails, "seconds"}``."""
    started, now = time.perf_counter(), now or timezone.now()
    overdue, notified, emailed = _send_claimed("overdue_notified_at", "due_at", "<", now, batch, _overdue_notices)
    return {"overdue": overdue, "notified": notified, "emailed": emailed,
            "seconds": round(time.perf_counter() - started, 3)}
