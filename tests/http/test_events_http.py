"""Events over real HTTP against a live server, as integrators send them: X-App-Key and Bearer tokens, single
and batch answers, refusals recorded with their reason, 429 with Retry-After, the IP allow list, a disabled
application, the page snippet's endpoint with CORS for its origins only, the history and statistics APIs."""

import pytest

from shoal.accounts import services as account_services
from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.events.models import Event, EventStat
from shoal.events.services import types
from shoal.events.services.processing import process_pending
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(roles):
    return make_user("ev_admin", roles["admin"])


@pytest.fixture
def app(admin):
    app, raw = account_services.application_create(actor=admin, name="ERP")
    app.raw_key = raw
    return app


@pytest.fixture
def purchase(db):
    return types.event_type_create(actor=SYSTEM, data={"name": "购买", "code": "purchase", "fields": [
        {"key": "amount", "type": "number", "required": True}]})


def one(i, **extra):
    return {"event": "purchase", "id": f"h{i}", "timestamp": "2026-12-01T10:00:00+08:00",
            "customer": {"mobile": f"1380013{i:04d}"}, "data": {"amount": i}, **extra}


def test_an_application_sends_one_event_then_its_duplicate(http, app, purchase):
    headers = {"X-App-Key": app.raw_key}
    first = http.post("/api/v1/events", json=one(1), headers=headers)
    assert first.status_code == 202, first.text
    assert first.json() == {"id": "h1", "status": "accepted"}
    again = http.post("/api/v1/events", json=one(1), headers=headers)
    assert again.status_code == 202 and again.json() == {"id": "h1", "status": "duplicate"}
    process_pending()
    assert EventStat.objects.get().count == 1


def test_a_refused_event_gets_a_clear_4xx_and_is_recorded(http, app, purchase):
    headers = {"X-App-Key": app.raw_key}
    missing = http.post("/api/v1/events", json=one(2, data={}), headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"] == {"code": "missing_field", "message": "The required field amount is missing",
                                       "detail": {"field": "amount", "id": "h2"}}
    chinese = http.post("/api/v1/events", json=one(3, data={"amount": "many"}),
                        headers={**headers, "Accept-Language": "zh-hans"})
    assert chinese.json()["error"]["message"] == "字段 amount 的类型应为 number"
    broken = http.post("/api/v1/events", content=b"{nope", headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_event"
    assert list(Event.objects.order_by("id").values_list("status", "reason")) == [
        ("failed", "missing_field"), ("failed", "wrong_type"), ("failed", "invalid_event")]


def test_a_batch_answers_each_event_in_order(http, app, purchase):
    events = [one(1), one(2, data={}), one(1), one(3, event="nope")]
    resp = http.post("/api/v1/events/batch", json={"events": events}, headers={"X-App-Key": app.raw_key})
    assert resp.status_code == 202, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "failed", "duplicate", "failed"]
    assert results[0] == {"id": "h1", "status": "accepted", "error": None}
    assert results[1]["error"]["code"] == "missing_field" and results[3]["error"]["code"] == "unknown_event"
    too_many = http.post("/api/v1/events/batch", json={"events": [one(i) for i in range(1001)]},
                         headers={"X-App-Key": app.raw_key})
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "invalid_event"


def test_a_personal_token_sends_events_with_the_permission(http, admin, purchase, raw_token, roles):
    resp = http.post("/api/v1/events/batch", json={"events": [one(5)]},
                     headers={"Authorization": f"Bearer {raw_token(admin)}"})
    assert resp.status_code == 202 and resp.json()["results"][0]["status"] == "accepted"
    assert Event.objects.get().application_id is None
    sales = make_user("ev_sales", roles["salesperson"])
    refused = http.post("/api/v1/events", json=one(6), headers={"Authorization": f"Bearer {raw_token(sales)}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"


def test_unknown_keys_and_no_credentials_are_401_and_not_recorded(http, purchase):
    assert http.post("/api/v1/events", json=one(1), headers={"X-App-Key": "sha_nope"}).status_code == 401
    assert http.post("/api/v1/events", json=one(1)).status_code == 401
    assert not Event.objects.exists()


def test_over_the_rate_limit_is_429_with_retry_after(http, app, purchase):
    parameters.set_value("EVENTS_RATE_LIMIT", 3)
    headers = {"X-App-Key": app.raw_key}
    codes = []
    for i in range(8):
        resp = http.post("/api/v1/events", json=one(i), headers=headers)
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert resp.json()["error"]["code"] == "throttled"
    assert 429 in codes and codes.count(202) >= 3
    assert Event.objects.count() == codes.count(202)  # refused requests are not recorded


def test_the_ip_allow_list_and_a_disabled_application(http, app, purchase, admin):
    headers = {"X-App-Key": app.raw_key}
    account_services.application_update(actor=admin, app=app, data={"ip_allow_list": "10.0.0.0/8"})
    refused = http.post("/api/v1/events", json=one(1), headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ip_not_allowed"
    assert refused.json()["error"]["detail"]["ip"] == "127.0.0.1"
    # the allow list holds on the application's other endpoints too
    identify = http.post("/api/v1/customers/identify", json={"mobile": "13800138000"}, headers=headers)
    assert identify.status_code == 403 and identify.json()["error"]["code"] == "ip_not_allowed"
    account_services.application_update(actor=admin, app=app, data={"ip_allow_list": "127.0.0.0/8", "enabled": False})
    disabled = http.post("/api/v1/events", json=one(2), headers=headers)
    assert disabled.status_code == 403 and disabled.json()["error"]["code"] == "application_disabled"
    assert list(Event.objects.order_by("id").values_list("reason", flat=True)) == ["ip_not_allowed",
                                                                                  "application_disabled"]


def test_the_snippet_endpoint_answers_cors_to_its_origins_only(http, app, purchase, admin):
    key = account_services.application_publishable_key(actor=admin, app=app)
    account_services.application_update(actor=admin, app=app, data={
        "publishable_event_types": ["purchase"], "publishable_origins": ["https://shop.example.com"]})
    body = {"key": key, "events": [one(1)]}
    ok = http.post("/api/v1/events/collect", json=body, headers={"Origin": "https://shop.example.com"})
    assert ok.status_code == 202 and ok.json()["results"][0]["status"] == "accepted"
    assert ok.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    evil = http.post("/api/v1/events/collect", json={**body, "events": [one(2)]},
                     headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert evil.json()["results"][0]["error"]["code"] == "origin_not_allowed"
    plain = http.post("/api/v1/events/collect", content=f'{{"key": "{key}", "events": []}}',
                      headers={"Content-Type": "text/plain", "Origin": "https://shop.example.com"})
    assert plain.status_code == 202  # a simple request: no preflight needed
    # the publishable key is write-only: it opens nothing else
    assert http.get("/api/v1/application", headers={"X-App-Key": key}).status_code == 401
    assert http.post("/api/v1/events", json=one(3), headers={"X-App-Key": key}).status_code == 401
    assert http.post("/api/v1/events/collect", json={"key": "shp_nope", "events": []}).status_code == 401


def test_history_and_customer_events_over_http(http, app, purchase, admin, raw_token):
    http.post("/api/v1/events/batch", json={"events": [one(1), one(1, id="h1b"), one(2, data={})]},
              headers={"X-App-Key": app.raw_key})
    process_pending()
    token = {"Authorization": f"Bearer {raw_token(admin)}"}
    page = http.get("/api/v1/event-history", params={"status": "failed"}, headers=token).json()
    assert page["total"] == 1 and page["items"][0]["reason"] == "The required field amount is missing"
    customer_id = next(i["customer_id"] for i in http.get("/api/v1/event-history", headers=token).json()["items"]
                       if i["status"] == "success")
    stats = http.get(f"/api/v1/customers/{customer_id}/events", headers=token).json()
    assert stats[0]["event"] == "purchase" and stats[0]["count"] == 2
