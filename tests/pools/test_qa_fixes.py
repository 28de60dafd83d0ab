"""Bugs found using the pools as a user and an integrator (helper "qa"): recycle rules without a condition,
exempt types typed as labels, rule summaries in words (enum labels, API-made trees), salesperson_ids null."""

import pytest
from django.urls import reverse

from shoal.customers.models import EnumItem
from shoal.pools.models import RecycleRule
from shoal.pools.services import groups as group_services
from shoal.pools.services import rules as rule_services
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db):
    s1 = make_user("qa_s1", name="李小丹")
    return group_services.group_create(actor=None, data={"name": "华东组", "salesperson_ids": [s1.pk]})


def test_recycle_rule_condition_is_optional(group):
    """The issue: "no follow-up within N days; optional condition". Every customer of the group is then due."""
    rule = rule_services.recycle_rule_create(actor=None, group=group, data={"name": "7天", "days": 7})
    assert (rule.query, rule.sql, rule.include_tags, rule.exclude_tags) == (None, "", [], [])
    rule_services.recycle_rule_update(actor=None, rule=rule, data={"days": 5, "query": None, "sql": ""})
    rule.refresh_from_db()
    assert rule.days == 5 and rule.query is None
    # group rules still need one (assignment rules may take the whole group public sea)
    with pytest.raises(Exception) as info:
        rule_services.group_rule_create(actor=None, data={"name": "x", "target_group_id": group.pk})
    assert info.value.code == "invalid_rule"


def test_exempt_types_typed_as_labels_become_codes(group):
    EnumItem.objects.get(group__code="customer_type", code="deal")  # the standard types exist
    label = EnumItem.objects.get(group__code="customer_type", code="deal").label
    rule = rule_services.recycle_rule_create(actor=None, group=group, data={
        "name": "r", "days": 7, "exempt_types": [label, "deal", "VIP"]})
    assert rule.exempt_types == ["deal", "VIP"]


def test_recycle_page_without_condition_and_labels(client, personas, group):
    client.force_login(personas["admin"])
    url = reverse("admin:pool_group_recycle", args=[group.pk])
    label = EnumItem.objects.get(group__code="customer_type", code="deal").label
    response = client.post(url, {"form": "rule", "name": "7天未跟进", "order": "1", "enabled": "on", "mode": "rows",
                                 "rows": "", "kind": "no_follow_up", "days": "7", "exempt_types": label,
                                 "target": "group_sea"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    rule = RecycleRule.objects.get(group=group)
    assert rule.exempt_types == ["deal"] and rule.query is None
    html = client.get(url).content.decode()
    assert f"不回收：{label}" in html or label in html
    assert "deal" not in html.split("<table", 1)[1].split("</table>", 1)[0]  # the list names types by label


def test_rule_summaries_use_labels_and_words(client, personas, group):
    rule_services.group_rule_create(actor=None, data={
        "name": "女客户入组", "target_group_id": group.pk,
        "query": {"all": [{"field": "gender", "op": "eq", "value": "female"},
                          {"field": "city", "op": "eq", "value": "深圳"}]}})
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:pool_group_rules")).content.decode()
    assert "性别 等于 女 且 城市 等于 深圳" in html
    assert '"field"' not in html and "female" not in html.split("<table", 1)[1].split("</table>", 1)[0]



def test_customer_change_page_timeline_names_fields(client, personas):
    """The edit page's timeline: field labels (邀请人), not codes (invited_by_id), and no "<id> group" titles."""
    from shoal.customers import services as customer_services

    inviter = customer_services.customer_create(actor=None, data={"name": "甲", "ent_user_id": "qa-1"})
    c = customer_services.customer_create(actor=None, data={"name": "乙", "ent_user_id": "qa-2"})
    customer_services.customer_update(actor=None, customer=c, data={"invited_by": inviter.pk})
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:customers_customer_change", args=[c.pk])).content.decode()
    assert "邀请人" in html
    assert "invited_by_id" not in html and f"{c.pk} changed" not in html


def test_recycle_warnings_reach_the_salesperson_on_my_customers(client, personas):
    """"A warning reaches the salesperson (in-site notification)": the notifications had no page at all."""
    from shoal.sales import services as sales_services
    from shoal.sales.models import Notification

    user = personas["salesperson"]
    other = personas["manager"]
    sales_services.notify(user_ids=[user.pk], kind="recycle_warning", title="2 个客户即将被回收", body="华东组：2 个")
    sales_services.notify(user_ids=[other.pk], kind="recycle_warning", title="别人的提醒")
    client.force_login(user)
    html = client.get(reverse("admin:pools_my_customers")).content.decode()
    assert "2 个客户即将被回收" in html and "华东组：2 个" in html and "别人的提醒" not in html
    ids = list(Notification.objects.filter(user=user).values_list("pk", flat=True))
    response = client.post(reverse("admin:pools_notices_read"), {"ids": ids + [Notification.objects.get(user=other).pk]})
    assert response.status_code == 302
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=other, read_at__isnull=True).exists()  # only one's own
    assert "2 个客户即将被回收" not in client.get(reverse("admin:pools_my_customers")).content.decode()


def test_transfer_records_customers_column_is_not_the_menu_name(client, personas):
    """"Customers" alone is the customers app's name (客户管理); the column needs its own word."""
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:pools_transfers")).content.decode()
    assert "客户管理</th>" not in html
