"""The processors a strategy's actions use, through the automation app (``shoal.automation.runner``).

The one place the strategies app talks to processors: naming one (a built-in code, a custom one's code
or id), checking an action's parameters and ``${placeholders}`` against the event type's fields, listing
them for the editor, and running one action."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shoal.automation import runner
from shoal.core.errors import NotFound, ShoalError
from shoal.core.processors import FAILED, PENDING, SKIPPED, SUCCEEDED, ProcessorResult, builtin_processors


@dataclass(frozen=True)
class ProcessorRef:
    code: str  # a built-in's code or a custom processor's code
    processor_id: int | None  # a custom processor's id
    name: str


def resolve(ref) -> ProcessorRef:
    """The processor ``ref`` names (400 ``unknown_processor`` when none)."""
    if isinstance(ref, bool) or not isinstance(ref, str | int) or not str(ref).strip():
        raise ShoalError("unknown_processor", _unknown(ref), {"processor": str(ref)[:64]})
    try:
        target = runner.resolve(ref)
    except NotFound:
        raise ShoalError("unknown_processor", _unknown(ref), {"processor": str(ref)[:64]})
    if getattr(target, "pk", None) is not None:  # a custom processor (a row)
        return ProcessorRef(code=target.code, processor_id=target.pk, name=target.name)
    return ProcessorRef(code=target.code, processor_id=None, name=str(target.label))


def _unknown(ref) -> str:
    from django.utils.translation import gettext

    return gettext("No processor %(ref)s") % {"ref": str(ref)[:64]}


def validate_params(ref: ProcessorRef, params, *, available_keys: Iterable[str]) -> dict:
    """The action's parameters as the processor takes them; a ``${placeholder}`` that neither the event
    type's fields (``available_keys``) nor the customer or the event define is refused (400)."""
    key = ref.processor_id if ref.processor_id is not None else ref.code
    return runner.processor_validate_params(key, params, available_keys=list(available_keys))


def choices() -> list[dict]:
    """Every processor an action may use: ``[{"ref", "name", "builtin", "params"}]`` (built-ins first)."""
    from shoal.automation.models import Processor

    out = [{"ref": spec.code, "name": str(spec.label), "builtin": True, "params": _params_hint(spec)}
           for spec in builtin_processors()]
    out += [{"ref": p.code, "name": p.name, "builtin": False, "params": []}
            for p in Processor.objects.filter(enabled=True).order_by("name", "id")]
    return out


def _params_hint(spec) -> list[dict]:
    """The parameters of a built-in (from its schema): ``[{"key", "required", "description"}]``."""
    schema = spec.params.model_json_schema()
    required = set(schema.get("required", ()))
    return [{"key": key, "required": key in required, "description": str(prop.get("description", ""))}
            for key, prop in (schema.get("properties") or {}).items()]


@dataclass(frozen=True)
class RunItem:
    delivery_id: str
    code: str
    processor_id: int | None
    customer_id: int
    event: dict  # {"id", "code", "timestamp", "data"}
    params: dict


def run(*, code: str, processor_id: int | None, customer_id: int, event: dict, params: dict,
        delivery_id: str) -> ProcessorResult:
    """Run one action once per ``delivery_id`` (a second run answers the first one's result)."""
    return runner.processor_run(processor_id if processor_id is not None else code, customer_id=customer_id,
                                event=event, params=params, delivery_id=delivery_id)


# -- many actions at once -----------------------------------------------------------------------------------
# What ``runner.processor_run`` does for one action, for a batch of built-in ones: the calls are recorded in one
# statement before any runs (a delivery id already recorded runs nothing and answers the recorded result), the
# customers are read in one query, then each processor runs, then the calls are closed in one statement.
# Custom HTTP processors go through ``processor_run`` one by one (they are durable webhook deliveries).
CALL_COLUMNS = ("key", "processor_code", "customer_id", "event_code", "event_id", "status", "error", "duration_ms",
                "detail", "webhook_id", "request", "attempts", "claim_token", "created_at")
CALL_TYPES = ("text", "text", "bigint", "text", "text", "text", "text", "integer", "jsonb", "text", "jsonb",
              "smallint", "text", "timestamptz")
CLOSED = {SUCCEEDED: "succeeded", SKIPPED: "skipped"}  # anything else: failed


def run_many(items: list[RunItem]) -> dict[str, ProcessorResult]:
    """Run many actions, each once per delivery id; the result of each by delivery id."""
    from shoal.core.processors import PROCESSORS

    results: dict[str, ProcessorResult] = {}
    local = [i for i in items if i.processor_id is None and i.code in PROCESSORS]
    for item in items:
        if item.processor_id is not None or item.code not in PROCESSORS:
            results[item.delivery_id] = run(code=item.code, processor_id=item.processor_id,
                                            customer_id=item.customer_id, event=item.event, params=item.params,
                                            delivery_id=item.delivery_id)
    if local:
        results.update(_run_local(local, PROCESSORS))
    return results


def _run_local(items: list[RunItem], specs: dict) -> dict[str, ProcessorResult]:
    import json

    from django.utils import timezone

    from shoal.automation.models import ProcessorCall
    from shoal.customers.models import Customer

    from . import sql

    done: dict[str, ProcessorResult] = {}
    todo = items
    now = timezone.now()
    rows = [(i.delivery_id, i.code, i.customer_id, str(i.event.get("code") or "")[:64],
             str(i.event.get("id") or "")[:200], "running", "", 0, "{}", "", "{}", 1, "", now) for i in todo]
    opened = dict(sql.insert_ignore(ProcessorCall._meta.db_table, CALL_COLUMNS, CALL_TYPES, rows,
                                    returning=("key", "id")))
    customers = Customer.objects.in_bulk(sorted({i.customer_id for i in todo if i.delivery_id in opened}))
    models: dict[tuple, object] = {}
    closing = []
    for item in todo:
        if item.delivery_id not in opened:  # recorded already (an earlier run, another worker): that one counts
            continue
        result = _run_one(item, specs[item.code], customers.get(item.customer_id), models)
        done[item.delivery_id] = result
        detail = json.dumps({k: v for k, v in (result.detail or {}).items()
                             if v is None or isinstance(v, str | int | float | bool | list | dict)}, default=str)
        closing.append((opened[item.delivery_id], CLOSED.get(result.status, "failed"), result.response_code,
                        (result.error or "")[:5000], result.duration_ms, detail, timezone.now()))
    sql.update_by_id(ProcessorCall._meta.db_table,
                     ("status", "response_code", "error", "duration_ms", "detail", "finished_at"),
                     ("text", "integer", "text", "integer", "jsonb", "timestamptz"), closing)
    missing = [i.delivery_id for i in todo if i.delivery_id not in done]
    if missing:
        done.update(runner.processor_calls(missing))
    return done


def _run_one(item: RunItem, spec, customer, models: dict) -> ProcessorResult:
    """One built-in processor's run, as ``runner.processor_run`` makes it (never raises)."""
    import json
    import logging

    from django.utils.translation import gettext

    from shoal.automation import placeholders
    from shoal.core.processors import ProcessorContext

    try:
        cache_key = (item.code, json.dumps(item.params, sort_keys=True, default=str))
        if cache_key not in models:
            try:
                models[cache_key] = runner._validated(spec, item.params)
            except ShoalError as exc:
                models[cache_key] = exc
        model = models[cache_key]
        if isinstance(model, ShoalError):
            raise model
        if customer is None:
            return ProcessorResult(FAILED, error=gettext("Customer %(id)s not found") % {"id": item.customer_id})
        data = item.event.get("data") if isinstance(item.event.get("data"), dict) else {}
        values = placeholders.Values(event_data=data, customer=customer,
                                     event={k: item.event.get(k) for k in ("id", "code", "timestamp")})
        context = ProcessorContext(delivery_id=item.delivery_id, processor_code=item.code, event=item.event,
                                   values=values)
        return spec.run(customer=customer, event_data=data, params=model, context=context)
    except ShoalError as exc:
        return ProcessorResult(FAILED, error=exc.message, detail={"code": exc.code})
    except Exception as exc:  # a processor's bug: recorded on the call, the others go on
        logging.getLogger("shoal.strategies").exception("processor %s failed", item.code)
        return ProcessorResult(FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


__all__ = ["FAILED", "PENDING", "SKIPPED", "SUCCEEDED", "ProcessorRef", "ProcessorResult", "RunItem", "choices",
           "resolve", "run", "run_many", "validate_params"]
