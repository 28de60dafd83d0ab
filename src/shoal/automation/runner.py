"""Running processors, built-in (``shoal.core.processors``) and custom HTTP ones, by code or id — what the
strategies call — and checking an action's parameters when a strategy is saved.

- :func:`processor_run` runs one action for one customer and event, once per ``delivery_id``: the call is
  recorded (``ProcessorCall``, key unique) before the processor runs, so a second run of the same id runs
  nothing and answers the recorded result. A custom HTTP processor's call is a durable webhook delivery
  (first attempt now, retries by the workers: ``shoal.automation.webhooks``); its result is ``pending``
  while retries remain.
- :func:`processor_validate_params` checks an action's parameters against the processor's schema and, with
  ``available_keys`` (the event type's field keys), that every ``${placeholder}`` is defined.
- :func:`placeholders_missing` is that check for any text or JSON-like template.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import ValidationError

from shoal.core.errors import NotFound, ShoalError
from shoal.core.processors import (
    FAILED,
    PROCESSORS,
    SKIPPED,
    ProcessorContext,
    ProcessorResult,
    ProcessorSpec,
)

from . import placeholders, webhooks
from .models import CallStatus, Processor, ProcessorCall

logger = logging.getLogger("shoal.automation")


def resolve(code_or_id) -> ProcessorSpec | Processor:
    """The built-in processor of that code, or the custom one of that code or id (404 otherwise)."""
    text = str(code_or_id).strip()
    if text in PROCESSORS:
        return PROCESSORS[text]
    found = Processor.objects.filter(code=text).first()
    if found is None and text.isdigit() and len(text) < 19:
        found = Processor.objects.filter(pk=int(text)).first()
    if found is None:
        raise NotFound(_("No processor %(ref)s") % {"ref": text}, {"processor": text})
    return found


def placeholders_missing(template, available_keys: Iterable[str]) -> list[str]:
    """The ``${…}`` names of ``template`` (a text, or the strings of a JSON-like value) that the event type's
    fields (``available_keys``), the customer (``customer.*``) and the event (``event.id|code|timestamp``)
    do not define."""
    return placeholders.missing(template, available_keys)


def _params_error(exc: ValidationError) -> ShoalError:
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "invalid"),
               "type": e.get("type", "")} for e in exc.errors()]
    return ShoalError("invalid_params", _("The processor's parameters are not valid"), {"errors": errors})


def _validated(spec: ProcessorSpec, params):
    try:
        model = spec.params.model_validate(params if params is not None else {})
    except ValidationError as exc:
        raise _params_error(exc)
    if spec.check is not None:
        spec.check(model)
    return model


def processor_validate_params(code_or_id, params: dict | None = None, *,
                              available_keys: Iterable[str] | None = None) -> dict:
    """The action's parameters, validated (a 400 ``invalid_params`` names the fields). With
    ``available_keys``, a placeholder none of them defines is refused (``unknown_placeholders``)."""
    target = resolve(code_or_id)
    if isinstance(target, Processor):
        if params:
            raise ShoalError("invalid_params", _("A custom processor takes no action parameters"),
                             {"errors": [{"field": k, "message": "extra"} for k in params]})
        cleaned, needed, provided = {}, [target.params, target.body, target.headers], set()
    else:
        model = _validated(target, params)
        cleaned = model.model_dump(mode="json")
        needed = [cleaned.get(name) for name in target.template_params]
        provided: set[str] = set()
        if target.placeholders is not None:
            more, provided = target.placeholders(model)
            needed.append(sorted(f"${{{n}}}" for n in more))
    if available_keys is not None:
        missing = placeholders.missing(needed, available_keys, provided=provided)
        if missing:
            raise ShoalError("unknown_placeholders",
                             _("The event does not define these placeholders: %(names)s")
                             % {"names": ", ".join(missing)}, {"placeholders": missing})
    return cleaned


def _recorded(key: str) -> ProcessorCall | None:
    return ProcessorCall.objects.filter(key=key).first()


def call_result(call: ProcessorCall) -> ProcessorResult:
    return webhooks.result_of(call)


def processor_calls(delivery_ids: Iterable[str]) -> dict[str, ProcessorResult]:
    """The recorded results of these delivery ids (the event history shows them)."""
    keys = list(dict.fromkeys(str(k) for k in delivery_ids))
    out: dict[str, ProcessorResult] = {}
    for start in range(0, len(keys), 1000):
        for call in ProcessorCall.objects.filter(key__in=keys[start:start + 1000]):
            out[call.key] = call_result(call)
    return out


def processor_run(code_or_id, *, customer_id: int | None, event: dict | None = None, params: dict | None = None,
                  delivery_id: str | None = None) -> ProcessorResult:
    """Run one action (see the module's text). ``event``: ``{"code", "id", "timestamp", "data": {…}}``.
    Never raises for a processor's failure: the result says it."""
    from shoal.customers.models import Customer

    key = str(delivery_id or f"run-{uuid.uuid4().hex}")[:200]
    recorded = _recorded(key)
    if recorded is not None:
        return call_result(recorded)
    try:
        target = resolve(code_or_id)
    except NotFound as exc:
        return ProcessorResult(FAILED, error=exc.message)
    customer = Customer.objects.filter(pk=customer_id).first() if customer_id is not None else None
    event = dict(event or {})
    event_data = event.get("data") if isinstance(event.get("data"), dict) else {}
    values = placeholders.Values(event_data=event_data, customer=customer,
                                 event={"id": event.get("id"), "code": event.get("code") or event.get("event"),
                                        "timestamp": event.get("timestamp")})
    if isinstance(target, Processor):
        return _run_custom(target, key=key, customer_id=customer_id, event=event, values=values)
    call = _open_call(key, target.code, customer_id, event)
    if call is None:
        return call_result(_recorded(key))
    try:
        model = _validated(target, params)
        if customer_id is not None and customer is None:
            result = ProcessorResult(FAILED, error=_("Customer %(id)s not found") % {"id": customer_id})
        else:
            context = ProcessorContext(delivery_id=key, processor_code=target.code, event=event, values=values)
            result = target.run(customer=customer, event_data=event_data, params=model, context=context)
    except ShoalError as exc:
        result = ProcessorResult(FAILED, error=exc.message, detail={"code": exc.code})
    except Exception as exc:  # a processor's bug: recorded on the call, the strategy goes on
        logger.exception("processor %s failed", target.code)
        result = ProcessorResult(FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    _close_call(call, result)
    return result


def _open_call(key: str, code: str, customer_id, event: dict) -> ProcessorCall | None:
    try:
        with transaction.atomic():
            return ProcessorCall.objects.create(
                key=key, processor_code=code, customer_id=customer_id, status=CallStatus.RUNNING,
                event_code=str(event.get("code") or event.get("event") or "")[:64],
                event_id=str(event.get("id") or "")[:200], attempts=1)
    except IntegrityError:  # the same delivery id runs elsewhere, or ran: that one counts
        return None


def _close_call(call: ProcessorCall, result: ProcessorResult) -> None:
    status = {"succeeded": CallStatus.SUCCEEDED, "skipped": CallStatus.SKIPPED}.get(result.status, CallStatus.FAILED)
    detail = {k: v for k, v in (result.detail or {}).items() if isinstance(v, str | int | float | bool | list | dict)
              or v is None}
    ProcessorCall.objects.filter(pk=call.pk).update(
        status=status, response_code=result.response_code, error=result.error[:5000], duration_ms=result.duration_ms,
        detail=detail, finished_at=timezone.now())


def _run_custom(processor: Processor, *, key: str, customer_id, event: dict,
                values: placeholders.Values) -> ProcessorResult:
    if not processor.enabled:
        return ProcessorResult(SKIPPED, error=_("The processor %(name)s is disabled") % {"name": processor.name})
    call, created = webhooks.call_create(processor=processor, key=key, customer_id=customer_id, event=event,
                                         values=values)
    if created:
        webhooks.attempt(call.pk)
        call.refresh_from_db()
    return call_result(call)
