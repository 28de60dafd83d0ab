"""The pool processors of automation: ``group`` (put the customer in a group's public sea) and ``assign``
(to a chosen salesperson of the group, or by the group's assignment rules), through the pool services:
the recycle bin, capacity, cooldowns and rules apply as for any operation, and the logs are written."""

from __future__ import annotations

import time

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.core.processors import FAILED, SKIPPED, SUCCEEDED, ProcessorSpec, result
from shoal.customers.models import CustomerGroup, CustomerGroupMembership

ID = Field(ge=1, le=2**63 - 1)


class GroupParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: int = ID


class AssignParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: int = ID
    salesperson_id: int | None = Field(None, ge=1, le=2**63 - 1,
                                       description="a salesperson of the group; none: the group's assignment rules")


def check_group(params) -> None:
    group = CustomerGroup.objects.filter(pk=params.group_id).first()
    if group is None:
        raise ShoalError("invalid", _("Group not found"), {"field": "group_id"})
    salesperson = getattr(params, "salesperson_id", None)
    if salesperson is not None and not group.salespeople.filter(pk=salesperson, is_active=True).exists():
        raise ShoalError("invalid", _("Choose a salesperson of the group"), {"field": "salesperson_id"})


def _batch(action: str, customer, params, **kwargs) -> dict:
    from .services.operations import customers_batch

    return customers_batch(actor=SYSTEM, action=action, customer_ids=[customer.pk], group_id=params.group_id, **kwargs)


def _outcome(out: dict, started: float, **detail):
    if out["done"]:
        return result(SUCCEEDED, started=started, **detail)
    reasons = ", ".join(out.get("reasons") or {}) or _("Nothing to change")
    return result(SKIPPED, reasons, started=started, reasons=out.get("reasons") or {}, **detail)


def group(*, customer, event_data, params: GroupParams, context):
    started = time.monotonic()
    if customer is None:
        return result(FAILED, _("The event has no customer"), started=started)
    try:
        return _outcome(_batch("group", customer, params), started, group_id=params.group_id)
    except ShoalError as exc:
        return result(FAILED, exc.message, started=started, code=exc.code)


def assign(*, customer, event_data, params: AssignParams, context):
    started = time.monotonic()
    if customer is None:
        return result(FAILED, _("The event has no customer"), started=started)
    try:
        if params.salesperson_id is not None:
            return _outcome(_batch("assign", customer, params, salesperson_id=params.salesperson_id), started,
                            group_id=params.group_id)
        group_row = CustomerGroup.objects.filter(pk=params.group_id).first()
        if group_row is None:
            return result(FAILED, _("Group not found"), started=started)
        _batch("group", customer, params)  # into the group public sea first, when not there yet
        from .engine.assignment import assign_group

        assigned = assign_group(group_row, actor=SYSTEM, customer_ids=[customer.pk])
        if assigned:
            return result(SUCCEEDED, started=started, group_id=params.group_id)
        held = CustomerGroupMembership.objects.filter(customer=customer, group=group_row,
                                                      salesperson__isnull=False).exists()
        return result(SKIPPED, _("Already assigned") if held else _("No assignment rule gave the customer to anyone"),
                      started=started, group_id=params.group_id)
    except ShoalError as exc:
        return result(FAILED, exc.message, started=started, code=exc.code)


GROUP = ProcessorSpec("group", pgettext_lazy("processor", "Group"), group, GroupParams, order=20, check=check_group,
                      param_labels={"group_id": pgettext_lazy("processor parameter", "Group")},
                      description=gettext_lazy("Puts the customer in a group's public sea."))
ASSIGN = ProcessorSpec("assign", pgettext_lazy("processor", "Assign"), assign, AssignParams, order=21, check=check_group,
                       param_labels={"group_id": pgettext_lazy("processor parameter", "Group"), "salesperson_id": pgettext_lazy("processor parameter", "Salesperson")},
                       description=gettext_lazy("Assigns the customer in a group: to a chosen salesperson, or by "
                                                "the group's assignment rules."))
