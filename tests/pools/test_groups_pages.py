"""The group pages (客户分组管理 in three steps, 客户分组规则) through the CSRF-enforcing client: permissions per
persona, the forms' writes and their errors, ordering and enabling, deleting a group."""

import json

import pytest
from django.urls import reverse

from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.pools.models import AssignmentRule, GroupRule, RecycleRule
from shoal.pools.services import groups as group_services
from shoal.pools.services import rules as rule_services
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

SZ_ROWS = [{"lparen": "", "field": "city", "op": "eq", "value": "深圳", "rparen": "", "logic": "and"}]
CITY = {"field": "city", "op": "eq", "value": "深圳"}


@pytest.fixture
def world(personas):
    s1, s2 = make_user("pg_s1", name="李小丹"), make_user("pg_s2", name="张伟")
    group = group_services.group_create(actor=None, data={"name": "华南组", "admin_ids": [personas["manager"].pk],
                                                         "salesperson_ids": [s1.pk, s2.pk]})
    assignment = rule_services.assignment_rule_create(actor=None, group=group, data={"name": "深圳", "query": CITY})
    recycle = rule_services.recycle_rule_create(actor=None, group=group, data={"name": "7天", "query": CITY})
    group_rule = rule_services.group_rule_create(actor=None, data={"name": "入组", "query": CITY,
                                                                   "target_group_id": group.pk})
    return {"group": group, "s1": s1, "s2": s2, "assignment": assignment, "recycle": recycle, "rule": group_rule}


def login(client, user):
    client.force_login(user)
    return client


PAGES = [
    ("admin:pool_groups", "pools.groups.view", lambda w: []),
    ("admin:pool_group_add", "pools.groups.create", lambda w: []),
    ("admin:pool_group_edit", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_group_assignment", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_assignment_rule_edit", "pools.groups.view", lambda w: [w["group"].pk, w["assignment"].pk]),
    ("admin:pool_group_recycle", "pools.groups.view", lambda w: [w["group"].pk]),
    ("admin:pool_recycle_rule_edit", "pools.groups.view", lambda w: [w["group"].pk, w["recycle"].pk]),
    ("admin:pool_group_rules", "pools.group_rules.view", lambda w: []),
    ("admin:pool_group_rule_edit", "pools.group_rules.view", lambda w: [w["rule"].pk]),
]


@pytest.mark.parametrize("persona", ["admin", "manager", "salesperson", "norole"])
@pytest.mark.parametrize("name,perm,args", PAGES, ids=[p[0] for p in PAGES])
def test_pages_open_only_with_the_permission(client, personas, world, persona, name, perm, args):
    user = personas[persona]
    response = login(client, user).get(reverse(name, args=args(world)))
    assert response.status_code == (200 if user.has_shoal_perm(perm) else 403)


def test_list_shows_people_counts_and_actions(client, personas, world):
    from shoal.customers import services as customer_services

    c = customer_services.customer_create(actor=None, data={"name": "c", "mobile": "13800138000"})
    CustomerGroupMembership.objects.create(customer=c, group=world["group"], salesperson=world["s1"])
    html = login(client, personas["admin"]).get(reverse("admin:pool_groups")).content.decode()
    assert "华南组" in html and "李小丹" in html and "张伟" in html and 'class="p-2 assigned-count">1<' in html
    assert "客户分组" in html and "不限" in html  # zh-hans
    assert reverse("admin:pool_group_delete", args=[world["group"].pk]) in html
    html = login(client, personas["manager"]).get(reverse("admin:pool_groups")).content.decode()
    assert reverse("admin:pool_group_delete", args=[world["group"].pk]) not in html
    assert reverse("admin:pool_group_add") not in html


def test_english_list(client, personas, world):
    client.cookies["django_language"] = "en"
    html = login(client, personas["admin"]).get(reverse("admin:pool_groups"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Customer group management" in html and "No limit" in html


def test_three_steps_create_a_group(client, personas, world):
    login(client, personas["admin"])
    response = client.post(reverse("admin:pool_group_add"), {
        "name": "华北组", "admins": [personas["manager"].pk], "salespeople": [world["s1"].pk], "capacity": "100",
        "daily_claim_limit": "", "public_sea_visible": "on", "enabled": "on"})
    group = CustomerGroup.objects.get(name="华北组")
    assert response.status_code == 302 and response["Location"] == reverse("admin:pool_group_assignment", args=[group.pk])
    assert group.capacity == 100 and group.daily_claim_limit is None
    assert list(group.salespeople.values_list("pk", flat=True)) == [world["s1"].pk]
    # step 2: request settings, then an assignment rule from condition rows for chosen salespeople
    url = reverse("admin:pool_group_assignment", args=[group.pk])
    assert client.post(url, {"form": "settings", "request_tasks": "on", "request_times_per_day": "2",
                             "request_size": "20"}).status_code == 302
    group.refresh_from_db()
    assert group.request_tasks and group.request_times_per_day == 2 and group.request_size == 20
    response = client.post(url, {"form": "rule", "name": "深圳客户", "order": "1", "enabled": "on", "mode": "rows",
                                 "rows": json.dumps(SZ_ROWS), "salespeople": [world["s1"].pk]})
    assert response.status_code == 302
    rule = AssignmentRule.objects.get(group=group)
    assert rule.query == CITY and rule.rows == SZ_ROWS and [u.pk for u in rule.salespeople.all()] == [world["s1"].pk]
    # step 3: a recycle rule in custom SQL
    url = reverse("admin:pool_group_recycle", args=[group.pk])
    response = client.post(url, {"form": "rule", "name": "7天未跟进", "order": "1", "enabled": "on", "mode": "sql",
                                 "sql": "city = '深圳'", "kind": "no_follow_up", "days": "7", "warn_days": "2",
                                 "cooldown_days": "3", "exempt_types": "成交，VIP", "target": "group_sea"})
    assert response.status_code == 302
    rule = RecycleRule.objects.get(group=group)
    assert (rule.sql, rule.days, rule.warn_days, rule.cooldown_days, rule.exempt_types) == (
        "city = '深圳'", 7, 2, 3, ["成交", "VIP"])
    page = client.get(url).content.decode()
    assert "7天未跟进" in page and "成交" in page


def test_form_errors_are_shown_not_500(client, personas, world):
    login(client, personas["admin"])
    response = client.post(reverse("admin:pool_group_add"), {"name": "华南组", "enabled": "on"})
    assert response.status_code == 200 and "已存在" in response.content.decode()
    url = reverse("admin:pool_group_recycle", args=[world["group"].pk])
    response = client.post(url, {"form": "rule", "name": "x", "order": "1", "mode": "rows", "rows": json.dumps(SZ_ROWS),
                                 "kind": "no_follow_up", "days": "3", "warn_days": "5", "target": "group_sea"})
    assert response.status_code == 200 and 'class="field-error' in response.content.decode()
    response = client.post(url, {"form": "rule", "name": "x", "order": "1", "mode": "sql", "sql": "DROP TABLE x",
                                 "kind": "no_follow_up", "days": "3", "target": "group_sea"})
    assert response.status_code == 200 and "form-errors" in response.content.decode()
    assert RecycleRule.objects.count() == 1
    response = client.post(reverse("admin:pool_group_rules"), {"form": "rule", "name": "x", "order": "1",
                                                               "mode": "rows", "rows": json.dumps(SZ_ROWS)})
    assert response.status_code == 200 and GroupRule.objects.count() == 1  # company sea to company sea


def test_group_rules_page_add_order_enable_delete(client, personas, world):
    login(client, personas["admin"])
    url = reverse("admin:pool_group_rules")
    response = client.post(url, {"form": "rule", "name": "出组", "order": "2", "enabled": "on", "mode": "rows",
                                 "rows": json.dumps(SZ_ROWS), "source": world["group"].pk, "target": "",
                                 "break_relations": "on"})
    assert response.status_code == 302
    rule = GroupRule.objects.get(name="出组")
    assert rule.source_group_id == world["group"].pk and rule.target_group_id is None and rule.break_relations
    edit = reverse("admin:pool_group_rule_edit", args=[rule.pk])
    client.post(edit, {"form": "rule", "name": "出组", "order": "0", "enabled": "on", "mode": "rows",
                       "rows": json.dumps(SZ_ROWS), "source": world["group"].pk, "target": "", "break_relations": "on"})
    assert [r.name for r in GroupRule.objects.order_by("order", "id")] == ["出组", "入组"]
    client.post(edit, {"form": "toggle"})
    rule.refresh_from_db()
    assert not rule.enabled
    html = client.get(url).content.decode()
    assert "公司公海" in html and "停用" in html
    client.post(reverse("admin:pool_group_rule_delete", args=[rule.pk]))
    assert not GroupRule.objects.filter(pk=rule.pk).exists()


def test_manager_edits_but_cannot_delete(client, personas, world):
    login(client, personas["manager"])
    url = reverse("admin:pool_group_edit", args=[world["group"].pk])
    response = client.post(url, {"name": "华南一组", "salespeople": [world["s2"].pk], "enabled": "on"})
    assert response.status_code == 302
    world["group"].refresh_from_db()
    assert world["group"].name == "华南一组"
    assert client.post(reverse("admin:pool_group_delete", args=[world["group"].pk])).status_code == 403
    assert client.post(reverse("admin:pool_group_add"), {"name": "x"}).status_code == 403
    assert client.post(reverse("admin:pool_group_rule_delete", args=[world["rule"].pk])).status_code == 403


def test_salesperson_cannot_post(client, personas, world):
    login(client, personas["salesperson"])
    url = reverse("admin:pool_group_assignment", args=[world["group"].pk])
    assert client.post(url, {"form": "settings", "request_times_per_day": "9", "request_size": "9"}).status_code == 403
    assert client.post(reverse("admin:pool_assignment_rule_delete",
                               args=[world["group"].pk, world["assignment"].pk])).status_code == 403
    assert AssignmentRule.objects.filter(pk=world["assignment"].pk).exists()


def test_delete_group_page(client, personas, world):
    login(client, personas["admin"])
    response = client.post(reverse("admin:pool_group_delete", args=[world["group"].pk]))
    assert response.status_code == 302 and not CustomerGroup.objects.filter(pk=world["group"].pk).exists()


def test_unknown_ids_are_404(client, personas, world):
    login(client, personas["admin"])
    assert client.get(reverse("admin:pool_group_edit", args=[999999])).status_code == 404
    assert client.get(reverse("admin:pool_assignment_rule_edit", args=[world["group"].pk, 999999])).status_code == 404
    assert client.get(reverse("admin:pool_group_rule_edit", args=[999999])).status_code == 404


def test_rule_edit_page_reloads_the_rows(client, personas, world):
    rule_services.assignment_rule_update(actor=None, rule=world["assignment"], data={"rows": SZ_ROWS, "query": CITY})
    html = login(client, personas["admin"]).get(
        reverse("admin:pool_assignment_rule_edit", args=[world["group"].pk, world["assignment"].pk])).content.decode()
    assert 'id="rule-form"' in html and "深圳" in html and "tagRuleEditor" in html
