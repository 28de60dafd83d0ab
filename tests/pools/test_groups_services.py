"""Groups and pool rules: validation, permissions, deleting a group, pool_rule_q."""

import pytest
from django.db.models import Q

from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services
from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership, TimelineEntry
from shoal.pools.models import AssignmentLog, GroupLog
from shoal.pools.services import groups as group_services
from shoal.pools.services import rules as rule_services
from shoal.pools.services.rules import pool_rule_q
from shoal.tags import services as tag_services
from shoal.tags.models import TagCategory
from tests.conftest import make_user

CITY = {"field": "city", "op": "eq", "value": "Shenzhen"}


@pytest.fixture
def people(db):
    return {"a": make_user("g_admin"), "s1": make_user("g_s1"), "s2": make_user("g_s2"),
            "gone": make_user("g_gone", is_active=False)}


@pytest.fixture
def group(people):
    return group_services.group_create(actor=None, data={"name": "East", "admin_ids": [people["a"].pk],
                                                         "salesperson_ids": [people["s1"].pk, people["s2"].pk]})


def _customer(name, **extra):
    return customer_services.customer_create(actor=None, data={"name": name, "ent_user_id": f"u-{name}", **extra})


def _error(call, **kwargs) -> ShoalError:
    with pytest.raises(ShoalError) as info:
        call(**kwargs)
    return info.value


# -- groups ----------------------------------------------------------------------------------------------
def test_create_sets_people_and_settings(group, people):
    assert set(group.admins.values_list("pk", flat=True)) == {people["a"].pk}
    assert set(group.salespeople.values_list("pk", flat=True)) == {people["s1"].pk, people["s2"].pk}
    assert group.capacity is None and group.daily_claim_limit is None and group.enabled


@pytest.mark.parametrize("data,field", [
    ({"name": ""}, "name"), ({"name": "  "}, "name"), ({"name": "x" * 101}, "name"),
    ({"name": "G", "capacity": 0}, "capacity"), ({"name": "G", "daily_claim_limit": -1}, "daily_claim_limit"),
    ({"name": "G", "capacity": True}, "capacity"), ({"name": "G", "request_size": 0}, "request_size"),
    ({"name": "G", "enabled": "yes"}, "enabled"),
])
def test_invalid_groups_are_refused(db, data, field):
    error = _error(group_services.group_create, actor=None, data=data)
    assert error.status == 400 and error.detail["field"] == field


def test_unknown_or_inactive_users_are_named(people):
    error = _error(group_services.group_create, actor=None,
                   data={"name": "G", "salesperson_ids": [people["s1"].pk, people["gone"].pk, 99999]})
    assert error.code == "unknown_user" and error.detail == {"field": "salesperson_ids",
                                                             "ids": [people["gone"].pk, 99999]}
    assert str(people["gone"].pk) in error.message and "99999" in error.message


def test_names_are_unique(group):
    error = _error(group_services.group_create, actor=None, data={"name": " East "})
    assert error.status == 409 and error.code == "duplicate"
    other = group_services.group_create(actor=None, data={"name": "West"})
    assert _error(group_services.group_update, actor=None, group=other, data={"name": "East"}).status == 409
    group_services.group_update(actor=None, group=group, data={"name": "East"})  # its own name: fine


def test_update_changes_only_what_is_given(group, people):
    group_services.group_update(actor=None, group=group, data={"capacity": 50, "salesperson_ids": [people["s1"].pk]})
    group.refresh_from_db()
    assert group.capacity == 50 and group.name == "East"
    assert list(group.salespeople.values_list("pk", flat=True)) == [people["s1"].pk]
    assert list(group.admins.values_list("pk", flat=True)) == [people["a"].pk]
    group_services.group_update(actor=None, group=group, data={"capacity": None})
    group.refresh_from_db()
    assert group.capacity is None


def test_permissions(personas, people):
    data = {"name": "P"}
    assert _error(group_services.group_create, actor=personas["salesperson"], data=data).status == 403
    assert _error(group_services.group_create, actor=personas["manager"], data=data).status == 403  # view/edit only
    group = group_services.group_create(actor=personas["admin"], data=data)
    group_services.group_update(actor=personas["manager"], group=group, data={"capacity": 3})
    assert _error(group_services.group_delete, actor=personas["manager"], group=group).status == 403
    assert _error(group_services.group_queryset, actor=personas["salesperson"]).status == 403
    # a group admin without the permission sees no group management
    group.admins.add(personas["salesperson"])
    assert _error(group_services.group_get, actor=personas["salesperson"], pk=group.pk).status == 403
    assert _error(rule_services.group_rules, actor=personas["salesperson"]).status == 403
    assert _error(rule_services.group_rule_create, actor=personas["manager"],
                  data={"name": "r", "target_group_id": group.pk, "query": CITY}).status == 403
    group_services.group_delete(actor=personas["admin"], group=group)


def test_delete_sends_customers_back_to_the_company_sea_with_logs(group, people, personas):
    other = group_services.group_create(actor=None, data={"name": "Other"})
    customers = [_customer(f"c{i}") for i in range(3)]
    CustomerGroupMembership.objects.create(customer=customers[0], group=group)
    CustomerGroupMembership.objects.create(customer=customers[1], group=group, salesperson=people["s1"])
    CustomerGroupMembership.objects.create(customer=customers[1], group=other)
    CustomerGroupMembership.objects.create(customer=customers[2], group=other)
    group_id = group.pk
    left = group_services.group_delete(actor=personas["admin"], group=group)
    assert left == 2
    assert not CustomerGroup.objects.filter(pk=group_id).exists()
    assert not CustomerGroupMembership.objects.filter(group_id=group_id).exists()
    assert CustomerGroupMembership.objects.filter(group=other).count() == 2  # other groups untouched
    # the logs' group is SET_NULL by the models when the group goes; the timeline keeps its name
    logs = GroupLog.objects.filter(to_group__isnull=True)
    assert sorted(logs.values_list("customer_id", flat=True)) == [customers[0].pk, customers[1].pk]
    assert all(g.to_group_id is None and g.operator_id == personas["admin"].pk and not g.auto for g in logs)
    assignment = AssignmentLog.objects.get()
    assert (assignment.customer_id, assignment.previous_salesperson_id, assignment.salesperson_id, assignment.kind) == (
        customers[1].pk, people["s1"].pk, None, "return_company_sea")
    entries = TimelineEntry.objects.filter(kind="group", detail__group_id=group_id)
    assert sorted(entries.values_list("customer_id", flat=True)) == [customers[0].pk, customers[1].pk]
    assert entries.first().new == "East →" and entries.first().actor_name == "p_admin"
    assert Customer.objects.count() == 3


def test_delete_closes_the_groups_open_tasks(group, people):
    from shoal.sales.models import Task

    customer = _customer("c")
    task = Task.objects.create(owner=people["s1"], customer=customer, group=group)
    group_services.group_delete(actor=None, group=group)
    task.refresh_from_db()
    assert task.progress == "cancelled" and task.done_at is not None


def test_counts(group, people):
    customers = [_customer(f"c{i}") for i in range(3)]
    CustomerGroupMembership.objects.create(customer=customers[0], group=group)
    CustomerGroupMembership.objects.create(customer=customers[1], group=group)
    CustomerGroupMembership.objects.create(customer=customers[2], group=group, salesperson=people["s2"])
    [g] = group_services.with_counts([group])
    assert (g.sea_count, g.assigned_count) == (2, 1)


# -- rules -----------------------------------------------------------------------------------------------
@pytest.fixture
def tags(db):
    category = TagCategory.objects.create(name="T")
    manual = tag_services.tag_create(actor=None, data={"name": "vip", "category_id": category.pk})
    mine = make_user("tag_owner")
    personal = tag_services.tag_create(actor=mine, data={"name": "mine", "category_id": category.pk,
                                                         "kind": "personal"})
    return {"manual": manual, "personal": personal}


def test_assignment_rule_needs_group_salespeople(group, people):
    rule = rule_services.assignment_rule_create(actor=None, group=group, data={
        "name": "Shenzhen", "query": CITY, "salesperson_ids": [people["s1"].pk]})
    assert list(rule.salespeople.values_list("pk", flat=True)) == [people["s1"].pk]
    error = _error(rule_services.assignment_rule_create, actor=None, group=group,
                   data={"name": "x", "query": CITY, "salesperson_ids": [people["a"].pk]})
    assert error.code == "not_group_salesperson" and error.detail["ids"] == [people["a"].pk]


@pytest.mark.parametrize("data,code", [
    ({"name": "x", "query": CITY, "sql": "city = 'a'"}, "invalid_rule"),
    ({"name": "x", "query": {"field": "nope", "op": "eq", "value": 1}}, None),
    ({"name": "x", "sql": "DROP TABLE customers_customer"}, None),
    ({"name": "x", "sql": "city = 'a'; DELETE FROM customers_customer"}, None),
    ({"name": "", "query": CITY}, "invalid"),
    ({"name": "x", "query": CITY, "order": "1"}, "invalid"),
])
def test_rule_conditions_are_checked_as_tag_rules(group, data, code):
    error = _error(rule_services.assignment_rule_create, actor=None, group=group, data=data)
    assert error.status == 400
    if code:
        assert error.code == code


def test_group_rules_must_say_which_customers_assignment_and_recycle_rules_may_take_all(group):
    error = _error(rule_services.group_rule_create, actor=None, data={"name": "x", "target_group_id": group.pk})
    assert (error.status, error.code) == (400, "invalid_rule")
    every = rule_services.assignment_rule_create(actor=None, group=group, data={"name": "all"})
    recycle = rule_services.recycle_rule_create(actor=None, group=group, data={"name": "idle", "days": 7})
    for rule in (every, recycle):
        assert (rule.query, rule.sql, rule.include_tags) == (None, "", [])
        assert rule_services.pool_rule_q(rule) == Q()  # every customer of the group's sea / private seas


def test_rule_tags_known_and_not_personal(group, tags):
    rule = rule_services.recycle_rule_create(actor=None, group=group, data={
        "name": "r", "include_tags": [tags["manual"].pk], "days": 5})
    assert rule.include_tags == [tags["manual"].pk]
    assert _error(rule_services.recycle_rule_create, actor=None, group=group,
                  data={"name": "r", "include_tags": [tags["personal"].pk]}).code == "unknown_tag"
    assert _error(rule_services.recycle_rule_create, actor=None, group=group,
                  data={"name": "r", "query": CITY, "exclude_tags": [987654]}).code == "unknown_tag"


@pytest.mark.parametrize("data,field", [
    ({"days": 0}, "days"), ({"days": 5, "warn_days": 5}, "warn_days"), ({"days": 5, "warn_days": 7}, "warn_days"),
    ({"cooldown_days": 0}, "cooldown_days"), ({"kind": "sometimes"}, "kind"), ({"target": "moon"}, "target"),
    ({"exempt_types": "closed"}, "exempt_types"), ({"exempt_types": [1]}, "exempt_types"),
])
def test_recycle_rule_settings(group, data, field):
    error = _error(rule_services.recycle_rule_create, actor=None, group=group, data={"name": "r", "query": CITY, **data})
    assert error.detail["field"] == field


def test_recycle_rule_update_checks_warning_against_stored_days(group):
    rule = rule_services.recycle_rule_create(actor=None, group=group, data={
        "name": "r", "query": CITY, "days": 10, "warn_days": 3, "cooldown_days": 2, "exempt_types": ["成交", " 成交"],
        "kind": "no_effective_follow_up", "target": "company_sea"})
    assert rule.exempt_types == ["成交"] and rule.kind == "no_effective_follow_up"
    assert _error(rule_services.recycle_rule_update, actor=None, rule=rule, data={"days": 3}).detail["field"] == "warn_days"
    rule_services.recycle_rule_update(actor=None, rule=rule, data={"days": 4})
    rule.refresh_from_db()
    assert rule.days == 4 and rule.warn_days == 3


def test_update_switches_between_tree_and_sql(group):
    rule = rule_services.assignment_rule_create(actor=None, group=group, data={"name": "r", "query": CITY})
    rule_services.assignment_rule_update(actor=None, rule=rule, data={"sql": "city = 'Wuhan'"})
    rule.refresh_from_db()
    assert rule.query is None and rule.sql == "city = 'Wuhan'"
    rule_services.assignment_rule_update(actor=None, rule=rule, data={"query": CITY})
    rule.refresh_from_db()
    assert rule.query == CITY and rule.sql == ""
    rule_services.assignment_rule_update(actor=None, rule=rule, data={"enabled": False, "order": 3})
    rule.refresh_from_db()
    assert rule.query == CITY and not rule.enabled and rule.order == 3


def test_group_rule_ends(group):
    other = group_services.group_create(actor=None, data={"name": "Other"})
    rule = rule_services.group_rule_create(actor=None, data={"name": "in", "target_group_id": group.pk, "query": CITY})
    assert rule.source_group_id is None and not rule.break_relations
    assert _error(rule_services.group_rule_create, actor=None,
                  data={"name": "x", "query": CITY}).detail["field"] == "target_group_id"  # sea to sea
    assert _error(rule_services.group_rule_create, actor=None, data={
        "name": "x", "query": CITY, "source_group_id": group.pk, "target_group_id": group.pk}).status == 400
    assert _error(rule_services.group_rule_create, actor=None, data={
        "name": "x", "query": CITY, "target_group_id": 424242}).code == "unknown_group"
    rule_services.group_rule_update(actor=None, rule=rule, data={"source_group_id": other.pk, "break_relations": True})
    rule.refresh_from_db()
    assert rule.source_group_id == other.pk and rule.break_relations
    assert _error(rule_services.group_rule_update, actor=None, rule=rule,
                  data={"target_group_id": other.pk}).status == 400


def test_pool_rule_q_matches_like_the_tag_rules(group, tags):
    sz = _customer("a", city="Shenzhen")
    wh = _customer("b", city="Wuhan")
    tagged = _customer("c", city="Shenzhen")
    tag_services.apply_tag(actor=None, tag=tags["manual"], customer_ids=[tagged.pk, wh.pk])
    rule = rule_services.assignment_rule_create(actor=None, group=group, data={
        "name": "r", "query": CITY, "exclude_tags": [tags["manual"].pk]})
    assert list(Customer.objects.filter(pool_rule_q(rule)).values_list("pk", flat=True)) == [sz.pk]
    rule = rule_services.group_rule_create(actor=None, data={"name": "g", "sql": "city = 'Wuhan'",
                                                             "target_group_id": group.pk})
    assert list(Customer.objects.filter(pool_rule_q(rule)).values_list("pk", flat=True)) == [wh.pk]
    rule = rule_services.recycle_rule_create(actor=None, group=group, data={"name": "t",
                                                                            "include_tags": [tags["manual"].pk]})
    assert sorted(Customer.objects.filter(pool_rule_q(rule)).values_list("pk", flat=True)) == sorted([wh.pk, tagged.pk])


def test_rule_deletes_and_cascade(group, personas):
    a = rule_services.assignment_rule_create(actor=None, group=group, data={"name": "a", "query": CITY})
    r = rule_services.recycle_rule_create(actor=None, group=group, data={"name": "r", "query": CITY})
    g = rule_services.group_rule_create(actor=None, data={"name": "g", "query": CITY, "target_group_id": group.pk})
    assert _error(rule_services.assignment_rule_delete, actor=personas["salesperson"], rule=a).status == 403
    rule_services.assignment_rule_delete(actor=personas["manager"], rule=a)
    group_services.group_delete(actor=None, group=group)
    from shoal.pools.models import GroupRule, RecycleRule

    assert not RecycleRule.objects.filter(pk=r.pk).exists() and not GroupRule.objects.filter(pk=g.pk).exists()
