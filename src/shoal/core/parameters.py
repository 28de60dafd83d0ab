"""Typed system parameters (参数配置) with defaults. Apps register theirs; values live in the DB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from .actors import SYSTEM
from .errors import ShoalError


@dataclass(frozen=True)
class Parameter:
    code: str
    label: str
    type: str  # "str" | "int" | "bool" | "choice"
    default: Any
    group: str = "system"
    help: str = ""
    choices: tuple = ()
    min_value: int | None = None
    max_value: int | None = None

    def coerce(self, raw: Any) -> Any:
        """Convert raw input (form text or JSON) to this parameter's type, or raise ShoalError."""
        try:
            if self.type == "int":
                if isinstance(raw, bool):
                    raise ValueError
                value = int(str(raw).strip())
                if self.min_value is not None and value < self.min_value:
                    raise ShoalError("invalid_parameter", _("%(code)s must be ≥ %(min)s") % {"code": self.code, "min": self.min_value},
                                     {"code": self.code, "min": self.min_value})
                if self.max_value is not None and value > self.max_value:
                    raise ShoalError("invalid_parameter", _("%(code)s must be ≤ %(max)s") % {"code": self.code, "max": self.max_value},
                                     {"code": self.code, "max": self.max_value})
                return value
            if self.type == "bool":
                if isinstance(raw, bool):
                    return raw
                text = str(raw).strip().lower()
                if text in {"1", "true", "yes", "on"}:
                    return True
                if text in {"0", "false", "no", "off", ""}:
                    return False
                raise ValueError
            if self.type == "choice":
                if raw not in self.choices:
                    raise ShoalError("invalid_parameter", _("%(code)s must be one of %(choices)s") % {"code": self.code, "choices": ', '.join(self.choices)},
                                     {"code": self.code, "choices": list(self.choices)})
                return raw
            if raw is None or not isinstance(raw, str | int | float):
                raise ValueError
            value = str(raw).strip()
            if not value:
                raise ShoalError("invalid_parameter", _("%(code)s may not be empty") % {"code": self.code}, {"code": self.code})
            return value
        except (ValueError, TypeError):
            raise ShoalError("invalid_parameter", _("%(code)s expects a value of type %(type)s") % {"code": self.code, "type": self.type},
                             {"code": self.code, "expected": self.type})


REGISTRY: dict[str, Parameter] = {}


def register(param: Parameter) -> Parameter:
    REGISTRY[param.code] = param
    return param


# Values read inside a ``cached()`` block (one batch, one call); None outside any block.
_scope_cache: ContextVar[dict[str, Any] | None] = ContextVar("shoal_parameters_cache", default=None)


@contextmanager
def cached() -> Iterator[None]:
    """Within the block each parameter is read from the database at most once.

    The cache lives only as long as the block (and only in this thread / async context), so it cannot
    serve a stale value to a later request or batch; ``set_value`` inside the block updates it.
    Nested blocks share the outermost cache.
    """
    if _scope_cache.get() is not None:
        yield
        return
    token = _scope_cache.set({})
    try:
        yield
    finally:
        _scope_cache.reset(token)


def prefetch(*codes: str) -> None:
    """Inside a ``cached()`` block: read these parameters now, in one query (the block's later ``get`` of
    them asks the database nothing). Outside a block: nothing."""
    from .models import ParameterValue

    cache = _scope_cache.get()
    if cache is None:
        return
    missing = [c for c in codes if c not in cache and c in REGISTRY]
    if not missing:
        return
    stored = dict(ParameterValue.objects.filter(code__in=missing).values_list("code", "value"))
    for code in missing:
        cache[code] = stored.get(code, REGISTRY[code].default)


def get(code: str) -> Any:
    from .models import ParameterValue

    param = REGISTRY[code]
    cache = _scope_cache.get()
    if cache is not None and code in cache:
        return cache[code]
    row = ParameterValue.objects.filter(code=code).values_list("value", flat=True).first()
    value = param.default if row is None else row
    if cache is not None:
        cache[code] = value
    return value


def set_value(code: str, raw: Any, *, actor=SYSTEM) -> Any:
    from .models import ParameterValue
    from .oplog import log_operation

    if code not in REGISTRY:
        raise ShoalError("unknown_parameter", _("Unknown parameter %(code)s") % {"code": code}, {"code": code}, status=404)
    value = REGISTRY[code].coerce(raw)
    old = get(code)
    ParameterValue.objects.update_or_create(code=code, defaults={"value": value})
    cache = _scope_cache.get()
    if cache is not None:
        cache[code] = value
    if old != value:
        log_operation(actor=actor, action="parameter.update", object_type="parameter", object_id=code,
                      object_repr=code, detail={"old": old, "new": value})
    return value


def all_values() -> list[dict]:
    from .models import ParameterValue

    stored = dict(ParameterValue.objects.values_list("code", "value"))
    return [
        {"code": p.code, "label": str(p.label), "type": p.type, "group": p.group, "help": str(p.help),
         "default": p.default, "value": stored.get(p.code, p.default), "choices": list(p.choices)}
        for p in REGISTRY.values()
    ]


INITIAL_PASSWORD = register(Parameter("SYS_USER_DEFAULT_PASSWORD", _("Initial user password"), "str", "123456",
                                      help=_("Given to new users and on password reset; they must change it at first login.")))
IMPORT_MAX_MB = register(Parameter("IMPORT_MAX_FILE_MB", _("Import file size limit (MB)"), "int", 100,
                                   group="import", min_value=1, max_value=2048))
PHONE_REGION = register(Parameter("DEFAULT_PHONE_REGION", _("Default phone region"), "str", "CN",
                                  help=_("ISO country code used to read mobile numbers without a country code.")))
ATTACHMENT_MAX_MB = register(Parameter("ATTACHMENT_MAX_FILE_MB", _("Attachment size limit (MB)"), "int", 20,
                                       group="customers", min_value=1, max_value=1024))
MASKING_ENABLED = register(Parameter("MASKING_ENABLED", _("Masking enabled"), "bool", True,
                                     help=_("When off, no user sees masked customer data.")))
API_MAX_BODY = register(Parameter("API_MAX_BODY_BYTES", _("API request body limit (bytes)"), "int", 2 * 1024 * 1024,
                                  help=_("A JSON request larger than this is refused with 413 (file uploads have their own limits)."),
                                  min_value=64 * 1024, max_value=2621440))
