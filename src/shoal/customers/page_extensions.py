"""What other apps add to the customer pages: list columns, list filters, batch actions, detail panels
(``extensions.py``: what they add to the API outputs and the timeline).

Customers imports no app built on it (tags, …). Such an app registers here from its ``registry.py``; the
customer list (``admin/customers.py``), its column chooser (``columns.py``) and the detail page
(``views.py``) read these lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ListColumn:
    """A column of the customer list that users may choose, next to the standard and custom fields."""

    code: str  # never a standard field name nor ``cf:…``
    label: object  # lazily translated
    render: Callable  # (customer) → text or safe HTML; reads what ``prefetch`` put on the row
    prefetch: Callable | None = None  # (request, the page's customers) → None: once per page, not per row
    ordering: object = None  # a Customer field (or an expression over customers) to sort by
    default: bool = False  # shown to users who have not chosen their columns


@dataclass(frozen=True)
class ListAction:
    """A batch action on the selected customers (the queryset is already in the user's data scope)."""

    name: str
    description: object
    function: Callable  # (model_admin, request, queryset) → a response or None
    permission: str  # the menu permission that offers it


@dataclass(frozen=True)
class DetailTabExtension:
    """A tab of the customer detail page that an app adds (e.g. the events tab)."""

    key: str  # the tab's anchor (``#key``): letters, digits and '-'
    label: object  # lazily translated
    render: Callable  # (request, customer) → safe HTML, or None to leave the tab out for this viewer
    order: int = 100


LIST_COLUMNS: dict[str, ListColumn] = {}
DETAIL_TABS: dict[str, DetailTabExtension] = {}
LIST_FILTERS: list = []  # admin list filters (SimpleListFilter classes)
LIST_ACTIONS: dict[str, ListAction] = {}
DETAIL_PANELS: list[Callable] = []  # (request, customer) → safe HTML shown under the detail page's header
TIMELINE_ACTION_LABELS: dict[str, object] = {}  # a timeline entry's ``detail["action"]`` → its label (lazy)


def register_list_column(column: ListColumn) -> None:
    LIST_COLUMNS[column.code] = column


def register_list_filter(list_filter) -> None:
    if list_filter not in LIST_FILTERS:
        LIST_FILTERS.append(list_filter)


def register_list_action(list_action: ListAction) -> None:
    LIST_ACTIONS[list_action.name] = list_action


def register_detail_panel(panel: Callable) -> None:
    if panel not in DETAIL_PANELS:
        DETAIL_PANELS.append(panel)


def register_detail_tab(tab: DetailTabExtension) -> None:
    DETAIL_TABS[tab.key] = tab


def detail_tabs(request, customer) -> list[dict]:
    """The apps' tabs this viewer sees on this customer: ``[{"key", "label", "html"}]``, in order."""
    tabs = []
    for tab in sorted(DETAIL_TABS.values(), key=lambda t: (t.order, t.key)):
        html = tab.render(request, customer)
        if html is not None:
            tabs.append({"key": tab.key, "label": tab.label, "html": html})
    return tabs


def register_timeline_action_labels(labels: dict[str, object]) -> None:
    """Labels shown beside a timeline entry whose ``detail["action"]`` is one of these codes."""
    TIMELINE_ACTION_LABELS.update(labels)
