"""Real browser, zh-hans, the issue's flow: a salesperson logs in, sees an overdue task on the workbench, opens it
(the figure → the task center narrowed to overdue tasks → the task's customer), records a follow-up, and the task is
done (and gone from the overdue tasks)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.customers.models import Customer, CustomerGroup
from shoal.pools import moves
from shoal.sales.models import FollowUp, Task, TaskProgress
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_salesperson_follows_up_an_overdue_task_from_the_workbench(live_server, browser_page, roles):
    sales = make_user("day_sales", roles["salesperson"], name="李小丹")
    group = CustomerGroup.objects.create(name="电销一组")
    group.salespeople.add(sales)
    customer = Customer.objects.create(name="王老板", mobile="+8613800138555")
    ctx = moves.context(None)
    moves.join_group([customer.pk], group.pk, ctx)
    moves.assign([(customer.pk, sales.pk)], group.pk, ctx)
    task = Task.objects.get(owner=sales, customer=customer)
    Task.objects.filter(pk=task.pk).update(due_at=timezone.now() - timedelta(days=1))

    page = browser_page
    browser_login(page, live_server.url, "day_sales")
    board = page.locator('#workbench-boards [data-board="sales.my_tasks"]')
    overdue = board.locator('a[data-figure="overdue"]')
    overdue.wait_for()
    assert "1" in overdue.inner_text() and "逾期" in board.inner_text()
    overdue.click()
    page.wait_for_url("**/sales/tasks/**due=overdue**")
    card = page.locator(f'[data-task="{task.pk}"]').first
    assert "王老板" in card.inner_text()
    card.locator("a", has_text="王老板").click()
    # the customer's detail: the follow-up form is open, as the salesperson has a task to do here
    page.wait_for_selector("#follow-up-form")
    page.fill("#follow-up-form input[name=summary]", "电话沟通，客户有意向")
    page.select_option("#follow-up-form select[name=status]", "interested")
    page.click("#follow-up-submit")
    page.wait_for_load_state("networkidle")
    assert FollowUp.objects.filter(customer=customer, salesperson=sales, summary="电话沟通，客户有意向").exists()
    assert Task.objects.get(pk=task.pk).progress == TaskProgress.DONE

    page.goto(f"{live_server.url}/sales/tasks/?view=mine&mode=list&due=overdue")
    assert page.locator(f'[data-task="{task.pk}"]').count() == 0
