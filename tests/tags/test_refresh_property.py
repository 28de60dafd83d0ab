"""Refresh against a plain-Python evaluation; incremental refresh == full refresh after random edits
(Hypothesis); two refreshes at once write nothing twice."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import Customer
from shoal.tags import services
from shoal.tags.models import Tag, TagCategory, Tagging, TagHistory
from shoal.tags.refresh import refresh
from tests.together import at_once

from .conftest import assert_scores_are_sums, tag_sets
from .conftest import history as history_rows

CITIES = ["深圳", "广州", "北京", ""]
GENDERS = ["male", "female", ""]

# Tag layout: two manual tags (ids m0, m1), then auto tags a0..a3; a rule of auto tag k may read manual tags
# and auto tags before it (a0 reads none).
rule_leaf = st.one_of(
    st.builds(lambda v: {"field": "city", "op": "eq", "value": v}, st.sampled_from(CITIES[:3])),
    st.builds(lambda v: {"field": "city", "op": "in", "value": v},
              st.lists(st.sampled_from(CITIES[:3]), min_size=1, max_size=2, unique=True)),
    st.builds(lambda v: {"field": "gender", "op": "eq", "value": v}, st.sampled_from(GENDERS[:2])),
)
rule_tree = st.one_of(rule_leaf, st.builds(lambda a, b: {"any": [a, b]}, rule_leaf, rule_leaf),
                      st.builds(lambda a: {"not": a}, rule_leaf))


@st.composite
def tag_specs(draw):
    specs = []
    for k in range(4):
        readable = ["m0", "m1"] + [f"a{j}" for j in range(k)]
        rules = []
        for _ in range(draw(st.integers(1, 2))):
            include = draw(st.lists(st.sampled_from(readable), max_size=2, unique=True))
            rest = [r for r in readable if r not in include]
            exclude = draw(st.lists(st.sampled_from(rest), max_size=1, unique=True)) if rest else []
            query = draw(st.one_of(st.none(), rule_tree)) if include else draw(rule_tree)
            rules.append((query, include, exclude))
        specs.append((draw(st.integers(-3, 5)), rules))
    return specs


edit = st.one_of(
    st.tuples(st.just("city"), st.integers(0, 7), st.sampled_from(CITIES)),
    st.tuples(st.just("gender"), st.integers(0, 7), st.sampled_from(GENDERS)),
    st.tuples(st.just("apply"), st.integers(0, 7), st.sampled_from(["m0", "m1"])),
    st.tuples(st.just("remove"), st.integers(0, 7), st.sampled_from(["m0", "m1"])),
)


def build(specs, people):
    category = TagCategory.objects.create(name="性质")
    names = {}
    for i in range(2):
        names[f"m{i}"] = services.tag_create(actor=SYSTEM, data={"name": f"m{i}", "category_id": category.pk,
                                                                 "kind": "manual", "score": i + 1})
    for k, (score, rules) in enumerate(specs):
        tag = services.tag_create(actor=SYSTEM, data={"name": f"a{k}", "category_id": category.pk, "kind": "auto",
                                                       "score": score})
        for query, include, exclude in rules:
            data = {"include_tags": [names[n].pk for n in include], "exclude_tags": [names[n].pk for n in exclude]}
            if query is not None:
                data["query"] = query
            services.rule_create(actor=SYSTEM, tag=tag, data=data)
        names[f"a{k}"] = tag
    return names


def leaf_matches(node, customer) -> bool:
    if "any" in node:
        return any(leaf_matches(n, customer) for n in node["any"])
    if "not" in node:
        return not leaf_matches(node["not"], customer)
    value = getattr(customer, node["field"])
    return value in ([node["value"]] if node["op"] == "eq" else node["value"])


def expected(specs, names, people) -> dict[int, set[int]]:
    have = {names[n].pk: set(Tagging.objects.filter(tag=names[n]).values_list("customer_id", flat=True))
            for n in ("m0", "m1")}
    for k, (_score, rules) in enumerate(specs):
        members = set()
        for customer in people:
            customer.refresh_from_db()
            for query, include, exclude in rules:
                ok = query is None or leaf_matches(query, customer)
                ok = ok and (not include or any(customer.pk in have[names[n].pk] for n in include))
                ok = ok and not any(customer.pk in have[names[n].pk] for n in exclude)
                if ok:
                    members.add(customer.pk)
                    break
        have[names[f"a{k}"].pk] = members
    return {tag: ids for tag, ids in have.items() if ids}


def make_people():
    return [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1390000{i:04d}", "city": CITIES[i % 4], "gender": GENDERS[i % 3]})
        for i in range(8)]


def apply_edit(kind, index, value, people, names):
    customer = people[index]
    if kind in ("city", "gender"):
        customer_services.customer_update(actor=SYSTEM, customer=customer, data={kind: value})
    elif kind == "apply":
        services.apply_tag(actor=SYSTEM, tag=names[value], customer_ids=[customer.pk])
    else:
        services.remove_tag(actor=SYSTEM, tag=names[value], customer_ids=[customer.pk])


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=tag_specs(), edits=st.lists(edit, max_size=8), seed_tags=st.lists(st.tuples(st.integers(0, 7),
       st.sampled_from(["m0", "m1"])), max_size=5))
def test_incremental_refresh_equals_a_full_refresh_and_the_python_evaluation(specs, edits, seed_tags, settings):
    settings.SHOAL_TAG_CHANGE_MARGIN_SECONDS = 0
    Tagging.objects.all().delete()
    TagHistory.objects.all().delete()
    Tag.objects.all().delete()
    TagCategory.objects.all().delete()
    Customer.objects.all().delete()
    people = make_people()
    names = build(specs, people)
    for index, name in seed_tags:
        apply_edit("apply", index, name, people, names)
    refresh()
    assert tag_sets() == expected(specs, names, people)
    for kind, index, value in edits:
        apply_edit(kind, index, value, people, names)
    incremental = refresh()
    assert incremental["evaluated"] <= len(people)
    assert tag_sets() == expected(specs, names, people)
    again = refresh(full=True)
    assert (again["added"], again["removed"]) == (0, 0)
    assert_scores_are_sums()
    # history replays to the current taggings
    state: dict[tuple[int, int], int] = {}
    for row in history_rows():
        customer_id, tag_id, action = row["customer_id"], row["tag_id"], row["action"]
        state[(tag_id, customer_id)] = state.get((tag_id, customer_id), 0) + (1 if action == "add" else -1)
    assert {k for k, v in state.items() if v == 1} == set(Tagging.objects.values_list("tag_id", "customer_id"))
    assert all(v in (0, 1) for v in state.values())


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_write_each_change_once(make_tag):
    people = [customer_services.customer_create(actor=SYSTEM, data={"name": f"c{i}", "mobile": f"1370000{i:04d}",
                                                                     "city": ["深圳", "广州"][i % 2]}) for i in range(60)]
    tags = [make_tag(f"t{i}", score=i, rules=[{"query": {"field": "city", "op": "eq", "value": ["深圳", "广州"][i % 2]}}])
            for i in range(6)]
    results = at_once(lambda: refresh(full=True))
    assert sum(r["added"] for r in results) == 6 * 30
    assert len(history_rows(action="add")) == 6 * 30 == Tagging.objects.count()
    for tag in tags:
        tag.refresh_from_db()
        assert tag.customer_count == 30 and not tag.claim
    assert len(people) == 60
    assert_scores_are_sums()
