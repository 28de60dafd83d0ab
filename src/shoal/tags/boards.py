"""The tags app's workbench boards: customer tags top 10 (客户标签 top10) and tag analysis (客户标签分析); and the
figure "tags added today" of today's customer activity (customers app).

Counts are of the viewer's customers: with the data scope "all" the kept counts (``Tag.customer_count``, no scan);
otherwise from the smaller side: while the visible tags hold at most ``PROBE_TAGGINGS`` taggings, each tagging is
probed for a membership of the scope (membership_customer_idx); past that, the scope's customers are matched against
the taggings (tagging_customer_idx (customer, tag)), which costs in proportion to the scope (about a second for a
manager of 300,000 customers: see the report of issue 13). Personal tags count only for their owner
(``visible_tags``)."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from shoal.core.workbench import (
    Board,
    BoardContent,
    Chart,
    Figure,
    FigureSource,
    capped_count,
    register_board,
    register_figure,
    today_bounds,
)
from shoal.customers.models import CustomerGroupMembership
from shoal.customers.selectors import MembershipScope, membership_scope

from .models import ObjectType, TagBulkAdd, Tagging, TagHistory, TagKind
from .selectors import bulk_adds_q, visible_tags

CAP = 10_000  # "tags added today" is counted up to this (shown as "10,000+" beyond)

TAGS_VIEW = "customers.tags.view"
TOP = 10
CATEGORIES = 8
PROBE_TAGGINGS = 200_000


def in_scope(qs, scope: MembershipScope, *, probe: bool):
    """Rows of ``qs`` (with a ``customer_id``) about customers of ``scope``: an EXISTS probe per row (``probe``), or
    ``customer_id IN`` the scope's customers."""
    if probe:
        members = CustomerGroupMembership.objects.filter(customer_id=OuterRef("customer_id")).filter(scope.q())
        return qs.filter(Exists(members))
    return qs.filter(customer_id__in=CustomerGroupMembership.objects.filter(scope.q()).values("customer_id"))


def _customer_tags(actor):
    return visible_tags(actor=actor).filter(category__object_type=ObjectType.CUSTOMER).order_by()


def tag_counts(*, actor) -> list[dict]:
    """Customers per visible customer tag in the viewer's scope: ``[{"tag_id", "name", "category", "n"}]``, most
    first (tags with none left out)."""
    tags = _customer_tags(actor)
    scope = membership_scope(actor=actor)
    rows = list(tags.filter(customer_count__gt=0).values("pk", "name", "category__name", "customer_count"))
    if scope is None or not rows:
        return sorted(({"tag_id": r["pk"], "name": r["name"], "category": r["category__name"], "n": r["customer_count"]}
                       for r in rows), key=lambda r: (-r["n"], r["name"]))
    taggings = Tagging.objects.filter(tag_id__in=[r["pk"] for r in rows]).order_by()
    probe = sum(r["customer_count"] for r in rows) <= PROBE_TAGGINGS
    counts = (in_scope(taggings, scope, probe=probe)
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
    tags = _customer_tags(actor).values("pk")
    history = TagHistory.objects.filter(at__gte=start, at__lt=end, action=TagHistory.ADD, tag_id__in=tags)
    # and the adds of today's full refreshes, carried by their taggings (Tagging.history_id): none, mostly
    passes = bulk_adds_q(TagBulkAdd.objects.filter(at__gte=start, at__lt=end, tag_id__in=tags).values_list("tag_id", "at"))
    unlogged = Tagging.objects.filter(passes) if passes is not None else None
    scope = membership_scope(actor=actor)
    if scope is not None:  # today's rows, each probed (counted up to a bound)
        history = in_scope(history, scope, probe=True)
        unlogged = in_scope(unlogged, scope, probe=True) if unlogged is not None else None
    n, more = capped_count(history, CAP)
    if not more and unlogged is not None:
        m, more = capped_count(unlogged, CAP - n)
        n = min(n + m, CAP)
    day = start.date().isoformat()
    return Figure("tags_added_today", _("Tags added today"), f"{n}+" if more else n,
                  f"{reverse('admin:tag_history')}?action=add&start={day}&end={day}")


def tags_added_today(*, actor) -> Figure | None:
    return _added_today(actor) if actor.has_shoal_perm(TAGS_VIEW) else None


register_board(Board("tags.top10", _("Customer tags top 10"), top10, permission=TAGS_VIEW, order=70,
                     description=_("The ten tags with the most of your customers.")))
register_board(Board("tags.analysis", _("Customer tag analysis"), analysis, permission=TAGS_VIEW, order=75,
                     description=_("Customer tags by kind, tags added today, taggings per category.")))
register_figure("customers.activity", FigureSource("tags_added", tags_added_today, order=30))
