from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .actors import is_system
from .models import OperationLog
from .request_context import current_ip

# object type → the ids (as text, a queryset for a subquery) of the objects of that type a reader may
# see, or None when the reader sees them all. Apps register the types that have a data scope.
_SCOPED_TYPES: dict[str, Callable[[Any], QuerySet | None]] = {}


def register_scoped_object_type(object_type: str, visible_ids: Callable[[Any], QuerySet | None]) -> None:
    _SCOPED_TYPES[object_type] = visible_ids


def operation_log_queryset(*, actor) -> QuerySet[OperationLog]:
    """The entries ``actor`` may read: an entry about an object of a scoped type (a customer) only
    when that object is within the actor's data scope. Set-based: one subquery per scoped type."""
    qs = OperationLog.objects.all()
    for object_type, visible_ids in _SCOPED_TYPES.items():
        ids = visible_ids(actor)
        if ids is not None:
            qs = qs.filter(~Q(object_type=object_type) | Q(object_id__in=ids))
    return qs


# What each operation-log action code means, in words (the operation log page and the API's
# action_label). Each app registers the labels of the actions it logs.
ACTION_LABELS: dict[str, Any] = {}
# Families of codes with a value at the end (``customer.status.<status>``): prefix → (label with
# %(value)s, a function giving the value's words).
ACTION_PREFIX_LABELS: dict[str, tuple[Any, Callable[[str], str]]] = {}


def register_action_labels(labels: dict[str, Any]) -> None:
    ACTION_LABELS.update(labels)


def register_action_prefix(prefix: str, label, value_label: Callable[[str], str] = str) -> None:
    ACTION_PREFIX_LABELS[prefix] = (label, value_label)


def action_label(action: str) -> str:
    """The action in words, in the active language; an unknown code is shown as it is."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    for prefix, (label, value_label) in ACTION_PREFIX_LABELS.items():
        if action.startswith(prefix):
            return str(label) % {"value": value_label(action[len(prefix):])}
    return action


@functools.cache
def _models_by_name() -> dict[str, Any]:
    """model_name → model, Shoal's models first (read once from the app registry: core imports no app)."""
    by_name: dict[str, Any] = {}
    for model in sorted(apps.get_models(), key=lambda m: not m.__module__.startswith("shoal.")):
        by_name.setdefault(model._meta.model_name, model)
    return by_name


def object_type_label(object_type: str) -> str:
    """The object type (a model's ``model_name``, such as ``customfield``) in words: the model's verbose
    name in the active language; an unknown type is shown as it is."""
    model = _models_by_name().get(object_type)
    return str(model._meta.verbose_name) if model is not None else object_type


register_action_labels({
    "parameter.update": _("Change parameter"),
    "workbench.role_default": _("Set the default workbench boards of a role"),
})


def log_operation(*, actor, action: str, obj=None, object_type: str = "", object_id: Any = "",
                  object_repr: str = "", detail: dict | None = None, ip: str | None = None) -> OperationLog:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:255]
    is_user = not is_system(actor) and getattr(actor, "is_authenticated", False)
    return OperationLog.objects.create(
        actor=actor if is_user else None,
        actor_name=(actor.get_username() if is_user else ("system" if is_system(actor) else str(actor)))[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=object_repr[:255],
        detail=detail or {},
        ip=ip or current_ip(),
    )
