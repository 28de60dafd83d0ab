"""Reads of tags. Personal tags exist only for their owner: every read goes through :func:`visible_tags`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from shoal.accounts.models import User
from shoal.core.actors import is_system
from shoal.core.errors import NotFound

from .models import Tag, TagBulkAdd, TagCategory, Tagging, TagHistory, TagKind, TagSource


def visible_q(actor) -> Q:
    """Global tags, and the actor's own personal tags."""
    if is_system(actor):
        return Q()
    own = actor.pk if isinstance(actor, User) else None  # an application (X-App-Key) owns no personal tags
    return ~Q(kind=TagKind.PERSONAL) | Q(kind=TagKind.PERSONAL, owner_id=own) if own else ~Q(kind=TagKind.PERSONAL)


def visible_tags(*, actor) -> QuerySet[Tag]:
    return Tag.objects.filter(visible_q(actor)).select_related("category")


def tag_get(*, actor, pk) -> Tag:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(_tag_not_found())
    tag = visible_tags(actor=actor).filter(pk=pk).first()
    if tag is None:
        raise NotFound(_tag_not_found())
    return tag


def _tag_not_found() -> str:
    from django.utils.translation import gettext

    return gettext("Tag not found")


def category_tree(*, object_type: str | None = None) -> list[TagCategory]:
    qs = TagCategory.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    return list(qs)


def customer_tags(*, actor, customer_ids: Iterable[int]) -> dict[int, list[dict]]:
    """customer id → its tags the actor may see: ``[{"id", "name", "kind"}]`` (category order, then name)."""
    ids = list(customer_ids)
    out: dict[int, list[dict]] = {pk: [] for pk in ids}
    if not ids:
        return out
    rows = (Tagging.objects.filter(customer_id__in=ids, tag_id__in=visible_tags(actor=actor).values("pk"))
            .order_by("tag__category__order", "tag__name", "tag_id")
            .values_list("customer_id", "tag_id", "tag__name", "tag__kind"))
    for customer_id, tag_id, name, kind in rows:
        out[customer_id].append({"id": tag_id, "name": name, "kind": kind})
    return out


HISTORY_FIELDS = ("id", "customer_id", "tag_id", "action", "source", "rule_id", "actor_id", "actor_name", "at")


def bulk_adds_q(passes) -> Q | None:
    """The taggings whose adds a full pass of ``passes`` (TagBulkAdd rows, as (tag id, at)) wrote without history
    rows, as one condition on the taggings' key (a pass per time, its tags); None when there is no such pass."""
    by_time: dict = {}
    for tag_id, at in passes:
        by_time.setdefault(at, []).append(tag_id)
    if not by_time:
        return None
    q = Q()
    for at, tag_ids in by_time.items():
        q |= Q(applied_at=at, tag_id__in=sorted(tag_ids))
    return q & Q(history_id__isnull=False)


class HistoryFeed:
    """Tag history, newest first: the history table's rows, and the adds a full refresh wrote without history rows
    (carried by their taggings: ``Tagging.history_id``; ``store.log_adds`` writes them to the table when they go).

    Those taggings are found through their passes (``TagBulkAdd``: a tag and a time) and the taggings' key
    (tag, customer), where within a pass the reserved ids follow the customers: no index over millions of
    taggings. Both sides are filtered alike (:meth:`filter`); a page reads at most ``stop`` rows of the table
    (newest first through its index) and of each pass, and merges them by (time, id). Sliced, the feed gives
    dicts of HISTORY_FIELDS (and ``tag_name`` with :meth:`with_names`)."""

    def __init__(self, logged: QuerySet[TagHistory], unlogged: QuerySet[Tagging] | None, passes: QuerySet | None, *,
                 customer: bool = False, scoped: bool = False, names: bool = False):
        self.logged = logged
        self.unlogged = unlogged  # taggings carrying their adds, filtered as the table's rows
        self.passes = passes  # the full passes that may have written them
        self.customer = customer  # filtered by customer: the taggings' (customer, tag) index finds them
        self.scoped = scoped  # filtered by a set of customers (a data scope, a search)
        self.names = names

    def filter(self, *, customer_id: int | None = None, customer_in: QuerySet | None = None, tag_id: int | None = None,
               source: str = "", action: str = "", since=None, before=None) -> HistoryFeed:
        logged, unlogged, passes, customer, scoped = self.logged, self.unlogged, self.passes, self.customer, self.scoped
        if action and action != TagHistory.ADD or source and source != TagSource.RULE:
            unlogged = passes = None  # only rules' adds are carried
        if customer_id is not None:
            logged = logged.filter(customer_id=customer_id)
            customer = True
            if unlogged is not None:
                unlogged = unlogged.filter(customer_id=customer_id)
        if customer_in is not None:
            logged = logged.filter(customer_id__in=customer_in)
            scoped = True
            if unlogged is not None:
                unlogged = unlogged.filter(customer_id__in=customer_in)
        if tag_id is not None:
            logged = logged.filter(tag_id=tag_id)
            if unlogged is not None:
                unlogged, passes = unlogged.filter(tag_id=tag_id), passes.filter(tag_id=tag_id)
        if source:
            logged = logged.filter(source=source)
        if action:
            logged = logged.filter(action=action)
        if since is not None:
            logged = logged.filter(at__gte=since)
            if unlogged is not None:
                unlogged, passes = unlogged.filter(applied_at__gte=since), passes.filter(at__gte=since)
        if before is not None:
            logged = logged.filter(at__lt=before)
            if unlogged is not None:
                unlogged, passes = unlogged.filter(applied_at__lt=before), passes.filter(at__lt=before)
        return HistoryFeed(logged, unlogged, passes, customer=customer, scoped=scoped, names=self.names)

    def with_names(self) -> HistoryFeed:
        return HistoryFeed(self.logged, self.unlogged, self.passes, customer=self.customer, scoped=self.scoped,
                           names=True)

    def all(self) -> HistoryFeed:  # django-ninja's pagination counts ``queryset.all()``
        return self

    def _carried(self) -> QuerySet[Tagging] | None:
        """The taggings carrying adds, restricted to their passes (None: there are none)."""
        if self.unlogged is None:
            return None
        if self.customer:
            return self.unlogged
        q = bulk_adds_q(self.passes.values_list("tag_id", "at"))
        return None if q is None else self.unlogged.filter(q)

    def count(self) -> int:
        carried = self._carried()
        return self.logged.count() + (carried.count() if carried is not None else 0)

    def __len__(self) -> int:
        return self.count()

    def _carried_rows(self, stop: int) -> list[tuple]:
        columns = ("history_id", "customer_id", "tag_id", "source", "rule_id", "applied_at")
        carried = self._carried()
        if carried is None:
            return []
        if self.customer or self.scoped:  # a customer's few taggings; the customers of a scope: sorted by the database
            return list(carried.order_by("-applied_at", "-history_id").values_list(*columns)[:stop])
        rows: list[tuple] = []
        for tag_id, at in self.passes.values_list("tag_id", "at"):  # each newest first along the key (tag, customer)
            rows.extend(self.unlogged.filter(tag_id=tag_id, applied_at=at, history_id__isnull=False)
                        .order_by("-customer_id").values_list(*columns)[:stop])
        return rows

    def __getitem__(self, item):
        if not isinstance(item, slice) or (item.step or 1) != 1 or (item.start or 0) < 0 or item.stop is None:
            raise TypeError("HistoryFeed takes slices [start:stop]")
        start, stop = item.start or 0, item.stop
        if stop <= start:
            return []
        rows = list(self.logged.order_by("-at", "-id").values(*HISTORY_FIELDS)[:stop])
        rows += [{"id": hid, "customer_id": cid, "tag_id": tid, "action": TagHistory.ADD, "source": source,
                  "rule_id": rule_id, "actor_id": None, "actor_name": "", "at": at}
                 for hid, cid, tid, source, rule_id, at in self._carried_rows(stop)]
        rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
        rows = rows[start:stop]
        if self.names and rows:
            names = dict(Tag.objects.filter(pk__in={r["tag_id"] for r in rows}).values_list("pk", "name"))
            for row in rows:
                row["tag_name"] = names.get(row["tag_id"], "")
        return rows


def history_feed(*, actor, customer_id: int | None = None, tag_id: int | None = None) -> HistoryFeed:
    """History of the tags the actor may see (the customer scope is the caller's check), newest first."""
    visible = visible_tags(actor=actor).values("pk")
    feed = HistoryFeed(TagHistory.objects.filter(tag_id__in=visible),
                       Tagging.objects.filter(history_id__isnull=False, tag_id__in=visible),
                       TagBulkAdd.objects.filter(tag_id__in=visible).order_by("-at", "-tag_id"))
    return feed.filter(customer_id=customer_id, tag_id=tag_id)


def rule_preview_queryset(*, actor, tag: Tag, query=None, sql: str | None = None, include_tags=None,
                          exclude_tags=None) -> QuerySet:
    """The customers in ``actor``'s scope a rule of ``tag`` would match (the rule checked as when it is saved,
    and conditions on fields masked for the actor allowed only as the query page allows them)."""
    from django.utils.translation import gettext

    from shoal.core.errors import ShoalError
    from shoal.segments.selectors import segment_queryset

    from .rules import clean_rule, has_any

    if tag.kind != TagKind.AUTO:
        raise ShoalError("not_auto", gettext("Only auto tags have rules"))
    rule = clean_rule(tag=tag, query=query, sql=sql, include_tags=include_tags, exclude_tags=exclude_tags)
    qs = segment_queryset(actor=actor, query=rule["query"], sql=rule["sql"] or None)
    if rule["include_tags"]:
        qs = qs.filter(has_any(rule["include_tags"]))
    if rule["exclude_tags"]:
        qs = qs.filter(~has_any(rule["exclude_tags"]))
    return qs
