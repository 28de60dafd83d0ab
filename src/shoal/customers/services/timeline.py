"""Timeline entries and who wrote them: the helpers every customer write uses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shoal.core.actors import is_system

from ..models import Customer, TimelineEntry


def is_user(actor) -> bool:
    from shoal.accounts.models import User

    return isinstance(actor, User)


def actor_name(actor) -> str:
    if is_system(actor):
        return "system"
    if is_user(actor):
        return actor.get_username()
    return str(actor)[:150]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def timeline_entry(customer: Customer, kind: str, *, actor, field_name: str = "", old=None, new=None,
                   detail: dict | None = None) -> TimelineEntry:
    detail = dict(detail or {})
    if not is_system(actor) and not is_user(actor):
        detail.setdefault("application", str(actor))
    return TimelineEntry(customer=customer, kind=kind, field=field_name, old=_jsonable(old), new=_jsonable(new),
                         actor=actor if is_user(actor) else None, actor_name=actor_name(actor), detail=detail)

