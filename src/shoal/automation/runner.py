"""Running processors, built-in (``shoal.core.processors``) and custom HTTP ones, by code or id — what the
strategies call — and checking an action's parameters when a strategy is saved.

- :func:`processor_run` runs one action for one customer and event, once per ``delivery_id``: the call is
  recorded (``ProcessorCall``, key unique) before the processor runs, so a second run of the same id runs
  nothing and answers the recorded result. A custom HTTP processor's call is a durable webhook delivery
  (first attempt now, retries by the workers: ``shoal.automation.webhooks``); its result is ``pending``
  while retries remain.
- :func:`processor_run_batch` does what :func:`processor_run` does for many actions at once (the strategy
  workers' path): built-in ones recorded, run and closed in a few statements, custom ones one by one.
- :func:`processor_validate_params` checks an action's parameters against the processor's schema and, with
  ``available_keys`` (the event type's field keys), that every ``${placeholder}`` is defined.
- :func:`placeholders_missing` is that check for any text or JSON-like template.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import ValidationError

from shoal.core import batch_sql
from shoal.core.errors import NotFound, ShoalError
from shoal.core.processors import (
    FAILED,
    PROCESSORS,
    SKIPPED,
    SUCCEEDED,
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
    if isinstance(target, Processor):
        return _run_custom(target, key=key, customer_id=customer_id, event=event,
                           values=_values(event, customer))
    call = _open_call(key, target.code, customer_id, event)
    if call is None:
        return call_result(_recorded(key))
    result = _run_builtin(target, key=key, params=params, customer_id=customer_id, customer=customer, event=event)
    _close_call(call, result)
    return result


def _event_data(event: dict) -> dict:
    return event.get("data") if isinstance(event.get("data"), dict) else {}


def _values(event: dict, customer) -> placeholders.Values:
    return placeholders.Values(event_data=_event_data(event), customer=customer,
                               event={"id": event.get("id"), "code": event.get("code") or event.get("event"),
                                      "timestamp": event.get("timestamp")})


def _run_builtin(spec: ProcessorSpec, *, key: str, params, customer_id, customer, event: dict,
                 models: dict | None = None) -> ProcessorResult:
    """One built-in processor's run for a recorded call (never raises). ``models``: validated parameters by
    (code, parameters) shared by the runs of one batch."""
    try:
        if models is None:
            model = _validated(spec, params)
        else:
            cache_key = (spec.code, json.dumps(params, sort_keys=True, default=str))
            if cache_key not in models:
                try:
                    models[cache_key] = _validated(spec, params)
                except ShoalError as exc:
                    models[cache_key] = exc
            model = models[cache_key]
            if isinstance(model, ShoalError):
                raise model
        if customer_id is not None and customer is None:
            return ProcessorResult(FAILED, error=_("Customer %(id)s not found") % {"id": customer_id})
        context = ProcessorContext(delivery_id=key, processor_code=spec.code, event=event,
                                   values=_values(event, customer))
        return spec.run(customer=customer, event_data=_event_data(event), params=model, context=context)
    except ShoalError as exc:
        return ProcessorResult(FAILED, error=exc.message, detail={"code": exc.code})
    except Exception as exc:  # a processor's bug: recorded on the call, the strategy goes on
        logger.exception("processor %s failed", spec.code)
        return ProcessorResult(FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


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
    ProcessorCall.objects.filter(pk=call.pk).update(
        status=_closed_status(result), response_code=result.response_code, error=result.error[:5000],
        duration_ms=result.duration_ms, detail=_storable_detail(result), finished_at=timezone.now())


def _closed_status(result: ProcessorResult) -> str:
    return {SUCCEEDED: CallStatus.SUCCEEDED, SKIPPED: CallStatus.SKIPPED}.get(result.status, CallStatus.FAILED).value


def _storable_detail(result: ProcessorResult) -> dict:
    return {k: v for k, v in (result.detail or {}).items() if isinstance(v, str | int | float | bool | list | dict)
            or v is None}


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


# -- many actions at once -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunItem:
    """One action of a batch: run once per ``delivery_id``."""

    delivery_id: str
    code: str  # a built-in's code, or a custom processor's code
    processor_id: int | None  # a custom processor's id (None for a built-in)
    customer_id: int
    event: dict  # {"id", "code", "timestamp", "data"}
    params: dict


CALL_COLUMNS = ("key", "processor_code", "customer_id", "event_code", "event_id", "status", "error", "duration_ms",
                "detail", "webhook_id", "request", "attempts", "claim_token", "created_at")
CALL_TYPES = ("text", "text", "bigint", "text", "text", "text", "text", "integer", "jsonb", "text", "jsonb",
              "smallint", "text", "timestamptz")


def processor_run_batch(items: list[RunItem]) -> dict[str, ProcessorResult]:
    """Run many actions, each once per delivery id, as :func:`processor_run` runs one; the result of each by
    delivery id. Built-in processors run as a batch: their calls are recorded in one statement before any runs
    (a delivery id already recorded, by an earlier run or another worker, runs nothing and answers the
    recorded result), the customers are read in one query, each processor runs, then the calls are closed in
    one statement. Custom HTTP processors (durable webhook deliveries) and unknown codes go through
    :func:`processor_run` one by one. Never raises for a processor's failure."""
    results: dict[str, ProcessorResult] = {}
    local = [i for i in items if i.processor_id is None and i.code in PROCESSORS]
    for item in items:
        if item.processor_id is not None or item.code not in PROCESSORS:
            results[item.delivery_id] = processor_run(
                item.processor_id if item.processor_id is not None else item.code, customer_id=item.customer_id,
                event=item.event, params=item.params, delivery_id=item.delivery_id)
    if local:
        results.update(_run_builtin_batch(local))
    return results


def _run_builtin_batch(items: list[RunItem]) -> dict[str, ProcessorResult]:
    from shoal.customers.models import Customer

    done: dict[str, ProcessorResult] = {}
    now = timezone.now()
    rows = [(i.delivery_id, i.code, i.customer_id, str(i.event.get("code") or "")[:64],
             str(i.event.get("id") or "")[:200], CallStatus.RUNNING.value, "", 0, "{}", "", "{}", 1, "", now) for i in items]
    opened = dict(batch_sql.insert_ignore(ProcessorCall._meta.db_table, CALL_COLUMNS, CALL_TYPES, rows,
                                          returning=("key", "id")))
    customers = Customer.objects.in_bulk(sorted({i.customer_id for i in items if i.delivery_id in opened}))
    models: dict[tuple, object] = {}
    closing = []
    for item in items:
        if item.delivery_id not in opened:  # recorded already (an earlier run, another worker): that one counts
            continue
        result = _run_builtin(PROCESSORS[item.code], key=item.delivery_id, params=item.params,
                              customer_id=item.customer_id, customer=customers.get(item.customer_id),
                              event=item.event, models=models)
        done[item.delivery_id] = result
        closing.append((opened[item.delivery_id], _closed_status(result), result.response_code,
                        (result.error or "")[:5000], result.duration_ms,
                        json.dumps(_storable_detail(result), default=str), timezone.now()))
    batch_sql.update_by_id(ProcessorCall._meta.db_table,
                           ("status", "response_code", "error", "duration_ms", "detail", "finished_at"),
                           ("text", "integer", "text", "integer", "jsonb", "timestamptz"), closing)
    missing = [i.delivery_id for i in items if i.delivery_id not in done]
    if missing:
        done.update(processor_calls(missing))
    return done
