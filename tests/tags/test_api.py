"""The tags API through the test client (CSRF enforced): shapes, permissions, personal tags, data scope,
refresh answers, customer outputs and the timeline."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from shoal.accounts.models import Application
from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.schedules.models import JobRun
from shoal.tags import services
from shoal.tags.models import Tag, TagCategory, Tagging, TagHistory
from tests.conftest import make_user

from .conftest import assert_scores_are_sums

pytestmark = pytest.mark.django_db

TAG_KEYS = {"id", "name", "category_id", "category_name", "kind", "score", "valid_days", "enabled", "description",
            "refresh_on_change", "owner_id", "refreshed_at", "created_at", "updated_at", "customers"}


def send(client, method, url, body=None, headers=None):
    kwargs = dict(headers or {})
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


@pytest.fixture
def world(personas):
    """Customers 0-2 in the salesperson's private sea (a group the manager administers); 3-4 outside."""
    group = CustomerGroup.objects.create(name="一组")
    group.admins.add(personas["manager"])
    customers = [customer_services.customer_create(actor=SYSTEM, data={
        "name": f"客户{i}", "mobile": f"1390000{i:04d}", "city": "深圳" if i % 2 == 0 else "广州"}) for i in range(5)]
    for c in customers[:3]:
        CustomerGroupMembership.objects.create(customer=c, group=group, salesperson=personas["salesperson"])
    return {"customers": customers, "ids": [c.pk for c in customers], "mine": [c.pk for c in customers[:3]],
            "outside": [c.pk for c in customers[3:]]}


def logged_in(user):
    from tests.conftest import CsrfClient

    client = CsrfClient()
    client.force_login(user)
    return client


# -- categories --------------------------------------------------------------------------------------------------
def test_categories_are_created_listed_edited_and_deleted(personas):
    client = logged_in(personas["manager"])
    response = send(client, "post", "/api/v1/tag-categories", {"name": "行为", "parent_id": None,
                                                                "object_type": "customer"})
    assert response.status_code == 201, response.content
    root = response.json()
    assert {k: root[k] for k in ("name", "parent_id", "object_type", "order")} == {
        "name": "行为", "parent_id": None, "object_type": "customer", "order": 0}
    child = send(client, "post", "/api/v1/tag-categories", {"name": "消费", "parent_id": root["id"], "order": 2}).json()
    assert child["parent_id"] == root["id"] and child["order"] == 2
    names = [c["name"] for c in client.get("/api/v1/tag-categories").json()]
    assert names == ["行为", "消费"]
    assert send(client, "patch", f"/api/v1/tag-categories/{child['id']}", {"name": "购买"}).json()["name"] == "购买"
    refused = send(client, "delete", f"/api/v1/tag-categories/{root['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "category_not_empty"
    assert send(client, "delete", f"/api/v1/tag-categories/{child['id']}").status_code == 204
    assert send(client, "delete", f"/api/v1/tag-categories/{root['id']}").status_code == 204
    assert not TagCategory.objects.exists()


def test_unknown_keys_and_bad_values_are_400_in_the_error_shape(personas, category):
    client = logged_in(personas["admin"])
    response = send(client, "post", "/api/v1/tag-categories", {"name": "x", "colour": "red"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    response = send(client, "post", "/api/v1/tags", {"name": "x", "category_id": category.pk, "kind": "sometimes"})
    assert response.status_code == 400 and set(response.json()["error"]) == {"code", "message", "detail"}
    response = send(client, "post", "/api/v1/tags", {"name": "x", "category_id": category.pk, "score": 10**12})
    assert response.status_code == 400
    response = send(client, "post", "/api/v1/tags", {"name": "x", "category_id": 10**9})
    assert response.status_code == 400 and response.json()["error"]["detail"] == {"field": "category_id"}
    assert send(client, "get", "/api/v1/tags/99999999").status_code == 404
    assert not Tag.objects.exists()


def test_a_session_write_without_the_csrf_token_is_refused(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["admin"])
    response = send(client, "post", "/api/v1/tag-categories", {"name": "行为"})
    assert response.status_code == 403
    assert not TagCategory.objects.exists()


# -- tags ----------------------------------------------------------------------------------------------------------
def test_a_tag_is_created_with_every_field_and_its_customer_count(personas, category, make_tag):
    client = logged_in(personas["manager"])
    response = send(client, "post", "/api/v1/tags", {"name": "高价值", "category_id": category.pk, "kind": "manual",
                                                      "score": 10, "valid_days": None, "enabled": True,
                                                      "description": "买得多"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == TAG_KEYS
    assert (body["name"], body["kind"], body["score"], body["customers"], body["category_name"]) == (
        "高价值", "manual", 10, 0, "行为")
    patched = send(client, "patch", f"/api/v1/tags/{body['id']}", {"score": -3, "valid_days": 7}).json()
    assert (patched["score"], patched["valid_days"]) == (-3, 7)
    cleared = send(client, "patch", f"/api/v1/tags/{body['id']}", {"valid_days": None, "name": None})
    assert (cleared.json()["valid_days"], cleared.json()["name"]) == (None, "高价值")  # null: empty, or unchanged
    auto = make_tag("深圳客户", kind="auto")
    assert send(client, "patch", f"/api/v1/tags/{auto.pk}", {"kind": None}).json()["kind"] == "auto"
    duplicate = send(client, "post", "/api/v1/tags", {"name": "高价值", "category_id": category.pk})
    assert duplicate.status_code == 409
    assert send(client, "delete", f"/api/v1/tags/{body['id']}").status_code == 204
    assert list(Tag.objects.values_list("name", flat=True)) == ["深圳客户"]


def test_the_tag_list_filters_and_pages(personas, category, make_tag):
    other = TagCategory.objects.create(name="属性")
    make_tag("高价值", kind="manual")
    make_tag("深圳", kind="auto")
    services.tag_create(actor=SYSTEM, data={"name": "高频", "category_id": other.pk, "kind": "manual"})
    client = logged_in(personas["salesperson"])  # customers.customers.view suffices to read tags
    everything = client.get("/api/v1/tags").json()
    assert everything["count"] == 3 and len(everything["items"]) == 3
    names = lambda url: sorted(t["name"] for t in client.get(url).json()["items"])  # noqa: E731
    assert names(f"/api/v1/tags?category_id={other.pk}") == ["高频"]
    assert names("/api/v1/tags?kind=auto") == ["深圳"]
    assert names("/api/v1/tags?q=高") == ["高价值", "高频"]
    page = client.get("/api/v1/tags?page=2&page_size=2").json()
    assert page["count"] == 3 and len(page["items"]) == 1


def test_writing_global_tags_needs_the_tag_permissions(personas, category, make_tag):
    client = logged_in(personas["salesperson"])
    response = send(client, "post", "/api/v1/tags", {"name": "x", "category_id": category.pk, "kind": "manual"})
    assert response.status_code == 403 and response.json()["error"]["detail"] == {"permission": "customers.tags.create"}
    tag = make_tag("高价值", kind="manual")
    assert send(client, "patch", f"/api/v1/tags/{tag.pk}", {"score": 5}).status_code == 403
    assert send(client, "delete", f"/api/v1/tags/{tag.pk}").status_code == 403
    assert send(client, "post", "/api/v1/tag-categories", {"name": "y"}).status_code == 403
    tag.refresh_from_db()
    assert tag.score == 0


def test_personal_tags_are_their_owners_alone(personas, category, world):
    owner = personas["salesperson"]
    other = make_user("p_sales2", personas["salesperson"].roles.get())
    mine = logged_in(owner)
    created = send(mine, "post", "/api/v1/tags", {"name": "我的关注", "category_id": category.pk, "kind": "personal"})
    assert created.status_code == 201 and created.json()["owner_id"] == owner.pk
    tag_id = created.json()["id"]
    assert send(mine, "post", f"/api/v1/tags/{tag_id}/apply", {"customer_ids": world["mine"][:2]}).json() == {
        "applied": 2}
    assert send(mine, "patch", f"/api/v1/tags/{tag_id}", {"name": "重点关注"}).status_code == 200
    for user in (other, personas["manager"], personas["admin"]):
        client = logged_in(user)
        assert client.get(f"/api/v1/tags/{tag_id}").status_code == 404
        assert tag_id not in [t["id"] for t in client.get("/api/v1/tags").json()["items"]]
        assert send(client, "patch", f"/api/v1/tags/{tag_id}", {"name": "x"}).status_code == 404
        assert send(client, "delete", f"/api/v1/tags/{tag_id}").status_code == 404
        assert send(client, "post", f"/api/v1/tags/{tag_id}/apply", {"customer_ids": world["mine"]}).status_code == 404
        detail = client.get(f"/api/v1/customers/{world['mine'][0]}")
        if detail.status_code == 200:
            assert tag_id not in [t["id"] for t in detail.json()["tags"]]
        history = client.get(f"/api/v1/tag-history?customer_id={world['mine'][0]}")
        if history.status_code == 200:
            assert history.json()["count"] == 0
    admin_history = logged_in(personas["admin"]).get("/api/v1/tag-history").json()
    assert admin_history["count"] == 0
    assert Tag.objects.get(pk=tag_id).name == "重点关注"
    assert send(mine, "delete", f"/api/v1/tags/{tag_id}").status_code == 204


# -- rules, preview, refresh -----------------------------------------------------------------------------------------
def test_rules_are_added_listed_edited_and_deleted(personas, make_tag):
    tag = make_tag("深圳客户", kind="auto")
    client = logged_in(personas["manager"])
    created = send(client, "post", f"/api/v1/tags/{tag.pk}/rules",
                   {"query": {"field": "city", "op": "eq", "value": "深圳"}})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["tag_id"], rule["sql"], rule["include_tags"], rule["exclude_tags"]) == (tag.pk, "", [], [])
    other = make_tag("广州客户", kind="auto")
    from_sql = send(client, "post", f"/api/v1/tags/{tag.pk}/rules", {"sql": "city = '北京'",
                                                                     "exclude_tags": [other.pk]}).json()
    assert from_sql["exclude_tags"] == [other.pk]
    assert [r["id"] for r in client.get(f"/api/v1/tags/{tag.pk}/rules").json()] == [rule["id"], from_sql["id"]]
    patched = send(client, "patch", f"/api/v1/tags/{tag.pk}/rules/{rule['id']}",
                   {"query": {"field": "city", "op": "eq", "value": "广州"}}).json()
    assert patched["query"]["value"] == "广州"
    assert send(client, "delete", f"/api/v1/tags/{tag.pk}/rules/{from_sql['id']}").status_code == 204
    assert send(client, "delete", f"/api/v1/tags/{other.pk}/rules/{rule['id']}").status_code == 404
    assert tag.rules.count() == 1


def test_bad_rules_are_refused(personas, make_tag):
    auto = make_tag("深圳客户", kind="auto")
    manual = make_tag("手工", kind="manual")
    client = logged_in(personas["admin"])
    cases = [
        (manual, {"query": {"field": "city", "op": "eq", "value": "x"}}, "not_auto"),
        (auto, {}, "invalid_rule"),
        (auto, {"query": {"field": "no_such_field", "op": "eq", "value": 1}}, None),
        (auto, {"sql": "city = 'x'; DROP TABLE customers_customer"}, None),
        (auto, {"include_tags": [auto.pk]}, "tag_cycle"),
        (auto, {"include_tags": [99999]}, "unknown_tag"),
        (auto, {"query": {"field": "city", "op": "eq", "value": "x"}, "colour": 1}, "validation_error"),
    ]
    for tag, body, code in cases:
        response = send(client, "post", f"/api/v1/tags/{tag.pk}/rules", body)
        assert response.status_code == 400, (body, response.content)
        if code:
            assert response.json()["error"]["code"] == code, body
    assert not auto.rules.exists()


def test_refresh_answers_the_exact_shape_and_tags_the_matching_customers(personas, make_tag, world):
    tag = make_tag("深圳客户", kind="auto", score=4, rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    client = logged_in(personas["manager"])
    response = client.generic("POST", f"/api/v1/tags/{tag.pk}/refresh", b"", content_type="application/json")
    assert response.status_code == 200, response.content  # no body: an incremental refresh
    body = response.json()
    assert set(body) == {"tags", "evaluated", "added", "removed", "seconds"}
    assert (body["tags"], body["added"], body["removed"]) == (1, 3, 0)
    assert set(Tagging.objects.filter(tag=tag).values_list("customer_id", flat=True)) == {
        world["ids"][0], world["ids"][2], world["ids"][4]}
    again = send(client, "post", "/api/v1/tags/refresh", {"full": True}).json()
    assert set(again) == {"tags", "evaluated", "added", "removed", "seconds"}
    assert (again["tags"], again["evaluated"], again["added"], again["removed"]) == (1, 5, 0, 0)
    assert send(client, "post", "/api/v1/tags/refresh", {"fully": True}).status_code == 400
    form = client.post("/api/v1/tags/refresh", {"full": "true"})  # a form body, not JSON: 400, not 500
    assert form.status_code == 400 and form.json()["error"]["code"] == "bad_request"
    assert_scores_are_sums()
    manual = make_tag("手工", kind="manual")
    refused = send(client, "post", f"/api/v1/tags/{manual.pk}/refresh", {})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_auto"
    denied = send(logged_in(personas["salesperson"]), "post", "/api/v1/tags/refresh", {})
    assert denied.status_code == 403


def test_refresh_beyond_the_inline_limit_is_queued_with_a_job_id(personas, make_tag, world, settings):
    settings.SHOAL_TAG_REFRESH_INLINE_MAX = 2  # 5 customers: more than the limit
    tag = make_tag("深圳客户", kind="auto", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    client = logged_in(personas["manager"])
    response = send(client, "post", f"/api/v1/tags/{tag.pk}/refresh", {"full": True})
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"job_id"}
    run = JobRun.objects.get(pk=response.json()["job_id"])
    assert run.job.name == "tags.refresh_all" and run.params == {"tag_ids": [tag.pk], "full": True}
    progress = client.get(f"/api/v1/jobs/{run.pk}")
    assert progress.status_code == 200 and progress.json()["status"] == "queued"
    assert logged_in(personas["salesperson"]).get(f"/api/v1/jobs/{run.pk}").status_code == 404  # not theirs
    assert not Tagging.objects.exists()


def test_preview_counts_within_scope_and_samples_masked_customers(personas, make_tag, world):
    tag = make_tag("深圳客户", kind="auto")
    body = {"query": {"field": "city", "op": "eq", "value": "深圳"}}
    admin = send(logged_in(personas["admin"]), "post", f"/api/v1/tags/{tag.pk}/preview", body).json()
    assert admin["count"] == 3 and len(admin["sample"]) == 3
    assert all("****" in c["mobile"] and c["masked"] for c in admin["sample"])
    sales = send(logged_in(personas["salesperson"]), "post", f"/api/v1/tags/{tag.pk}/preview", body).json()
    assert sales["count"] == 2  # customers 0 and 2 of the three in Shenzhen are in the salesperson's scope
    assert {c["id"] for c in sales["sample"]} == {world["ids"][0], world["ids"][2]}
    oracle = send(logged_in(personas["salesperson"]), "post", f"/api/v1/tags/{tag.pk}/preview",
                  {"query": {"field": "mobile", "op": "starts_with", "value": "139"}})
    assert oracle.status_code == 400 and oracle.json()["error"]["code"] == "masked_field"
    assert not tag.rules.exists()


def test_preview_applies_include_and_exclude_tags(personas, make_tag, world):
    vip = make_tag("VIP", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=world["ids"][:2])
    tag = make_tag("深圳客户", kind="auto")
    client = logged_in(personas["admin"])
    only = send(client, "post", f"/api/v1/tags/{tag.pk}/preview", {"include_tags": [vip.pk]}).json()
    assert {c["id"] for c in only["sample"]} == set(world["ids"][:2])
    rest = send(client, "post", f"/api/v1/tags/{tag.pk}/preview",
                {"query": {"field": "city", "op": "eq", "value": "深圳"}, "exclude_tags": [vip.pk]}).json()
    assert {c["id"] for c in rest["sample"]} == {world["ids"][2], world["ids"][4]}


# -- manual taggings -------------------------------------------------------------------------------------------------
def test_apply_and_remove_within_the_callers_scope(personas, make_tag, world):
    tag = make_tag("高价值", kind="manual", score=7)
    client = logged_in(personas["salesperson"])
    url = f"/api/v1/tags/{tag.pk}"
    assert send(client, "post", url + "/apply", {"customer_ids": world["mine"]}).json() == {"applied": 3}
    assert send(client, "post", url + "/apply", {"customer_ids": world["mine"]}).json() == {"applied": 0}
    outside = send(client, "post", url + "/apply", {"customer_ids": world["mine"] + world["outside"][:1]})
    assert outside.status_code == 404 and outside.json()["error"]["detail"]["customer_ids"] == world["outside"][:1]
    assert send(client, "post", url + "/remove", {"customer_ids": world["mine"][:1]}).json() == {"removed": 1}
    assert set(Tagging.objects.filter(tag=tag).values_list("customer_id", flat=True)) == set(world["mine"][1:])
    rows = TagHistory.objects.filter(tag=tag).order_by("id")
    assert [(h.action, h.source, h.actor_id) for h in rows] == [("add", "user", personas["salesperson"].pk)] * 3 + [
        ("remove", "user", personas["salesperson"].pk)]
    assert_scores_are_sums()
    assert send(client, "post", url + "/apply", {"customer_ids": []}).status_code == 400


def test_one_customer_is_tagged_and_untagged(personas, make_tag, world):
    tag = make_tag("高价值", kind="manual", score=2)
    client = logged_in(personas["salesperson"])
    customer = world["mine"][0]
    response = send(client, "post", f"/api/v1/customers/{customer}/tags", {"tag_id": tag.pk})
    assert response.json() == {"applied": 1}
    detail = client.get(f"/api/v1/customers/{customer}").json()
    assert detail["tags"] == [{"id": tag.pk, "name": "高价值", "kind": "manual"}] and detail["quality_score"] == 2
    assert send(client, "delete", f"/api/v1/customers/{customer}/tags/{tag.pk}").json() == {"removed": 1}
    assert client.get(f"/api/v1/customers/{customer}").json()["tags"] == []
    assert send(client, "post", f"/api/v1/customers/{world['outside'][0]}/tags", {"tag_id": tag.pk}).status_code == 404
    norole = logged_in(personas["norole"])
    assert send(norole, "post", f"/api/v1/customers/{customer}/tags", {"tag_id": tag.pk}).status_code == 403
    assert not Tagging.objects.exists()


def test_auto_tags_take_no_manual_taggings(personas, make_tag, world):
    tag = make_tag("深圳客户", kind="auto")
    response = send(logged_in(personas["admin"]), "post", f"/api/v1/tags/{tag.pk}/apply",
                    {"customer_ids": world["ids"][:1]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "auto_tag"


def test_an_application_key_applies_tags_with_source_api_and_reads_tags(personas, make_tag, category, world):
    app = Application(name="ERP")
    key = app.set_new_key()
    app.save()
    tag = make_tag("高价值", kind="manual")
    personal = services.tag_create(actor=personas["salesperson"], data={"name": "私人", "category_id": category.pk,
                                                                        "kind": "personal"})
    client = Client()
    headers = {"HTTP_X_APP_KEY": key}
    # ids may coincide: an application is no user and owns no personal tags
    assert send(client, "post", f"/api/v1/tags/{tag.pk}/apply", {"customer_ids": world["outside"]}, headers).json() == {
        "applied": 2}
    assert set(TagHistory.objects.filter(tag=tag).values_list("source", "actor_name")) == {("api", "ERP")}
    assert [t["name"] for t in client.get("/api/v1/tags", **headers).json()["items"]] == ["高价值"]
    assert client.get(f"/api/v1/tags/{personal.pk}", **headers).status_code == 404
    assert send(client, "post", f"/api/v1/tags/{personal.pk}/apply", {"customer_ids": world["outside"]},
                headers).status_code == 404
    assert send(client, "delete", f"/api/v1/customers/{world['outside'][0]}/tags/{tag.pk}", None, headers).json() == {
        "removed": 1}
    assert send(client, "post", "/api/v1/tags", {"name": "x", "category_id": category.pk}, headers).status_code == 401


# -- history, outputs, timeline --------------------------------------------------------------------------------------------
def test_history_rows_have_the_exact_shape_and_follow_the_scope(personas, make_tag, world):
    tag = make_tag("高价值", kind="manual")
    services.apply_tag(actor=personas["admin"], tag=tag, customer_ids=world["ids"])
    admin = logged_in(personas["admin"]).get(f"/api/v1/tag-history?tag_id={tag.pk}").json()
    assert admin["count"] == 5
    assert set(admin["items"][0]) == {"id", "customer_id", "tag_id", "tag_name", "action", "source", "rule_id",
                                      "actor_name", "at"}
    assert {(r["tag_name"], r["action"], r["source"], r["actor_name"]) for r in admin["items"]} == {
        ("高价值", "add", "user", "p_admin")}
    manager = logged_in(personas["manager"]).get("/api/v1/tag-history").json()
    assert {r["customer_id"] for r in manager["items"]} == set(world["mine"])  # the manager's scope
    sales = logged_in(personas["salesperson"])
    assert sales.get("/api/v1/tag-history").status_code == 403  # no customers.tags.view
    own = sales.get(f"/api/v1/tag-history?customer_id={world['mine'][0]}").json()
    assert own["count"] == 1 and own["items"][0]["customer_id"] == world["mine"][0]
    assert sales.get(f"/api/v1/tag-history?customer_id={world['outside'][0]}").status_code == 404


def test_customer_list_and_search_carry_visible_tags_and_quality_scores(personas, make_tag, category, world):
    vip = make_tag("VIP", kind="manual", score=5)
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=world["ids"])
    personal = services.tag_create(actor=personas["manager"], data={"name": "经理的", "category_id": category.pk,
                                                                    "kind": "personal", "score": 1})
    services.apply_tag(actor=personas["manager"], tag=personal, customer_ids=world["mine"])
    client = logged_in(personas["salesperson"])
    listed = client.get("/api/v1/customers").json()["items"]
    assert {c["id"]: (c["tags"], c["quality_score"]) for c in listed} == {
        pk: ([{"id": vip.pk, "name": "VIP", "kind": "manual"}], 6) for pk in world["mine"]}
    found = send(client, "post", "/api/v1/customers/search", {"query": {"field": "city", "op": "eq", "value": "深圳"}})
    assert [c["tags"] for c in found.json()["items"]] == [[{"id": vip.pk, "name": "VIP", "kind": "manual"}]] * 2
    mine = logged_in(personas["manager"]).get(f"/api/v1/customers/{world['mine'][0]}").json()
    assert [t["name"] for t in mine["tags"]] == ["VIP", "经理的"]


def test_customer_list_reads_tags_in_one_query_per_page(personas, make_tag, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    vip = make_tag("VIP", kind="manual")
    services.apply_tag(actor=SYSTEM, tag=vip, customer_ids=world["ids"])
    client = logged_in(personas["admin"])
    for size in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            items = client.get(f"/api/v1/customers?page_size={size}").json()["items"]
        assert len(items) == size and all(i["tags"] for i in items)
        assert sum("tags_tagging" in q["sql"] for q in queries.captured_queries) == 1


def test_the_timeline_shows_tag_changes_merged_by_time(personas, make_tag, world):
    customer = world["customers"][0]
    customer_services.customer_update(actor=personas["admin"], customer=customer, data={"name": "改名"})
    vip = make_tag("VIP", kind="manual")
    auto = make_tag("深圳客户", kind="auto", rules=[{"query": {"field": "city", "op": "eq", "value": "深圳"}}])
    services.apply_tag(actor=personas["admin"], tag=vip, customer_ids=[customer.pk])
    from shoal.tags.refresh import refresh

    refresh()
    services.remove_tag(actor=personas["admin"], tag=vip, customer_ids=[customer.pk])
    client = logged_in(personas["admin"])
    timeline = client.get(f"/api/v1/customers/{customer.pk}/timeline").json()
    items = timeline["items"]
    assert timeline["count"] == len(items) == 5
    times = [i["created_at"] for i in items]
    assert times == sorted(times, reverse=True)
    tags = [(i["new"], i["actor_name"], i["detail"]["source"]) for i in items if i["kind"] == "tag"]
    rule_id = auto.rules.get().pk
    assert tags == [("Removed tag VIP", "p_admin", "user"), ("Added tag 深圳客户", f"rule #{rule_id}", "rule"),
                    ("Added tag VIP", "p_admin", "user")]
    assert [i["kind"] for i in items][3:] == ["changed", "created"]
    second = client.get(f"/api/v1/customers/{customer.pk}/timeline?page=2&page_size=2").json()
    assert [i["id"] for i in second["items"]] == [items[2]["id"], items[3]["id"]]
    page = client.get(reverse("admin:customers_customer_detail", args=[customer.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "Added tag 深圳客户" in html and f"rule #{rule_id}" in html


def test_the_timeline_hides_other_users_personal_tags(personas, category, world):
    personal = services.tag_create(actor=personas["manager"], data={"name": "经理的", "category_id": category.pk,
                                                                    "kind": "personal"})
    services.apply_tag(actor=personas["manager"], tag=personal, customer_ids=world["mine"][:1])
    url = f"/api/v1/customers/{world['mine'][0]}/timeline"
    own = logged_in(personas["manager"]).get(url).json()
    assert [i["new"] for i in own["items"] if i["kind"] == "tag"] == ["Added tag 经理的"]
    other = logged_in(personas["salesperson"]).get(url).json()
    assert [i for i in other["items"] if i["kind"] == "tag"] == [] and other["count"] == 1
