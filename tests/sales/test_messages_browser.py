"""Real browser, zh-hans: a manager writes an in-site message to a department and sends it; a salesperson of a
sub-department sees the bell's red count on the workbench, opens the drop-down, reads the message (a read
receipt) and marks the rest read; the count goes away."""

import pytest

from shoal.accounts.models import Department
from shoal.sales.models import Notification
from shoal.sales.services import notify
from tests.conftest import browser_login, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch(page, problems):
    page.set_default_timeout(15000)
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text
            or msg.type == "error" and "Refused" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))


def test_a_message_reaches_the_bell_and_is_read(live_server, browser, roles):
    problems = []
    top = Department.objects.create(name="销售部")
    team = Department.objects.create(name="销售一组", parent=top)
    make_user("wang", roles["manager"], name="王经理")
    seller = make_user("xiaodan", roles["salesperson"], name="李小丹", department_ids=[team.pk])
    notify(user_ids=[seller.pk], kind="recycle_warning", title="2 个客户即将被回收")

    boss = browser.new_context(locale="zh-CN").new_page()
    _watch(boss, problems)
    browser_login(boss, live_server.url, "wang")
    boss.goto(live_server.url + "/sales/messages/add/")
    assert "新增站内消息" in boss.content()
    boss.select_option("#id_department_ids", str(top.pk))
    boss.fill("#id_title", "五一值班安排")
    boss.fill("#id_body", "请按值班表到岗。")
    boss.click("#send")
    boss.wait_for_selector("#message-receipts-page")
    assert "收件人 1" in boss.inner_text("#receipt-counts")

    page = browser.new_context(locale="zh-CN").new_page()
    _watch(page, problems)
    browser_login(page, live_server.url, "xiaodan")
    assert page.inner_text("#bell-count").strip() == "2"
    page.click("#notification-bell a")
    page.wait_for_selector("#bell-menu >> text=五一值班安排")
    assert "2 条未读" in page.inner_text("#bell-menu")
    page.click("#bell-menu >> text=五一值班安排")
    page.wait_for_selector("#message-read-page")
    assert "请按值班表到岗。" in page.inner_text("#message-body")
    assert page.inner_text("#bell-count").strip() == "1"
    page.goto(live_server.url + "/sales/notifications/")
    page.click("#mark-all-read")
    page.wait_for_selector("#notifications-page")
    assert page.locator("#bell-count").count() == 0
    assert not Notification.objects.filter(user=seller, read_at__isnull=True).exists()

    boss.reload()
    assert boss.inner_text("[data-count=read]").strip() == "1"
    boss.goto(live_server.url + "/sales/messages/")
    assert "五一值班安排" in boss.inner_text("#message-table")
    assert not problems, problems  # no CSP violation, no script error (Alpine, htmx)
