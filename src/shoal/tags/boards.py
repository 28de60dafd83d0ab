"""The tags app's workbench boards: customer tags top 10 (客户标签 top10) and tag analysis (客户标签分析); and the
figure "tags added today" of today's customer activity (customers app).

Counts are of the viewer's customers: with the data scope "all" the kept counts (``Tag.customer_count``, no scan);
otherwise the taggings of the customers in scope (tagging_customer_idx (customer, tag) per customer of the scope).
Personal tags count only for their owner (``visible_tags``)."""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from shoal.core.workbench import (
    Board,
    BoardContent,
    Chart,
    Figure,
    FigureSource,
    register_board,
    register_figure,
    shown_count,
    today_bounds,
)
from shoal.customers.selectors import scoped_membership_ids

from .models import ObjectType, Tagging, TagHistory, TagKind
from .selectors import visible_tags

TAGS_VIEW = "customers.tags.view"
TOP = 10
CATEGORIES = 8


def _customer_tags(actor):
    return visible_tags(actor=actor).filter(category__object_type=ObjectType.CUSTOMER).order_by()


def tag_counts(*, actor) -> list[dict]:
    """Customers per visible customer tag in the viewer's scope: ``[{"tag_id", "name", "category", "n"}]``, most
    first (tags with none left out)."""
    tags = _customer_tags(actor)
    scope = scoped_membership_ids(actor=actor)
    if scope is None:
        rows = tags.filter(customer_count__gt=0).values("pk", "name", "category__name", "customer_count")
        return sorted(({"tag_id": r["pk"], "name": r["name"], "category": r["category__name"], "n": r["customer_count"]}
                       for r in rows), key=lambda r: (-r["n"], r["name"]))
    counts = (Tagging.objects.filter(tag_id__in=tags.values("pk"), customer_id__in=scope).order_by()
              .values("tag_id", "tag__name", "tag__category__name").annotate(n=Count("customer_id")))
    return sorted(({"tag_id": r["tag_id"], "name": r["tag__name"], "category": r["tag__category__name"], "n": r["n"]}
                   for r in counts), key=lambda r: (-r["n"], r["name"]))


def top10(*, actor, params) -> BoardContent:
    top = tag_counts(actor=actor)[:TOP]
    if not top:
        return BoardContent(empty=_("No tagged customers yet."))
    chart = Chart(labels=[r["name"] for r in top], series=[{"label": pgettext_lazy("tag list", "Customers"),
                                                          "data": [r["n"] for r in top]}], horizontal=True)
    first = top[0]
    return BoardContent(figures=[Figure("first", first["name"], first["n"], reverse("admin:tag_edit", args=[first["tag_id"]]))],
                        chart=chart)


def analysis(*, actor, params) -> BoardContent:
    """Visible customer tags (auto, manual), tags added today, and taggings per category."""
    tags = _customer_tags(actor)
    kinds = dict(tags.values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    per_category: dict[str, int] = {}
    for row in tag_counts(actor=actor):
        per_category[row["category"]] = per_category.get(row["category"], 0) + row["n"]
    biggest = sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(biggest) > CATEGORIES:
        biggest = biggest[:CATEGORIES - 1] + [(str(_("Other")), sum(n for _c, n in biggest[CATEGORIES - 1:]))]
    chart = Chart(labels=[c for c, _n in biggest], series=[{"label": _("Taggings"), "data": [n for _c, n in biggest]}],
                  type="doughnut") if biggest else None
    page = reverse("admin:tags")
    return BoardContent(figures=[
        Figure("tags", _("Customer tags"), sum(kinds.values()), page),
        Figure("auto_tags", _("Auto tags"), kinds.get(TagKind.AUTO, 0), page),
        Figure("manual_tags", _("Manual tags"), kinds.get(TagKind.MANUAL, 0), page),
        _added_today(actor),
    ], chart=chart)


def _added_today(actor) -> Figure:
    start, end = today_bounds()
    history = TagHistory.objects.filter(at__gte=start, at__lt=end, action=TagHistory.ADD,
                                        tag_id__in=_customer_tags(actor).values("pk"))
    scope = scoped_membership_ids(actor=actor)
    if scope is not None:
        history = history.filter(customer_id__in=scope)
    day = start.date().isoformat()
    return Figure("tags_added_today", _("Tags added today"), shown_count(history),
                  f"{reverse('admin:tag_history')}?action=add&start={day}&end={day}")


def tags_added_today(*, actor) -> Figure | None:
    return _added_today(actor) if actor.has_shoal_perm(TAGS_VIEW) else None


register_board(Board("tags.top10", _("Customer tags top 10"), top10, permission=TAGS_VIEW, order=70,
                     description=_("The ten tags with the most of your customers.")))
register_board(Board("tags.analysis", _("Customer tag analysis"), analysis, permission=TAGS_VIEW, order=75,
                     description=_("Customer tags by kind, tags added today, taggings per category.")))
register_figure("customers.activity", FigureSource("tags_added", tags_added_today, order=30))
