"""Tags in the condition language: tags_any / tags_all / tags_none nodes, has_tag() in custom SQL,
who may use which tag, and what the refresh engine reads from a rule (tag ids, relative dates)."""

import pytest
from django.utils import translation

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.customers.models import Customer
from shoal.segments.catalog import field_catalog
from shoal.segments.rows import clean_rows, rows_to_tree
from shoal.segments.selectors import condition_q, validate
from shoal.tags import conditions
from shoal.tags.conditions import ALL_BY_EXISTS, is_relative, referenced_tag_ids, tag_choices
from shoal.tags.models import Tag, TagCategory, Tagging
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def english():
    """The messages are asserted in English (the default language of the tests is zh-hans)."""
    with translation.override("en"):
        yield


@pytest.fixture
def world(db):
    """Customers a..e; tags red, green, blue (manual), many (15 more), a personal tag of alice, a product tag.

    a: red, green   b: red   c: green, blue   d: (none)   e: every tag of `many` and red"""
    alice, bob = make_user("alice"), make_user("bob")
    colours = TagCategory.objects.create(name="Colours", order=2)
    shades = TagCategory.objects.create(name="Shades", parent=colours)
    bulk = TagCategory.objects.create(name="Bulk", order=1)
    products = TagCategory.objects.create(name="Goods", object_type="product")
    tags = {name: Tag.objects.create(name=name, category=colours) for name in ("red", "green", "blue")}
    tags["dark"] = Tag.objects.create(name="dark", category=shades)
    many = [Tag.objects.create(name=f"m{i:02d}", category=bulk) for i in range(ALL_BY_EXISTS + 5)]
    tags["mine"] = Tag.objects.create(name="mine", category=colours, kind="personal", owner=alice)
    tags["product"] = Tag.objects.create(name="cheap", category=products)
    people = {key: Customer.objects.create(name=key) for key in "abcde"}
    for key, names in {"a": ["red", "green"], "b": ["red"], "c": ["green", "blue", "mine"], "e": ["red"]}.items():
        for name in names:
            Tagging.objects.create(tag=tags[name], customer=people[key], source="user")
    for tag in many:
        Tagging.objects.create(tag=tag, customer=people["e"], source="user")
    return {"tags": tags, "many": many, "people": people, "alice": alice, "bob": bob}


def names(q):
    return "".join(sorted(Customer.objects.filter(q).values_list("name", flat=True)))


def error_of(call) -> ShoalError:
    with pytest.raises(ShoalError) as caught:
        call()
    return caught.value


# -- tree nodes -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_each_kind_and_its_not_are_exact_complements(world):
    t = {k: v.pk for k, v in world["tags"].items()}
    expected = {
        ("tags_any", (t["red"], t["blue"])): "abce",
        ("tags_all", (t["red"], t["green"])): "a",
        ("tags_none", (t["red"], t["blue"])): "d",
        ("tags_any", (t["dark"],)): "",
        ("tags_all", (t["green"],)): "ac",
        ("tags_none", (t["green"],)): "bde",
    }
    for (kind, ids), want in expected.items():
        assert names(condition_q(query={kind: list(ids)})) == want, (kind, ids)
        rest = "".join(sorted(set("abcde") - set(want)))
        assert names(condition_q(query={"not": {kind: list(ids)}})) == rest, (kind, ids)


@pytest.mark.django_db
def test_tags_all_of_many_ids_is_counted_and_agrees_with_one_exists_each(world):
    many = [t.pk for t in world["many"]]
    assert len(many) > ALL_BY_EXISTS
    assert names(condition_q(query={"tags_all": many})) == "e"
    assert names(condition_q(query={"not": {"tags_all": many}})) == "abcd"
    assert names(condition_q(query={"tags_all": [*many, world["tags"]["green"].pk]})) == ""
    assert names(condition_q(query={"tags_all": many[:ALL_BY_EXISTS]})) == "e"  # the EXISTS form
    thousand = Tag.objects.bulk_create([Tag(name=f"k{i}", category=world["many"][0].category) for i in range(1000)])
    ids = [t.pk for t in thousand]
    Tagging.objects.bulk_create([Tagging(tag_id=i, customer=world["people"]["d"], source="user") for i in ids])
    for kind, want in (("tags_all", "d"), ("tags_any", "d"), ("tags_none", "abce")):
        assert names(condition_q(query={"any": [{"not": {"not": {kind: ids}}}]})) == want, kind


@pytest.mark.django_db
def test_kinds_combine_with_groups_and_leaves(world):
    t = {k: v.pk for k, v in world["tags"].items()}
    query = {"any": [{"all": [{"tags_any": [t["red"]]}, {"tags_none": [t["green"]]}, {"field": "name", "op": "eq",
                                                                                       "value": "b"}]},
                     {"not": {"any": [{"tags_any": [t["red"], t["green"]]}, {"field": "name", "op": "eq",
                                                                             "value": "e"}]}}]}
    assert names(condition_q(query=query)) == "bd"


@pytest.mark.django_db
@pytest.mark.parametrize("body, path, words", [
    ([], "$.tags_any", "list of 1 to 1000"),
    ("3", "$.tags_any", "list of 1 to 1000"),
    ({"id": 3}, "$.tags_any", "list of 1 to 1000"),
    (list(range(1, 1002)), "$.tags_any", "list of 1 to 1000"),
    ([True], "$.tags_any[0]", "whole number"),
    (["1"], "$.tags_any[0]", "whole number"),
    ([1.0], "$.tags_any[0]", "whole number"),
    ([0], "$.tags_any[0]", "whole number"),
    ([2**63], "$.tags_any[0]", "whole number"),
])
def test_malformed_lists_are_refused_with_their_path(world, body, path, words):
    error = error_of(lambda: validate(query={"tags_any": body}))
    assert error.code == "invalid_condition" and error.status == 400
    assert error.detail["path"] == path and words in error.message


@pytest.mark.django_db
def test_unknown_tags_are_named_with_their_path(world):
    red = world["tags"]["red"].pk
    error = error_of(lambda: validate(query={"all": [{"field": "name", "op": "eq", "value": "a"},
                                                     {"not": {"tags_all": [red, 987654]}}]}))
    assert error.code == "invalid_condition"
    assert error.detail == {"path": "$.all[1].not.tags_all[1]", "tag_id": 987654}
    assert "unknown tag 987654" in error.message
    product = world["tags"]["product"].pk  # a tag of another object type is no customer tag
    assert error_of(lambda: validate(query={"tags_none": [product]})).detail["tag_id"] == product


@pytest.mark.django_db
def test_personal_tags_are_usable_by_their_owner_only(world):
    mine = world["tags"]["mine"].pk
    validate(query={"tags_any": [mine]}, viewer=world["alice"])
    assert names(condition_q(query={"tags_any": [mine]}, viewer=world["alice"])) == "c"
    for viewer in (world["bob"], None, SYSTEM):  # another user; the system level (tag rules)
        error = error_of(lambda v=viewer: validate(query={"tags_any": [mine]}, viewer=v))
        assert error.detail == {"path": "$.tags_any[0]", "tag_id": mine}
        error = error_of(lambda v=viewer: validate(sql=f"has_tag({mine})", viewer=v))
        assert error.code == "invalid_sql" and f"Unknown tag {mine}" in error.message


@pytest.mark.django_db
def test_duplicate_ids_mean_the_tag_once(world):
    red = world["tags"]["red"].pk
    assert names(condition_q(query={"tags_all": [red, red]})) == "abe"


@pytest.mark.django_db
def test_tag_lists_count_towards_the_values_limit_of_a_tree(world):
    red = world["tags"]["red"].pk
    error = error_of(lambda: validate(query={"any": [{"tags_any": [red] * 1000} for _ in range(11)]}))
    assert error.detail["limit"] == 10000


# -- has_tag() in custom SQL ------------------------------------------------------------------------
@pytest.mark.django_db
def test_has_tag_in_custom_sql(world):
    t = {k: v.pk for k, v in world["tags"].items()}
    assert names(condition_q(sql=f"has_tag({t['red']})")) == "abe"
    assert names(condition_q(sql=f"NOT has_tag({t['red']})")) == "cd"
    assert names(condition_q(sql=f"has_tag({t['green']}) AND NOT has_tag({t['blue']}) OR name = 'd'")) == "ad"
    assert names(condition_q(sql=f"(HAS_TAG({t['blue']}) OR has_tag({t['red']})) AND name IN ('c', 'e')")) == "ce"
    assert names(condition_q(sql=f"has_tag({t['mine']})", viewer=world["alice"])) == "c"


@pytest.mark.django_db
@pytest.mark.parametrize("call", ["has_tag(name)", "has_tag((SELECT 1))", "has_tag('{red}')", "has_tag({red}, {red})",
                                  "has_tag()", "has_tag(1.5)", "has_tag(-{red})", "has_tag({red} + 0)",
                                  "has_tag(1e3)", "has_tag(99999999999999999999)"])
def test_has_tag_takes_one_integer_literal(world, call):
    sql = call.format(red=world["tags"]["red"].pk)
    error = error_of(lambda: validate(sql=sql))
    assert error.code == "invalid_sql" and error.status == 400
    assert "has_tag takes one tag id" in error.message, error.message


@pytest.mark.django_db
def test_has_tag_of_an_unknown_tag_is_refused(world):
    error = error_of(lambda: validate(sql="city = 'x' OR has_tag(424242)"))
    assert error.code == "invalid_sql" and "Unknown tag 424242" in error.message
    assert error.detail["fragment"] == "HAS_TAG(424242)"


@pytest.mark.django_db
def test_other_functions_stay_refused_and_the_message_lists_has_tag(world):
    error = error_of(lambda: validate(sql="city = 'x' AND has_tags(1)"))
    assert error.code == "invalid_sql" and "has_tag" in error.message and "days_ago" in error.message


# -- rows of the page: the pickers' nodes ---------------------------------------------------------------
@pytest.mark.django_db
def test_rows_carry_picker_nodes_anded_with_the_conditions(world):
    red, green = world["tags"]["red"].pk, world["tags"]["green"].pk
    rows = [{"field": "name", "op": "eq", "value": "a", "logic": "or"}, {"tags_any": [red]},
            {"field": "name", "op": "eq", "value": "c"}, {"tags_none": [green]}]
    tree = rows_to_tree(rows)
    assert tree == {"all": [{"any": [{"field": "name", "op": "eq", "value": "a"},
                                     {"field": "name", "op": "eq", "value": "c"}]},
                            {"tags_any": [red]}, {"tags_none": [green]}]}
    assert clean_rows(rows)[1] == {"tags_any": [red]}
    assert rows_to_tree([{"tags_none": [green]}]) == {"tags_none": [green]}
    assert names(condition_q(query=tree)) == ""
    with pytest.raises(ShoalError) as caught:  # the row numbers still count every row
        rows_to_tree([{"tags_any": [red]}, {"field": "name", "op": "eq", "value": "a", "rparen": ")"}])
    assert caught.value.detail == {"row": 2}


# -- the pickers' choices -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_tag_choices_are_grouped_by_category_path_with_personal_tags_marked(world):
    groups = tag_choices(world["alice"])
    assert [g["group"] for g in groups] == ["Bulk", "Colours", "Colours / Shades"]
    colours = groups[1]["items"]
    assert [i["label"] for i in colours] == ["blue", "green", "mine", "red"]
    assert [i["personal"] for i in colours] == [False, False, True, False]
    assert all("mine" not in [i["label"] for i in g["items"]] for g in tag_choices(world["bob"]))
    assert all(i["label"] != "cheap" for g in groups for i in g["items"])


# -- for the refresh engine -------------------------------------------------------------------------
def test_referenced_tag_ids():
    query = {"all": [{"tags_any": [3, 4]}, {"not": {"any": [{"tags_none": [5]}, {"tags_all": [6, True, "7"]},
                                                             {"field": "name", "op": "eq", "value": 8}]}}]}
    assert referenced_tag_ids(query=query) == {3, 4, 5, 6}
    assert referenced_tag_ids(sql="has_tag(9) AND (NOT HAS_TAG(10) OR city = 'x')") == {9, 10}
    assert referenced_tag_ids(query={"tags_any": [1]}, sql="has_tag(2)") == {1, 2}
    assert referenced_tag_ids() == set()
    assert referenced_tag_ids(sql="has_tag(") == set()


@pytest.mark.parametrize("query, sql, relative", [
    ({"field": "created_at", "op": "within_last_days", "value": 3}, "", True),
    ({"not": {"all": [{"field": "joined", "op": "older_than_days", "value": 30}]}}, "", True),
    ({"field": "created_at", "op": "gt", "value": "2024-01-01"}, "", False),
    ({"tags_any": [1]}, "", False),
    (None, "created_at > days_ago(30)", True),
    (None, "birthday = CURRENT_DATE", True),
    (None, "created_at < current_timestamp", True),
    (None, "created_at < now()", True),
    (None, "created_at > 'today'", True),
    (None, "created_at > '2024-01-01' AND has_tag(3)", False),
    (None, "name = 'nowhere'", False),
])
def test_is_relative(query, sql, relative):
    assert is_relative(query=query, sql=sql) is relative


def test_the_module_registers_its_kinds():
    from shoal.segments import extensions

    assert {k: extensions.node_kind(k) is not None for k in conditions.KINDS} == dict.fromkeys(conditions.KINDS, True)
    assert extensions.sql_function("HAS_TAG") is not None
    assert [p.node_kind for p in extensions.pickers()] == ["tags_any", "tags_none"]


@pytest.mark.django_db
def test_the_catalog_is_untouched_by_tags(world):
    assert not any(key.startswith("tags_") for key in field_catalog())
