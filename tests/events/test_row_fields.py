"""Events in the condition rows (the advanced query page's builder and the pages that reuse it): the field
catalogue lists event count, last and first event time with the event types to pick (names shown, codes
stored) and the operators the compiler accepts; a row of them is a condition among the others (parentheses,
AND/OR) that becomes the event node; saved rows keep the event type; rules and strategies say them in words."""

import html
import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from shoal.core.actors import SYSTEM
from shoal.customers.models import Customer, CustomField
from shoal.events.conditions import COUNT_OPS, TIME_OPS
from shoal.events.models import EventStat
from shoal.events.services import types
from shoal.segments.rows import clean_rows, row_field_catalog, row_field_condition, rows_to_tree
from shoal.segments.services import saved_query_create
from shoal.strategies.views import describe
from shoal.tags.models import Tag, TagCategory, TagRule
from shoal.tags.views import _rule_summary
from tests.segments.conftest import post

COUNT_ROW = {"lparen": "", "field": "event_count", "event": "purchase", "op": "gt", "value": 1, "rparen": "",
             "logic": "and"}
COUNT_NODE = {"event_count": {"event": "purchase", "op": "gt", "value": 1}}


def fields(client, user, bearer, language="zh-hans", **params):
    response = client.get("/api/v1/segments/fields", params, HTTP_ACCEPT_LANGUAGE=language, **bearer(user))
    assert response.status_code == 200, response.content
    return {f["key"]: f for f in response.json()}


@pytest.mark.django_db
def test_the_field_catalogue_lists_the_event_fields_with_the_types_and_the_compilers_operators(
        client, personas, bearer, purchase, login):
    types.event_types_set_enabled(actor=SYSTEM, ids=[login.pk], enabled=False)
    catalogue = fields(client, personas["admin"], bearer, "en", filter_only="true")
    count, last, first = catalogue["event_count"], catalogue["last_event"], catalogue["first_event"]
    assert (count["label"], last["label"], first["label"]) == ("Event count", "Last event time", "First event time")
    assert count["type"] == "number" and last["type"] == first["type"] == "datetime"
    assert set(count["operators"]) == set(COUNT_OPS) and set(last["operators"]) == set(first["operators"]) == set(TIME_OPS)
    assert count["operators"][:2] == ["eq", "ne"]  # the page's order, not the compiler's
    assert count["group"] == "Events" and count["choices"] == []
    # every type by name (code point order), codes as values; the disabled one flagged (the page shows it only
    # where a row names it)
    assert count["arg"] == {"key": "event", "label": "Event type", "choices": [
        {"value": "login", "label": "登录", "enabled": False}, {"value": "purchase", "label": "购买", "enabled": True}]}
    assert all(f.get("arg") is None for key, f in catalogue.items() if key not in ("event_count", "last_event",
                                                                                  "first_event"))


@pytest.mark.django_db
def test_the_event_fields_are_labelled_in_chinese(client, personas, bearer, purchase):
    catalogue = fields(client, personas["admin"], bearer)
    assert [catalogue[k]["label"] for k in ("event_count", "last_event", "first_event")] == [
        "事件次数", "最近事件时间", "首次事件时间"]
    assert catalogue["event_count"]["group"] == "事件" and catalogue["event_count"]["arg"]["label"] == "事件类型"


@pytest.mark.django_db
def test_without_event_types_no_event_field_is_offered(client, personas, bearer):
    assert row_field_catalog() == []
    assert "event_count" not in fields(client, personas["admin"], bearer)


@pytest.mark.django_db
def test_a_custom_field_of_the_same_key_keeps_its_row_and_the_event_row_needs_its_event(
        client, personas, bearer, purchase):
    CustomField.objects.create(key="event_count", label="旧次数", type="integer", show_in_filter=True)
    catalogue = fields(client, personas["admin"], bearer, filter_only="true")
    assert catalogue["event_count"]["label"] == "旧次数" and catalogue["event_count"].get("arg") is None
    assert rows_to_tree([{"field": "event_count", "op": "gt", "value": 1}]) == {
        "field": "event_count", "op": "gt", "value": 1}
    assert rows_to_tree([COUNT_ROW]) == COUNT_NODE


@pytest.mark.django_db
def test_event_rows_take_their_place_among_the_rows(purchase, login):
    rows = [{**COUNT_ROW, "lparen": "(", "logic": "or"},
            {"field": "last_event", "event": "login", "op": "within_last_days", "value": 7, "rparen": ")",
             "logic": "and"},
            {"field": "first_event", "event": "purchase", "op": "is_empty", "value": None},
            {"field": "city", "op": "eq", "value": "深圳"}]
    assert rows_to_tree(rows) == {"all": [
        {"any": [COUNT_NODE, {"last_event": {"event": "login", "op": "within_last_days", "value": 7}}]},
        {"first_event": {"event": "purchase", "op": "is_empty"}},  # no value: the compiler refuses one
        {"field": "city", "op": "eq", "value": "深圳"}]}
    # kept as written, the event type included; anything else dropped
    assert clean_rows([{**COUNT_ROW, "extra": 1}]) == [COUNT_ROW]


@pytest.fixture
def buyers(purchase, login):
    """Three customers: a bought 3 times, b once (and logged in 2 days ago), c never."""
    now = timezone.now()
    people = {name: Customer.objects.create(name=name, city="深圳").pk for name in "abc"}
    EventStat.objects.create(customer_id=people["a"], event_type=purchase, count=3, first_at=now - timedelta(days=40),
                             last_at=now - timedelta(days=1), last_data={})
    EventStat.objects.create(customer_id=people["b"], event_type=purchase, count=1, first_at=now - timedelta(days=3),
                             last_at=now - timedelta(days=3), last_data={})
    EventStat.objects.create(customer_id=people["b"], event_type=login, count=1, first_at=now - timedelta(days=2),
                             last_at=now - timedelta(days=2), last_data={})
    return people


@pytest.mark.django_db
def test_rows_from_the_page_preview_and_save_the_customers_they_match(client, personas, bearer, buyers):
    admin = bearer(personas["admin"])
    tree = post(client, "/api/v1/segments/from-rows", {"rows": [COUNT_ROW]}, admin)
    assert tree.status_code == 200, tree.content
    assert tree.json()["query"] == COUNT_NODE
    preview = post(client, "/api/v1/segments/preview", tree.json(), admin).json()
    assert [c["name"] for c in preview["sample"]] == ["a"]
    # registration before a date: b's first purchase is after it, a's before
    before = (timezone.localtime() - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    rows = [{"field": "first_event", "event": "purchase", "op": "lt", "value": before}]
    query = post(client, "/api/v1/segments/from-rows", {"rows": rows}, admin).json()["query"]
    assert [c["name"] for c in post(client, "/api/v1/segments/preview", {"query": query}, admin).json()["sample"]] \
        == ["a"]

    saved = saved_query_create(actor=personas["admin"], name="常买", rows=[COUNT_ROW])
    assert saved.rows == [COUNT_ROW] and saved.query == COUNT_NODE
    again = client.get(f"/api/v1/saved-queries/{saved.pk}", **admin).json()
    assert again["rows"] == [COUNT_ROW]


@pytest.mark.django_db
def test_an_event_row_naming_an_unknown_type_or_a_wrong_operator_is_refused(client, personas, bearer, purchase):
    admin = bearer(personas["admin"])
    for row in ({**COUNT_ROW, "event": "nope"}, {**COUNT_ROW, "op": "within_last_days"},
                {**COUNT_ROW, "event": None}, {**COUNT_ROW, "value": "many"}):
        response = post(client, "/api/v1/segments/from-rows", {"rows": [row]}, admin)
        assert response.status_code == 400, row
        assert set(response.json()["error"]) == {"code", "message", "detail"}


@pytest.mark.django_db
def test_rules_and_strategies_say_event_conditions_in_words(purchase):
    with translation.override("zh-hans"):
        assert row_field_condition(COUNT_ROW)[0] == "事件次数（购买）"
        assert row_field_condition(COUNT_NODE) == ("事件次数（购买）", COUNT_NODE["event_count"])
        assert row_field_condition({"field": "city", "op": "eq", "value": "x"}) is None
        tag = Tag.objects.create(name="常买", category=TagCategory.objects.create(name="行为"), kind="auto")
        words = {"ops": {"gt": "大于", "within_last_days": "最近N天内"}, "enums": {}}
        by_rows = TagRule(tag=tag, rows=[COUNT_ROW], query=COUNT_NODE)
        assert _rule_summary(by_rows, {}, words)["text"] == "事件次数（购买） 大于 1"
        by_tree = TagRule(tag=tag, query={"any": [COUNT_NODE, {"last_event": {
            "event": "gone", "op": "within_last_days", "value": 7}}]})
        assert _rule_summary(by_tree, {}, words)["text"] == "事件次数（购买） 大于 1 或 最近事件时间（gone） 最近N天内 7"
        assert describe(COUNT_NODE, {}, words["ops"]) == "事件次数（购买） 大于 1"
    with translation.override("en"):
        assert describe(json.loads(json.dumps(COUNT_NODE)), {}, {"gt": "greater than"}) == \
            "Event count (购买) greater than 1"


@pytest.mark.django_db
def test_a_group_rule_page_saves_event_rows_says_them_and_gives_them_back(client, personas, purchase):
    from django.urls import reverse

    from shoal.pools.models import GroupRule
    from shoal.pools.services import groups as group_services

    group = group_services.group_create(actor=None, data={"name": "复购组"})
    client.force_login(personas["admin"])
    url = reverse("admin:pool_group_rules")
    response = client.post(url, {"form": "rule", "name": "常买客户", "order": "1", "enabled": "on", "mode": "rows",
                                 "rows": json.dumps([COUNT_ROW]), "source": "", "target": group.pk})
    assert response.status_code == 302
    rule = GroupRule.objects.get(name="常买客户")
    assert rule.rows == [COUNT_ROW] and rule.query == COUNT_NODE
    assert "事件次数（购买） 大于 1" in client.get(url).content.decode()
    edit = client.get(reverse("admin:pool_group_rule_edit", args=[rule.pk])).content.decode()
    assert '&quot;event&quot;: &quot;purchase&quot;' in edit  # the rows the editor re-opens, event type included


@pytest.mark.django_db
@pytest.mark.parametrize("language, expected", [
    ("zh-hans", ["event_count('编码')：客户该类型事件的次数", "has_tag(id)"]),
    ("en", ["event_count('code'): how many events of that type", "last_event('code'): the time",
            "first_event('code'): the time", "has_tag(id): the customer has the tag"]),
])
def test_the_custom_sql_help_names_every_registered_function(client, personas, language, expected):
    client.force_login(personas["admin"])
    client.cookies["django_language"] = language
    response = client.get("/query/")
    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    for line in expected:
        assert line in text
