"""The built-in processors registered by the apps that own the actions: tags, pools, sales."""

import pytest

from shoal.automation import runner, services
from shoal.core.errors import ShoalError
from shoal.core.processors import PROCESSORS
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.sales.models import Notification, Task
from shoal.tags import services as tag_services
from shoal.tags.models import TagCategory, Tagging
from tests.conftest import make_user


def test_every_builtin_is_registered_by_code():
    assert {"add_tag", "remove_tag", "group", "assign", "sms", "email", "task", "notify"} <= set(PROCESSORS)


@pytest.fixture
def customer(db):
    return customer_services.customer_create(actor=None, data={"name": "赵六", "mobile": "13700137000"})


def test_add_and_remove_tag(customer):
    category = TagCategory.objects.create(name="营销")
    tag = tag_services.tag_create(actor=None, data={"name": "活跃", "category_id": category.pk})
    added = runner.processor_run("add_tag", customer_id=customer.pk, params={"tag_id": tag.pk})
    assert added.status == "succeeded"
    tagging = Tagging.objects.get(tag=tag, customer=customer)
    assert tagging.source == "automation"
    assert runner.processor_run("add_tag", customer_id=customer.pk, params={"tag_id": tag.pk}).status == "skipped"
    assert runner.processor_run("remove_tag", customer_id=customer.pk, params={"tag_id": tag.pk}).status == "succeeded"
    assert not Tagging.objects.filter(tag=tag, customer=customer).exists()
    auto = tag_services.tag_create(actor=None, data={"name": "自动", "category_id": category.pk, "kind": "auto"})
    refused = runner.processor_run("add_tag", customer_id=customer.pk, params={"tag_id": auto.pk})
    assert refused.status == "failed"


def test_group_and_assign_by_salesperson_and_by_rules(customer):
    from shoal.pools.services import rules as pool_rules

    seller = make_user("seller1")
    group = CustomerGroup.objects.create(name="一组")
    group.salespeople.add(seller)
    assert runner.processor_run("group", customer_id=customer.pk, params={"group_id": group.pk}).status == "succeeded"
    membership = CustomerGroupMembership.objects.get(customer=customer, group=group)
    assert membership.salesperson_id is None
    again = runner.processor_run("group", customer_id=customer.pk, params={"group_id": group.pk})
    assert again.status == "skipped" and "already_in_group" in again.error
    assigned = runner.processor_run("assign", customer_id=customer.pk,
                                    params={"group_id": group.pk, "salesperson_id": seller.pk})
    assert assigned.status == "succeeded"
    assert CustomerGroupMembership.objects.get(pk=membership.pk).salesperson_id == seller.pk
    # by the group's assignment rules: only this customer is assigned, not the rest of the sea
    other = customer_services.customer_create(actor=None, data={"name": "其他", "mobile": "13700137001"})
    third = customer_services.customer_create(actor=None, data={"name": "第三", "mobile": "13700137002"})
    group2 = CustomerGroup.objects.create(name="二组")
    group2.salespeople.add(seller)
    pool_rules.assignment_rule_create(actor=None, group=group2, data={"name": "all", "sql": "1 = 1"})
    runner.processor_run("group", customer_id=other.pk, params={"group_id": group2.pk})
    by_rules = runner.processor_run("assign", customer_id=third.pk, params={"group_id": group2.pk})
    assert by_rules.status == "succeeded", by_rules
    assert CustomerGroupMembership.objects.get(customer=third, group=group2).salesperson_id == seller.pk
    assert CustomerGroupMembership.objects.get(customer=other, group=group2).salesperson_id is None
    with pytest.raises(ShoalError):
        runner.processor_validate_params("assign", {"group_id": group.pk, "salesperson_id": make_user("x").pk})


def test_task_and_notification_for_the_salesperson(customer):
    seller = make_user("seller2")
    group = CustomerGroup.objects.create(name="三组")
    CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=seller)
    event = {"code": "birthday", "id": "b-1", "data": {"age": 30}}
    result = runner.processor_run("task", customer_id=customer.pk, event=event, delivery_id="task-1",
                                  params={"name": "回访 ${customer.name}", "details": "${age} 岁生日", "priority": "high",
                                          "due_hours": 48})
    assert result.status == "succeeded"
    task = Task.objects.get(customer=customer)
    assert (task.owner_id, task.name, task.details, task.type, task.priority_code) == (
        seller.pk, "回访 赵六", "30 岁生日", "follow_up", "high")
    assert runner.processor_run("task", customer_id=customer.pk, event=event, delivery_id="task-1",
                                params={}).status == "succeeded" and Task.objects.filter(customer=customer).count() == 1
    sent = runner.processor_run("notify", customer_id=customer.pk, event=event, delivery_id="n-1",
                                params={"title": "${customer.name} 生日", "body": "${age}"})
    assert sent.status == "succeeded"
    note = Notification.objects.get(user=seller)
    assert (note.title, note.body, note.kind) == ("赵六 生日", "30", "automation")
    lonely = customer_services.customer_create(actor=None, data={"name": "无人", "mobile": "13700137009"})
    assert runner.processor_run("task", customer_id=lonely.pk, params={}).status == "skipped"


def test_a_processor_failure_is_recorded_not_raised(customer):
    result = runner.processor_run("add_tag", customer_id=customer.pk, params={"tag_id": "x"}, delivery_id="bad")
    assert result.status == "failed"
    assert runner.processor_calls(["bad"])["bad"].status == "failed"
    assert runner.processor_run("add_tag", customer_id=999999, params={"tag_id": 1}).status == "failed"
    assert runner.processor_run("nope", customer_id=customer.pk).status == "failed"


def test_the_list_has_builtins_then_custom_ones(db):
    services.processor_create(actor=None, data={"name": "外部", "url": "https://example.com/x"})
    rows = services.processor_list(actor=None)
    assert [r["code"] for r in rows[:8]] == ["add_tag", "remove_tag", "group", "assign", "sms", "email", "task", "notify"]
    assert rows[-1]["name"] == "外部" and rows[-1]["builtin"] is False and "secret" not in rows[-1]
