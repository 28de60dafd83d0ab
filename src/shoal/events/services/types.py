"""Writes of the event registry (事件注册中心): create, edit, delete, copy, enable/disable, import the
built-in types. Changing or deleting a type that strategies use is refused with their names
(``event_type_in_use``) unless the caller confirms with ``force``."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from shoal.core.actors import is_system
from shoal.core.errors import Conflict, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update

from ..builtins import BUILTINS
from ..hooks import event_type_users
from ..models import EventStat, EventType
from ..validation import check_code, clean_fields

TYPE_FIELDS = ("name", "code", "enabled", "remarks", "create_customers", "fields")
# what changes how events of the type are received or matched: strategies using the type are named first
SENSITIVE = ("code", "fields", "enabled")


def _clean(data: dict, *, creating: bool) -> dict:
    values = {}
    if "name" in data or creating:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise ShoalError("invalid", gettext("The name is required (at most 100 characters)"), {"field": "name"})
        values["name"] = name.strip()
    if "code" in data or creating:
        values["code"] = check_code(data.get("code"))
    if "remarks" in data:
        remarks = data.get("remarks") or ""
        if not isinstance(remarks, str) or len(remarks) > 255:
            raise ShoalError("invalid", gettext("Remarks have at most 255 characters"), {"field": "remarks"})
        values["remarks"] = remarks.strip()
    for flag in ("enabled", "create_customers"):
        if flag in data and data[flag] is not None:
            if not isinstance(data[flag], bool):
                raise ShoalError("invalid", gettext("%(field)s must be true or false") % {"field": flag}, {"field": flag})
            values[flag] = data[flag]
    if "fields" in data:
        values["fields"] = clean_fields(data.get("fields"))
    return values


def _check_unique_code(code: str, *, exclude: int | None = None) -> None:
    if EventType.objects.filter(code=code).exclude(pk=exclude).exists():
        raise Conflict("duplicate", gettext("An event type with the code %(code)s already exists") % {"code": code},
                       {"field": "code"})


def in_use_conflict(event_types) -> Conflict | None:
    """A 409 naming the strategies that use any of ``event_types``, or None when none does."""
    users = {}
    for event_type in event_types:
        names = event_type_users(event_type)
        if names:
            users[event_type.code] = names
    if not users:
        return None
    names = list(dict.fromkeys(n for group in users.values() for n in group))
    return Conflict("event_type_in_use",
                    gettext("Strategies use this event type: %(names)s. Confirm to go on.") % {"names": "、".join(names)},
                    {"strategies": names, "by_event": users})


def event_type_create(*, actor, data: dict) -> EventType:
    values = _clean(data, creating=True)
    _check_unique_code(values["code"])
    event_type = EventType.objects.create(created_by=None if is_system(actor) or not getattr(actor, "is_authenticated", False)
                                          else actor, **values)
    log_operation(actor=actor, action="event_type.create", obj=event_type)
    return event_type


def event_type_update(*, actor, event_type: EventType, data: dict, force: bool = False) -> EventType:
    values = _clean(data, creating=False)
    if "code" in values and values["code"] != event_type.code:
        _check_unique_code(values["code"], exclude=event_type.pk)
    changes = [k for k in SENSITIVE if k in values and values[k] != getattr(event_type, k)]
    if changes and not force and (values.get("enabled", True) is False or set(changes) - {"enabled"}):
        conflict = in_use_conflict([event_type])
        if conflict is not None:
            raise conflict
    _, changed = model_update(instance=event_type, fields=TYPE_FIELDS, data=values)
    if changed:
        log_operation(actor=actor, action="event_type.update", obj=event_type, detail={"fields": sorted(values)})
    return event_type


def event_type_delete(*, actor, event_type: EventType, force: bool = False) -> None:
    """Delete the type and its per-customer statistics; its history stays (it names the code)."""
    if not force:
        conflict = in_use_conflict([event_type])
        if conflict is not None:
            raise conflict
    with transaction.atomic():
        log_operation(actor=actor, action="event_type.delete", obj=event_type)
        EventStat.objects.filter(event_type_id=event_type.pk).delete()
        event_type.delete()


def _free_code(base: str, taken: set[str]) -> str:
    base = base[:56]
    for n in range(1, 10000):
        code = f"{base}_copy" if n == 1 else f"{base}_copy{n}"
        if code not in taken:
            return code
    raise ShoalError("invalid", gettext("No free code for the copy"), {})


def event_types_copy(*, actor, ids: list[int], name: str | None = None, code: str | None = None) -> list[EventType]:
    """Copy one or many types (复制): everything but the name and the code. One type may be given its new
    name and code; otherwise (and for many) "<name> (copy)" and "<code>_copy[n]"."""
    sources = list(EventType.objects.filter(pk__in=ids).order_by("id"))
    if not sources:
        raise ShoalError("invalid", gettext("Choose the event types to copy"), {"field": "ids"})
    if (name or code) and len(sources) != 1:
        raise ShoalError("invalid", gettext("A new name and code are given for one copied type only"), {})
    taken = set(EventType.objects.values_list("code", flat=True))
    copies = []
    with transaction.atomic():
        for source in sources:
            new_code = check_code(code) if code else _free_code(source.code, taken)
            if new_code in taken:
                _check_unique_code(new_code)
            taken.add(new_code)
            new_name = (name or "").strip() or gettext("%(name)s (copy)") % {"name": source.name}
            copy = event_type_create(actor=actor, data={
                "name": new_name[:100], "code": new_code, "enabled": source.enabled, "remarks": source.remarks,
                "create_customers": source.create_customers, "fields": source.fields})
            copies.append(copy)
    return copies


def event_types_set_enabled(*, actor, ids: list[int], enabled: bool, force: bool = False) -> int:
    """Enable or disable many types (批量启用/禁用); disabling types that strategies use needs ``force``."""
    types = list(EventType.objects.filter(pk__in=ids).exclude(enabled=enabled))
    if not types:
        return 0
    if not enabled and not force:
        conflict = in_use_conflict(types)
        if conflict is not None:
            raise conflict
    count = EventType.objects.filter(pk__in=[t.pk for t in types]).update(enabled=enabled)
    log_operation(actor=actor, action="event_type.enable" if enabled else "event_type.disable",
                  object_type="eventtype", detail={"codes": [t.code for t in types]})
    return count


def event_types_import_builtins(*, actor) -> dict:
    """Create the built-in types that are missing (by code); existing codes are left as they are."""
    taken = set(EventType.objects.values_list("code", flat=True))
    created = []
    with transaction.atomic():
        for spec in BUILTINS:
            if spec["code"] in taken:
                continue
            fields = [{**f, "label": str(f["label"])} for f in spec["fields"]]
            event_type = EventType.objects.create(name=str(spec["name"]), code=spec["code"], fields=fields,
                                                  builtin=spec["code"])
            created.append(event_type.code)
        if created:
            log_operation(actor=actor, action="event_type.import_builtins", object_type="eventtype",
                          detail={"created": created})
    return {"created": created, "skipped": [s["code"] for s in BUILTINS if s["code"] not in created]}
