"""Strategies over real HTTP (a live server): Bearer tokens and a browser session with CSRF, the exact
shapes integrators rely on, the review flow and cancelling tasks."""

import pytest

from tests.conftest import make_user

FIELDS = [{"key": "amount", "type": "number", "label": "Amount", "required": False},
          {"key": "status", "type": "text", "label": "Status", "required": False}]


@pytest.fixture
def setup(transactional_db, roles):
    from shoal.events.models import EventType

    EventType.objects.create(name="Payment", code="payment", fields=FIELDS)
    return {"editor": make_user("h_editor", roles["admin"]), "approver": make_user("h_approver", roles["admin"]),
            "sales": make_user("h_sales", roles["salesperson"])}


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


BODY = {"name": "Big payments", "group_id": None, "event": "payment", "valid_from": None, "valid_to": None,
        "conditions": {"all": [{"field": "amount", "op": "gt", "value": 100},
                               {"field": "status", "op": "eq", "value": "ok"}]},
        "customer_conditions": None,
        "actions": [{"processor": "notify", "params": {"title": "Paid ${amount}"}, "delay_hours": 24, "at": None}], "order": 1}


def test_create_approve_and_change_with_bearer_tokens(http, setup, raw_token):
    editor, approver = _bearer(raw_token(setup["editor"])), _bearer(raw_token(setup["approver"]))
    created = http.post("/api/v1/strategies", json=BODY, headers=editor)
    assert created.status_code == 201, created.text
    strategy = created.json()
    assert strategy["enabled"] is False and strategy["review_status"] == "pending"
    assert strategy["event"] == "payment" and strategy["conditions"] == BODY["conditions"]
    assert strategy["actions"][0]["processor"] == "notify" and strategy["actions"][0]["delay_hours"] == 24
    url = f"/api/v1/strategies/{strategy['id']}"
    refused = http.post(f"{url}/approve", headers=editor)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_approval"
    approved = http.post(f"{url}/approve", headers=approver)
    assert approved.status_code == 200 and approved.json()["enabled"] is True
    changed = http.patch(url, json={"conditions": {"field": "amount", "op": "gte", "value": 1000}}, headers=editor)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["review_status"] == "pending" and changed.json()["revision"] == 2
    listed = http.get("/api/v1/strategies", headers=approver).json()
    assert [s["id"] for s in listed] == [strategy["id"]]
    assert http.delete(url, headers=editor).status_code == 204
    assert http.get(url, headers=editor).status_code == 404


@pytest.mark.parametrize("body, code", [
    ({**BODY, "conditions": {"field": "nope", "op": "eq", "value": 1}}, "invalid_condition"),
    ({**BODY, "actions": [{"processor": "notify", "params": {"title": "${coupon}"}}]}, "unknown_placeholders"),
    ({**BODY, "event": "nope"}, "unknown_event"),
    ({**BODY, "actions": []}, "validation_error"),
    ({**BODY, "surprise": 1}, "validation_error"),
])
def test_bad_strategies_are_400_with_the_error_shape(http, setup, raw_token, body, code):
    response = http.post("/api/v1/strategies", json=body, headers=_bearer(raw_token(setup["editor"])))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_a_salesperson_cannot_see_strategies(http, setup, raw_token):
    response = http.get("/api/v1/strategies", headers=_bearer(raw_token(setup["sales"])))
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_tasks_listed_and_cancelled_with_a_session_and_csrf(http, setup, raw_token, session_http):
    from shoal.strategies.models import StrategyTask
    from shoal.strategies.services import strategies as services
    from tests.strategies.conftest import send

    strategy = services.strategy_create(actor=setup["editor"], data=BODY)
    services.strategy_approve(actor=setup["approver"], strategy=strategy)
    send({"data": {"amount": 150, "status": "ok"}}, {"data": {"amount": 300, "status": "ok"}},
         {"data": {"amount": 300, "status": "no"}})
    ids = sorted(StrategyTask.objects.values_list("id", flat=True))
    assert len(ids) == 2
    client = session_http("h_editor")
    page = client.get("/api/v1/strategy-tasks", params={"status": "pending"})
    assert page.status_code == 200
    data = page.json()
    assert data["total"] == 2 and sorted(i["id"] for i in data["items"]) == ids
    assert set(data["items"][0]) >= {"id", "strategy_id", "status", "due_at"}
    assert data["items"][0]["strategy_id"] == strategy.pk and data["items"][0]["status"] == "pending"
    no_csrf = client.post(f"/api/v1/strategy-tasks/{ids[0]}/cancel")
    assert no_csrf.status_code == 403
    cancelled = client.post(f"/api/v1/strategy-tasks/{ids[0]}/cancel", headers={"X-CSRFToken": client.csrf})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/strategy-tasks/{ids[0]}/cancel", headers={"X-CSRFToken": client.csrf})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_pending"
    many = http.post("/api/v1/strategy-tasks/cancel", json={"ids": ids},
                     headers=_bearer(raw_token(setup["editor"])))
    assert many.json() == {"cancelled": 1}
    assert http.get("/api/v1/strategy-tasks", params={"status": "cancelled"},
                    headers=_bearer(raw_token(setup["editor"]))).json()["total"] == 2
    bad = http.get("/api/v1/strategy-tasks", params={"status": "nope"}, headers=_bearer(raw_token(setup["editor"])))
    assert bad.status_code == 400


def test_results_and_fields(http, setup, raw_token):
    editor = _bearer(raw_token(setup["editor"]))
    fields = http.get("/api/v1/strategies/fields", params={"event": "payment"}, headers=editor).json()
    assert [f["key"] for f in fields] == ["amount", "status"] and "gt" in fields[0]["operators"]
    strategy = http.post("/api/v1/strategies", json=BODY, headers=editor).json()
    results = http.get(f"/api/v1/strategies/{strategy['id']}/results", params={"days": 7}, headers=editor).json()
    assert len(results["days"]) == 7 and results["totals"] == {"matched": 0, "run": 0, "succeeded": 0, "failed": 0,
                                                              "skipped": 0}
