"""The customers app's workbench board: today's customer activity (今日客户动向).

The board counts the customers created today in the viewer's data scope; other apps add their figures of the day
to it (``register_figure("customers.activity", …)``): sales the follow-ups, tags the tags added, the events app its
events."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shoal.core.workbench import Board, BoardContent, Figure, register_board, shown_count, today_bounds

from .models import Customer, CustomerGroupMembership
from .selectors import membership_scope

ACTIVITY = "customers.activity"


def customer_list_url(**query) -> str:
    """The customer list, filtered (its filters' query names, e.g. ``created_at_from``)."""
    from urllib.parse import urlencode

    base = reverse("admin:customers_customer_changelist")
    return f"{base}?{urlencode(query)}" if query else base


def created_in_scope(*, actor, start, end):
    """The customers created in [start, end) that ``actor`` may see, read from the day's end: the day's customers
    (customer_created_idx) each probed for a membership of the scope (membership_customer_idx), instead of the
    whole scope (hundreds of thousands of customers for a manager) matched against the customer table."""
    day = Customer.objects.filter(created_at__gte=start, created_at__lt=end)
    scope = membership_scope(actor=actor)
    if scope is None:
        return day
    members = CustomerGroupMembership.objects.filter(customer_id__in=day.values("pk")).filter(scope.q())
    return members.order_by().values("customer_id").distinct()


def activity(*, actor, params) -> BoardContent:
    start, end = today_bounds()
    new = created_in_scope(actor=actor, start=start, end=end)
    today = timezone.localdate().isoformat()
    return BoardContent(figures=[
        Figure("new_customers", _("New customers today"), shown_count(new),
               customer_list_url(created_at_from=today)),
    ])


register_board(Board(ACTIVITY, _("Today's customer activity"), activity, permission="customers.customers.view",
                     order=20, description=_("New customers, follow-ups, tags added and events today.")))
