"""Tag conditions through the API: search, preview, validate, rows and saved queries accept
tags_any / tags_all / tags_none and has_tag(); a personal tag is usable by its owner only (another
user's personal tag is refused as unknown, everywhere a tree or custom SQL is taken)."""

import pytest
from django.utils import translation

from shoal.tags.models import Tag, TagCategory, Tagging
from tests.conftest import make_user
from tests.segments.conftest import post


@pytest.fixture
def tagged(shop, roles):
    """shop[0], shop[1] are 'vip'; shop[2] has alice's personal tag 'follow'; alice and bob are admins."""
    alice, bob = make_user("alice", roles["admin"]), make_user("bob", roles["admin"])
    category = TagCategory.objects.create(name="Value")
    vip = Tag.objects.create(name="vip", category=category, kind="manual")
    follow = Tag.objects.create(name="follow", category=category, kind="personal", owner=alice)
    for customer in shop[:2]:
        Tagging.objects.create(tag=vip, customer=customer, source="user")
    Tagging.objects.create(tag=follow, customer=shop[2], source="user")
    return {"alice": alice, "bob": bob, "vip": vip, "follow": follow, "shop": shop}


def _names(response):
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


@pytest.mark.django_db
def test_search_by_tags(client, tagged, bearer):
    headers, vip = bearer(tagged["bob"]), tagged["vip"].pk
    search = "/api/v1/customers/search"
    assert _names(post(client, search, {"query": {"tags_any": [vip]}}, headers)) == ["客户0", "客户1"]
    assert _names(post(client, search, {"query": {"tags_none": [vip]}}, headers)) == ["客户2", "客户3", "客户4"]
    both = {"query": {"all": [{"tags_all": [vip]}, {"field": "city", "op": "eq", "value": "深圳"}]}}
    assert _names(post(client, search, both, headers)) == ["客户0"]
    assert _names(post(client, search, {"sql": f"has_tag({vip}) AND assets > 200000"}, headers)) == ["客户1"]
    preview = post(client, "/api/v1/segments/preview", {"query": {"not": {"tags_any": [vip]}}}, headers)
    assert preview.status_code == 200 and preview.json()["count"] == 3


def _refusals(client, headers, tag_id):
    """Every endpoint that takes a tree or custom SQL, with ``tag_id`` in it: the responses."""
    tree = {"tags_any": [tag_id]}
    return {
        "search": post(client, "/api/v1/customers/search", {"query": tree}, headers),
        "search sql": post(client, "/api/v1/customers/search", {"sql": f"has_tag({tag_id})"}, headers),
        "preview": post(client, "/api/v1/segments/preview", {"query": {"not": tree}}, headers),
        "validate": post(client, "/api/v1/segments/validate", {"query": tree}, headers),
        "validate sql": post(client, "/api/v1/segments/validate", {"sql": f"NOT has_tag({tag_id})"}, headers),
        "from-rows": post(client, "/api/v1/segments/from-rows",
                          {"rows": [{"field": "city", "op": "eq", "value": "深圳"}, tree]}, headers),
        "saved query": post(client, "/api/v1/saved-queries", {"name": "mine", "query": tree}, headers),
        "saved query rows": post(client, "/api/v1/saved-queries", {"name": "rows", "rows": [tree]}, headers),
    }


@pytest.mark.django_db
def test_a_personal_tag_is_usable_by_its_owner(client, tagged, bearer):
    follow = tagged["follow"].pk
    responses = _refusals(client, bearer(tagged["alice"]), follow)
    assert {name: r.status_code for name, r in responses.items()} == {
        "search": 200, "search sql": 200, "preview": 200, "validate": 200, "validate sql": 200, "from-rows": 200,
        "saved query": 201, "saved query rows": 201}
    assert _names(responses["search"]) == ["客户2"] and _names(responses["search sql"]) == ["客户2"]
    assert responses["preview"].json()["count"] == 4
    assert responses["from-rows"].json()["query"] == {"all": [{"field": "city", "op": "eq", "value": "深圳"},
                                                              {"tags_any": [follow]}]}
    assert responses["saved query rows"].json()["rows"] == [{"tags_any": [follow]}]


@pytest.mark.django_db
def test_another_users_personal_tag_is_refused_as_unknown(client, tagged, bearer):
    follow = tagged["follow"].pk
    with translation.override("en"):
        responses = _refusals(client, bearer(tagged["bob"]), follow)
    for name, response in responses.items():
        assert response.status_code == 400, (name, response.content)
        error = response.json()["error"]
        if "sql" in name:
            assert error["code"] == "invalid_sql" and f"Unknown tag {follow}" in error["message"], name
        else:
            assert error["code"] == "invalid_condition", name
            assert error["detail"]["tag_id"] == follow and f"unknown tag {follow}" in error["message"], name
    unknown = post(client, "/api/v1/segments/validate", {"query": {"tags_all": [tagged["vip"].pk, 999999]}},
                   bearer(tagged["bob"]))
    assert unknown.status_code == 400
    assert unknown.json()["error"]["detail"] == {"path": "$.tags_all[1]", "tag_id": 999999}


@pytest.mark.django_db
def test_a_shared_saved_query_with_a_personal_tag_does_not_open_it_to_others(client, tagged, bearer):
    follow = tagged["follow"].pk
    saved = post(client, "/api/v1/saved-queries", {"name": "follow", "query": {"tags_any": [follow]}, "shared": True},
                 bearer(tagged["alice"]))
    assert saved.status_code == 201
    # bob sees the shared query, but running its tree is refused: the tag is not his
    listed = client.get("/api/v1/saved-queries", **bearer(tagged["bob"])).json()
    query = next(s["query"] for s in listed if s["name"] == "follow")
    response = post(client, "/api/v1/customers/search", {"query": query}, bearer(tagged["bob"]))
    assert response.status_code == 400 and response.json()["error"]["detail"]["tag_id"] == follow
