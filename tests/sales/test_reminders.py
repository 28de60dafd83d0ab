"""Task reminders and overdue notices: at the reminder time, exactly once per task (two runs, two workers at once,
the claim itself), overdue once per task, in a few statements for thousands, by email through a real SMTP server."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from shoal.core import parameters
from shoal.sales.models import Notification, Task, TaskProgress, TaskType
from shoal.sales.services import reminders
from shoal.schedules.registry import JOBS
from tests.conftest import make_user
from tests.sales.plans import plan
from tests.together import at_once

NOW = timezone.now().replace(microsecond=0)


def task(owner, *, remind=None, due=None, progress=TaskProgress.NOT_STARTED, name="回访张先生", **kw):
    return Task.objects.create(owner=owner, name=name, remind_at=remind, due_at=due, progress=progress, **kw)


@pytest.mark.django_db
def test_a_due_reminder_reaches_its_owner_once_over_two_runs():
    owner, other = make_user("rem_owner"), make_user("rem_other")
    due = task(owner, remind=NOW - timedelta(minutes=1), due=NOW + timedelta(hours=2), details="带上合同")
    exact = task(other, remind=NOW, name="")
    later = task(owner, remind=NOW + timedelta(minutes=5))
    done = task(owner, remind=NOW - timedelta(hours=1), progress=TaskProgress.DONE)
    no_reminder = task(owner)
    assert reminders.send_due_reminders(now=NOW)["reminded"] == 2
    assert reminders.send_due_reminders(now=NOW)["reminded"] == 0
    assert reminders.send_due_reminders(now=NOW + timedelta(seconds=30))["reminded"] == 0
    note = Notification.objects.get(user=owner)
    assert note.kind == "task_reminder" and note.key == f"task_remind:{due.pk}"
    assert "回访张先生" in note.title and "带上合同" in note.body
    assert timezone.localtime(due.due_at).strftime("%H:%M") in note.body  # the deadline in local time
    assert Notification.objects.get(user=other).key == f"task_remind:{exact.pk}"
    Task.objects.filter(pk__in=[due.pk, exact.pk, later.pk, done.pk, no_reminder.pk])
    assert set(Task.objects.filter(reminded_at__isnull=False).values_list("pk", flat=True)) == {due.pk, exact.pk}
    # the later one comes at its time, alone
    assert reminders.send_due_reminders(now=NOW + timedelta(minutes=5))["reminded"] == 1
    assert Notification.objects.filter(user=owner, kind="task_reminder").count() == 2
    assert not Notification.objects.filter(key=f"task_remind:{done.pk}").exists()


@pytest.mark.django_db
def test_the_claim_takes_a_task_once_and_skips_what_another_claimed():
    owner = make_user("rem_claim")
    tasks = [task(owner, remind=NOW - timedelta(minutes=i)) for i in range(5)]
    Task.objects.filter(pk=tasks[0].pk).update(reminded_at=NOW)  # another worker got this one
    first = reminders._claim("reminded_at", "remind_at", "<=", NOW, 3)
    second = reminders._claim("reminded_at", "remind_at", "<=", NOW, 3)
    assert len(first) == 3 and len(second) == 1
    assert {r["id"] for r in first} | {r["id"] for r in second} == {t.pk for t in tasks[1:]}
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    assert reminders._claim("reminded_at", "remind_at", "<=", NOW, 3) == []
    # the notification key is the second guard: a claimed task whose notice exists is not notified again
    Task.objects.filter(pk=tasks[1].pk).update(reminded_at=None)
    Notification.objects.create(user=owner, kind="task_reminder", title="x", key=f"task_remind:{tasks[1].pk}")
    reminders.send_due_reminders(now=NOW)
    assert Notification.objects.filter(key=f"task_remind:{tasks[1].pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_remind_each_task_exactly_once():
    owners = [make_user(f"rem_w{i}") for i in range(3)]
    ids = [t.pk for t in Task.objects.bulk_create(
        [Task(owner=owners[i % 3], name=f"t{i}", remind_at=NOW - timedelta(seconds=i)) for i in range(300)])]
    results = at_once(lambda: sum(reminders.send_due_reminders(now=NOW, batch=40)["reminded"] for _ in range(3)),
                      timeout=60)
    assert sum(results) == 300
    keys = list(Notification.objects.filter(kind="task_reminder").values_list("key", flat=True))
    assert len(keys) == 300 and set(keys) == {f"task_remind:{pk}" for pk in ids}
    assert not Task.objects.filter(reminded_at__isnull=True).exists()


@pytest.mark.django_db
def test_an_overdue_task_is_noticed_once_and_each_owner_gets_one_notice_per_run():
    owner, other = make_user("ovd_owner"), make_user("ovd_other")
    late = [task(owner, due=NOW - timedelta(hours=h), name=f"任务{h}") for h in (1, 2, 3)]
    task(owner, due=NOW + timedelta(hours=1))  # not yet
    task(owner, due=NOW - timedelta(hours=1), progress=TaskProgress.CANCELLED)
    single = task(other, due=NOW - timedelta(minutes=1), type=TaskType.FOLLOW_UP, name="")
    out = reminders.send_overdue_notices(now=NOW)
    assert (out["overdue"], out["notified"]) == (4, 2)
    note = Notification.objects.get(user=owner, kind="task_overdue")
    assert "3" in note.title and all(f"任务{h}" in note.body for h in (1, 2, 3))
    assert note.body.index("任务3") < note.body.index("任务1")  # the oldest deadline first
    assert Notification.objects.get(user=other, kind="task_overdue").key == f"task_overdue:{single.pk}"
    assert reminders.send_overdue_notices(now=NOW + timedelta(minutes=1))["overdue"] == 0
    assert set(Task.objects.filter(overdue_notified_at__isnull=False).values_list("pk", flat=True)) == \
        {t.pk for t in late} | {single.pk}
    # a task that falls overdue later gets its own notice; the old ones are not repeated
    task(owner, due=NOW + timedelta(minutes=30), name="新任务")
    assert reminders.send_overdue_notices(now=NOW + timedelta(hours=1))["overdue"] == 1
    latest = Notification.objects.filter(user=owner, kind="task_overdue").order_by("-pk").first()
    assert "新任务" in latest.title and "任务1" not in latest.body


@pytest.mark.django_db
def test_a_task_closed_before_its_reminder_is_never_read_again():
    """A task closed before its reminder time keeps ``reminded_at`` empty; the minute job must not read it again
    every minute for ever: the reminders (and the overdue notices) read partial indexes of the open tasks only,
    which the database uses because the claim names their condition (a bound parameter would not do on SQLite)."""
    owner = make_user("rem_closed")
    closed = [task(owner, remind=NOW - timedelta(days=d), due=NOW - timedelta(days=d), progress=p)
              for d in (1, 2) for p in (TaskProgress.DONE, TaskProgress.CANCELLED)]
    open_one = task(owner, remind=NOW - timedelta(minutes=1))
    assert reminders.send_due_reminders(now=NOW)["reminded"] == 1
    assert not Task.objects.filter(pk__in=[t.pk for t in closed], reminded_at__isnull=False).exists()
    at = connection.ops.adapt_datetimefield_value(NOW)
    assert "task_remind_open_idx" in plan(reminders.candidates_sql("reminded_at", "remind_at", "<="), [at, 100])
    assert "task_overdue_idx" in plan(reminders.candidates_sql("overdue_notified_at", "due_at", "<"), [at, 100])
    assert Notification.objects.filter(user=owner).count() == 1
    assert Task.objects.get(pk=open_one.pk).reminded_at is not None
    # reopened, a task whose reminder time has passed is open and not reminded: it is reminded on the next run
    Task.objects.filter(pk=closed[0].pk).update(progress=TaskProgress.IN_PROGRESS)
    assert reminders.send_due_reminders(now=NOW + timedelta(minutes=1))["reminded"] == 1
    assert Notification.objects.filter(key=f"task_remind:{closed[0].pk}").exists()


@pytest.mark.django_db
def test_thousands_of_due_reminders_take_a_few_statements(django_assert_max_num_queries):
    owners = [make_user(f"rem_bulk{i}") for i in range(5)]
    Task.objects.bulk_create([Task(owner=owners[i % 5], name=f"t{i}", remind_at=NOW - timedelta(seconds=i))
                              for i in range(3000)])
    with django_assert_max_num_queries(15):
        assert reminders.send_due_reminders(now=NOW)["reminded"] == 3000
    assert Notification.objects.filter(kind="task_reminder").count() == 3000


@pytest.mark.django_db
def test_the_reminder_job_runs_every_minute():
    spec = JOBS["sales.reminders"]
    assert spec.cron == "* * * * *"
    owner = make_user("rem_job")
    task(owner, remind=timezone.now() - timedelta(minutes=1), due=timezone.now() - timedelta(minutes=1))
    out = spec.func()
    assert out["reminders"]["reminded"] == 1 and out["overdue"]["overdue"] == 1 and out["messages"]["sent"] == 0
    assert spec.func()["reminders"]["reminded"] == 0


# -- email through a real SMTP server ------------------------------------------------------------------------
@pytest.fixture
def smtp_server():
    """aiosmtpd listening on a free port of 127.0.0.1; yields the list of received envelopes."""
    import socket

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(SHOAL_SMTP_HOST="127.0.0.1", SHOAL_SMTP_PORT=port, SHOAL_SMTP_FROM="crm@example.com",
                               SHOAL_BASE_URL="https://crm.example.com"):
            yield inbox.mails
    finally:
        controller.stop()


def _subject(envelope) -> str:
    import email
    from email.header import decode_header, make_header

    return str(make_header(decode_header(email.message_from_bytes(envelope.content)["Subject"])))


@pytest.mark.django_db
def test_reminders_go_by_email_once_when_the_parameter_is_on(smtp_server):
    owner = make_user("rem_mail", email="owner@example.com")
    nomail = make_user("rem_nomail")
    task(owner, remind=NOW - timedelta(minutes=1), name="签合同")
    task(nomail, remind=NOW - timedelta(minutes=1))
    assert reminders.send_due_reminders(now=NOW)["emailed"] == 0  # the parameter is off by default
    assert smtp_server == []
    parameters.set_value("TASK_REMINDER_EMAIL", True, actor=None)
    task(owner, remind=NOW, name="寄样品")
    task(owner, due=NOW - timedelta(hours=1), name="报价")
    assert reminders.send_due_reminders(now=NOW)["emailed"] == 1
    assert reminders.send_overdue_notices(now=NOW)["emailed"] == 1
    assert reminders.send_due_reminders(now=NOW)["emailed"] == 0
    assert len(smtp_server) == 2
    first = smtp_server[0]
    assert first.rcpt_tos == ["owner@example.com"] and first.mail_from == "crm@example.com"
    assert "寄样品" in _subject(first)
    assert "https://crm.example.com/" in first.content.decode("utf-8", "replace")
    assert "报价" in _subject(smtp_server[1])


@pytest.mark.django_db
def test_a_mail_server_that_is_down_loses_the_email_not_the_notification():
    owner = make_user("rem_down", email="down@example.com")
    parameters.set_value("TASK_REMINDER_EMAIL", True, actor=None)
    task(owner, remind=NOW)
    with override_settings(SHOAL_SMTP_HOST="127.0.0.1", SHOAL_SMTP_PORT=1, SHOAL_SMTP_TIMEOUT=2):
        out = reminders.send_due_reminders(now=NOW)
    assert (out["reminded"], out["emailed"]) == (1, 0)
    assert Notification.objects.filter(user=owner, kind="task_reminder").count() == 1
