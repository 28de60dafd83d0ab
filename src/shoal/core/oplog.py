from __future__ import annotations

from typing import Any

from .models import OperationLog


def log_operation(*, actor, action: str, obj=None, object_type: str = "", object_id: Any = "",
                  object_repr: str = "", detail: dict | None = None, ip: str | None = None) -> OperationLog:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:255]
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return OperationLog.objects.create(
        actor=actor if is_user else None,
        actor_name=(actor.get_username() if is_user else str(actor or "system"))[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=object_repr[:255],
        detail=detail or {},
        ip=ip,
    )
