"""The pools board of the workbench: group and assignment status (客户分组分配情况), for group admins and managers,
counted over the groups the viewer hands customers out in."""

from datetime import timedelta

import pytest
from django.urls import reverse

from shoal.core import workbench as wb
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.pools.models import AssignmentKind, AssignmentLog
from tests.conftest import make_user

BOARD = "pools.assignment_status"


def figures(user):
    content = wb.board_content(wb.BOARDS[BOARD], actor=user, params={})
    return {f.key: f.value for f in content.figures}, content


@pytest.fixture
def world(personas, roles):
    manager, sales = personas["manager"], personas["salesperson"]
    other = make_user("other_sales", roles["salesperson"], name="其他组业务员")
    g, h = CustomerGroup.objects.create(name="G"), CustomerGroup.objects.create(name="H")
    g.admins.add(manager)
    g.salespeople.add(sales)
    h.salespeople.add(other)
    c = [Customer.objects.create(name=f"c{i}") for i in range(8)]
    for customer, group, person in ((c[0], g, sales), (c[1], g, sales), (c[2], g, None), (c[3], g, None),
                                    (c[4], h, other), (c[5], h, other), (c[6], h, other), (c[7], h, None)):
        CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=person)
    start, _end = wb.today_bounds()
    today = start + timedelta(seconds=1)
    for customer, group, kind, at in ((c[0], g, AssignmentKind.ASSIGN, today), (c[1], g, AssignmentKind.CLAIM, today),
                                      (c[0], g, AssignmentKind.ASSIGN, start - timedelta(hours=1)),  # yesterday
                                      (c[2], g, AssignmentKind.RECYCLE, today), (c[4], h, AssignmentKind.ASSIGN, today),
                                      (c[7], h, AssignmentKind.RECYCLE, today), (c[7], h, AssignmentKind.RECYCLE, today)):
        AssignmentLog.objects.create(customer=customer, group=group, kind=kind, at=at)
    return {"g": g, "h": h, "other": other}


def test_manager_sees_the_groups_they_administer(world, personas):
    values, content = figures(personas["manager"])
    assert values == {"group_sea": 2, "assigned_today": 2, "recycled_today": 1, "groups": 1}
    assert content.chart.labels == [personas["salesperson"].username] and content.chart.series[0]["data"] == [2]
    links = {f.key: f.href for f in content.figures}
    assert links["group_sea"] == reverse("admin:pools_group_sea") + f"?group={world['g'].pk}"
    assert links["recycled_today"] == reverse("admin:pools_recycle_log") + "?kind=recycle"
    assert links["assigned_today"] == reverse("admin:pools_assignment_log")


def test_admin_sees_every_group(world, personas):
    values, content = figures(personas["admin"])
    assert values == {"group_sea": 3, "assigned_today": 3, "recycled_today": 3, "groups": 2}
    assert content.chart.labels == ["其他组业务员", personas["salesperson"].username]
    assert content.chart.series[0]["data"] == [3, 2]


def test_salesperson_and_outsider_have_no_assignment_board(world, personas, client):
    for persona in ("salesperson", "norole"):
        assert not wb.BOARDS[BOARD].allowed(personas[persona])
        client.force_login(personas[persona])
        assert client.get(reverse("admin:workbench_board", args=[BOARD])).status_code == 403
        assert BOARD not in [b["code"] for b in client.get("/api/v1/workbench").json()["boards"]]


def test_a_manager_without_groups_has_no_assignment_board(world, personas, roles):
    assert not wb.BOARDS[BOARD].allowed(make_user("lonely_manager", roles["manager"]))
    assert wb.BOARDS[BOARD].allowed(personas["manager"])


def test_a_busy_day_is_counted_up_to_a_bound(world, personas, monkeypatch):
    from shoal.pools import boards

    monkeypatch.setattr(boards, "shown_count", lambda qs: wb.shown_count(qs, cap=1))
    values, _content = figures(personas["admin"])
    assert values["assigned_today"] == "1+" and values["recycled_today"] == "1+"


def test_the_board_page_draws_a_chart_in_chinese(world, personas, client):
    client.force_login(personas["manager"])
    html = client.get(reverse("admin:workbench_board", args=[BOARD])).content.decode()
    assert "小组公海客户" in html and "今日分配" in html and "今日回收" in html and "workbench-chart-canvas" in html
