"""The tags API over real HTTP (live server, httpx): what integrators and the pages' scripts send."""

import pytest

from shoal.accounts import services as account_services
from shoal.core.actors import SYSTEM
from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.tags.models import Tagging, TagHistory
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(roles):
    return {"manager": make_user("h_manager", roles["manager"]), "sales": make_user("h_sales", roles["salesperson"]),
            "sales2": make_user("h_sales2", roles["salesperson"]), "admin": make_user("h_admin", roles["admin"])}


@pytest.fixture
def customers(people):
    """Customers 0-2 in a group the manager administers (salesperson h_sales); 3 in nobody's."""
    group = CustomerGroup.objects.create(name="华南组")
    group.admins.add(people["manager"])
    made = [customer_services.customer_create(actor=SYSTEM, data={"name": f"客户{i}", "mobile": f"1370000{i:04d}",
                                                                  "city": "深圳" if i < 2 else "广州"})
            for i in range(4)]
    for c in made[:3]:
        CustomerGroupMembership.objects.create(customer=c, group=group, salesperson=people["sales"])
    return [c.pk for c in made]


def bearer(raw_token, user):
    return {"Authorization": f"Bearer {raw_token(user)}"}


def test_a_token_user_builds_a_manual_tag_and_tags_customers_in_scope_only(http, people, customers, raw_token):
    headers = bearer(raw_token, people["manager"])
    category = http.post("/api/v1/tag-categories", json={"name": "价值", "parent_id": None, "object_type": "customer"},
                         headers=headers)
    assert category.status_code == 201, category.text
    tag = http.post("/api/v1/tags", headers=headers, json={
        "name": "高价值", "category_id": category.json()["id"], "kind": "manual", "score": 8, "valid_days": None,
        "enabled": True})
    assert tag.status_code == 201, tag.text
    tag_id = tag.json()["id"]
    assert tag.json()["customers"] == 0 and tag.json()["kind"] == "manual"

    applied = http.post(f"/api/v1/tags/{tag_id}/apply", json={"customer_ids": customers[:3]}, headers=headers)
    assert applied.status_code == 200 and applied.json() == {"applied": 3}
    outside = http.post(f"/api/v1/customers/{customers[3]}/tags", json={"tag_id": tag_id}, headers=headers)
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_found"
    assert http.get(f"/api/v1/tags/{tag_id}", headers=headers).json()["customers"] == 3

    detail = http.get(f"/api/v1/customers/{customers[0]}", headers=headers).json()
    assert detail["tags"] == [{"id": tag_id, "name": "高价值", "kind": "manual"}] and detail["quality_score"] == 8
    history = http.get(f"/api/v1/tag-history?tag_id={tag_id}", headers=headers).json()
    assert history["count"] == 3 and {r["source"] for r in history["items"]} == {"user"}
    assert sorted(Tagging.objects.filter(tag_id=tag_id).values_list("customer_id", flat=True)) == customers[:3]

    removed = http.delete(f"/api/v1/customers/{customers[0]}/tags/{tag_id}", headers=headers)
    assert removed.json() == {"removed": 1}


def test_an_app_key_applies_a_tag_with_source_api(http, people, customers, raw_token):
    headers = bearer(raw_token, people["admin"])
    category = http.post("/api/v1/tag-categories", json={"name": "来源"}, headers=headers).json()
    tag_id = http.post("/api/v1/tags", json={"name": "ERP 大客户", "category_id": category["id"]},
                       headers=headers).json()["id"]
    _, key = account_services.application_create(actor=people["admin"], name="ERP")
    app = {"X-App-Key": key}
    assert http.get("/api/v1/tags", headers=app).json()["items"][0]["id"] == tag_id
    applied = http.post(f"/api/v1/customers/{customers[3]}/tags", json={"tag_id": tag_id}, headers=app)
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"applied": 1}
    row = TagHistory.objects.get(tag_id=tag_id)
    assert (row.customer_id, row.source, row.actor_name, row.actor_id) == (customers[3], "api", "ERP", None)
    assert http.post("/api/v1/tags", json={"name": "x", "category_id": category["id"]}, headers=app).status_code == 401


def test_a_salesperson_cannot_see_another_users_personal_tag(http, people, customers, raw_token, session_http):
    mine = bearer(raw_token, people["sales"])
    category = http.post("/api/v1/tag-categories", json={"name": "个人"},
                         headers=bearer(raw_token, people["admin"])).json()
    personal = http.post("/api/v1/tags", json={"name": "回访", "category_id": category["id"], "kind": "personal"},
                         headers=mine)
    assert personal.status_code == 201, personal.text
    tag_id = personal.json()["id"]
    assert http.post(f"/api/v1/tags/{tag_id}/apply", json={"customer_ids": customers[:1]},
                     headers=mine).json() == {"applied": 1}

    other = bearer(raw_token, people["sales2"])
    assert http.get(f"/api/v1/tags/{tag_id}", headers=other).status_code == 404
    assert tag_id not in [t["id"] for t in http.get("/api/v1/tags", headers=other).json()["items"]]
    assert http.post(f"/api/v1/tags/{tag_id}/apply", json={"customer_ids": customers[:1]},
                     headers=other).status_code == 404
    assert http.delete(f"/api/v1/tags/{tag_id}", headers=other).status_code == 404
    # the owner, logged in through the browser form, sees it; its session writes need the CSRF token
    browser = session_http("h_sales")
    assert [t["id"] for t in browser.get("/api/v1/tags").json()["items"]] == [tag_id]
    no_token = browser.post(f"/api/v1/tags/{tag_id}/remove", json={"customer_ids": customers[:1]})
    assert no_token.status_code == 403
    removed = browser.post(f"/api/v1/tags/{tag_id}/remove", json={"customer_ids": customers[:1]},
                           headers={"X-CSRFToken": browser.csrf})
    assert removed.status_code == 200 and removed.json() == {"removed": 1}


def test_refresh_answers_the_exact_shape(http, people, customers, raw_token):
    headers = bearer(raw_token, people["manager"])
    category = http.post("/api/v1/tag-categories", json={"name": "地区"}, headers=headers).json()
    tag = http.post("/api/v1/tags", json={"name": "深圳", "category_id": category["id"], "kind": "auto", "score": 2},
                    headers=headers).json()
    rule = http.post(f"/api/v1/tags/{tag['id']}/rules", json={"query": {"field": "city", "op": "eq", "value": "深圳"}},
                     headers=headers)
    assert rule.status_code == 201, rule.text
    one = http.post(f"/api/v1/tags/{tag['id']}/refresh", headers=headers)
    assert one.status_code == 200, one.text
    assert set(one.json()) == {"tags", "evaluated", "added", "removed", "seconds"}
    assert (one.json()["tags"], one.json()["added"], one.json()["removed"]) == (1, 2, 0)
    everything = http.post("/api/v1/tags/refresh", json={"full": True}, headers=headers)
    assert everything.status_code == 200, everything.text
    assert set(everything.json()) == {"tags", "evaluated", "added", "removed", "seconds"}
    assert (everything.json()["evaluated"], everything.json()["added"]) == (4, 0)
    listed = http.get("/api/v1/customers", headers=headers).json()["items"]  # the manager's three
    assert {c["id"]: c["quality_score"] for c in listed} == {customers[0]: 2, customers[1]: 2, customers[2]: 0}
