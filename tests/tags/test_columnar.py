"""Full refreshes evaluated in process (``shoal.tags.columnar``): the answer equals the SQL compiler's for random
rules over random customers (Hypothesis), odd values included (NULLs, empty strings, missing keys, JSON values of
another type than the field's, CJK and mixed case, letters with a case outside ASCII, numbers too long for a
double, dates in other forms, boundaries); a full refresh writes the same taggings and history with the switch on
and off."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.customers.models import Customer
from shoal.customers.quality import reset_scores, with_quality
from shoal.segments.catalog import field_catalog
from shoal.tags import columnar
from shoal.tags import refresh as refresh_module
from shoal.tags.models import Tag, TagCategory, Tagging, TagHistory, TagKind, TagRule
from shoal.tags.refresh import Run, refresh
from tests.segments.test_property import FIELD_VALUES, NOW, leaves, population, tag_nodes  # noqa: F401

from .conftest import assert_scores_are_sums

# values the rules may compare with, beyond the segments property test's (odd ones and boundaries)
EXTRA_VALUES = {
    "name": ["", "éva", "ÉVA", "STRASSE", "straße", "王", "a_b%c", "ali"],
    "city": ["深圳", "SHEN", "beijing"],
    "assets": [0.30000000000000004, 99999.99999999999, 2**60, 1e20, -0.0, 100000.0, 100.5],
    "files": [2**53 + 1, -(2**53), 7],
    "nick": ["ÉCOLE", "école", "ali", "ALİ", "12", ""],
    "birthday": ["1990-01-01", "2000-02-29"],
    "joined": ["2026-01-01", "2020-02-29"],
}

ODD_ATTRIBUTES = [
    {"assets": "100000"}, {"assets": 1e20}, {"assets": 0.30000000000000004}, {"assets": 2**60}, {"assets": -0.0},
    {"assets": ""}, {"assets": None}, {"assets": [1]}, {"assets": 99999.99999999999}, {"assets": 100.5},
    {"files": True}, {"files": 7.0}, {"files": 2**53 + 1}, {"vip": 1}, {"vip": "true"}, {"vip": None},
    {"plan": 5}, {"plan": ["pro"]}, {"plan": ""}, {"plan": "PRO"}, {"plan": "null"}, {"plan": True},
    {"nick": 12}, {"nick": {"a": 1}}, {"nick": "ÉCOLE"}, {"nick": "straße"}, {"nick": "ALİ"}, {"nick": ""},
    {"nick": "Ali"}, {"nick": "王Ali"}, {"nick": []},
    {"joined": "2026/01/01"}, {"joined": 20260101}, {"joined": "2026-01-01"}, {"joined": ""},
    {"seen": "2026-01-01T00:00:00+08:00"}, {"seen": "2026-01-01 00:00:00"}, {"seen": True},
    {"colors": "red"}, {"colors": []},
]
ODD_NAMES = ["Éva", "ÉVA", "éva", "Straße", "STRASSE", "İstanbul", "ﬁne", "ALI", "王Ali", "", "a_b%c"]


def _odd_customers():
    made = []
    for i, attributes in enumerate(ODD_ATTRIBUTES):
        made.append(Customer.objects.create(
            name=ODD_NAMES[i % len(ODD_NAMES)], city=["", "SHEN zhen", "深圳", "Beijing"][i % 4],
            email=[None, f"Odd{i}@Example.com", f"odd{i}@example.COM"][i % 3], birthday=[None, date(1990, 1, 1), date(2000, 2, 29)][i % 3],
            created_at=NOW - timedelta(days=i % 5), attributes=attributes))
    table = Customer._meta.db_table
    with connection.cursor() as cursor:  # values stored in another form than Django writes
        if connection.vendor == "sqlite":
            cursor.execute(f"UPDATE {table} SET birthday = 20000101 WHERE id = %s", [made[0].pk])
            cursor.execute(f"UPDATE {table} SET created_at = '2026-01-01T00:00:00Z' WHERE id = %s", [made[1].pk])
            cursor.execute(f"UPDATE {table} SET registered_at = 5 WHERE id = %s", [made[2].pk])
        else:
            cursor.execute(f"UPDATE {table} SET birthday = 'infinity' WHERE id = %s", [made[0].pk])
            cursor.execute(f"UPDATE {table} SET registered_at = '-infinity' WHERE id = %s", [made[2].pk])
    return made


@pytest.fixture
def odd_population(population):  # noqa: F811
    return population + _odd_customers()


@st.composite
def odd_leaves(draw, catalog):
    raw = draw(leaves(catalog))
    extra = EXTRA_VALUES.get(raw["field"])
    if extra and "value" in raw and draw(st.booleans()):
        value = draw(st.sampled_from(extra))
        if raw["op"] == "between":
            raw["value"] = sorted([value, raw["value"][1]])
        elif isinstance(raw["value"], list):
            raw["value"] = [value, *raw["value"][:1]]
        else:
            raw["value"] = value
    return raw


def odd_trees(catalog, tag_ids):
    return st.recursive(
        st.one_of(odd_leaves(catalog), odd_leaves(catalog), tag_nodes(tag_ids)),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            children.map(lambda x: {"not": x}),
        ),
        max_leaves=5,
    )


def _valid(raw, catalog) -> bool:
    from shoal.core.errors import ShoalError
    from shoal.segments.tree import parse

    try:
        parse(raw, catalog)
    except ShoalError:
        return False
    return True


@pytest.mark.django_db
def test_columnar_answer_equals_sql(odd_population):
    catalog = field_catalog()
    labels = sorted(Tag.objects.values_list("pk", flat=True))
    category = TagCategory.objects.create(name="columnar")
    bounds = (min(c.pk for c in odd_population), max(c.pk for c in odd_population) + 1)
    stats = {"examples": 0, "compiled": 0, "rows": 0, "unsure": 0}
    fold = columnar.fold_mode()
    assert fold == ("ascii" if connection.vendor == "sqlite" else "unicode")

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(odd_trees(catalog, labels), min_size=1, max_size=3))
    def check(raws):
        raws = [raw for raw in raws if _valid(raw, catalog)]
        if not raws:
            return
        tag = Tag.objects.create(name=f"t{stats['examples']}", category=category, kind=TagKind.AUTO)
        for raw in raws:
            TagRule.objects.create(tag=tag, query=raw)
        stats["examples"] += 1
        run = Run([tag], full_ids={tag.pk}, candidates={}, progress=None, now=NOW)
        for lo, hi in [bounds, (bounds[0] + 7, bounds[0] + 40)]:
            expected = run._match([tag], lo=lo, hi=hi)
            got = columnar.match(run, [tag], lo, hi)
            assert got == expected, raws
        plan = columnar.Plan(run, [tag], fold)
        if plan.compiled:
            ids, raw_columns = columnar.fetch(plan.fields, *bounds, plan.presence)
            _result, unsure, _tags = columnar._evaluate(plan, ids, raw_columns, fold)
            stats["compiled"] += 1
            stats["rows"] += len(ids)
            stats["unsure"] += len(unsure)

    check()
    # most random rules are answered in process, and most of their customers without SQL
    assert stats["compiled"] > stats["examples"] // 4, stats
    assert stats["unsure"] < stats["rows"] // 4, stats


@pytest.mark.django_db
def test_a_separator_in_a_text_sends_the_range_to_sql(population, make_tag):  # noqa: F811
    Customer.objects.create(name="a\x1fb", attributes={"nick": "x\x1fy"})
    tag = make_tag("sep", rules=[{"query": {"field": "nick", "op": "contains", "value": "x"}}])
    run = Run([tag], full_ids={tag.pk}, candidates={}, progress=None, now=NOW)
    lo, hi = 0, Customer.objects.order_by("-pk").first().pk + 1
    assert columnar.match(run, [tag], lo, hi) == run._match([tag], lo=lo, hi=hi)


def _state():
    tags = {}
    for tag_id, customer_id in Tagging.objects.values_list("tag_id", "customer_id"):
        tags.setdefault(tag_id, set()).add(customer_id)
    history = sorted(TagHistory.objects.values_list("tag_id", "customer_id", "action", "rule_id"))
    scores = dict(with_quality(Customer.objects).values_list("pk", "quality_score"))
    return tags, history, scores


def _reset():
    Tagging.objects.all().delete()
    TagHistory.objects.all().delete()
    reset_scores()
    Tag.objects.update(customer_count=0, refreshed_at=None)


@pytest.mark.django_db
def test_full_refresh_writes_the_same_with_the_switch_on_and_off(odd_population, make_tag, settings, monkeypatch):  # noqa: F811
    monkeypatch.setattr(refresh_module, "RANGE", 17)  # several ranges
    labels = list(Tag.objects.values_list("pk", flat=True))
    c = lambda field, op, value=None: ({"field": field, "op": op} if value is None  # noqa: E731
                                       else {"field": field, "op": op, "value": value})
    first = make_tag("a", score=2, rules=[{"query": c("plan", "eq", "pro")}, {"query": c("assets", "gte", 100)}])
    make_tag("b", score=-1, rules=[{"query": {"any": [c("nick", "contains", "ali"), c("vip", "eq", True)]}}])
    make_tag("c", score=3, rules=[{"query": {"not": c("city", "in", ["深圳", "beijing"])}},
                                  {"sql": "files > 5"}])
    make_tag("d", rules=[{"query": c("joined", "gte", "2026-01-01")}, {"include_tags": labels[:2]}])
    make_tag("e", score=1, rules=[{"query": {"all": [c("created_at", "gte", (NOW - timedelta(days=3)).isoformat()),
                                                     c("birthday", "is_not_empty")]}}])
    make_tag("f", rules=[{"query": c("seen", "within_last_days", 30)}])
    make_tag("g", rules=[{"query": c("name", "starts_with", "é")}, {"query": c("email", "ends_with", "example.com")}])
    make_tag("h", score=1, rules=[{"query": {"tags_any": [first.pk]}}])  # a second level
    _reset()
    settings.SHOAL_TAG_COLUMNAR = False
    off = refresh(full=True)
    state_off = _state()
    assert_scores_are_sums()
    _reset()
    settings.SHOAL_TAG_COLUMNAR = True
    fetched = []
    fetch = columnar.fetch
    monkeypatch.setattr(columnar, "fetch", lambda *args: fetched.append(args) or fetch(*args))
    on = refresh(full=True)
    assert len(fetched) >= 120 // 17  # every range went through numpy
    assert _state() == state_off
    assert_scores_are_sums()
    assert (on["added"], on["removed"], on["evaluated"]) == (off["added"], off["removed"], off["evaluated"])
    assert on["added"] > 100
    again = refresh(full=True)  # nothing changed: nothing written
    assert again["added"] == again["removed"] == 0


def test_numbers_compiled_only_where_a_double_is_exact():
    assert columnar._exact_number(100000) and columnar._exact_number(100.5) and columnar._exact_number(-0.0)
    assert not columnar._exact_number(0.30000000000000004)
    assert not columnar._exact_number(1e20) and not columnar._exact_number(2**60)
    assert not columnar._exact_number(True)
    assert datetime(2026, 1, 1, tzinfo=UTC) > columnar.EPOCH
