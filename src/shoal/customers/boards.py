"""The customers app's workbench board: today's customer activity (今日客户动向).

The board counts the customers created today in the viewer's data scope; other apps add their figures of the day
to it (``register_figure("customers.activity", …)``): sales the customers followed up, tags the tags added, the
events app its events."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shoal.core.workbench import Board, BoardContent, Figure, register_board, shown_count, today_bounds

from .selectors import customer_queryset

ACTIVITY = "customers.activity"


def customer_list_url(**query) -> str:
    """The customer list, filtered (its filters' query names, e.g. ``created_at_from``)."""
    from urllib.parse import urlencode

    base = reverse("admin:customers_customer_changelist")
    return f"{base}?{urlencode(query)}" if query else base


def activity(*, actor, params) -> BoardContent:
    start, end = today_bounds()
    new = customer_queryset(actor=actor).filter(created_at__gte=start, created_at__lt=end)
    today = timezone.localdate().isoformat()
    return BoardContent(figures=[
        Figure("new_customers", _("New customers today"), shown_count(new),
               customer_list_url(created_at_from=today)),
    ])


register_board(Board(ACTIVITY, _("Today's customer activity"), activity, permission="customers.customers.view",
                     order=20, description=_("New customers, customers followed up, tags added and events today.")))
