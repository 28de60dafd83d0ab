"""The task center's pages (CSRF enforced): zh-hans labels and local times, the date groups at the day boundary
in Shanghai, what an htmx drop, a tick, an inline edit and a batch change post, the form, the scope (404)."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shoal.sales.models import Task, TaskPriority
from shoal.sales.services import tasks as services
from tests.sales.tasks_people import make_team

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
HX = {"HTTP_HX_REQUEST": "true"}
CENTER = "/sales/tasks/"



@pytest.fixture
def team(db, roles):
    return make_team(roles)

def _task(actor, **kw):
    kw.setdefault("name", "Call back")
    return services.task_create(actor=actor, **kw)


@pytest.fixture
def owner_client(client, team):
    client.force_login(team["owner"])
    return client


def _column(html: str, key: str) -> str:
    """The HTML of one column of the board."""
    start = html.index(f'id="task-group-{key}"')
    end = html.find('<section class="task-column', start + 1)
    return html[start:end if end != -1 else len(html)]


def _frozen(monkeypatch, moment):
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_the_board_speaks_zh_hans_with_local_times_and_masked_customers(owner_client, team):
    _task(team["owner"], name="回访", type="follow_up", customer_id=team["mine"].pk, priority="urgent",
          due_at=datetime(2030, 3, 4, 1, 0, tzinfo=zoneinfo.ZoneInfo("UTC")))
    html = owner_client.get(CENTER).content.decode()
    for text in ("任务中心", "我负责的任务", "我创建的任务", "已逾期", "今天", "明天", "本周", "以后", "无截止时间",
                 "紧急", "未开始", "按时间"):
        assert text in html, text
    assert "2030-03-04 09:00" in html  # 01:00 UTC is 09:00 in Shanghai
    assert "138****8000" in html and "13800138000" not in html
    for code in (">urgent<", ">not_started<", ">follow_up<", ">overdue<"):
        assert code not in html


def test_date_groups_at_2330_and_0030_in_shanghai(owner_client, team, monkeypatch):
    _task(team["owner"], name="Late tonight", due_at=datetime(2026, 3, 4, 23, 50, tzinfo=SHANGHAI))
    _task(team["owner"], name="Thursday noon", due_at=datetime(2026, 3, 5, 12, 0, tzinfo=SHANGHAI))
    _frozen(monkeypatch, datetime(2026, 3, 4, 23, 30, tzinfo=SHANGHAI))
    html = owner_client.get(CENTER).content.decode()
    assert "Late tonight" in _column(html, "today") and "Thursday noon" in _column(html, "tomorrow")
    _frozen(monkeypatch, datetime(2026, 3, 5, 0, 30, tzinfo=SHANGHAI))
    html = owner_client.get(CENTER).content.decode()
    assert "Late tonight" in _column(html, "overdue") and "Thursday noon" in _column(html, "today")
    assert 'data-drop="1"' not in _column(html, "overdue")  # overdue takes no drop


def test_a_drop_posted_by_htmx_changes_the_field_and_answers_the_board(owner_client, team):
    task = _task(team["owner"], name="Drag me")
    url = reverse("admin:sales_task_move", args=[task.pk]) + "?view=mine&mode=board&group_by=progress"
    response = owner_client.post(url, {"group_by": "progress", "key": "in_progress"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="task-board"') and "<html" not in html  # the board alone
    assert "Drag me" in _column(html, "in_progress")
    assert Task.objects.get(pk=task.pk).progress == "in_progress"
    response = owner_client.post(url.replace("progress", "priority"), {"group_by": "priority", "key": "urgent"}, **HX)
    assert Task.objects.get(pk=task.pk).priority == TaskPriority.URGENT
    assert "Drag me" in _column(response.content.decode(), "urgent")


def test_a_drop_into_a_date_group_sets_the_deadline(owner_client, team, monkeypatch):
    _frozen(monkeypatch, datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI))
    task = _task(team["owner"], name="Someday")
    url = reverse("admin:sales_task_move", args=[task.pk]) + "?group_by=date"
    html = owner_client.post(url, {"group_by": "date", "key": "tomorrow"}, **HX).content.decode()
    assert Task.objects.get(pk=task.pk).due_at == datetime(2026, 3, 5, 23, 59, 59, tzinfo=SHANGHAI)
    assert "Someday" in _column(html, "tomorrow")
    owner_client.post(url, {"group_by": "date", "key": "later", "due_date": "2026-03-20"}, **HX)
    assert Task.objects.get(pk=task.pk).due_at == datetime(2026, 3, 20, 23, 59, 59, tzinfo=SHANGHAI)
    html = owner_client.post(url, {"group_by": "date", "key": "overdue"}, **HX).content.decode()
    assert "任务不能拖到这里" in html  # refused, said on the board
    assert Task.objects.get(pk=task.pk).due_at == datetime(2026, 3, 20, 23, 59, 59, tzinfo=SHANGHAI)
    owner_client.post(url, {"group_by": "date", "key": "none"}, **HX)
    assert Task.objects.get(pk=task.pk).due_at is None


def test_a_write_without_the_csrf_token_is_refused(team):
    task = _task(team["owner"])
    bare = Client(enforce_csrf_checks=True)
    bare.force_login(team["owner"])
    url = reverse("admin:sales_task_move", args=[task.pk])
    assert bare.post(url, {"group_by": "progress", "key": "done"}, **HX).status_code == 403
    assert Task.objects.get(pk=task.pk).progress == "not_started"


def test_ticking_marks_done_and_unticking_reopens(owner_client, team):
    task = _task(team["owner"], name="Tick me")
    url = reverse("admin:sales_task_done", args=[task.pk]) + "?group_by=progress"
    html = owner_client.post(url, {"done": "1"}, **HX).content.decode()
    task.refresh_from_db()
    assert task.progress == "done" and task.done_at is not None
    assert "Tick me" in _column(html, "done")
    owner_client.post(url, {}, **HX)  # an unticked box sends nothing
    task.refresh_from_db()
    assert task.progress == "not_started" and task.done_at is None


def test_without_htmx_a_change_redirects_back_with_a_message(owner_client, team):
    task = _task(team["owner"])
    response = owner_client.post(reverse("admin:sales_task_done", args=[task.pk]) + "?mode=list", {"done": "1"})
    assert response.status_code == 302 and "mode=list" in response["Location"]
    assert "任务已完成" in owner_client.get(response["Location"]).content.decode()


def test_inline_edit_in_the_list(owner_client, team):
    task = _task(team["owner"], name="Inline")
    url = reverse("admin:sales_task_field", args=[task.pk]) + "?mode=list"
    html = owner_client.post(url, {"priority": "high"}, **HX).content.decode()
    assert html.lstrip().startswith('<div id="task-list"')
    owner_client.post(url, {"due_at": "2026-05-01T18:30"}, **HX)
    owner_client.post(url, {"owner_id": str(team["colleague"].pk)}, **HX)
    task.refresh_from_db()
    assert task.priority == TaskPriority.HIGH
    assert task.due_at == datetime(2026, 5, 1, 18, 30, tzinfo=SHANGHAI)
    assert task.owner_id == team["colleague"].pk
    html = owner_client.post(url, {"owner_id": str(team["outsider"].pk)}, **HX).content.decode()
    assert "不能把任务指派给该用户" in html  # refused, said in the list
    task.refresh_from_db()
    assert task.owner_id == team["colleague"].pk


def test_batch_change_from_the_list(owner_client, team):
    a, b, c = _task(team["owner"]), _task(team["owner"]), _task(team["owner"])
    url = reverse("admin:sales_task_batch") + "?mode=list"
    html = owner_client.post(url, {"ids": [a.pk, b.pk], "field": "priority", "priority": "urgent"}, **HX).content.decode()
    assert "已修改 2 个任务" in html
    assert set(Task.objects.filter(priority=TaskPriority.URGENT).values_list("pk", flat=True)) == {a.pk, b.pk}
    owner_client.post(url, {"ids": [a.pk, c.pk], "field": "done"}, **HX)
    assert set(Task.objects.filter(progress="done").values_list("pk", flat=True)) == {a.pk, c.pk}
    theirs = _task(team["outsider"])
    owner_client.post(url, {"ids": [b.pk, theirs.pk], "field": "progress", "progress": "cancelled"}, **HX)
    assert not Task.objects.filter(progress="cancelled").exists()


def test_the_list_filters_and_searches(owner_client, team):
    _task(team["owner"], name="Quote for Zhang", priority="high")
    _task(team["owner"], name="Visit Li", priority="low")
    html = owner_client.get(CENTER, {"mode": "list", "q": "quote"}).content.decode()
    assert "Quote for Zhang" in html and "Visit Li" not in html
    html = owner_client.get(CENTER, {"mode": "list", "priority": "low"}).content.decode()
    assert "Visit Li" in html and "Quote for Zhang" not in html


def test_the_form_creates_a_task_for_a_colleague(owner_client, team):
    response = owner_client.post(reverse("admin:sales_task_add"), {
        "name": "Prepare the plan", "type": "normal", "priority": "high", "progress": "not_started",
        "owner_id": team["colleague"].pk, "due_at": "2026-06-01T09:00", "details": "draft"})
    assert response.status_code == 302
    task = Task.objects.get(name="Prepare the plan")
    assert task.owner_id == team["colleague"].pk and task.creator_id == team["owner"].pk
    assert task.due_at == datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
    assert "Prepare the plan" in owner_client.get(CENTER, {"view": "created"}).content.decode()


def test_the_form_says_why_it_refuses(owner_client, team):
    html = owner_client.post(reverse("admin:sales_task_add"), {
        "name": "Follow up", "type": "follow_up", "priority": "medium", "progress": "not_started",
        "owner_id": team["owner"].pk}).content.decode()
    assert "跟进任务必须关联客户" in html and not Task.objects.exists()


def test_the_customer_picker_lists_scoped_customers_masked(owner_client, team):
    html = owner_client.get(reverse("admin:sales_task_customers"), {"q": "Zhang"}).content.decode()
    assert "Zhang San" in html and "138****8000" in html
    html = owner_client.get(reverse("admin:sales_task_customers"), {"q": "Li Si"}).content.decode()
    assert "Li Si" not in html  # the outsider's customer


@pytest.mark.parametrize("persona, status", [("owner", 200), ("creator", 200), ("manager", 200), ("outsider", 404)])
def test_a_task_page_in_and_out_of_scope(client, team, persona, status):
    task = _task(team["colleague"], owner_id=team["owner"].pk)
    client.force_login(team["colleague" if persona == "creator" else persona])
    assert client.get(reverse("admin:sales_task_edit", args=[task.pk])).status_code == status
    response = client.post(reverse("admin:sales_task_move", args=[task.pk]), {"group_by": "progress", "key": "done"},
                           **HX)
    assert response.status_code == status
    assert Task.objects.get(pk=task.pk).progress == ("done" if status == 200 else "not_started")


def test_the_page_reads_the_same_number_of_queries_for_more_tasks(owner_client, team):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(CENTER).status_code == 200
        return len(queries)

    for i in range(5):
        _task(team["owner"], name=f"a{i}", customer_id=team["mine"].pk, due_at=datetime(2030, 1, 1 + i, tzinfo=SHANGHAI))
    few = count()
    for i in range(25):
        _task(team["owner"], name=f"b{i}", customer_id=team["mine"].pk, due_at=datetime(2030, 2, 1 + i, tzinfo=SHANGHAI))
    assert count() == few


def test_the_workbench_figures_open_the_tasks_behind_them(owner_client, team, monkeypatch):
    import types

    from shoal.sales import views_tasks

    now = datetime(2030, 3, 4, 10, 0, tzinfo=SHANGHAI)  # the page's clock only (the session keeps the real one)
    monkeypatch.setattr(views_tasks, "timezone", types.SimpleNamespace(now=lambda: now))
    _task(team["owner"], name="逾期回访", due_at=now - timedelta(hours=2))
    _task(team["owner"], name="今天稍后", due_at=now + timedelta(minutes=5))
    _task(team["owner"], name="下月再说", due_at=now + timedelta(days=40))
    overdue = owner_client.get(CENTER, {"view": "mine", "mode": "list", "due": "overdue"}).content.decode()
    assert "逾期回访" in overdue and "今天稍后" not in overdue and "下月再说" not in overdue
    today = owner_client.get(CENTER, {"view": "mine", "mode": "list", "due": "today"}).content.decode()
    assert "今天稍后" in today and "逾期回访" not in today and "下月再说" not in today
    # an unknown value is no filter
    everything = owner_client.get(CENTER, {"view": "mine", "mode": "list", "due": "soon"}).content.decode()
    assert all(name in everything for name in ("逾期回访", "今天稍后", "下月再说"))
