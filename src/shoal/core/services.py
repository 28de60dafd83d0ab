"""Write helpers shared by every app's services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def model_update(*, instance, fields: Iterable[str], data: dict[str, Any]) -> tuple[Any, bool]:
    """Set the ``fields`` of ``instance`` that ``data`` holds and that differ from the stored values,
    and save only those (plus an auto-updated ``updated_at``). Returns ``(instance, has_updated)``.

    After HackSoft's Django-Styleguide-Example ``common/services.model_update``."""
    updated: list[str] = []
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            updated.append(name)
    if not updated:
        return instance, False
    stamp = next((f for f in instance._meta.concrete_fields if f.name == "updated_at"), None)
    if stamp is not None and getattr(stamp, "auto_now", False):
        updated.append("updated_at")
    instance.save(update_fields=updated)
    return instance, True
