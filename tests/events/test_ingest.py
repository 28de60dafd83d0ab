"""Ingestion: accepted events are recorded and queued; refused ones are recorded with their reason and leave
no dedup key; resent events are duplicates for ever; customers are found or created; the application's
state, IP allow list, publishable key and rate limit apply."""

import pytest
from django.utils import translation

from shoal.accounts import services as accounts
from shoal.core import parameters
from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.customers import services as customer_services
from shoal.customers.models import Customer
from shoal.events import ratelimit
from shoal.events.models import Event, EventKey, EventStat, PendingEvent
from shoal.events.reasons import reason_text
from shoal.events.services import types
from shoal.events.services.ingest import BadBody, Caller, ingest
from shoal.events.services.processing import process_pending

from .conftest import event, send

pytestmark = pytest.mark.django_db


def test_an_accepted_event_is_recorded_queued_and_keyed(app, purchase):
    [result] = send(app, event(1, data={"amount": 12.5, "sku": "A1"}, timestamp="2026-11-30T08:00:00+08:00"))
    assert result == {"id": "e1", "status": "accepted", "error": None, "http_status": 202}
    stored = Event.objects.get()
    assert (stored.status, stored.reason, stored.event_type_id, stored.application_id) == ("success", "", purchase.pk, app.pk)
    assert stored.customer_id == Customer.objects.get(ent_user_id="u1").pk
    assert stored.occurred_at.isoformat() == "2026-11-30T00:00:00+00:00"
    assert stored.payload["data"] == {"amount": 12.5, "sku": "A1"}
    assert list(PendingEvent.objects.values_list("event_id", flat=True)) == [stored.pk]
    assert EventKey.objects.filter(source=app.pk, client_id="e1").exists()


def test_a_resent_event_is_a_duplicate_and_processed_once(app, purchase):
    assert send(app, event(1))[0]["status"] == "accepted"
    process_pending()
    for _ in range(3):
        assert send(app, event(1))[0]["status"] == "duplicate"
    process_pending()
    assert Event.objects.count() == 1
    assert EventStat.objects.get().count == 1


def test_the_same_id_twice_in_one_batch_counts_once(app, purchase):
    results = send(app, event(1), event(1), event(2))
    assert [r["status"] for r in results] == ["accepted", "duplicate", "accepted"]
    assert Event.objects.count() == 2


def test_ids_are_unique_per_application(app, purchase):
    other, _key = accounts.application_create(actor=SYSTEM, name="CRM2")
    assert send(app, event(1))[0]["status"] == "accepted"
    assert send(other, event(1))[0]["status"] == "accepted"
    assert send(other, event(1))[0]["status"] == "duplicate"


def test_an_event_without_id_gets_one_and_is_never_a_duplicate(app, purchase):
    body = event(1)
    del body["id"]
    first, second = send(app, body, dict(body))
    assert first["status"] == second["status"] == "accepted"
    assert first["id"] != second["id"] and len(first["id"]) == 32
    assert not EventKey.objects.exists()


REFUSALS = [
    ("unknown type", event(1, code="nope"), "unknown_event"),
    ("required field absent", event(1, data={"sku": "A"}), "missing_field"),
    ("required field null", event(1, data={"amount": None}), "missing_field"),
    ("required field empty", event(1, data={"amount": ""}), "missing_field"),
    ("number as text", event(1, data={"amount": "12"}), "wrong_type"),
    ("number as boolean", event(1, data={"amount": True}), "wrong_type"),
    ("text as number", event(1, data={"amount": 1, "sku": 7}), "wrong_type"),
    ("boolean as text", event(1, data={"amount": 1, "paid": "true"}), "wrong_type"),
    ("impossible date", event(1, data={"amount": 1, "day": "2026-02-30"}), "wrong_type"),
    ("date with a time", event(1, data={"amount": 1, "day": "2026-02-03T10:00:00"}), "wrong_type"),
    ("datetime as words", event(1, data={"amount": 1, "paid_at": "yesterday"}), "wrong_type"),
    ("object as list", event(1, data={"amount": 1, "meta": [1]}), "wrong_type"),
    ("list as object", event(1, data={"amount": 1, "items": {"a": 1}}), "wrong_type"),
    ("bad timestamp", event(1, timestamp="31/12/2026"), "bad_timestamp"),
    ("timestamp as a date only", event(1, timestamp="2026-12-31"), "bad_timestamp"),
    ("not an object", ["purchase"], "invalid_event"),
    ("no event code", {"id": "x", "customer": {"ent_user_id": "u"}, "data": {}}, "invalid_event"),
    ("unknown key", event(1, properties={}), "invalid_event"),
    ("id is an object", event(1, id={"a": 1}), "invalid_event"),
    ("data is a list", event(1, data=[1]), "invalid_event"),
    ("no customer", {"event": "purchase", "id": "x", "data": {"amount": 1}}, "invalid_event"),
    ("customer without identity", event(1, customer={"name": "张三"}), "invalid_event"),
    ("customer with an unknown key", event(1, customer={"ent_user_id": "u1", "city": "杭州"}), "invalid_event"),
    ("invalid mobile", event(1, customer={"mobile": "12345"}), "invalid_customer"),
    ("not JSON", BadBody("{oops"), "invalid_event"),
]


@pytest.mark.parametrize("label, body, code", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_event_is_recorded_with_its_reason_and_leaves_no_key(app, purchase, label, body, code):
    [result] = send(app, body)
    assert result["status"] == "failed"
    assert result["error"]["code"] == code
    assert result["error"]["message"] and result["http_status"] >= 400
    stored = Event.objects.get()
    assert (stored.status, stored.reason) == ("failed", code)
    assert stored.application_id == app.pk
    assert not EventKey.objects.exists() and not PendingEvent.objects.exists()
    assert not Customer.objects.exists()
    with translation.override("zh-hans"):
        assert reason_text(stored.reason, stored.reason_detail) != reason_text(stored.reason, stored.reason_detail) \
            .encode("ascii", "ignore").decode()  # said in Chinese


def test_reasons_name_the_field_and_type(app, purchase):
    missing, wrong = send(app, event(1, data={}), event(2, data={"amount": "x"}))
    assert missing["error"]["detail"] == {"field": "amount"}
    assert "amount" in missing["error"]["message"]
    assert wrong["error"]["detail"] == {"field": "amount", "expected": "number"}
    with translation.override("zh-hans"):
        stored = Event.objects.get(client_id="e1")
        assert reason_text(stored.reason, stored.reason_detail) == "缺少必填字段 amount"


def test_a_disabled_event_type_is_refused(app, purchase):
    types.event_types_set_enabled(actor=SYSTEM, ids=[purchase.pk], enabled=False)
    [result] = send(app, event(1))
    assert result["error"]["code"] == "event_disabled"
    assert Event.objects.get().event_type_id == purchase.pk


def test_a_refused_event_may_be_resent_once_fixed(app, purchase):
    assert send(app, event(1, data={}))[0]["status"] == "failed"
    assert send(app, event(1))[0]["status"] == "accepted"
    assert send(app, event(1))[0]["status"] == "duplicate"
    assert list(Event.objects.order_by("id").values_list("status", flat=True)) == ["failed", "success"]


def test_a_too_large_event_is_refused_and_recorded_truncated(app, purchase):
    parameters.set_value("EVENTS_MAX_EVENT_BYTES", 1024)
    [result] = send(app, event(1, data={"amount": 1, "sku": "x" * 2000}))
    assert result["error"]["code"] == "too_large" and result["http_status"] == 413
    stored = Event.objects.get()
    assert stored.payload["truncated"] is True and stored.payload["event"] == "purchase"


def test_unknown_customers_are_created_with_source_api_once_per_batch(app, purchase):
    results = send(app, event(1, customer={"mobile": "13800138000"}), event(2, customer={"mobile": "+86 138 0013 8000"}))
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    customer = Customer.objects.get()
    assert customer.source == "api" and customer.mobile == "+8613800138000"
    assert list(Event.objects.order_by("id").values_list("customer_id", "customer_created")) == [
        (customer.pk, True), (customer.pk, False)]


def test_a_type_that_does_not_create_customers_refuses_unknown_ones(app, purchase):
    types.event_type_update(actor=SYSTEM, event_type=purchase, data={"create_customers": False})
    known = customer_services.customer_create(actor=SYSTEM, data={"ent_user_id": "u1"})
    known_result, unknown_result = send(app, event(1), event(2))
    assert known_result["status"] == "accepted"
    assert unknown_result["error"]["code"] == "unknown_customer"
    assert list(Customer.objects.values_list("pk", flat=True)) == [known.pk]


def test_identity_values_of_two_customers_are_a_conflict(app, purchase):
    a = customer_services.customer_create(actor=SYSTEM, data={"mobile": "13800138001"})
    b = customer_services.customer_create(actor=SYSTEM, data={"email": "b@example.com"})
    [result] = send(app, event(1, customer={"mobile": "13800138001", "email": "b@example.com"}))
    assert result["error"]["code"] == "customer_conflict"
    assert sorted(result["error"]["detail"]["customers"]) == sorted([a.pk, b.pk])


def test_a_disabled_application_is_refused_and_recorded(app, purchase):
    accounts.application_update(actor=SYSTEM, app=app, data={"enabled": False})
    results = send(app, event(1), event(2))
    assert {r["error"]["code"] for r in results} == {"application_disabled"}
    assert list(Event.objects.order_by().values_list("status", "reason").distinct()) == [("failed", "application_disabled")]


@pytest.mark.parametrize("allow, ip, accepted", [
    ("", "203.0.113.9", True),
    ("10.0.0.0/8\n203.0.113.7", "203.0.113.7", True),
    ("10.0.0.0/8", "10.20.30.40", True),
    ("10.0.0.0/8", "::ffff:10.1.2.3", True),
    ("10.0.0.0/8", "192.168.1.5", False),
    ("10.0.0.0/8", None, False),
    ("2001:db8::/32", "2001:db8::1", True),
    ("2001:db8::/32", "10.0.0.1", False),
])
def test_the_ip_allow_list_admits_only_its_networks(app, purchase, allow, ip, accepted):
    accounts.application_update(actor=SYSTEM, app=app, data={"ip_allow_list": allow})
    [result] = ingest(caller=Caller(application=app, ip=ip), items=[event(1)])
    if accepted:
        assert result["status"] == "accepted"
    else:
        assert result["error"]["code"] == "ip_not_allowed" and result["http_status"] == 403
        stored = Event.objects.get()
        assert (stored.reason, stored.reason_detail, str(stored.ip or "")) == ("ip_not_allowed", {"ip": ip or ""}, ip or "")


def test_a_bad_allow_list_is_refused_when_saved(app):
    with pytest.raises(ShoalError) as exc:
        accounts.application_update(actor=SYSTEM, app=app, data={"ip_allow_list": "10.0.0.0/8, not-a-network"})
    assert "not-a-network" in exc.value.message


def test_a_publishable_key_sends_only_its_types_from_its_origins(app, purchase, login):
    accounts.application_update(actor=SYSTEM, app=app, data={"publishable_event_types": ["login"],
                                                              "publishable_origins": ["https://shop.example.com/"]})

    def snippet(origin, *items):
        return ingest(caller=Caller(application=app, origin=origin, publishable=True, source="snippet"), items=list(items))

    assert snippet("https://shop.example.com", event(1, code="login", data={}))[0]["status"] == "accepted"
    assert snippet("https://shop.example.com", event(2))[0]["error"]["code"] == "event_not_allowed"
    assert snippet("https://evil.example.com", event(3, code="login", data={}))[0]["error"]["code"] == "origin_not_allowed"
    assert snippet(None, event(4, code="login", data={}))[0]["error"]["code"] == "origin_not_allowed"
    assert Event.objects.get(status="success").source == "snippet"


def test_the_rate_limit_refuses_what_passes_it_and_records_nothing(app, purchase, monkeypatch):
    parameters.set_value("EVENTS_RATE_LIMIT", 5)
    clock = {"now": 1_800_000_000.25}
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock["now"])
    assert len(send(app, event(1), event(2), event(3))) == 3
    with pytest.raises(ShoalError) as exc:
        send(app, event(4), event(5), event(6))
    assert exc.value.status == 429 and exc.value.detail["retry_after"] == 1
    assert Event.objects.count() == 3  # the refused request recorded nothing
    assert [r["status"] for r in send(app, event(4), event(5))] == ["accepted", "accepted"]  # up to the limit
    clock["now"] += 1  # the next second
    assert [r["status"] for r in send(app, event(6), event(7), event(8))] == ["accepted"] * 3


def test_the_rate_limit_is_per_application(app, purchase, monkeypatch):
    parameters.set_value("EVENTS_RATE_LIMIT", 2)
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_800_000_000.5)
    other, _key = accounts.application_create(actor=SYSTEM, name="Other")
    send(app, event(1), event(2))
    assert send(other, event(1), event(2))[1]["status"] == "accepted"
    with pytest.raises(ShoalError):
        send(app, event(3))


def test_a_batch_of_more_than_1000_is_refused(app, purchase):
    with pytest.raises(ShoalError) as exc:
        send(app, *[event(i) for i in range(1001)])
    assert exc.value.status == 400
    assert not Event.objects.exists()


def test_a_user_sends_events_only_for_customers_in_their_scope(purchase, personas):
    from shoal.customers.models import CustomerGroup, CustomerGroupMembership

    salesperson = personas["salesperson"]
    mine = customer_services.customer_create(actor=SYSTEM, data={"ent_user_id": "mine"})
    theirs = customer_services.customer_create(actor=SYSTEM, data={"ent_user_id": "theirs"})
    group = CustomerGroup.objects.create(name="G")
    CustomerGroupMembership.objects.create(customer=mine, group=group, salesperson=salesperson)
    ok, refused = ingest(caller=Caller(user=salesperson), items=[
        event(1, customer={"ent_user_id": "mine"}), event(2, customer={"ent_user_id": "theirs"})])
    assert ok["status"] == "accepted"
    assert refused["error"]["code"] == "invalid_customer"
    assert Event.objects.get(status="success").customer_id == mine.pk and theirs.pk
    assert Event.objects.get(status="success").application_id is None
