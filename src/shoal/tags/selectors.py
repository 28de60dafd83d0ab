"""Reads of tags. Personal tags exist only for their owner: every read goes through :func:`visible_tags`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from shoal.accounts.models import User
from shoal.core.actors import is_system
from shoal.core.errors import NotFound

from .models import Tag, TagCategory, Tagging, TagHistory, TagKind


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


class HistoryFeed:
    """Tag history, newest first: the history table's rows, and the adds still carried by their taggings (a full
    refresh writes its adds so: ``Tagging.history_id``; see ``store.log_adds``). Both are filtered alike
    (:meth:`filter`); a page reads at most ``stop`` rows of each, newest first through its own index, and merges
    them by (time, id). Sliced, it gives dicts of HISTORY_FIELDS (``tag_name`` too with ``names=True``)."""

    def __init__(self, logged: QuerySet[TagHistory], unlogged: QuerySet[Tagging] | None, *, names: bool = False):
        self.logged = logged
        self.unlogged = unlogged
        self.names = names

    def _with(self, logged, unlogged) -> HistoryFeed:
        return HistoryFeed(logged, unlogged, names=self.names)

    def filter(self, *, customer_id: int | None = None, customer_in: QuerySet | None = None, tag_id: int | None = None,
               source: str = "", action: str = "", since=None, before=None) -> HistoryFeed:
        logged, unlogged = self.logged, self.unlogged
        if customer_id is not None:
            logged = logged.filter(customer_id=customer_id)
            unlogged = unlogged.filter(customer_id=customer_id) if unlogged is not None else None
        if customer_in is not None:
            logged = logged.filter(customer_id__in=customer_in)
            unlogged = unlogged.filter(customer_id__in=customer_in) if unlogged is not None else None
        if tag_id is not None:
            logged = logged.filter(tag_id=tag_id)
            unlogged = unlogged.filter(tag_id=tag_id) if unlogged is not None else None
        if source:
            logged = logged.filter(source=source)
            unlogged = unlogged.filter(source=source) if unlogged is not None else None
        if action:
            logged = logged.filter(action=action)
            unlogged = unlogged if action == TagHistory.ADD else None
        if since is not None:
            logged = logged.filter(at__gte=since)
            unlogged = unlogged.filter(applied_at__gte=since) if unlogged is not None else None
        if before is not None:
            logged = logged.filter(at__lt=before)
            unlogged = unlogged.filter(applied_at__lt=before) if unlogged is not None else None
        return self._with(logged, unlogged)

    def with_names(self) -> HistoryFeed:
        return HistoryFeed(self.logged, self.unlogged, names=True)

    def all(self) -> HistoryFeed:  # django-ninja's pagination counts ``queryset.all()``
        return self

    def count(self) -> int:
        return self.logged.count() + (self.unlogged.count() if self.unlogged is not None else 0)

    def __len__(self) -> int:
        return self.count()

    def _unlogged_rows(self, stop: int) -> list[dict]:
        if self.unlogged is None:
            return []
        rows = (self.unlogged.order_by("-applied_at", "-history_id")
                .values_list("history_id", "customer_id", "tag_id", "source", "rule_id", "applied_at")[:stop])
        return [{"id": hid, "customer_id": cid, "tag_id": tid, "action": TagHistory.ADD, "source": source,
                 "rule_id": rule_id, "actor_id": None, "actor_name": "", "at": at}
                for hid, cid, tid, source, rule_id, at in rows]

    def __getitem__(self, item):
        if not isinstance(item, slice) or (item.step or 1) != 1 or (item.start or 0) < 0 or item.stop is None:
            raise TypeError("HistoryFeed takes slices [start:stop]")
        start, stop = item.start or 0, item.stop
        if stop <= start:
            return []
        rows = list(self.logged.order_by("-at", "-id").values(*HISTORY_FIELDS)[:stop]) + self._unlogged_rows(stop)
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
                       Tagging.objects.filter(history_id__isnull=False, tag_id__in=visible))
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
