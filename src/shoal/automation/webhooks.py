"""Custom HTTP processors as signed webhooks (Standard Webhooks v1), delivered durably.

A call is rendered once into a :class:`~shoal.automation.models.ProcessorCall` (method, URL with its query,
headers, body) with a ``webhook-id`` kept for every retry. Each attempt is claimed in the database by a
conditional UPDATE (pending and due → running, with a lease and the attempt number incremented), so with
any number of workers an attempt is made once; a :class:`DeliveryAttempt` row unique per (call, number)
records it. Outcomes: 2xx succeeded; 429, 5xx, timeouts and connection errors are retried with backoff
(``Retry-After`` honoured) until ``RETRY_DELAYS`` is used up; 410 fails the call and disables the processor
(its pending calls are cancelled); other answers fail. A worker that dies mid-attempt leaves a lease that
runs out: the attempt is made again (receivers de-duplicate on ``webhook-id``, as the spec expects).

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`` where the key
is the base64 after ``whsec_`` of the processor's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from shoal.core import outbound
from shoal.core.processors import FAILED, PENDING, SUCCEEDED, ProcessorResult

from . import placeholders
from .models import CallStatus, DeliveryAttempt, Processor, ProcessorCall

logger = logging.getLogger("shoal.automation.webhooks")

# after attempt n (1-based) the next one is due RETRY_DELAYS[n-1] later (Standard Webhooks' suggestion)
RETRY_DELAYS = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
MAX_RETRY_AFTER = timedelta(days=1)
LEASE_EXTRA = timedelta(seconds=60)  # beyond the processor's timeout
RESPONSE_KEEP = 2000  # characters of an answer kept on the attempt
USER_AGENT = "Shoal-Webhooks/1"


# -- secrets and signatures ------------------------------------------------------------------------------
def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# -- rendering a call ------------------------------------------------------------------------------------
def _rendered_body(processor: Processor, values: placeholders.Values) -> tuple[bytes, str]:
    """(body, its content type) of the processor's body template."""
    if processor.method == "GET" or processor.body in (None, "", {}):
        return b"", ""
    if isinstance(processor.body, str):
        text = placeholders.render_text(processor.body, values)
        try:
            json.loads(text)
            return text.encode(), "application/json"
        except ValueError:
            return text.encode(), "text/plain; charset=utf-8"
    return outbound.json_body(placeholders.render_json(processor.body, values)), "application/json"


def render_request(processor: Processor, values: placeholders.Values) -> dict:
    params = {placeholders.render_text(str(k), values): placeholders.render_text(str(v), values)
              for k, v in (processor.params or {}).items()}
    headers = {str(k): placeholders.render_text(str(v), values).replace("\r", " ").replace("\n", " ")
               for k, v in (processor.headers or {}).items()}
    body, content_type = _rendered_body(processor, values)
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    return {"method": processor.method, "url": processor.url, "params": params, "headers": headers,
            "body": body.decode()}


# -- creating and attempting -------------------------------------------------------------------------------
def call_create(*, processor: Processor, key: str, customer_id: int | None, event: dict | None,
                values: placeholders.Values) -> tuple[ProcessorCall, bool]:
    """The call of ``key`` (created pending and due now, or the one already there). (call, created)."""
    existing = ProcessorCall.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    call = ProcessorCall(
        key=key, processor_code=processor.code, processor=processor, customer_id=customer_id,
        event_code=str((event or {}).get("code") or (event or {}).get("event") or "")[:64],
        event_id=str((event or {}).get("id") or "")[:200], status=CallStatus.PENDING,
        webhook_id=f"msg_{uuid.uuid4().hex}", request=render_request(processor, values),
        next_attempt_at=timezone.now())
    try:
        with transaction.atomic():
            call.save()
    except IntegrityError:  # the same key at the same moment elsewhere: that one is the call
        return ProcessorCall.objects.get(key=key), False
    return call, True


def _claim(call_id: int, now: datetime, lease: timedelta) -> str | None:
    """Take the call's next attempt (pending and due, or running with its lease run out). The token, or
    None when another worker has it or it is not due."""
    token = uuid.uuid4().hex
    from django.db.models import F

    taken = ProcessorCall.objects.filter(
        Q(status=CallStatus.PENDING, next_attempt_at__lte=now) | Q(status=CallStatus.RUNNING, claimed_until__lt=now),
        pk=call_id,
    ).update(status=CallStatus.RUNNING, claim_token=token, claimed_until=now + lease, attempts=F("attempts") + 1)
    return token if taken == 1 else None


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value) - now
        except (TypeError, ValueError, IndexError):
            return None
    return max(timedelta(0), min(seconds, MAX_RETRY_AFTER))


def attempt(call_id: int, *, now: datetime | None = None) -> ProcessorCall | None:
    """Make the call's due attempt if this worker can claim it; the call afterwards (None: not claimed)."""
    now = now or timezone.now()
    call = ProcessorCall.objects.select_related("processor").filter(pk=call_id).first()
    if call is None:
        return None
    processor = call.processor
    timeout = processor.timeout if processor is not None else 10
    token = _claim(call_id, now, timedelta(seconds=timeout) + LEASE_EXTRA)
    if token is None:
        return None
    call.refresh_from_db()
    if processor is None or not processor.enabled:
        reason = processor.disabled_reason if processor is not None else ""
        _finish(call, token, status=CallStatus.CANCELLED,
                error=_("The processor is disabled") + (f" ({reason})" if reason else ""))
        return call
    attempt_row = DeliveryAttempt.objects.create(call=call, number=call.attempts, started_at=timezone.now())
    started = time.monotonic()
    req = call.request
    body = (req.get("body") or "").encode()
    timestamp = int(time.time())
    headers = {**req.get("headers", {}), "User-Agent": USER_AGENT, "webhook-id": call.webhook_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(processor.secret, call.webhook_id, timestamp, body)}
    code, error, retry_after, answer = None, "", None, ""
    try:
        response = outbound.request(req["method"], req["url"], params=req.get("params") or None, headers=headers,
                                    content=body or None, timeout=timeout, max_bytes=64 * 1024, truncate=True)
        code, answer = response.status_code, response.text[:RESPONSE_KEEP]
        retry_after = _retry_after(response.headers.get("retry-after"), now)
        retryable = code == 429 or code >= 500
        if not 200 <= code < 300:
            error = _("The receiver answered %(code)s") % {"code": code}
    except outbound.OutboundError as exc:
        retryable, error = exc.retryable, exc.message
    duration = int((time.monotonic() - started) * 1000)
    if code is not None and 200 <= code < 300:
        outcome, status, next_at = "succeeded", CallStatus.SUCCEEDED, None
    elif code == 410:
        outcome, status, next_at = "failed", CallStatus.FAILED, None
        error = _("The receiver answered 410 Gone: the processor is disabled")
        _disable(processor, _("The receiver answered 410 Gone"))
    elif retryable and call.attempts < MAX_ATTEMPTS:
        delay = retry_after if retry_after is not None else RETRY_DELAYS[call.attempts - 1]
        outcome, status, next_at = "retry", CallStatus.PENDING, now + delay
    else:
        outcome, status, next_at = "failed", CallStatus.FAILED, None
    DeliveryAttempt.objects.filter(pk=attempt_row.pk).update(duration_ms=duration, response_code=code, error=error,
                                                              response_body=answer, outcome=outcome)
    _finish(call, token, status=status, response_code=code, error=error, duration_ms=duration, next_at=next_at)
    if next_at is not None:
        _enqueue_retry(call.pk, next_at)
    return call


def _finish(call: ProcessorCall, token: str, *, status: str, response_code: int | None = None, error: str = "",
            duration_ms: int = 0, next_at: datetime | None = None) -> None:
    done = status != CallStatus.PENDING
    values = {"status": status, "response_code": response_code, "error": error, "duration_ms": duration_ms,
              "next_attempt_at": next_at, "claim_token": "", "claimed_until": None,
              "finished_at": timezone.now() if done else None}
    # only while the claim is still ours (a lease that ran out may have been taken by another worker)
    ProcessorCall.objects.filter(pk=call.pk, claim_token=token).update(**values)
    for name, value in values.items():
        setattr(call, name, value)


def _disable(processor: Processor, reason: str) -> None:
    Processor.objects.filter(pk=processor.pk).update(enabled=False, disabled_reason=reason[:200],
                                                     updated_at=timezone.now())
    processor.enabled = False
    ProcessorCall.objects.filter(processor=processor, status=CallStatus.PENDING).update(
        status=CallStatus.CANCELLED, error=reason, finished_at=timezone.now(), next_attempt_at=None)


@task()
def deliver(call_id: int) -> str:
    """Worker entry point of a retry: attempt the call if it is due and unclaimed (idempotent)."""
    call = attempt(call_id)
    return "skipped" if call is None else call.status


def _enqueue_retry(call_id: int, due: datetime) -> None:
    def enqueue():
        try:
            deliver.using(run_after=due).enqueue(call_id)
        except Exception:  # the periodic sweep picks it up anyway
            logger.exception("could not enqueue the retry of call %s", call_id)

    transaction.on_commit(enqueue)


def deliveries_run(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Attempt every due delivery (and those whose worker's lease ran out). Safe with many workers: each
    attempt is claimed once. ``{"attempted", "succeeded", "retrying", "failed"}``."""
    now = now or timezone.now()
    due = list(ProcessorCall.objects.filter(
        Q(status=CallStatus.PENDING, next_attempt_at__lte=now) | Q(status=CallStatus.RUNNING, claimed_until__lt=now),
        processor__isnull=False,
    ).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    counts = {"attempted": 0, "succeeded": 0, "retrying": 0, "failed": 0}
    for call_id in due:
        call = attempt(call_id, now=now)
        if call is None:
            continue
        counts["attempted"] += 1
        key = {CallStatus.SUCCEEDED: "succeeded", CallStatus.PENDING: "retrying"}.get(call.status, "failed")
        counts[key] += 1
    return counts


def result_of(call: ProcessorCall) -> ProcessorResult:
    status = {CallStatus.SUCCEEDED: SUCCEEDED, CallStatus.PENDING: PENDING, CallStatus.RUNNING: PENDING}.get(
        call.status, FAILED)
    return ProcessorResult(status=status, response_code=call.response_code, error=call.error,
                           duration_ms=call.duration_ms,
                           detail={**(call.detail or {}), "attempts": call.attempts, "webhook_id": call.webhook_id,
                                   "next_attempt_at": call.next_attempt_at.isoformat() if call.next_attempt_at else None})
