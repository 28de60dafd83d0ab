"""Reads of the tag pages (标签管理, 标签历史, the workbench card): the category tree in display order, the tag
list of a category, the analytics, a rule's preview and the filtered history.

Personal tags exist only for their owner (every read starts from ``selectors.visible_tags``); customers are
read through the actor's data scope and masked (``customers.masking``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from shoal.customers import masking
from shoal.customers.selectors import customer_queryset, customer_search_q
from shoal.segments.selectors import segment_page, segment_queryset
from shoal.segments.sql import guarded

from . import rules as rule_logic
from .models import ObjectType, Tag, TagCategory, Tagging, TagHistory, TagKind
from .selectors import HistoryFeed, history_feed, visible_tags

PREVIEW_SAMPLE = 10
TOP = 10
DISTRIBUTION_MAX = 20  # categories shown in the distribution chart (the largest)


@dataclass
class CategoryNode:
    category: TagCategory
    depth: int
    tags: int  # tags directly in it that the actor sees


def category_nodes(*, actor, object_type: str) -> list[CategoryNode]:
    """The category tree of one object type, depth first in display order (order, name)."""
    categories = list(TagCategory.objects.filter(object_type=object_type).order_by("order", "name", "id"))
    counts = dict(visible_tags(actor=actor).filter(category__object_type=object_type).order_by()
                  .values_list("category_id").annotate(n=Count("id")).values_list("category_id", "n"))
    children: dict[int | None, list[TagCategory]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    out: list[CategoryNode] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        category, depth = stack.pop()
        out.append(CategoryNode(category, depth, counts.get(category.pk, 0)))
        stack.extend((c, depth + 1) for c in reversed(children.get(category.pk, [])))
    return out


def descendant_ids(category: TagCategory) -> list[int]:
    """The category and every category under it."""
    ids, frontier = [category.pk], [category.pk]
    while frontier:
        frontier = list(TagCategory.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


def tag_list(*, actor, object_type: str, category: TagCategory | None = None, subcategories: bool = True,
             keyword: str = "") -> QuerySet[Tag]:
    """The tags the actor sees in a category (and its subcategories), or in every category of the type."""
    qs = visible_tags(actor=actor).filter(category__object_type=object_type)
    if category is not None:
        qs = qs.filter(category_id__in=descendant_ids(category) if subcategories else [category.pk])
    if keyword.strip():
        qs = qs.filter(name__icontains=keyword.strip())
    return qs.select_related("category", "owner").order_by("category__order", "category__name", "name", "id")


def rule_tag_choices(*, tag: Tag) -> list[Tag]:
    """Tags a rule of ``tag`` may include or exclude: the other customer tags that are not personal."""
    return list(Tag.objects.filter(category__object_type=ObjectType.CUSTOMER).exclude(kind=TagKind.PERSONAL)
                .exclude(pk=tag.pk).select_related("category").order_by("category__order", "category__name", "name"))


# -- analytics ---------------------------------------------------------------------------------------------
def top_tags(*, actor, limit: int = TOP) -> list[tuple[str, int]]:
    """The customer tags the actor sees with the most customers: ``[(name, customers)]``."""
    rows = (visible_tags(actor=actor).filter(category__object_type=ObjectType.CUSTOMER, customer_count__gt=0)
            .order_by("-customer_count", "name").values_list("name", "customer_count")[:limit])
    return list(rows)


def category_distribution(*, actor, limit: int = DISTRIBUTION_MAX) -> list[tuple[str, int]]:
    """Customers per category: how many customers have at least one (visible) tag of the category itself,
    the largest categories first: ``[(category name, customers)]``."""
    tag_ids = visible_tags(actor=actor).filter(category__object_type=ObjectType.CUSTOMER, customer_count__gt=0)
    rows = (Tagging.objects.filter(tag_id__in=tag_ids.values("pk")).order_by()
            .values("tag__category_id", "tag__category__name")
            .annotate(n=Count("customer_id", distinct=True)).order_by("-n", "tag__category__name"))
    return [(row["tag__category__name"], row["n"]) for row in rows[:limit]]


def chart_data(pairs: list[tuple[str, int]], label: str) -> dict:
    """Chart.js data of one bar series (unfold's chart component: its bundled Chart.js draws it)."""
    return {"labels": [name for name, _n in pairs],
            "datasets": [{"label": str(label), "data": [n for _name, n in pairs], "displayYAxis": True,
                          "backgroundColor": "var(--color-primary-500)", "maxBarThickness": 36, "borderRadius": 4}]}


# -- rule preview --------------------------------------------------------------------------------------------
def rule_preview(*, actor, query=None, sql: str | None = None, include_tags=(), exclude_tags=(),
                 size: int = PREVIEW_SAMPLE) -> dict:
    """The customers of the actor's data scope a rule would tag: ``{"count", "sample"}`` (sample masked as in
    lists). The same reads as the query page's preview, plus the include (has any) and exclude (has none)
    tags. Raises ``ShoalError`` for a bad rule."""
    with guarded():
        qs = segment_queryset(actor=actor, query=query, sql=sql or None)
        if include_tags:
            qs = qs.filter(rule_logic.has_any(include_tags))
        if exclude_tags:
            qs = qs.filter(~rule_logic.has_any(exclude_tags))
        count = qs.count()
        rows = segment_page(qs, start=0, size=size, total=count)
    sample = masking.mask_customer_rows(rows, viewer=actor, context="list")
    keys = ("id", "name", "mobile", "email", "city")
    return {"count": count, "sample": [{k: row.get(k) for k in keys} for row in sample]}


# -- history -------------------------------------------------------------------------------------------------
@dataclass
class HistoryFilter:
    tag_id: int | None = None
    customer: str = ""  # an id or a keyword (name, mobile, email…)
    source: str = ""
    action: str = ""
    start: date | None = None
    end: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def history_search(*, actor, where: HistoryFilter) -> HistoryFeed:
    """History rows of the tags the actor sees, on customers of the actor's data scope, newest first. Dates
    are the actor's local days (the server's time zone), both ends included."""
    feed = history_feed(actor=actor, tag_id=where.tag_id)
    scope = customer_queryset(actor=actor)
    customer = where.customer.strip()
    if customer:
        by_id = customer.isdigit() and len(customer) <= 18  # a longer number is no id: searched as text
        scope = scope.filter(Q(pk=int(customer)) if by_id else customer_search_q(customer))
    return feed.filter(
        customer_in=scope.values("pk") if customer or scope.query.where else None,  # all visible: no sub-select
        source=where.source, action=where.action,
        since=_day_start(where.start) if where.start else None,
        before=_day_start(where.end + timedelta(days=1)) if where.end else None)


def history_rows(page_rows, *, actor) -> list[dict]:
    """One page of history in words: the tag's name and kind, the customer's name (masked list context is not
    needed: only the name shows), the actor's name or the rule."""
    from shoal.customers.models import Customer

    rows = [TagHistory(**row) for row in page_rows]  # the model's labels (get_action_display…)
    tags = {t.pk: t for t in visible_tags(actor=actor).filter(pk__in={r.tag_id for r in rows})}
    names = dict(Customer.objects.filter(pk__in={r.customer_id for r in rows}).values_list("pk", "name"))
    return [{"entry": r, "tag": tags.get(r.tag_id), "customer_name": names.get(r.customer_id, "")} for r in rows]
