"""``${field}`` placeholders in processor parameters, bodies and message templates.

Names (a regular expression, never evaluated): ``${amount}`` — a key of the event's data (``${order.id}``
reaches into an object of it); ``${customer.name}`` — a field of the customer (standard fields, ``id`` and
custom field keys); ``${event.id}``, ``${event.code}``, ``${event.timestamp}``. In text an object or a list
becomes JSON, a missing value becomes empty text. In a JSON body a string that is one placeholder only
(``"${items}"``) takes the value itself, with its type (a number stays a number, an object an object).
``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
PATTERN = re.compile(r"\$(?:\$\{|\{(" + NAME + r")\})")
WHOLE = re.compile(r"^\$\{(" + NAME + r")\}$")
EVENT_KEYS = ("id", "code", "timestamp")
MISSING = object()


def names(template: Any) -> set[str]:
    """Every placeholder name in a text, or in the strings (keys too) of a JSON-like structure."""
    found: set[str] = set()
    for text in _strings(template):
        found.update(m.group(1) for m in PATTERN.finditer(text) if m.group(1))
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def customer_keys() -> set[str]:
    from shoal.customers import standard
    from shoal.customers.models import CustomField

    return {"id", *standard.names(), *CustomField.objects.values_list("key", flat=True)}


def missing(template: Any, available_keys: Iterable[str], *, provided: Iterable[str] = (),
            customer: set[str] | None = None) -> list[str]:
    """The placeholders of ``template`` that neither the event type (``available_keys``: its field keys), nor
    ``provided`` (names a processor fills itself), nor the customer or the event's own keys define."""
    available, provided = set(available_keys), set(provided)
    out = []
    for name in sorted(names(template)):
        head, _, rest = name.partition(".")
        if name in provided or head in available:
            continue
        if head == "event" and rest in EVENT_KEYS:
            continue
        if head == "customer" and rest:
            if customer is None:
                customer = customer_keys()
            if rest.partition(".")[0] in customer:
                continue
        out.append(name)
    return out


class Values:
    """The values placeholders read: the event data, the customer (read lazily), the event's own keys and
    extra names (a processor's variables), looked up in that order: extra, event data, customer, event."""

    def __init__(self, *, event_data: Mapping | None = None, customer=None, event: Mapping | None = None,
                 extra: Mapping | None = None):
        self.event_data = dict(event_data or {})
        self.event = dict(event or {})
        self.extra = dict(extra or {})
        self._customer = customer
        self._customer_values: dict | None = None

    def with_extra(self, extra: Mapping) -> Values:
        out = Values(event_data=self.event_data, customer=self._customer, event=self.event,
                     extra={**self.extra, **extra})
        out._customer_values = self._customer_values
        return out

    def customer_values(self) -> dict:
        if self._customer_values is None:
            self._customer_values = customer_values(self._customer) if self._customer is not None else {}
        return self._customer_values

    def get(self, name: str) -> Any:
        if name in self.extra:
            return self.extra[name]
        head, _, rest = name.partition(".")
        if head in self.event_data:
            return _dig(self.event_data[head], rest)
        if head == "customer" and rest:
            values = self.customer_values()
            key, _, deeper = rest.partition(".")
            return _dig(values[key], deeper) if key in values else MISSING
        if head == "event" and rest in EVENT_KEYS:
            return self.event.get(rest, MISSING)
        return MISSING


def _dig(value: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def customer_values(customer) -> dict:
    """A customer's fields by name (unmasked: the system acts), custom fields beside the standard ones."""
    from shoal.customers.selectors import customer_dict

    data = customer_dict(customer)
    attributes = data.pop("attributes", {}) or {}
    return {**{k: v for k, v in attributes.items()}, **data, "id": customer.pk}


def text_of(value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def render_text(template: str, values: Values, escape=None) -> str:
    """``escape``: applied to each value's text (e.g. URL quoting of a form body)."""

    def sub(match: re.Match) -> str:
        if match.group(1) is None:
            return "${"
        text = text_of(values.get(match.group(1)))
        return escape(text) if escape else text

    return PATTERN.sub(sub, template or "")


def _jsonable(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def render_json(template: Any, values: Values) -> Any:
    """A JSON-like structure with its strings rendered (see the module's text for whole placeholders)."""
    if isinstance(template, str):
        whole = WHOLE.match(template)
        if whole:
            return _jsonable(values.get(whole.group(1)))
        return render_text(template, values)
    if isinstance(template, Mapping):
        return {render_text(str(k), values): render_json(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render_json(v, values) for v in template]
    return template
