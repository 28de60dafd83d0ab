"""The sales boards of the workbench (my tasks, my customers, yesterday's follow-up ranking and call time, the
"followed up today" figure of today's activity) for each persona: salesperson, manager, admin, outsider."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from shoal.accounts.models import Department
from shoal.core import workbench as wb
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.sales import boards
from shoal.sales.models import FollowUp, Task, TaskProgress, TaskType
from tests.conftest import make_user
from tests.sales.plans import plan


def figures(board_code, user, **params):
    content = wb.board_content(wb.BOARDS[board_code], actor=user, params=params)
    return {f.key: f.value for f in content.figures}, content


@pytest.fixture
def world(personas, roles):
    """Department A: the manager, the salesperson and a peer; department B: a far salesperson. Group G (the
    manager administers it): the salesperson and the peer sell in it; group H: the far one."""
    a, b = Department.objects.create(name="Dept A"), Department.objects.create(name="Dept B")
    sales, manager = personas["salesperson"], personas["manager"]
    peer = make_user("peer", roles["salesperson"], name="同组业务员")
    far = make_user("far", roles["salesperson"], name="远方业务员")
    for user, dept in ((manager, a), (sales, a), (peer, a), (far, b)):
        user.departments.add(dept)
    g, h = CustomerGroup.objects.create(name="G"), CustomerGroup.objects.create(name="H")
    g.admins.add(manager)
    g.salespeople.add(sales, peer)
    h.salespeople.add(far)
    now = timezone.now()
    c = {i: Customer.objects.create(name=f"c{i}") for i in range(1, 11)}
    Customer.objects.filter(pk=c[6].pk).update(in_recycle_bin=True)
    for i, group, person, assigned in ((1, g, sales, now - timedelta(days=30)), (2, g, sales, now), (6, g, sales, now),
                                       (3, g, peer, now), (4, h, far, now), (5, g, None, None), (7, h, far, now),
                                       (8, h, far, now), (9, h, far, now)):
        CustomerGroupMembership.objects.create(customer=c[i], group=group, salesperson=person, assigned_at=assigned)
    today_start, today_end = wb.today_bounds()
    yesterday, _ = wb.today_bounds(-1)
    noon = yesterday + timedelta(hours=12)
    for customer, person, effective, seconds in ((1, sales, True, 120), (1, sales, False, 60), (2, sales, False, None),
                                                 (3, peer, False, 600), (4, far, False, 30), (7, far, False, 30),
                                                 (8, far, True, 30), (9, far, False, 30)):
        FollowUp.objects.create(customer=c[customer], salesperson=person, effective=effective, call_seconds=seconds,
                                created_at=noon)
    FollowUp.objects.create(customer=c[1], salesperson=sales, created_at=today_start + timedelta(seconds=1))
    FollowUp.objects.create(customer=c[4], salesperson=far, created_at=today_start + timedelta(seconds=1))
    later_today = max(now + timedelta(seconds=30), today_end - timedelta(seconds=1))
    for kind, due, progress in ((TaskType.FOLLOW_UP, now - timedelta(days=1), TaskProgress.NOT_STARTED),
                                (TaskType.NORMAL, later_today, TaskProgress.IN_PROGRESS),
                                (TaskType.FOLLOW_UP, now + timedelta(days=3), TaskProgress.NOT_STARTED),
                                (TaskType.FOLLOW_UP, now - timedelta(days=2), TaskProgress.DONE)):
        Task.objects.create(type=kind, owner=sales, customer=c[1] if kind == TaskType.FOLLOW_UP else None, due_at=due,
                            progress=progress)
    Task.objects.create(type=TaskType.NORMAL, owner=peer, due_at=now - timedelta(days=1))
    return {"peer": peer, "far": far, "g": g, "h": h, "c": c}


# -- my tasks -------------------------------------------------------------------------------------------------------
def test_my_tasks_counts_the_viewers_own_open_tasks(world, personas):
    values, _ = figures("sales.my_tasks", personas["salesperson"])
    assert values == {"overdue": 1, "today": 1, "open": 3}
    assert figures("sales.my_tasks", world["peer"])[0] == {"overdue": 1, "today": 0, "open": 1}
    for persona in ("manager", "admin", "norole"):  # their own tasks only: none
        assert figures("sales.my_tasks", personas[persona])[0] == {"overdue": 0, "today": 0, "open": 0}


def test_my_tasks_links_open_the_task_center_filtered(world, personas, monkeypatch):
    real = boards.reverse

    def reverse(name, *args, **kwargs):
        return "/sales/tasks/" if name == "admin:sales_tasks" else real(name, *args, **kwargs)

    monkeypatch.setattr(boards, "reverse", reverse)
    _values, content = figures("sales.my_tasks", personas["salesperson"])
    links = {f.key: f.href for f in content.figures}
    assert links["overdue"] == "/sales/tasks/?view=mine&group_by=date&due=overdue"
    assert links["today"] == "/sales/tasks/?view=mine&group_by=date&due=today"


def test_task_links_fall_back_to_my_customers_while_the_task_center_is_missing():
    try:
        reverse("admin:sales_tasks")
    except Exception:
        assert boards.task_center_url(due="overdue") == reverse("admin:pools_my_customers")
    else:
        assert "due=overdue" in boards.task_center_url(due="overdue")


# -- my customers ---------------------------------------------------------------------------------------------------
def test_my_customers_counts_the_private_sea_the_week_and_the_follow_ups_due(world, personas, client):
    sales = personas["salesperson"]
    values, content = figures("sales.my_customers", sales)
    # c1, c2 (c6 is in the recycle bin); c2 came this week; one follow-up task due (overdue), the normal task aside
    assert values == {"private_sea": 2, "new_this_week": 1, "follow_up_today": 1}
    assert content.figures[0].href == reverse("admin:pools_my_customers")
    assert figures("sales.my_customers", world["far"])[0] == {"private_sea": 4, "new_this_week": 4,
                                                              "follow_up_today": 0}
    assert figures("sales.my_customers", personas["manager"])[0]["private_sea"] == 0
    client.force_login(personas["norole"])  # no sea permission: no board
    assert client.get(reverse("admin:workbench_board", args=["sales.my_customers"])).status_code == 403


# -- yesterday's ranking --------------------------------------------------------------------------------------------
def test_salesperson_sees_their_own_line_and_place_but_no_colleague(world, personas, client):
    sales = personas["salesperson"]
    values, content = figures("sales.follow_up_ranking", sales)
    assert values == {"mine": 2, "rank": "1 / 2"}  # c1 and c2; among department A (the peer: 1)
    assert content.chart is None
    client.force_login(sales)
    html = client.get(reverse("admin:workbench_board", args=["sales.follow_up_ranking"])).content.decode()
    assert "同组业务员" not in html and "远方业务员" not in html
    assert figures("sales.follow_up_ranking", sales, by="effective")[0] == {"mine": 1, "rank": "1 / 2"}
    assert figures("sales.call_time_ranking", sales)[0] == {"mine": 3, "rank": "2 / 2"}  # 3 min < the peer's 10


def test_manager_ranks_the_salespeople_of_their_departments_and_groups_only(world, personas):
    values, content = figures("sales.follow_up_ranking", personas["manager"])
    assert values == {"mine": 0, "rank": "—", "people": 2}
    assert content.chart.labels == [personas["salesperson"].username, "同组业务员"]  # not the far one
    assert content.chart.series[0]["data"] == [2, 1]
    assert [t.active for t in content.tabs] == [True, False]
    _values, calls = figures("sales.call_time_ranking", personas["manager"])
    assert calls.chart.labels == ["同组业务员", personas["salesperson"].username] and calls.chart.series[0]["data"] == [10, 3]


def test_admin_ranks_everyone(world, personas):
    _values, content = figures("sales.follow_up_ranking", personas["admin"])
    assert content.chart.labels[0] == "远方业务员" and content.chart.series[0]["data"] == [4, 2, 1]
    _values, effective = figures("sales.follow_up_ranking", personas["admin"], by="effective")
    assert effective.chart.series[0]["data"][:2] == [1, 1]


def test_outsider_has_no_ranking_board(world, personas, client):
    client.force_login(personas["norole"])
    for code in ("sales.follow_up_ranking", "sales.call_time_ranking"):
        assert client.get(reverse("admin:workbench_board", args=[code])).status_code == 403


def test_ranking_tabs_reload_the_board_with_the_other_measure(world, personas, client):
    client.force_login(personas["manager"])
    url = reverse("admin:workbench_board", args=["sales.follow_up_ranking"])
    html = client.get(url).content.decode()
    assert f'hx-get="{url}?by=effective"' in html and "workbench-chart-canvas" in html
    chosen = client.get(url, {"by": "effective"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'class="is-active">有效跟进数' in chosen
    assert client.get(url, {"by": "<script>"}).status_code == 200  # a bad choice: the default


# -- today's customer activity: follow-ups today -------------------------------------------------------------------------
def test_follow_ups_today_counts_the_people_of_the_viewers_scope(world, personas):
    def followed(user):
        return figures("customers.activity", user)[0].get("follow_ups")

    assert followed(personas["salesperson"]) == 1
    assert followed(personas["manager"]) == 1
    assert followed(personas["admin"]) == 2
    assert followed(world["far"]) == 1
    assert followed(personas["norole"]) is None  # no follow-up permission: no figure


def test_yesterdays_ranking_is_read_once_then_kept_while_today_is_live(db, django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from shoal.sales.boards import ranking_rows

    now = timezone.now()
    yesterday = (now - timedelta(days=1), now - timedelta(hours=1))
    ranking_rows(people=[1, 2], start=yesterday[0], end=yesterday[1])
    with django_assert_num_queries(0):  # a window that has ended: from the cache
        assert ranking_rows(people=[1, 2], start=yesterday[0], end=yesterday[1]) == []
    with django_assert_num_queries(1):  # other people: read
        ranking_rows(people=[1, 3], start=yesterday[0], end=yesterday[1])
    with django_assert_num_queries(1):  # a window still open: read every time
        ranking_rows(people=[1, 2], start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    with django_assert_num_queries(1):
        ranking_rows(people=[1, 2], start=now - timedelta(hours=1), end=now + timedelta(hours=1))


@pytest.mark.django_db
def test_the_ranking_reads_the_follow_ups_index_alone():
    """Yesterday's ranking (customers, effective follow-ups, call time per salesperson) asks only for columns of
    followup_sales_cover_idx: the database answers from the index, not from a table block per follow-up (a day's
    follow-ups are ~30,000 rows scattered over the table)."""
    from django.test.utils import CaptureQueriesContext

    start, end = wb.today_bounds(-1)
    with CaptureQueriesContext(connection) as ctx:
        boards._ranking_rows([1, 2, 3], start, end)
    [query] = ctx.captured_queries  # the SQL as run, its values written in
    text = plan(query["sql"], None, no_bitmap=True)
    assert "followup_sales_cover_idx" in text
    assert ("Index Only Scan" in text) if connection.vendor == "postgresql" else ("COVERING INDEX" in text), text
