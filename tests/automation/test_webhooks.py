"""Custom HTTP processors: rendered placeholders, Standard Webhooks signatures verified by a receiver,
durable retries (same webhook-id, Retry-After honoured), 410, and each attempt once with two workers."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from shoal.automation import runner, services, webhooks
from shoal.automation.models import CallStatus, DeliveryAttempt, Processor, ProcessorCall
from shoal.customers import services as customer_services
from tests.together import at_once


def verify(secret: str, request: dict) -> bool:
    """A receiver's check, written from the spec (not with Shoal's code)."""
    headers = request["headers"]
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(sig.split(",", 1)[1], expected) for sig in headers["webhook-signature"].split(" ")
               if sig.startswith("v1,"))


@pytest.fixture
def customer(db):
    return customer_services.customer_create(actor=None, data={"name": "张三", "mobile": "13800138000",
                                                               "email": "zhang@example.com"})


def _processor(receiver, **data):
    values = {"name": "Hook", "url": receiver.url + "/hook", "method": "POST",
              "params": {"uid": "${customer.id}"},
              "body": {"user": "${user_name}", "amount": "${amount}", "order": "${order}",
                       "text": "尊敬的${user_name}，订单 ${order.id}", "mobile": "${customer.mobile}"},
              "headers": {"X-Source": "shoal"}, **data}
    return services.processor_create(actor=None, data=values)


EVENT = {"code": "transaction", "id": "ev-1", "timestamp": "2025-01-02T03:04:05+08:00",
         "data": {"user_name": "张三", "amount": 99.5, "order": {"id": "A-1", "items": [1, 2]}}}


def test_a_call_is_signed_and_its_placeholders_filled(allow_loopback, receiver, customer):
    processor, secret = _processor(receiver)
    assert secret.startswith("whsec_") and Processor.objects.get(pk=processor.pk).secret == secret
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="d-1")
    assert result.status == "succeeded" and result.response_code == 200
    request = receiver.requests[0]
    assert verify(secret, request)
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert abs(int(request["headers"]["webhook-timestamp"]) - int(timezone.now().timestamp())) < 60
    assert request["path"] == f"/hook?uid={customer.pk}"
    assert request["headers"]["x-source"] == "shoal" and request["headers"]["content-type"] == "application/json"
    assert json.loads(request["body"]) == {"user": "张三", "amount": 99.5, "order": {"id": "A-1", "items": [1, 2]},
                                           "text": "尊敬的张三，订单 A-1", "mobile": "+8613800138000"}


def test_a_text_body_gets_objects_as_json(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver, body='{"who": "${user_name}", "order": ${order}, "missing": "${nope}"}')
    runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="d-2")
    assert receiver.json() == {"who": "张三", "order": {"id": "A-1", "items": [1, 2]}, "missing": ""}


def test_a_get_processor_sends_only_its_query(allow_loopback, receiver, customer):
    processor, secret = _processor(receiver, method="GET", params={"mobile": "${customer.mobile}", "n": "${amount}"})
    runner.processor_run(processor.pk, customer_id=customer.pk, event=EVENT, delivery_id="d-3")
    request = receiver.requests[0]
    from urllib.parse import parse_qs, urlsplit

    path = urlsplit(request["path"])
    assert request["method"] == "GET" and path.path == "/hook"
    assert parse_qs(path.query) == {"mobile": ["+8613800138000"], "n": ["99.5"]}  # jsonb keeps no key order
    assert request["body"] == b"" and verify(secret, request)


def test_the_same_delivery_id_runs_once(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver)
    first = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="once")
    again = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="once")
    assert len(receiver.requests) == 1 and first.status == again.status == "succeeded"
    assert runner.processor_calls(["once"])["once"].status == "succeeded"


def test_retries_keep_the_webhook_id_and_honour_retry_after(allow_loopback, receiver, customer):
    processor, secret = _processor(receiver)
    receiver.answers = [(503, {"Retry-After": "120"}, b"busy"), (500, {}, b"oops"), (200, {}, b"ok")]
    start = timezone.now()
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="r-1")
    assert result.status == "pending" and result.response_code == 503
    call = ProcessorCall.objects.get(key="r-1")
    assert call.status == CallStatus.PENDING and call.attempts == 1
    assert timedelta(seconds=115) < call.next_attempt_at - start < timedelta(seconds=125)  # Retry-After, not 5 s
    assert webhooks.deliveries_run(now=start + timedelta(seconds=100)) == {"attempted": 0, "succeeded": 0,
                                                                          "retrying": 0, "failed": 0}
    assert len(receiver.requests) == 1
    later = start + timedelta(seconds=130)
    assert webhooks.deliveries_run(now=later)["retrying"] == 1  # the 500: backoff (attempt 2 → 5 minutes)
    call.refresh_from_db()
    assert call.next_attempt_at - later == webhooks.RETRY_DELAYS[1]
    assert webhooks.deliveries_run(now=call.next_attempt_at)["succeeded"] == 1
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {call.webhook_id}
    assert all(verify(secret, r) for r in receiver.requests)
    assert [r["body"] for r in receiver.requests] == [receiver.requests[0]["body"]] * 3
    call.refresh_from_db()
    assert call.status == CallStatus.SUCCEEDED and call.attempts == 3
    assert list(DeliveryAttempt.objects.filter(call=call).values_list("number", "response_code", "outcome")) == [
        (1, 503, "retry"), (2, 500, "retry"), (3, 200, "succeeded")]
    assert runner.processor_calls(["r-1"])["r-1"].status == "succeeded"


def test_a_timeout_is_retried_and_attempts_run_out(allow_loopback, receiver, customer):
    import time

    processor, _ = _processor(receiver, timeout=1)
    receiver.handler = lambda request: (time.sleep(1.6), (200, {}, b"late"))[1]
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="t-1")
    assert result.status == "pending" and result.response_code is None and result.error
    receiver.handler = None
    receiver.answers = [(502, {}, b"")]
    call = ProcessorCall.objects.get(key="t-1")
    now = timezone.now()
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        now += timedelta(days=2)
        webhooks.deliveries_run(now=now)
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.attempts == webhooks.MAX_ATTEMPTS
    assert webhooks.deliveries_run(now=now + timedelta(days=2))["attempted"] == 0


def test_410_disables_the_processor_and_cancels_its_pending_calls(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver)
    receiver.answers = [(503, {}, b"")]
    runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="g-1")
    receiver.answers = [(503, {}, b""), (410, {}, b"gone")]
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="g-2")
    assert result.status == "failed" and result.response_code == 410
    processor.refresh_from_db()
    assert not processor.enabled and "410" in processor.disabled_reason
    assert ProcessorCall.objects.get(key="g-1").status == CallStatus.CANCELLED
    skipped = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="g-3")
    assert skipped.status == "skipped" and len(receiver.requests) == 2
    assert webhooks.deliveries_run(now=timezone.now() + timedelta(days=1))["attempted"] == 0


def test_a_4xx_answer_fails_without_retry(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver)
    receiver.answers = [(400, {}, b"bad")]
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="f-1")
    assert result.status == "failed" and result.response_code == 400
    assert ProcessorCall.objects.get(key="f-1").next_attempt_at is None


def test_a_refused_address_fails_the_call_without_retry(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver, url=receiver.url.replace("127.0.0.1", "127.0.0.3") + "/hook")
    allow_loopback.SHOAL_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # narrowed after the processor was saved
    result = runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="b-1")
    assert result.status == "failed" and "127.0.0.3" in result.error and receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_make_each_attempt_once(allow_loopback, receiver):
    customer = customer_services.customer_create(actor=None, data={"name": "李四", "mobile": "13900139000"})
    processor, _ = _processor(receiver)
    values = runner.placeholders.Values(event_data=EVENT["data"], customer=customer, event=EVENT)
    keys = [f"w-{i}" for i in range(40)]
    for key in keys:
        webhooks.call_create(processor=processor, key=key, customer_id=customer.pk, event=EVENT, values=values)
    results = at_once(webhooks.deliveries_run, timeout=60)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(r["attempted"] for r in results) == 40
    assert DeliveryAttempt.objects.count() == 40
    assert set(ProcessorCall.objects.values_list("status", flat=True)) == {CallStatus.SUCCEEDED}


def test_a_worker_that_died_mid_attempt_leaves_a_lease_that_runs_out(allow_loopback, receiver, customer):
    processor, _ = _processor(receiver)
    values = runner.placeholders.Values(event_data=EVENT["data"], customer=customer, event=EVENT)
    call, _ = webhooks.call_create(processor=processor, key="lease", customer_id=customer.pk, event=EVENT, values=values)
    now = timezone.now()
    assert webhooks._claim(call.pk, now, timedelta(seconds=70))  # a worker took it, then died
    assert webhooks.deliveries_run(now=now + timedelta(seconds=60))["attempted"] == 0
    assert webhooks.deliveries_run(now=now + timedelta(seconds=71))["succeeded"] == 1
    call.refresh_from_db()
    assert call.attempts == 2 and len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retry_is_queued_for_the_workers_at_its_due_time(allow_loopback, receiver):
    from django_tasks_db.models import DBTaskResult

    customer = customer_services.customer_create(actor=None, data={"name": "周七", "mobile": "13600136000"})
    processor, _ = _processor(receiver)
    receiver.answers = [(503, {"Retry-After": "30"}, b""), (200, {}, b"ok")]
    runner.processor_run(processor.code, customer_id=customer.pk, event=EVENT, delivery_id="q-1")
    call = ProcessorCall.objects.get(key="q-1")
    queued = DBTaskResult.objects.get(task_path="shoal.automation.webhooks.deliver")
    assert queued.args_kwargs["args"] == [call.pk] and queued.run_after == call.next_attempt_at
    assert webhooks.deliver.func(call.pk) == "skipped"  # not due yet: nothing is sent early
    ProcessorCall.objects.filter(pk=call.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver.func(call.pk) == "succeeded" and len(receiver.requests) == 2
