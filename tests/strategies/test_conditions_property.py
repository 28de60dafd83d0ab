"""Event conditions: the compiled predicate equals a plain-Python reading of the semantics (Hypothesis),
over random trees (parentheses as nested groups, AND/OR, NOT) and random event data with empty and
wrong-typed values."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.core.errors import ShoalError
from shoal.strategies.conditions import compile_predicate, parse_event_tree

FIELDS = [
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "status", "type": "text", "label": "Status"},
    {"key": "vip", "type": "boolean", "label": "VIP"},
    {"key": "day", "type": "date", "label": "Day"},
    {"key": "at", "type": "datetime", "label": "At"},
    {"key": "items", "type": "list", "label": "Items"},
    {"key": "extra", "type": "object", "label": "Extra"},
]
NOW = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
TODAY = timezone.localdate(NOW)
TEXTS = ["1", "0", "ok", "OK", "Done", "done later", "张三", "深圳市", "a_b%c"]
NUMBERS = [-3, 0, 1, 1.5, 100, 100.0, 250000]
DAYS = [(TODAY - timedelta(days=n)).isoformat() for n in (0, 1, 6, 7, 8, 30, 400)] + [
    (TODAY + timedelta(days=2)).isoformat()]
TIMES = [(NOW - timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (1, 30, 167, 169, 2000)] + [
    (NOW + timedelta(hours=3)).isoformat(), "2026-12-01T20:00:00"]  # no zone: the server's
ITEMS = ["red", "Green", "blue", 3]
EMPTY = ["missing", None, "", []]
WRONG = {"amount": ["100", True], "status": [5, ["ok"]], "vip": ["true", 1], "day": ["2026-13-01", 20261201],
         "at": ["yesterday", 1], "items": ["red", {"a": 1}]}
GOOD = {"amount": NUMBERS, "status": TEXTS, "vip": [True, False], "day": DAYS, "at": TIMES,
        "items": [["red"], ["Green", "blue"], [3, "RED"], ["blue"]]}

OPS = {
    "amount": ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"],
    "status": ["eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "is_empty",
               "is_not_empty"],
    "vip": ["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"],
    "day": ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "within_last_days",
            "older_than_days", "is_empty", "is_not_empty"],
    "at": ["eq", "gt", "gte", "lt", "lte", "between", "within_last_days", "older_than_days", "is_empty",
           "is_not_empty"],
    "items": ["contains", "not_contains", "is_empty", "is_not_empty"],
}


@st.composite
def leaves(draw):
    field = draw(st.sampled_from(sorted(OPS)))
    op = draw(st.sampled_from(OPS[field]))
    node = {"field": field, "op": op}
    if op in ("is_empty", "is_not_empty"):
        return node
    if op in ("within_last_days", "older_than_days"):
        node["value"] = draw(st.sampled_from([0, 1, 7, 30]))
        return node
    if field == "items":
        node["value"] = draw(st.sampled_from(["red", "green", "BLUE", "3"]))
        return node
    pool = {"amount": NUMBERS, "status": TEXTS + ["o", "DONE"], "vip": [True, False], "day": DAYS,
            "at": TIMES}[field]
    if op in ("in", "not_in"):
        node["value"] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    elif op == "between":
        node["value"] = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)), key=_sort_key(field))
    elif op in ("contains", "not_contains", "starts_with", "ends_with"):
        node["value"] = draw(st.sampled_from(["o", "D", "深圳", "_b%", "one"]))
    else:
        node["value"] = draw(st.sampled_from(pool))
    return node


def _sort_key(field):
    if field == "at":
        return lambda v: _time(v)
    return lambda v: v


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, children),
    ),
    max_leaves=8,
)


@st.composite
def events(draw):
    data = {}
    for key in OPS:
        kind = draw(st.sampled_from(["good", "good", "good", "empty", "wrong"]))
        if kind == "good":
            data[key] = draw(st.sampled_from(GOOD[key]))
        elif kind == "wrong":
            data[key] = draw(st.sampled_from(WRONG[key]))
        else:
            value = draw(st.sampled_from(EMPTY))
            if value != "missing":
                data[key] = value
    data["extra"] = {"any": "thing"}
    return data


# -- the oracle: the semantics in plain words --------------------------------------------------------------
def _time(text):
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = timezone.make_aware(value)
    return value.astimezone(UTC)


def usable(field, v):
    """The value in comparable form, or None when the field is empty or of another type."""
    if field == "amount":
        return v if type(v) in (int, float) else None
    if field == "status":
        return v.lower() if type(v) is str and v else None
    if field == "vip":
        return v if type(v) is bool else None
    if field == "day":
        try:
            return date.fromisoformat(v) if type(v) is str else None
        except ValueError:
            return None
    if field == "at":
        try:
            return _time(v) if type(v) is str else None
        except ValueError:
            return None
    if field == "items":
        return v if type(v) is list and v else None
    raise AssertionError(field)


def typed(field, value):
    if field == "status":
        return value.lower()
    if field == "day":
        return date.fromisoformat(value)
    if field == "at":
        return _time(value)
    return value


def holds(node, data) -> bool:
    if "all" in node:
        return all(holds(c, data) for c in node["all"])
    if "any" in node:
        return any(holds(c, data) for c in node["any"])
    if "not" in node:
        return not holds(node["not"], data)
    field, op, value = node["field"], node["op"], node.get("value")
    v = usable(field, data.get(field))
    if op == "is_empty":
        return v is None
    if op == "is_not_empty":
        return v is not None
    if op in ("ne", "not_in", "not_contains"):
        return not holds({"field": field, "op": {"ne": "eq", "not_in": "in", "not_contains": "contains"}[op],
                          "value": value}, data)
    if v is None:
        return False
    if field == "items":
        return any(str(item).lower() == value.lower() and isinstance(item, str) or item == value for item in v)
    if op in ("within_last_days", "older_than_days"):
        end = TODAY if field == "day" else NOW
        start = end - timedelta(days=value)
        return start <= v <= end if op == "within_last_days" else v < start
    if op == "in":
        return any(v == typed(field, x) for x in value)
    if op == "between":
        return typed(field, value[0]) <= v <= typed(field, value[1])
    t = typed(field, value)
    return {"eq": v == t if field != "status" else v == t, "gt": v > t if not isinstance(v, bool) else False,
            "gte": v >= t, "lt": v < t, "lte": v <= t, "contains": field == "status" and t in v,
            "starts_with": field == "status" and v.startswith(t),
            "ends_with": field == "status" and v.endswith(t)}[op]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, data=st.lists(events(), min_size=1, max_size=6))
def test_predicate_equals_the_oracle(tree, data):
    predicate = compile_predicate(parse_event_tree(tree, FIELDS), now=NOW)
    for event in data:
        assert predicate(event) == holds(tree, event), (tree, event)


def test_not_is_the_exact_complement():
    tree = {"field": "amount", "op": "gt", "value": 100}
    yes = compile_predicate(parse_event_tree(tree, FIELDS), now=NOW)
    no = compile_predicate(parse_event_tree({"not": tree}, FIELDS), now=NOW)
    for data in ({"amount": 150}, {"amount": 50}, {}, {"amount": "150"}, {"amount": None}):
        assert yes(data) != no(data)


@pytest.mark.parametrize("tree, message", [
    ({"field": "missing", "op": "eq", "value": 1}, "unknown field"),
    ({"field": "amount", "op": "contains", "value": "1"}, "does not fit"),
    ({"field": "amount", "op": "gt", "value": "100"}, "expects a number"),
    ({"field": "extra", "op": "is_empty"}, "unknown field"),  # objects are not conditions
    ({"field": "day", "op": "eq", "value": "12/01/2026"}, "expects a date"),
    ({"all": []}, "non-empty list"),
])
def test_bad_trees_are_refused_with_the_path(tree, message):
    with pytest.raises(ShoalError) as err, translation.override("en"):
        parse_event_tree(tree, FIELDS)
    assert err.value.code == "invalid_condition"
    assert message in err.value.message


@pytest.mark.django_db
def test_customer_kinds_belong_to_the_customer_conditions():
    with pytest.raises(ShoalError) as err:
        parse_event_tree({"all": [{"field": "amount", "op": "gt", "value": 1}, {"tags_any": [1]}]}, FIELDS)
    assert err.value.detail["path"] == "$.all[1]"


@pytest.mark.parametrize("tree, data, expected", [
    ({"field": "day", "op": "within_last_days", "value": 7}, {"day": (TODAY - timedelta(days=7)).isoformat()}, True),
    ({"field": "day", "op": "within_last_days", "value": 7}, {"day": (TODAY - timedelta(days=8)).isoformat()}, False),
    ({"field": "day", "op": "within_last_days", "value": 7}, {"day": (TODAY + timedelta(days=1)).isoformat()}, False),
    ({"field": "day", "op": "older_than_days", "value": 7}, {"day": (TODAY - timedelta(days=7)).isoformat()}, False),
    ({"field": "day", "op": "older_than_days", "value": 7}, {"day": (TODAY - timedelta(days=8)).isoformat()}, True),
    ({"field": "at", "op": "within_last_days", "value": 7},
     {"at": (NOW - timedelta(days=7)).isoformat()}, True),
    ({"field": "at", "op": "older_than_days", "value": 7},
     {"at": (NOW - timedelta(days=7, seconds=1)).isoformat()}, True),
    ({"field": "amount", "op": "between", "value": [1, 100]}, {"amount": 100.0}, True),
    ({"field": "amount", "op": "gt", "value": 100}, {"amount": 100}, False),
    ({"field": "status", "op": "eq", "value": "ok"}, {"status": "OK"}, True),
    ({"field": "status", "op": "ne", "value": "ok"}, {}, True),
    ({"field": "items", "op": "contains", "value": "red"}, {"items": ["RED"]}, True),
    ({"field": "vip", "op": "eq", "value": True}, {"vip": 1}, False),
])
def test_boundaries(tree, data, expected):
    assert compile_predicate(parse_event_tree(tree, FIELDS), now=NOW)(data) is expected
    assert holds(tree, data) is expected


@st.composite
def keyed_trees(draw):
    """Trees that often carry an indexable eq or in leaf (alone or in a top ``all``)."""
    key = {"field": draw(st.sampled_from(["status", "amount", "vip"])), "op": draw(st.sampled_from(["eq", "in"]))}
    pool = {"status": ["ok", "OK", "Done", ""], "amount": [1, 1.0, 100, 1.5], "vip": [True, False]}[key["field"]]
    if key["op"] == "eq":
        key["value"] = draw(st.sampled_from(pool))
    else:
        key["value"] = draw(st.lists(st.sampled_from([v for v in pool if v != ""]), min_size=1, max_size=3))
    shape = draw(st.sampled_from(["leaf", "all", "other"]))
    if shape == "leaf":
        return key
    if shape == "all":
        return {"all": [draw(trees), key]}
    return draw(trees)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(keyed_trees(), min_size=1, max_size=8), data=st.lists(events(), min_size=1, max_size=6))
def test_the_strategy_index_finds_exactly_the_strategies_that_match(rules, data):
    from shoal.strategies.conditions import index_key
    from shoal.strategies.services.matching import Compiled, Dispatch

    compiled = []
    for position, rule in enumerate(rules):
        tree = parse_event_tree(rule, FIELDS)
        compiled.append(Compiled(position, f"s{position}", 1, None, None, compile_predicate(tree, now=NOW), None, (),
                                 position, index_key(tree)))
    dispatch = Dispatch(compiled)
    for event in data:  # and variants holding the values the keys look for
        for variant in (event, {**event, "status": "ok"}, {**event, "status": "DONE"}, {**event, "amount": 1},
                        {**event, "vip": True}):
            expected = [s.id for s in compiled if holds(rules[s.id], variant)]
            assert [s.id for s in dispatch.candidates(variant) if s.predicate(variant)] == expected, (rules, variant)


# -- a batch: strategies looked up by value and their answers kept per distinct values (``matching.Dispatch``)
CONFUSABLE = [1, 1.0, True, "1", 0, 0.0, False, "0", "", None, ["red"], {"a": 1}]


@st.composite
def confusable_events(draw):
    """Events that often repeat the same values, or values equal in Python but not to a condition
    (``1``, ``1.0``, ``True``), or values that cannot be a dictionary key (lists, objects)."""
    data = draw(events())
    for key in draw(st.lists(st.sampled_from(sorted(OPS)), max_size=3)):
        data[key] = draw(st.sampled_from(CONFUSABLE))
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy_trees=st.lists(trees, min_size=1, max_size=5), data=st.lists(confusable_events(), min_size=1,
                                                                            max_size=8))
def test_a_batch_matches_each_event_as_its_strategies_one_by_one(strategy_trees, data):
    from shoal.events.hooks import StoredEvent
    from shoal.strategies.conditions import field_keys, index_key
    from shoal.strategies.services.matching import Action, Compiled, Dispatch, match

    compiled = []
    for n, raw in enumerate(strategy_trees):
        tree = parse_event_tree(raw, FIELDS)
        compiled.append(Compiled(n, f"s{n}", 1, None, None, compile_predicate(tree, now=NOW), None,
                                 (Action(n, "test", None, None),), n, index_key(tree), field_keys(tree)))
    batch = [StoredEvent(id=i, received_at=NOW, occurred_at=NOW, event_type_id=1, event_code="t", customer_id=i,
                         application_id=None, client_id=str(i), data=d)
             for i, d in enumerate(data + data)]  # each one twice: the second time from what was kept
    got = [(e.id, s.id) for e, s in match(batch, {1: Dispatch(compiled)})]
    expected = [(e.id, n) for e in batch for n, raw in enumerate(strategy_trees) if holds(raw, e.data)]
    assert got == expected
