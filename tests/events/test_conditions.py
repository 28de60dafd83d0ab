"""Events in the condition language: event_count / last_event / first_event nodes (checked against a plain
Python evaluator over the statistics, with Hypothesis), their errors, and event_count() / last_event() /
first_event() in custom SQL."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.customers.models import Customer
from shoal.events.models import EventStat
from shoal.events.services import types
from shoal.segments.catalog import field_catalog
from shoal.segments.compiler import compile_tree
from shoal.segments.selectors import condition_q, validate
from shoal.segments.tree import parse

CODES = ("login", "buy")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def world(db):
    """Customers c0..c7; per customer and type a count and first/last times (hours off the day, so no time
    sits on a day boundary); c0 and c7 have no events, c3 only logins."""
    now = timezone.now()
    kinds = {code: types.event_type_create(actor=SYSTEM, data={"name": code, "code": code}) for code in CODES}
    people = [Customer.objects.create(name=f"c{i}") for i in range(8)]
    spec = {
        1: {"login": (1, 2.3, 2.3), "buy": (4, 40.5, 1.2)},
        2: {"login": (3, 10.4, 6.7), "buy": (1, 100.2, 100.2)},
        3: {"login": (7, 400.1, 0.4)},
        4: {"login": (2, 5.6, 5.6), "buy": (2, 3.3, 2.9)},
        5: {"buy": (10, 30.8, 8.1)},
        6: {"login": (5, 60.2, 30.6), "buy": (3, 9.9, 7.7)},
    }
    stats = {}
    for index, per_type in spec.items():
        for code, (count, first_days, last_days) in per_type.items():
            first, last = now - timedelta(days=first_days), now - timedelta(days=last_days)
            EventStat.objects.create(customer_id=people[index].pk, event_type=kinds[code], count=count,
                                     first_at=first, last_at=last, last_data={})
            stats[(people[index].pk, code)] = (count, first, last)
    return {"people": people, "stats": stats, "now": now}


def matching(q):
    return set(Customer.objects.filter(q).values_list("pk", flat=True))


# -- a plain Python evaluator --------------------------------------------------------------------------
def _cmp(op, left, value, now):
    if op == "between":
        return value[0] <= left <= value[1]
    if op == "within_last_days":
        return now - timedelta(days=value) <= left <= now
    if op == "older_than_days":
        return left < now - timedelta(days=value)
    return {"eq": left == value, "ne": left != value, "gt": left > value, "gte": left >= value,
            "lt": left < value, "lte": left <= value}[op]


def _time(value):
    return datetime.fromisoformat(value).astimezone(UTC)


def holds(node, pk, world) -> bool:
    now = world["now"]
    if "all" in node:
        return all(holds(child, pk, world) for child in node["all"])
    if "any" in node:
        return any(holds(child, pk, world) for child in node["any"])
    if "not" in node:
        return not holds(node["not"], pk, world)
    (kind, body), = node.items()
    stat = world["stats"].get((pk, body["event"]))
    if kind == "event_count":
        return _cmp(body["op"], stat[0] if stat else 0, body["value"], now)
    if body["op"] == "is_empty":
        return stat is None
    if body["op"] == "is_not_empty":
        return stat is not None
    if stat is None:
        return False
    moment = stat[1] if kind == "first_event" else stat[2]
    value = body.get("value")
    if body["op"] == "between":
        value = [_time(v) for v in value]
    elif body["op"] in ("gt", "gte", "lt", "lte"):
        value = _time(value)
    return _cmp(body["op"], moment, value, now)


def count_nodes():
    number = st.integers(min_value=-1, max_value=11)
    return st.one_of(
        st.builds(lambda code, op, v: {"event_count": {"event": code, "op": op, "value": v}},
                  st.sampled_from(CODES), st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]), number),
        st.builds(lambda code, a, b: {"event_count": {"event": code, "op": "between", "value": sorted([a, b])}},
                  st.sampled_from(CODES), number, number))


def time_nodes(now):
    days = st.integers(min_value=0, max_value=500)
    instant = st.integers(min_value=0, max_value=500).map(
        lambda d: (now - timedelta(days=d, hours=5)).isoformat())
    kind, code = st.sampled_from(["last_event", "first_event"]), st.sampled_from(CODES)
    return st.one_of(
        st.builds(lambda k, c, op, v: {k: {"event": c, "op": op, "value": v}}, kind, code,
                  st.sampled_from(["within_last_days", "older_than_days"]), days),
        st.builds(lambda k, c, op, v: {k: {"event": c, "op": op, "value": v}}, kind, code,
                  st.sampled_from(["gt", "gte", "lt", "lte"]), instant),
        st.builds(lambda k, c, a, b: {k: {"event": c, "op": "between", "value": sorted([a, b])}}, kind, code,
                  instant, instant),
        st.builds(lambda k, c, op: {k: {"event": c, "op": op}}, kind, code, st.sampled_from(["is_empty", "is_not_empty"])))


def trees(now):
    return st.recursive(
        st.one_of(count_nodes(), time_nodes(now)),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            children.map(lambda x: {"not": x})),
        max_leaves=5)


@pytest.mark.django_db
def test_the_compiled_conditions_equal_a_python_evaluator(world):
    catalog = field_catalog()
    everyone = [c.pk for c in world["people"]]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(trees(world["now"]))
    def check(raw):
        expected = {pk for pk in everyone if holds(raw, pk, world)}
        assert matching(compile_tree(parse(raw, catalog))) == expected, raw

    check()


@pytest.mark.django_db
def test_the_issues_examples(world):
    c = [p.pk for p in world["people"]]
    assert matching(condition_q(query={"event_count": {"event": "login", "op": "gt", "value": 3}})) == {c[3], c[6]}
    assert matching(condition_q(query={"last_event": {"event": "login", "op": "within_last_days", "value": 7}})) \
        == {c[1], c[2], c[3], c[4]}
    # a count of 0 (no events at all) matches "fewer than 2"; not is the exact complement
    fewer = matching(condition_q(query={"event_count": {"event": "buy", "op": "lt", "value": 2}}))
    assert fewer == {c[0], c[2], c[3], c[7]}
    assert matching(condition_q(query={"not": {"event_count": {"event": "buy", "op": "lt", "value": 2}}})) \
        == set(c) - fewer
    # with customer fields in one tree
    named = matching(condition_q(query={"all": [{"field": "name", "op": "in", "value": ["c1", "c5"]},
                                                {"event_count": {"event": "buy", "op": "gte", "value": 4}}]}))
    assert named == {c[1], c[5]}


@pytest.mark.django_db
@pytest.mark.parametrize("body, words", [
    ({"event_count": {"event": "nope", "op": "gt", "value": 1}}, "unknown event type nope"),
    ({"event_count": {"event": "login", "op": "within_last_days", "value": 1}}, "does not fit"),
    ({"event_count": {"event": "login", "op": "gt", "value": "3"}}, "expected a number"),
    ({"event_count": {"event": "login", "op": "between", "value": [1]}}, "between needs"),
    ({"event_count": {"event": "login", "op": "gt"}}, "expected a number"),
    ({"event_count": {"event": "login", "op": "gt", "value": 1, "x": 1}}, "give"),
    ({"event_count": ["login"]}, "give"),
    ({"last_event": {"event": "login", "op": "gt", "value": "last week"}}, "date-time"),
    ({"last_event": {"event": "login", "op": "within_last_days", "value": 1.5}}, "whole number"),
    ({"last_event": {"event": "login", "op": "is_empty", "value": 1}}, "takes no value"),
    ({"first_event": {"event": 7, "op": "is_empty"}}, "by its code"),
])
def test_bad_event_conditions_are_refused_with_their_path(world, body, words):
    with pytest.raises(ShoalError) as caught:
        validate(query={"all": [{"field": "name", "op": "is_not_empty"}, body]})
    assert caught.value.code == "invalid_condition"
    assert words in caught.value.message
    assert caught.value.detail["path"].startswith("$.all[1]")


@pytest.mark.django_db
def test_event_functions_in_custom_sql(world):
    c = [p.pk for p in world["people"]]
    assert matching(condition_q(sql="event_count('login') > 3")) == {c[3], c[6]}
    assert matching(condition_q(sql="event_count('buy') = 0")) == {c[0], c[3], c[7]}
    assert matching(condition_q(sql="last_event('login') IS NULL")) == {c[0], c[5], c[7]}
    assert matching(condition_q(sql="last_event('login') >= days_ago(7) AND event_count('buy') >= 2")) == {c[1], c[4]}
    assert matching(condition_q(sql="first_event('buy') < days_ago(35) OR name = 'c0'")) == {c[0], c[1], c[2]}


@pytest.mark.django_db
@pytest.mark.parametrize("sql, words", [
    ("event_count(login) > 1", "takes one event type code"),
    ("event_count('login', 'buy') > 1", "takes one event type code"),
    ("event_count('no''pe') > 1", "takes one event type code"),
    ("last_event('nope') IS NULL", "Unknown event type nope"),
    ("event_count('login')", "must be a condition"),
])
def test_event_functions_take_one_known_code(world, sql, words):
    with pytest.raises(ShoalError) as caught:
        validate(sql=sql)
    assert words in caught.value.message


@pytest.mark.django_db
def test_auto_tags_reading_event_statistics_are_re_read_in_full_by_the_daily_refresh(login):
    """Events change the statistics without a write to the customer: a tag rule reading them counts as relative
    (the daily job re-reads it in full), in a tree or in custom SQL."""
    from shoal.tags import services as tag_services
    from shoal.tags.conditions import is_relative
    from shoal.tags.models import Tag, TagCategory

    count = {"event_count": {"event": "login", "op": "gt", "value": 3}}
    assert is_relative(query=count) and is_relative(query={"not": {"first_event": {"event": "login", "op": "is_empty"}}})
    assert is_relative(sql="event_count('login') > 3") and is_relative(sql="last_event('login') IS NULL")
    assert not is_relative(query={"field": "city", "op": "eq", "value": "x"}) and not is_relative(sql="city = 'x'")
    tag = Tag.objects.create(name="常登录", category=TagCategory.objects.create(name="行为"), kind="auto")
    tag_services.rule_create(actor=SYSTEM, tag=tag, data={"query": count})
    tag.refresh_from_db()
    assert tag.relative
