"""Random condition trees over random customers: the engine's answer equals the plain-Python
evaluator of the semantics, on SQLite and on PostgreSQL. The customers carry tags, and the trees use
the tag kinds (tags_any, tags_all, tags_none) as well as field conditions."""

import random
from datetime import UTC, date, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.customers.cleaning import coerce_custom_value
from shoal.customers.models import Customer, CustomField, EnumGroup, EnumItem
from shoal.segments.catalog import OPERATORS, field_catalog
from shoal.segments.compiler import compile_tree
from shoal.segments.tree import parse
from shoal.tags.models import Tag, TagCategory, Tagging
from tests.segments.evaluator import matches

TEXTS = ["", "Alice", "alice", "BOB", "bob smith", "张三", "李四", "深圳", "广州", "a_b%c", "Zed", "null", "True"]
CITIES = ["", "深圳", "广州", "Beijing", "beijing", "上海"]
PLANS = ["free", "pro", "ent", "null"]
TAGS = ["red", "green", "blue"]
LABELS = ["vip", "churn", "new", "loyal", "cold"]  # customer tags (the kinds tags_any/all/none)
EMPTIES = ["missing", None, "", []]
NOW = timezone.now().replace(microsecond=0)
TODAY = timezone.localdate()


def _maybe_empty(rng, value):
    choice = rng.random()
    if choice < 0.2:
        return rng.choice(EMPTIES)
    return value


def _attributes(rng):
    attrs = {
        "plan": _maybe_empty(rng, rng.choice(PLANS)),
        "assets": _maybe_empty(rng, rng.choice([0, 1, 50, 100.5, 100000, 250000, -3])),
        "files": _maybe_empty(rng, rng.choice([0, 1, 2, 7, 30])),
        "vip": _maybe_empty(rng, rng.choice([True, False])),
        "colors": _maybe_empty(rng, rng.sample(TAGS, rng.randint(1, 3))),
        "joined": _maybe_empty(rng, (TODAY - timedelta(days=rng.choice([0, 1, 5, 30, 400]))).isoformat()),
        "seen": _maybe_empty(rng, (NOW - timedelta(hours=rng.choice([1, 30, 200, 2000]))).astimezone(UTC)
                             .strftime("%Y-%m-%dT%H:%M:%SZ")),
        "nick": _maybe_empty(rng, rng.choice(TEXTS[1:])),
    }
    return {k: v for k, v in attrs.items() if v != "missing"}


@pytest.fixture
def population(db):
    colors = EnumGroup.objects.create(code="colors", name="colors")
    plans = EnumGroup.objects.create(code="plans", name="plans")
    for i, code in enumerate(TAGS):
        EnumItem.objects.create(group=colors, code=code, label=code, order=i)
    for i, code in enumerate(PLANS):
        EnumItem.objects.create(group=plans, code=code, label=code, order=i)
    for key, kind, group in [("plan", "enum", plans), ("assets", "money", None), ("files", "integer", None),
                             ("vip", "boolean", None), ("colors", "multi_enum", colors), ("joined", "date", None),
                             ("seen", "datetime", None), ("nick", "text", None)]:
        CustomField.objects.create(key=key, label=key, type=kind, enum_group=group, show_in_filter=True)
    rng = random.Random(20261122)
    for i in range(80):
        Customer.objects.create(
            name=rng.choice(TEXTS), city=rng.choice(CITIES),
            mobile=rng.choice([None, f"+86138{i:08d}"]),
            email=rng.choice([None, f"user{i}@example.com"]),
            birthday=rng.choice([None, date(1990, 1, 1) + timedelta(days=rng.randint(0, 9000))]),
            status=rng.choice(["active", "unpaid", "banned"]),
            gender=rng.choice(["", "male", "female"]),
            created_at=NOW - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23)),
            attributes=_attributes(rng),
        )
    category = TagCategory.objects.create(name="labels")
    labels = [Tag.objects.create(name=name, category=category) for name in LABELS]
    customers = list(Customer.objects.all())
    for customer in customers:
        for tag in rng.sample(labels, rng.choice([0, 0, 1, 1, 2, 3, 5])):
            Tagging.objects.create(tag=tag, customer=customer, source="user")
    taggings = {}
    for tag_id, customer_id in Tagging.objects.values_list("tag_id", "customer_id"):
        taggings.setdefault(customer_id, set()).add(tag_id)
    for customer in customers:
        customer.tag_ids = taggings.get(customer.pk, set())
    return customers


FIELD_VALUES = {
    "name": st.sampled_from(TEXTS[1:] + ["ali", "SMITH", "三"]),
    "city": st.sampled_from(CITIES[1:] + ["圳"]),
    "mobile": st.sampled_from(["+8613800000001", "13800000002", "+8613800000003"]),
    "email": st.sampled_from(["USER1@example.com", "user2@example.com", "nobody@example.com"]),
    "status": st.sampled_from(["active", "unpaid", "banned"]),
    "gender": st.sampled_from(["male", "female"]),
    "birthday": st.dates(date(1990, 1, 1), date(2015, 1, 1)).map(date.isoformat),
    "created_at": st.integers(0, 60).map(lambda d: (NOW - timedelta(days=d)).isoformat()),
    "plan": st.sampled_from(PLANS),
    "assets": st.sampled_from([0, 1, 50, 100.5, 1000, 100000, 250000, -3]),
    "files": st.integers(-1, 31),
    "vip": st.booleans(),
    "colors": st.sampled_from(TAGS),
    "joined": st.integers(0, 500).map(lambda d: (TODAY - timedelta(days=d)).isoformat()),
    "seen": st.integers(0, 3000).map(lambda h: (NOW - timedelta(hours=h)).astimezone(UTC).isoformat()),
    "nick": st.sampled_from(TEXTS[1:] + ["ALI", "b"]),
}


@st.composite
def leaves(draw, catalog):
    key = draw(st.sampled_from(sorted(FIELD_VALUES)))
    spec = catalog[key]
    op = draw(st.sampled_from(sorted(OPERATORS[spec.type])))
    if op in ("is_empty", "is_not_empty"):
        return {"field": key, "op": op}
    if op in ("within_last_days", "older_than_days"):
        return {"field": key, "op": op, "value": draw(st.integers(0, 400))}
    values = FIELD_VALUES[key]
    if op in ("in", "not_in"):
        return {"field": key, "op": op, "value": draw(st.lists(values, min_size=1, max_size=3))}
    if op == "between":
        low, high = sorted([draw(values), draw(values)])
        return {"field": key, "op": op, "value": [low, high]}
    return {"field": key, "op": op, "value": draw(values)}


def tag_nodes(tag_ids):
    return st.builds(lambda kind, ids: {kind: ids}, st.sampled_from(["tags_any", "tags_all", "tags_none"]),
                     st.lists(st.sampled_from(tag_ids), min_size=1, max_size=4))


def trees(catalog, tag_ids):
    return st.recursive(
        st.one_of(leaves(catalog), tag_nodes(tag_ids)),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            children.map(lambda x: {"not": x}),
        ),
        max_leaves=6,
    )


@pytest.mark.django_db
def test_engine_equals_python_evaluator(population):
    catalog = field_catalog()
    tag_ids = sorted(Tag.objects.values_list("pk", flat=True))

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(trees(catalog, tag_ids))
    def check(raw):
        node = parse(raw, catalog)
        expected = {c.pk for c in population if matches(node, c)}
        got = set(Customer.objects.filter(compile_tree(node)).values_list("pk", flat=True))
        assert got == expected, raw

    check()


@pytest.mark.django_db
def test_not_is_the_exact_complement_even_over_empty_values(population):
    catalog = field_catalog()
    everyone = {c.pk for c in population}
    for raw in [{"field": "plan", "op": "eq", "value": "pro"}, {"field": "assets", "op": "gt", "value": 10},
                {"field": "colors", "op": "contains", "value": "red"}, {"field": "mobile", "op": "is_empty"},
                {"field": "seen", "op": "within_last_days", "value": 3},
                *({kind: sorted(Tag.objects.values_list("pk", flat=True))[:2]}
                  for kind in ("tags_any", "tags_all", "tags_none"))]:
        yes = set(Customer.objects.filter(compile_tree(parse(raw, catalog))).values_list("pk", flat=True))
        no = set(Customer.objects.filter(compile_tree(parse({"not": raw}, catalog))).values_list("pk", flat=True))
        assert yes | no == everyone and not yes & no, raw


@pytest.mark.django_db
def test_population_stores_custom_values_as_the_app_does(population):
    """The population is written straight to the table, so its values must be what the app itself
    stores (UTC ``...Z`` text for datetimes, ISO dates, ...): each non-empty one goes through the
    app's cleaner unchanged, or the comparisons above would test a format the app never writes."""
    definitions = {field.key: field for field in CustomField.objects.all()}
    checked = {key: 0 for key in definitions}
    for customer in population:
        for key, value in customer.attributes.items():
            if value in EMPTIES:
                continue
            assert coerce_custom_value(definitions[key], value) == value, (key, value)
            checked[key] += 1
    assert all(checked.values()), checked


@pytest.mark.django_db
def test_tag_kinds_split_the_population(population):
    """The tag kinds are no vacuous part of the random trees: each matches some customers, not all, and
    the engine agrees with the evaluator on them."""
    catalog = field_catalog()
    tag_ids = sorted(Tag.objects.values_list("pk", flat=True))
    for kind in ("tags_any", "tags_all", "tags_none"):
        for ids in (tag_ids[:1], tag_ids[1:3], tag_ids):
            node = parse({kind: ids}, catalog)
            expected = {c.pk for c in population if matches(node, c)}
            got = set(Customer.objects.filter(compile_tree(node)).values_list("pk", flat=True))
            assert got == expected, (kind, ids)
            if len(ids) < len(tag_ids) or kind != "tags_all":
                assert 0 < len(got) < len(population), (kind, ids)
