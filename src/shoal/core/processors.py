"""The processor registry (处理器注册中心): what an automation action can do, by code.

An app registers the processors of the actions it owns in its ``registry.py`` (tags: ``add_tag``,
``remove_tag``; pools: ``group``, ``assign``; sales: ``task``, ``notify``; automation: ``sms``,
``email``), each with a pydantic schema of its parameters and one callable::

    run(*, customer, event_data: dict, params: <schema instance>, context: ProcessorContext) -> ProcessorResult

``params`` is already validated; ``event_data`` is the event's ``data`` object (may be empty). A processor
does its work with the system as actor and reports, never raises for an expected refusal (a disabled tag,
a customer without salesperson): a :class:`ProcessorResult` with status ``failed`` or ``skipped`` and the
reason. ``template_params`` names the parameters whose text may hold ``${field}`` placeholders (checked
against the event type's fields when a strategy is saved). Custom HTTP processors are rows of the
automation app; ``shoal.automation.runner`` runs both kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

SUCCEEDED, FAILED, SKIPPED, PENDING = "succeeded", "failed", "skipped", "pending"


@dataclass(frozen=True)
class ProcessorResult:
    status: str  # succeeded | failed | skipped | pending (a webhook that will be retried)
    response_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"status": self.status, "response_code": self.response_code, "error": self.error,
                "duration_ms": self.duration_ms, "detail": self.detail}


@dataclass(frozen=True)
class ProcessorContext:
    delivery_id: str  # the caller's key of this action on this event: the same on every retry
    processor_code: str
    event: dict | None = None  # the whole event ({"code", "id", "timestamp", "data"}) when there is one
    values: Any = None  # the placeholder values (shoal.automation.placeholders.Values)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ProcessorSpec:
    code: str
    label: Any  # lazy translation
    run: Callable[..., ProcessorResult]
    params: type[BaseModel] = NoParams
    template_params: tuple[str, ...] = ()
    description: Any = ""
    order: int = 100
    # extra placeholders a parameter set makes available or needs (e.g. an SMS template's variables)
    placeholders: Callable[[BaseModel], tuple[set[str], set[str]]] | None = None
    # a check of the validated parameters against the database (the tag exists…): raises ShoalError
    check: Callable[[BaseModel], None] | None = None
    # the parameters' names for people (lazy translations by key): the registry page shows "name (key)"
    param_labels: dict[str, Any] = field(default_factory=dict)

    def param_names(self) -> list[str]:
        keys = sorted((self.params.model_json_schema().get("properties") or {}).keys())
        return [f"{self.param_labels[k]} ({k})" if k in self.param_labels else k for k in keys]


PROCESSORS: dict[str, ProcessorSpec] = {}


def register_processor(spec: ProcessorSpec) -> ProcessorSpec:
    PROCESSORS.setdefault(spec.code, spec)
    return PROCESSORS[spec.code]


def builtin_processors() -> list[ProcessorSpec]:
    return sorted(PROCESSORS.values(), key=lambda s: (s.order, s.code))


def result(status: str, error: Any = "", *, response_code: int | None = None, started: float | None = None,
           **detail) -> ProcessorResult:
    """A result; ``started``: ``time.monotonic()`` at the start (gives ``duration_ms``)."""
    import time

    duration = int((time.monotonic() - started) * 1000) if started is not None else 0
    return ProcessorResult(status=status, response_code=response_code, error=str(error), duration_ms=duration,
                           detail=detail)
