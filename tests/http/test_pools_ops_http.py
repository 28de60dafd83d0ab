"""Manual pool operations, transfers, logs and follow-ups over real HTTP (live server, httpx): with a bearer
token, and with a browser session whose writes must carry the CSRF token."""

import pytest

from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(roles):
    admin, sales, sales2 = (make_user("o_admin", roles["admin"]), make_user("o_sales", roles["salesperson"]),
                            make_user("o_sales2", roles["salesperson"]))
    group = CustomerGroup.objects.create(name="华北组", daily_claim_limit=5)
    group.salespeople.add(sales, sales2)
    ids = [c.pk for c in Customer.objects.bulk_create([Customer(name=f"客户{i}") for i in range(6)])]
    return {"admin": admin, "sales": sales, "sales2": sales2, "group": group, "ids": ids}


def bearer(raw_token, user):
    return {"Authorization": f"Bearer {raw_token(user)}"}


def test_token_user_groups_assigns_transfers_and_reads_logs(http, world, raw_token):
    headers = bearer(raw_token, world["admin"])
    g, ids = world["group"].pk, world["ids"]
    r = http.post("/api/v1/customers/batch", headers=headers,
                  json={"action": "group", "customer_ids": ids[:4], "group_id": g, "salesperson_id": None})
    assert r.status_code == 200 and r.json()["done"] == 4, r.text
    r = http.post("/api/v1/customers/batch", headers=headers,
                  json={"action": "assign", "customer_ids": ids[:3], "group_id": g,
                        "salesperson_id": world["sales"].pk})
    assert r.json()["done"] == 3, r.text
    # refusals: a salesperson of no group (400), an unknown group (404), a misspelt key (400)
    r = http.post("/api/v1/customers/batch", headers=headers,
                  json={"action": "assign", "customer_ids": ids[:1], "group_id": g, "salesperson_id": world["admin"].pk})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_group_salesperson"
    r = http.post("/api/v1/customers/batch", headers=headers,
                  json={"action": "group", "customer_ids": ids[:1], "group_id": 10**9})
    assert r.status_code == 404
    r = http.post("/api/v1/customers/batch", headers=headers, json={"action": "group", "customer_ids": ids, "grp": 1})
    assert r.status_code == 400
    # transfer two of them, with a reason
    r = http.post("/api/v1/transfers", headers=headers, json={
        "from_user_id": world["sales"].pk, "to_user_id": world["sales2"].pk, "customer_ids": ids[:2], "reason": "调岗"})
    assert r.status_code == 201 and r.json()["done"] == 2, r.text
    r = http.post("/api/v1/transfers", headers=headers, json={
        "from_user_id": world["sales"].pk, "to_user_id": world["sales2"].pk, "customer_ids": None, "reason": ""})
    assert r.status_code == 400
    listed = http.get("/api/v1/transfers", headers=headers).json()
    assert listed["count"] == 1 and listed["items"][0]["reason"] == "调岗"
    assert listed["items"][0]["to_user"] == world["sales2"].username
    log = http.get("/api/v1/assignment-log", headers=headers, params={"kind": "transfer"}).json()
    assert log["count"] == 2 and {e["salesperson_id"] for e in log["items"]} == {world["sales2"].pk}
    assert http.get("/api/v1/group-log", headers=headers, params={"group_id": g}).json()["count"] == 4
    assert http.get("/api/v1/recycle-log", headers=headers).json()["count"] == 0
    assert http.get("/api/v1/group-log", headers=headers, params={"date_from": "2024-01-02",
                                                                  "date_to": "2024-01-01"}).status_code == 400
    # the customer outputs carry the groups, invited_by and the last follow-up
    detail = http.get(f"/api/v1/customers/{ids[0]}", headers=headers).json()
    assert detail["groups"][0]["salesperson_id"] == world["sales2"].pk and detail["invited_by"] is None
    page = http.get("/api/v1/customers", headers=headers).json()
    row = next(c for c in page["items"] if c["id"] == ids[0])
    assert row["groups"] == [{"group_id": g, "group": "华北组", "salesperson_id": world["sales2"].pk,
                              "salesperson": world["sales2"].username, "assigned_at": row["groups"][0]["assigned_at"]}]
    r = http.patch(f"/api/v1/customers/{ids[0]}", headers=headers, json={"invited_by": ids[1]})
    assert r.status_code == 200 and r.json()["invited_by"] == ids[1], r.text
    r = http.patch(f"/api/v1/customers/{ids[0]}", headers=headers, json={"invited_by": ids[0]})
    assert r.status_code == 400


def test_session_salesperson_claims_follows_up_and_returns(session_http, world):
    g, ids = world["group"].pk, world["ids"]
    CustomerGroupMembership.objects.bulk_create([CustomerGroupMembership(customer_id=pk, group_id=g)
                                                 for pk in ids[:3]])
    client = session_http("o_sales")
    body = {"action": "claim", "customer_ids": ids[:2], "group_id": g}
    # without the CSRF token the session write is refused
    assert client.post("/api/v1/customers/batch", json=body).status_code == 403
    assert not CustomerGroupMembership.objects.filter(salesperson__isnull=False).exists()
    csrf = {"X-CSRFToken": client.csrf}
    r = client.post("/api/v1/customers/batch", json=body, headers=csrf)
    assert r.status_code == 200 and r.json()["done"] == 2, r.text
    # a customer of the company public sea is out of reach; assigning is not the salesperson's
    assert client.post("/api/v1/customers/batch", headers=csrf,
                       json={"action": "claim", "customer_ids": [ids[5]], "group_id": g}).status_code == 404
    assert client.post("/api/v1/customers/batch", headers=csrf,
                       json={"action": "assign", "customer_ids": ids[:1], "group_id": g,
                             "salesperson_id": world["sales"].pk}).status_code == 403
    tasks = client.get("/api/v1/follow-up-tasks").json()
    assert tasks["count"] == 2
    r = client.post("/api/v1/follow-ups", headers=csrf, json={"customer_id": ids[0], "method": "wechat",
                                                              "status": "interested", "effective": True,
                                                              "summary": "加了微信"})
    assert r.status_code == 201 and r.json()["salesperson_id"] == world["sales"].pk, r.text
    assert client.post("/api/v1/follow-ups", headers=csrf, json={"customer_id": ids[3]}).status_code == 404
    assert client.get("/api/v1/follow-ups", params={"customer_id": ids[0]}).json()["count"] == 1
    assert client.get("/api/v1/follow-up-tasks").json()["count"] == 1
    detail = client.get(f"/api/v1/customers/{ids[0]}").json()
    assert detail["last_follow_up_at"] is not None
    r = client.post("/api/v1/customers/batch", headers=csrf,
                    json={"action": "return_to_group_sea", "customer_ids": ids[:1], "group_id": g})
    assert r.status_code == 200 and r.json()["done"] == 1
    assert client.get("/api/v1/group-log").status_code == 403  # no pools.logs.view
    # the salesperson's own claims notify nobody
    assert client.get("/api/v1/notifications", params={"unread": "true"}).json() == {"items": [], "total": 0,
                                                                                     "unread": 0}


def test_a_salesperson_requests_customers_with_a_token(http, world, raw_token):
    from shoal.pools import moves

    g = world["group"]
    CustomerGroup.objects.filter(pk=g.pk).update(request_tasks=True, request_size=2, request_times_per_day=1)
    moves.join_group(world["ids"], g.pk, moves.context(None))
    headers = bearer(raw_token, world["sales"])
    r = http.post("/api/v1/pools/request", headers=headers, json={"group_id": g.pk})
    assert r.status_code == 200 and r.json() == {"assigned": 2, "requests_left": 0}, r.text
    assert CustomerGroupMembership.objects.filter(group=g, salesperson=world["sales"]).count() == 2
    r = http.post("/api/v1/pools/request", headers=headers, json={"group_id": g.pk})  # its two tasks are open
    assert r.status_code == 409 and r.json()["error"]["code"] == "open_tasks"
    r = http.post("/api/v1/pools/request", headers=headers, json={"group": g.pk})
    assert r.status_code == 400
    r = http.post("/api/v1/pools/request", headers=bearer(raw_token, world["admin"]), json={"group_id": g.pk})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_group_salesperson"
