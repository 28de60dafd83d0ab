"""POST /api/v1/pools/run over real HTTP with a token (and a CSRF-enforced session)."""

import pytest

from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership
from shoal.pools.models import AssignmentRule, GroupRule
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(roles):
    return {"manager": make_user("run_manager", roles["manager"]), "sales": make_user("run_sales", roles["salesperson"]),
            "admin": make_user("run_admin", roles["admin"])}


@pytest.fixture
def group(people):
    group = CustomerGroup.objects.create(name="华东组")
    group.salespeople.add(people["sales"])
    ids = [c.pk for c in Customer.objects.bulk_create([Customer(name=f"c{i}", city="上海") for i in range(5)])]
    GroupRule.objects.create(name="sh", order=1, query={"field": "city", "op": "eq", "value": "上海"},
                             target_group=group)
    AssignmentRule.objects.create(group=group, name="all", order=1)
    return group, ids


def test_run_steps_with_a_token(http, raw_token, people, group):
    group, ids = group
    headers = {"Authorization": f"Bearer {raw_token(people['manager'])}"}
    grouped = http.post("/api/v1/pools/run", json={"step": "group", "group_id": None}, headers=headers)
    assert grouped.status_code == 200, grouped.text
    body = grouped.json()
    assert set(body) == {"grouped", "seconds"} and body["grouped"] == 5
    assigned = http.post("/api/v1/pools/run", json={"step": "assign", "group_id": group.pk}, headers=headers)
    assert assigned.status_code == 200, assigned.text
    assert set(assigned.json()) == {"assigned", "seconds"} and assigned.json()["assigned"] == 5
    assert CustomerGroupMembership.objects.filter(group=group, salesperson=people["sales"]).count() == 5
    recycled = http.post("/api/v1/pools/run", json={"step": "recycle"}, headers=headers)
    assert recycled.status_code == 200 and set(recycled.json()) == {"recycled", "seconds"}


def test_refusals(http, raw_token, people, group):
    group, _ = group
    sales = {"Authorization": f"Bearer {raw_token(people['sales'])}"}
    denied = http.post("/api/v1/pools/run", json={"step": "assign"}, headers=sales)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    admin = {"Authorization": f"Bearer {raw_token(people['admin'])}"}
    assert http.post("/api/v1/pools/run", json={"step": "shuffle"}, headers=admin).status_code == 400
    assert http.post("/api/v1/pools/run", json={"step": "assign", "group_id": 999999},
                     headers=admin).status_code == 404
    assert http.post("/api/v1/pools/run", json={"step": "assign"}).status_code == 401


def test_a_session_needs_the_csrf_token(session_http, people, group):
    client = session_http("run_admin")
    assert client.post("/api/v1/pools/run", json={"step": "group"}).status_code == 403
    ok = client.post("/api/v1/pools/run", json={"step": "group"}, headers={"X-CSRFToken": client.csrf})
    assert ok.status_code == 200, ok.text
    assert ok.json()["grouped"] == 5
