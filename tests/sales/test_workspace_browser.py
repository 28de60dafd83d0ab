"""Real browser, zh-hans: a salesperson logs in, opens 客户跟进任务 from the sidebar, opens the follow-up form of a
task inline, records a follow-up (maturity, invitation type, call duration); the task is done and gone from the
list, and the customer's detail lists the record. A bad call duration brings the form back with the message.

With SHOAL_SCREENSHOTS=<dir> the pages are also saved as PNG to look at."""

import os
from pathlib import Path

import pytest

from shoal.core import parameters
from shoal.sales.models import FollowUp, Task, TaskProgress
from tests.conftest import browser_login
from tests.sales.workspace_world import build

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("SHOAL_SCREENSHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_salesperson_records_a_follow_up_and_the_task_leaves_the_list(live_server, browser_page):
    parameters.set_value("MASKING_ENABLED", True)
    w = build()
    task = w["tasks"]["李四"]
    page = browser_page
    browser_login(page, live_server.url, "xiaodan")
    page.click("a[href='/sales/follow-up-tasks/']")
    page.wait_for_selector("#workspace-page")
    assert "我的跟进任务" in page.inner_text("#workspace-page h1")
    assert page.locator("#workspace-table tbody[data-task]").count() == 3
    row = page.locator(f"#task-{task.pk} .task-row")
    assert "李四" in row.inner_text() and "138****8001" in row.inner_text()
    assert row.locator("a.call-button").get_attribute("href") == "tel:+8613800138001"
    _shot(page, "zh-workspace")

    row.locator(".record-button").click()
    form = page.locator(f"#task-{task.pk}-form form")
    form.wait_for()
    # a duration that cannot be read: the form again, with the message, nothing recorded
    form.locator("select[name=maturity]").select_option("key_account")
    form.locator("input[name=call_duration]").fill("3:99")
    form.locator("input[name=summary]").fill("客户有兴趣")
    form.locator(".follow-up-save").click()
    page.wait_for_selector(f"#task-{task.pk}-form .follow-up-error")
    assert "分：秒" in page.inner_text(f"#task-{task.pk}-form .follow-up-error")
    assert not FollowUp.objects.exists()

    form = page.locator(f"#task-{task.pk}-form form")
    assert form.locator("input[name=summary]").input_value() == "客户有兴趣"  # kept
    form.locator("select[name=method]").select_option("wechat")
    form.locator("select[name=invitation_type]").select_option("friend_referral")
    form.locator("input[name=call_duration]").fill("3:05")
    _shot(page, "zh-workspace-form")
    form.locator(".follow-up-save").click()
    page.wait_for_selector(f"#task-{task.pk}.task-done")
    assert "任务已完成" in page.inner_text(f"#task-{task.pk}")
    assert page.inner_text("#workspace-count") == "共 2 个任务"
    assert Task.objects.get(pk=task.pk).progress == TaskProgress.DONE
    follow_up = FollowUp.objects.get(customer_id=task.customer_id)
    assert (follow_up.maturity, follow_up.invitation_type, follow_up.call_seconds, follow_up.method) == (
        "key_account", "friend_referral", 185, "wechat")

    page.reload()
    page.wait_for_selector("#workspace-page")
    assert page.locator(f"#task-{task.pk}").count() == 0  # gone from the list
    assert page.locator("#workspace-table tbody[data-task]").count() == 2

    page.goto(f"{live_server.url}/customers/customer/{task.customer_id}/detail/")
    record = page.locator(f"#pools-follow-ups tr[data-follow-up='{follow_up.pk}']")
    text = record.inner_text()
    assert "大客户" in text and "朋友推荐" in text and "03:05" in text and "微信" in text
    _shot(page, "zh-customer-follow-ups")
