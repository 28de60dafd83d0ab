"""The sales processors of automation: ``task`` (a task for each salesperson holding the customer) and
``notify`` (an in-site notification to them, or to the admins of the customer's groups). Titles and texts
may hold ``${field}`` placeholders."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Literal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from shoal.core.processors import FAILED, SKIPPED, SUCCEEDED, ProcessorSpec, result
from shoal.customers.models import CustomerGroupMembership

from .models import PRIORITY_VALUES, Task, TaskProgress, TaskType


class TaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("${customer.name}", max_length=200, description="the task's name; placeholders allowed")
    details: str = Field("", max_length=5000, description="placeholders allowed")
    type: Literal["follow_up", "normal"] = "follow_up"
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    due_hours: int | None = Field(24, ge=0, le=24 * 366, description="deadline, hours after the action; none: no deadline")


class NotifyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="placeholders allowed")
    body: str = Field("", max_length=5000, description="placeholders allowed")
    to: Literal["salespeople", "group_admins"] = "salespeople"


def _memberships(customer):
    return CustomerGroupMembership.objects.filter(customer=customer, salesperson__isnull=False,
                                                  salesperson__is_active=True)


def _render(text: str, context) -> str:
    from shoal.automation.placeholders import render_text

    return render_text(text, context.values) if context.values is not None else text


def task(*, customer, event_data, params: TaskParams, context):
    started = time.monotonic()
    if customer is None:
        return result(FAILED, _("The event has no customer"), started=started)
    holders = list(_memberships(customer).values_list("salesperson_id", "group_id"))
    if not holders:
        return result(SKIPPED, _("The customer has no salesperson"), started=started)
    now = timezone.now()
    due = now + timedelta(hours=params.due_hours) if params.due_hours is not None else None
    name, details = _render(params.name, context)[:200], _render(params.details, context)
    owners = dict(holders)  # one task per salesperson (the first of their groups)
    Task.objects.bulk_create([
        Task(type=TaskType(params.type), name=name, owner_id=user_id, customer=customer, group_id=group_id, due_at=due,
             priority=PRIORITY_VALUES[params.priority], progress=TaskProgress.NOT_STARTED, details=details,
             created_at=now, updated_at=now) for user_id, group_id in owners.items()])
    return result(SUCCEEDED, started=started, owners=sorted(owners))


def notify(*, customer, event_data, params: NotifyParams, context):
    from .services.notifications import notify as send

    started = time.monotonic()
    if customer is None:
        return result(FAILED, _("The event has no customer"), started=started)
    if params.to == "group_admins":
        from shoal.accounts.models import User

        users = set(User.objects.filter(is_active=True, administered_customer_groups__memberships__customer=customer)
                    .values_list("pk", flat=True))
    else:
        users = set(_memberships(customer).values_list("salesperson_id", flat=True))
    if not users:
        return result(SKIPPED, _("Nobody to notify"), started=started)
    sent = send(user_ids=users, kind="automation", title=_render(params.title, context),
                body=_render(params.body, context), link=reverse("admin:customers_customer_change", args=[customer.pk]),
                key=f"automation:{context.delivery_id}"[:100])
    return result(SUCCEEDED, started=started, notified=sent)


TASK = ProcessorSpec("task", pgettext_lazy("processor", "Create task"), task, TaskParams, template_params=("name", "details"),
                     param_labels={"name": pgettext_lazy("processor parameter", "Task name"), "details": pgettext_lazy("processor parameter", "Details"), "type": pgettext_lazy("processor parameter", "Task type"),
                                   "priority": pgettext_lazy("processor parameter", "Priority"),
                                   "due_hours": pgettext_lazy("processor parameter", "Deadline (hours later)")},
                     order=70, description=gettext_lazy("Creates a task for the customer's salesperson."))
NOTIFY = ProcessorSpec("notify", pgettext_lazy("processor", "In-site notification"), notify, NotifyParams,
                       template_params=("title", "body"), order=80,
                       param_labels={"title": pgettext_lazy("processor parameter", "Title"), "body": pgettext_lazy("processor parameter", "Body"), "to": pgettext_lazy("processor parameter", "Recipients")},
                       description=gettext_lazy("Notifies the customer's salespeople (or group admins) in Shoal."))
