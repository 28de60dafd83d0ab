"""Real browser, zh-hans: an editor builds a strategy with the row builder (parentheses, AND/OR, an action
delayed 48 hours), another user approves it on the review page, events come, and the editor cancels a
pending task on the strategy task list and looks at the results chart."""

import pytest

from shoal.strategies.models import Strategy, StrategyTask, TaskStatus
from tests.conftest import browser_login, make_user
from tests.strategies.conftest import FIELDS, send

pytestmark = pytest.mark.browser


@pytest.fixture
def world(transactional_db, roles):
    from shoal.events.models import EventType

    EventType.objects.create(name="银行代扣还款", code="payment", fields=FIELDS)
    return {"editor": make_user("xiaodan", roles["admin"], name="李小丹"),
            "approver": make_user("wang", roles["admin"], name="王经理")}


def _row(page, scope: str, n: int):
    return page.locator(f"#{scope} tbody tr").nth(n)


@pytest.mark.django_db(transaction=True)
def test_build_approve_and_cancel_in_the_browser(live_server, browser, world):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    browser_login(page, live_server.url, "xiaodan")
    page.goto(live_server.url + "/strategies/")
    page.fill("#group-add input[name=name]", "还款策略组")
    page.click("#group-add button[type=submit]")
    page.wait_for_selector("text=还款策略组")
    page.click("#add-strategy")
    page.wait_for_selector("#strategy-editor-page")
    assert "第一步" in page.inner_text("#strategy-editor-page")
    page.fill("#strategy-name", "大额还款提醒")
    page.select_option("#strategy-group", label="还款策略组")
    page.select_option("#strategy-event", "payment")
    page.wait_for_function("Alpine.$data(document.getElementById('event-conditions')).fields.length === 4")
    page.click("#add-event-row")
    page.click("#add-event-row")
    first, second = _row(page, "event-rows", 0), _row(page, "event-rows", 1)
    first.locator("select[x-model='row.lparen']").select_option("(")
    first.locator(".row-field").select_option("amount")
    first.locator(".row-op").select_option("gt")
    first.locator(".row-value").fill("100")
    first.locator("select[x-model='row.logic']").select_option("or")
    second.locator(".row-field").select_option("status")
    second.locator(".row-op").select_option("eq")
    second.locator(".row-value").fill("vip")
    second.locator("select[x-model='row.rparen']").select_option(")")
    action = _row(page, "action-rows", 0)
    action.locator(".action-processor").select_option("test_count")
    action.locator(".action-when").select_option("delay")
    action.locator(".action-hours").fill("48")
    page.click("#save-strategy")
    page.wait_for_function("/strategies\\/\\d+\\/$/.test(location.pathname) || "
                           "document.querySelector('#strategy-error').innerText")
    assert page.locator("#strategy-error").inner_text() == ""
    strategy = Strategy.objects.get()
    assert strategy.name == "大额还款提醒" and strategy.group.name == "还款策略组" and not strategy.enabled
    assert strategy.conditions == {"any": [{"field": "amount", "op": "gt", "value": 100},
                                           {"field": "status", "op": "eq", "value": "vip"}]}
    assert strategy.actions.get().delay_hours == 48
    page.wait_for_selector("#review-status")
    assert "待审核" in page.inner_text("#review-status")

    # the editor cannot approve their own change; another user can
    page.goto(live_server.url + "/strategies/review/")
    assert page.locator(f".review-item[data-strategy='{strategy.pk}'] .own-change").count() == 1
    assert page.inner_text(".review-conditions") == 'Amount 大于 100 或 Status 等于 "vip"'
    other = context.browser.new_context(locale="zh-CN")
    approver = other.new_page()
    approver.set_default_timeout(15000)
    browser_login(approver, live_server.url, "wang")
    approver.goto(live_server.url + "/strategies/review/")
    approver.click(f".review-item[data-strategy='{strategy.pk}'] .approve")
    approver.wait_for_selector("#nothing-to-review")
    strategy.refresh_from_db()
    assert strategy.enabled and strategy.approved_by == world["approver"]
    other.close()

    send({"data": {"amount": 150}}, {"data": {"amount": 5, "status": "vip"}}, {"data": {"amount": 5}})
    tasks = list(StrategyTask.objects.order_by("id"))
    assert len(tasks) == 2
    page.goto(live_server.url + "/strategies/tasks/?status=pending")
    assert "共计 2 条记录" in page.inner_text("#task-total")
    page.check(f"tr[data-task='{tasks[0].pk}'] .select-task")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-selected button[type=submit]")
    page.wait_for_selector("#task-list")
    assert dict(StrategyTask.objects.values_list("id", "status")) == {
        tasks[0].pk: TaskStatus.CANCELLED, tasks[1].pk: TaskStatus.PENDING}
    page.goto(live_server.url + f"/strategies/{strategy.pk}/results/")
    page.wait_for_selector("#results-page canvas")
    assert page.inner_text("#total-matched") == "2"
    context.close()
