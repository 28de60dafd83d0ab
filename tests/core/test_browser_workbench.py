"""Real browser, zh-hans: the workbench loads each board on its own (placeholders replaced, charts drawn with the
bundled Chart.js, no console error under the CSP); a manager removes a board and moves another up in 选择板块, and
the choice is kept after a reload; a failing board shows its message in its own box.

With SHOAL_SCREENSHOTS=<dir> the workbench is also saved as PNG."""

import os
from datetime import timedelta

import pytest

from shoal.core import workbench as wb
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.sales.models import FollowUp
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SHOAL_SCREENSHOTS")


@pytest.fixture
def team(roles):
    manager = make_user("wb_manager", roles["manager"], name="王经理")
    sales = make_user("wb_sales", roles["salesperson"], name="李小丹")
    group = CustomerGroup.objects.create(name="华南组")
    group.admins.add(manager)
    group.salespeople.add(sales)
    yesterday, _ = wb.today_bounds(-1)
    for i in range(3):
        customer = Customer.objects.create(name=f"客户{i}")
        CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=sales)
        FollowUp.objects.create(customer=customer, salesperson=sales, call_seconds=300,
                                created_at=yesterday + timedelta(hours=10 + i))
    return manager


@pytest.mark.django_db(transaction=True)
def test_manager_sees_boards_load_and_arranges_them(live_server, browser_page, team):
    page = browser_page
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    browser_login(page, live_server.url, "wb_manager")
    page.wait_for_load_state("networkidle")
    assert page.locator(".workbench-loading").count() == 0  # every placeholder was replaced
    ranking = page.locator('#workbench-boards [data-board="sales.follow_up_ranking"]')
    assert "昨日跟进客户数排名" in ranking.inner_text() and "李小丹" not in ranking.inner_text()  # the name is in the chart
    assert ranking.locator("canvas.workbench-chart-canvas[data-drawn]").count() == 1
    assert page.locator('#workbench-boards [data-board="pools.assignment_status"] canvas[data-drawn]').count() == 1
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "workbench-manager.png"), full_page=True)
    first = page.locator("#workbench-boards [data-board]").first.get_attribute("data-board")
    assert first == "accounts.my_info"
    page.click("#workbench-settings summary")
    page.click('#workbench-settings [data-board="accounts.my_info"] button:has-text("移除")')
    page.wait_for_selector('#workbench-boards [data-board="accounts.my_info"]', state="detached")
    with page.expect_response(lambda response: "/workbench/layout/" in response.url):
        page.click('#workbench-settings [data-board="sales.call_time_ranking"] button[value^="up:"]')
    page.wait_for_load_state("networkidle")
    assert page.locator("#workbench-settings").get_attribute("open") is not None  # the panel stays open
    order = [e.get_attribute("data-board") for e in page.locator("#workbench-boards [data-board]").all()]
    assert order.index("sales.call_time_ranking") < order.index("sales.follow_up_ranking")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert [e.get_attribute("data-board") for e in page.locator("#workbench-boards [data-board]").all()] == order
    assert page.locator(".workbench-loading").count() == 0
    assert not problems, problems


@pytest.mark.django_db(transaction=True)
def test_a_failing_board_shows_its_message_and_the_others_load(live_server, browser_page, team):
    def explode(*, actor, params):
        raise RuntimeError("boom")

    wb.BOARDS["test.broken"] = wb.Board("test.broken", "Broken", explode, order=1)
    try:
        page = browser_page
        browser_login(page, live_server.url, "wb_manager")
        page.wait_for_load_state("networkidle")
        assert "此板块无法加载" in page.locator('#workbench-boards [data-board="test.broken"]').inner_text()
        assert "今日客户动向" in page.locator('#workbench-boards [data-board="customers.activity"]').inner_text()
        assert page.locator(".workbench-loading").count() == 0
    finally:
        wb.BOARDS.pop("test.broken", None)
