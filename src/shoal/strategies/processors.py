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


RunItem = runner.RunItem  # one action of a batch


def run(*, code: str, processor_id: int | None, customer_id: int, event: dict, params: dict,
        delivery_id: str) -> ProcessorResult:
    """Run one action once per ``delivery_id`` (a second run answers the first one's result)."""
    return runner.processor_run(processor_id if processor_id is not None else code, customer_id=customer_id,
                                event=event, params=params, delivery_id=delivery_id)


def run_many(items: list[RunItem]) -> dict[str, ProcessorResult]:
    """Run many actions, each once per delivery id (``runner.processor_run_batch``: built-in ones as a batch);
    the result of each by delivery id."""
    return runner.processor_run_batch(items)


__all__ = ["FAILED", "PENDING", "SKIPPED", "SUCCEEDED", "ProcessorRef", "ProcessorResult", "RunItem", "choices",
           "resolve", "run", "run_many", "validate_params"]
