"""The event history (API and selectors): filters, reasons in the reader's language, the strategies'
results, the source data masked per reader, the reader's data scope; a customer's event statistics."""

import json

import pytest

from shoal.accounts.models import MaskingPolicy
from shoal.core import parameters
from shoal.events.models import Event, EventResult
from shoal.events.services.processing import process_pending

from .conftest import event, send

pytestmark = pytest.mark.django_db


def history(client, headers, query=""):
    response = client.get(f"/api/v1/event-history{query}", HTTP_ACCEPT_LANGUAGE="zh-hans", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def test_history_lists_every_event_newest_first_with_filters(client, personas, bearer, app, purchase, login):
    send(app, event(1), event(2, data={}), event(3, code="login", data={}), event(4, code="nope"))
    admin = bearer(personas["admin"])
    page = history(client, admin)
    assert page["total"] == 4
    assert [i["event"] for i in page["items"]] == ["nope", "login", "purchase", "purchase"]
    item = page["items"][-1]
    assert set(item) >= {"id", "event", "status", "reason", "customer_id", "received_at", "strategies"}
    assert (item["status"], item["reason"], item["strategies"]) == ("success", "", [])
    failed = history(client, admin, "?status=failed")
    assert failed["total"] == 2
    assert {i["reason"] for i in failed["items"]} == {"缺少必填字段 amount", "未知事件类型 nope"}
    assert history(client, admin, "?event=login")["total"] == 1
    assert history(client, admin, f"?application_id={app.pk}&page=2&page_size=3")["items"][0]["event"] == "purchase"
    assert history(client, admin, "?from=2099-01-01T00:00:00Z")["total"] == 0
    assert client.get("/api/v1/event-history?status=bogus", **admin).status_code == 400


def test_history_shows_each_strategy_with_its_processor_calls(client, personas, bearer, app, purchase):
    send(app, event(1))
    stored = Event.objects.get()
    for row in [dict(strategy_id=1, strategy_name="首单送券", matched=True),
                dict(strategy_id=1, strategy_name="首单送券", processor="sms", status="failed", response_code=503,
                     error="gateway down", duration_ms=120, attempt=1),
                dict(strategy_id=1, strategy_name="首单送券", processor="sms", status="success", response_code=200,
                     duration_ms=80, attempt=2),
                dict(strategy_id=2, strategy_name="大额提醒", matched=False, reason="amount ≤ 1000")]:
        EventResult.objects.create(event_id=stored.pk, event_received_at=stored.received_at, **row)
    [item] = history(client, bearer(personas["admin"]))["items"]
    first, second = item["strategies"]
    assert (first["name"], first["matched"], second["name"], second["matched"], second["reason"]) == (
        "首单送券", True, "大额提醒", False, "amount ≤ 1000")
    assert [(p["status"], p["response_code"], p["attempt"]) for p in first["processors"]] == [
        ("failed", 503, 1), ("success", 200, 2)]  # the retried call is visible


def test_source_data_is_masked_unless_the_reader_may_see_it(client, personas, bearer, app, purchase):
    send(app, event(1, customer={"mobile": "13800138000", "email": "zhang@example.com"},
                    data={"amount": 1, "contact_phone": "13900139000", "note": "call 13700137000",
                          "meta": {"payer_email": "pay@example.com"}}))
    event_id = Event.objects.get().pk
    admin = personas["admin"]
    admin.masking_policy = MaskingPolicy.MASK_ALL
    admin.save()
    data = client.get(f"/api/v1/event-history/{event_id}", **bearer(admin)).json()["data"]
    assert data["customer"] == {"mobile": "138****8000", "email": "z***@example.com"}
    assert data["data"]["contact_phone"] == "139****9000"
    assert data["data"]["meta"]["payer_email"] == "p***@example.com"
    assert data["data"]["amount"] == 1
    assert "13800138000" not in json.dumps(data)
    admin.masking_policy = MaskingPolicy.NONE
    admin.save()
    data = client.get(f"/api/v1/event-history/{event_id}", **bearer(admin)).json()["data"]
    assert data["customer"]["mobile"] == "13800138000"
    parameters.set_value("MASKING_ENABLED", False)
    admin.masking_policy = MaskingPolicy.MASK_ALL
    admin.save()
    data = client.get(f"/api/v1/event-history/{event_id}", **bearer(admin)).json()["data"]
    assert data["customer"]["email"] == "zhang@example.com"


def test_history_keeps_to_the_readers_data_scope(client, personas, bearer, app, purchase, roles):
    from shoal.customers.models import Customer, CustomerGroup, CustomerGroupMembership

    send(app, event(1), event(2), event(3, code="nope"))
    roles["salesperson"].permissions = [*roles["salesperson"].permissions, "marketing.event_history.view"]
    roles["salesperson"].save()
    sales = personas["salesperson"]
    group = CustomerGroup.objects.create(name="G")
    CustomerGroupMembership.objects.create(customer=Customer.objects.get(ent_user_id="u1"), group=group,
                                           salesperson=sales)
    page = history(client, bearer(sales))
    assert sorted(i["event"] + str(i["customer_id"] is not None) for i in page["items"]) == ["nopeFalse",
                                                                                           "purchaseTrue"]
    hidden = Event.objects.get(client_id="e2").pk
    assert client.get(f"/api/v1/event-history/{hidden}", **bearer(sales)).status_code == 404


def test_a_customers_events_per_type(client, personas, bearer, app, purchase, login):
    send(app, event(1, customer={"ent_user_id": "a"}, data={"amount": 5, "receipt_email": "a@b.cn"},
                    timestamp="2026-11-02T10:00:00+08:00"),
         event(2, customer={"ent_user_id": "a"}, data={"amount": 7}, timestamp="2026-11-03T10:00:00+08:00"),
         event(3, code="login", customer={"ent_user_id": "a"}, data={}))
    process_pending()
    from shoal.customers.models import Customer

    pk = Customer.objects.get(ent_user_id="a").pk
    rows = client.get(f"/api/v1/customers/{pk}/events", **bearer(personas["admin"])).json()
    by_event = {r["event"]: r for r in rows}
    assert by_event["purchase"]["count"] == 2 and by_event["purchase"]["last_data"] == {"amount": 7}
    assert by_event["purchase"]["first_at"].startswith("2026-11-02T02:00:00")
    assert by_event["login"]["count"] == 1
    assert client.get(f"/api/v1/customers/{pk}/events", **bearer(personas["salesperson"])).status_code == 404
