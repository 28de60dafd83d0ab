"""The groups API over real HTTP (live server, httpx): a token user and a CSRF-enforced browser session."""

import pytest

from shoal.customers import services as customer_services
from shoal.customers.models import CustomerGroup, CustomerGroupMembership
from shoal.pools.models import GroupLog
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

CITY = {"field": "city", "op": "eq", "value": "深圳"}


@pytest.fixture
def people(roles):
    return {"admin": make_user("hg_admin", roles["admin"]), "manager": make_user("hg_manager", roles["manager"]),
            "sales": make_user("hg_sales", roles["salesperson"], name="李小丹"),
            "sales2": make_user("hg_sales2", roles["salesperson"], name="张伟")}


def bearer(raw_token, user):
    return {"Authorization": f"Bearer {raw_token(user)}"}


def test_a_token_user_sets_up_a_group_with_rules(http, people, raw_token):
    headers = bearer(raw_token, people["admin"])
    body = {"name": "华南组", "admin_ids": [people["manager"].pk], "salesperson_ids": [people["sales"].pk,
                                                                                     people["sales2"].pk],
            "capacity": None, "daily_claim_limit": None}
    created = http.post("/api/v1/groups", json=body, headers=headers)
    assert created.status_code == 201, created.text
    group = created.json()
    assert {k: group[k] for k in body} == body
    assert group["salespeople"] == [{"id": people["sales"].pk, "name": "李小丹"},
                                    {"id": people["sales2"].pk, "name": "张伟"}]
    assert (group["sea_count"], group["assigned_count"], group["request_tasks"]) == (0, 0, False)
    gid = group["id"]

    assert http.post("/api/v1/groups", json=body, headers=headers).status_code == 409
    bad = http.post("/api/v1/groups", json={**body, "name": "x", "admin_ids": [987654]}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["detail"] == {"field": "admin_ids", "ids": [987654]}
    assert http.post("/api/v1/groups", json={**body, "name": "y", "capacity": 0}, headers=headers).status_code == 400

    patched = http.patch(f"/api/v1/groups/{gid}", json={"capacity": 200, "request_tasks": True, "request_size": 5},
                         headers=headers)
    assert patched.status_code == 200 and (patched.json()["capacity"], patched.json()["request_size"]) == (200, 5)
    assert patched.json()["salesperson_ids"] == body["salesperson_ids"]  # untouched
    assert http.get(f"/api/v1/groups/{gid}", headers=headers).json()["capacity"] == 200
    assert [g["id"] for g in http.get("/api/v1/groups", headers=headers).json()] == [gid]

    rule = http.post(f"/api/v1/groups/{gid}/assignment-rules", headers=headers, json={
        "name": "深圳", "order": 1, "query": CITY, "include_tags": [], "exclude_tags": [],
        "salesperson_ids": [people["sales"].pk], "enabled": True})
    assert rule.status_code == 201, rule.text
    assert {k: rule.json()[k] for k in ("name", "order", "query", "salesperson_ids", "enabled", "group_id")} == {
        "name": "深圳", "order": 1, "query": CITY, "salesperson_ids": [people["sales"].pk], "enabled": True,
        "group_id": gid}
    rid = rule.json()["id"]
    stranger = http.post(f"/api/v1/groups/{gid}/assignment-rules", headers=headers, json={
        "name": "x", "sql": "city = 'a'", "salesperson_ids": [people["manager"].pk]})
    assert stranger.status_code == 400 and stranger.json()["error"]["code"] == "not_group_salesperson"
    both = http.post(f"/api/v1/groups/{gid}/assignment-rules", headers=headers,
                     json={"name": "x", "sql": "city = 'a'", "query": CITY})
    assert both.status_code == 400
    edited = http.patch(f"/api/v1/groups/{gid}/assignment-rules/{rid}", headers=headers,
                        json={"sql": "city = '广州'", "enabled": False})
    assert edited.status_code == 200 and edited.json()["query"] is None and edited.json()["sql"] == "city = '广州'"
    assert len(http.get(f"/api/v1/groups/{gid}/assignment-rules", headers=headers).json()) == 1

    recycle = http.post(f"/api/v1/groups/{gid}/recycle-rules", headers=headers, json={
        "name": "7天未跟进", "order": 1, "kind": "no_follow_up", "days": 7, "warn_days": 2, "cooldown_days": 3,
        "exempt_types": ["成交"], "target": "group_sea", "query": CITY, "enabled": True})
    assert recycle.status_code == 201, recycle.text
    assert recycle.json()["warn_days"] == 2 and recycle.json()["exempt_types"] == ["成交"]
    reid = recycle.json()["id"]
    assert http.patch(f"/api/v1/groups/{gid}/recycle-rules/{reid}", headers=headers,
                      json={"warn_days": 9}).status_code == 400
    assert http.patch(f"/api/v1/groups/{gid}/recycle-rules/{reid}", headers=headers,
                      json={"warn_days": None}).json()["warn_days"] is None

    grule = http.post("/api/v1/group-rules", headers=headers, json={
        "name": "深圳入组", "order": 1, "source_group_id": None, "target_group_id": gid, "query": CITY,
        "include_tags": [], "exclude_tags": [], "break_relations": False, "enabled": True})
    assert grule.status_code == 201, grule.text
    assert {k: grule.json()[k] for k in ("source_group_id", "target_group_id", "target_group", "break_relations")} == {
        "source_group_id": None, "target_group_id": gid, "target_group": "华南组", "break_relations": False}
    same = http.post("/api/v1/group-rules", headers=headers, json={"name": "x", "query": CITY,
                                                                   "source_group_id": gid, "target_group_id": gid})
    assert same.status_code == 400
    assert http.get("/api/v1/group-rules/999999", headers=headers).status_code == 404
    assert http.delete(f"/api/v1/group-rules/{grule.json()['id']}", headers=headers).status_code == 204

    assert http.delete(f"/api/v1/groups/{gid}/assignment-rules/{rid}", headers=headers).status_code == 204
    assert http.delete(f"/api/v1/groups/{gid}/recycle-rules/{reid}", headers=headers).status_code == 204
    assert http.delete(f"/api/v1/groups/{gid}", headers=headers).status_code == 204
    assert http.get(f"/api/v1/groups/{gid}", headers=headers).status_code == 404


def test_permissions_over_http(http, people, raw_token):
    group = CustomerGroup.objects.create(name="G")
    manager, sales = bearer(raw_token, people["manager"]), bearer(raw_token, people["sales"])
    assert http.get("/api/v1/groups", headers=sales).status_code == 403
    assert http.get("/api/v1/group-rules", headers=sales).json()["error"]["code"] == "permission_denied"
    assert http.get("/api/v1/groups", headers=manager).status_code == 200
    assert http.patch(f"/api/v1/groups/{group.pk}", json={"capacity": 3}, headers=manager).status_code == 200
    assert http.post("/api/v1/groups", json={"name": "M"}, headers=manager).status_code == 403
    assert http.delete(f"/api/v1/groups/{group.pk}", headers=manager).status_code == 403
    assert http.get("/api/v1/groups").status_code == 401


def test_a_session_needs_the_csrf_token_and_delete_returns_customers(http, session_http, people):
    group = CustomerGroup.objects.create(name="华北组")
    customer = customer_services.customer_create(actor=None, data={"name": "c", "mobile": "13800138000"})
    CustomerGroupMembership.objects.create(customer=customer, group=group, salesperson=people["sales"])
    browser = session_http("hg_admin")
    refused = browser.post("/api/v1/groups", json={"name": "无令牌"})
    assert refused.status_code == 403 and not CustomerGroup.objects.filter(name="无令牌").exists()
    created = browser.post("/api/v1/groups", json={"name": "有令牌", "salesperson_ids": [people["sales"].pk]},
                           headers={"X-CSRFToken": browser.csrf})
    assert created.status_code == 201, created.text
    listed = browser.get("/api/v1/groups").json()
    assert {g["name"]: (g["sea_count"], g["assigned_count"]) for g in listed} == {"华北组": (0, 1), "有令牌": (0, 0)}
    assert browser.delete(f"/api/v1/groups/{group.pk}").status_code == 403  # no token
    deleted = browser.delete(f"/api/v1/groups/{group.pk}", headers={"X-CSRFToken": browser.csrf})
    assert deleted.status_code == 204
    assert not CustomerGroupMembership.objects.filter(customer=customer).exists()
    log = GroupLog.objects.get(customer=customer)
    assert log.to_group_id is None and log.operator_id == people["admin"].pk


def test_bad_input_is_a_4xx(http, people, raw_token):
    headers = bearer(raw_token, people["admin"])
    gid = CustomerGroup.objects.create(name="B").pk
    for path, body in [("/api/v1/groups", {"name": ""}), ("/api/v1/groups", {"name": "x", "capacity": 2**40}),
                       ("/api/v1/groups", {"name": "x", "colour": "red"}),
                       ("/api/v1/group-rules", {"name": "x", "target_group_id": gid}),  # a group rule must say which customers
                       (f"/api/v1/groups/{gid}/assignment-rules", {"name": "x", "sql": "1; DROP TABLE x"}),
                       (f"/api/v1/groups/{gid}/recycle-rules", {"name": "x", "query": CITY, "days": 0}),
                       (f"/api/v1/groups/{gid}/recycle-rules", {"name": "x", "query": CITY, "kind": "never"}),
                       ("/api/v1/group-rules", {"name": "x", "query": CITY, "target_group_id": 2**63}),
                       ("/api/v1/group-rules", {"name": "x", "query": {"field": "nope", "op": "eq", "value": 1},
                                                "target_group_id": gid})]:
        response = http.post(path, json=body, headers=headers)
        assert response.status_code == 400, (path, body, response.status_code, response.text)
    assert http.get("/api/v1/groups/99999999", headers=headers).status_code == 404
    assert http.get(f"/api/v1/groups/{2**63 - 1}/recycle-rules", headers=headers).status_code == 404
