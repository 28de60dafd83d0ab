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


def history_queryset(*, actor, customer_id: int | None = None, tag_id: int | None = None) -> QuerySet[TagHistory]:
    """History rows of the tags the actor may see (the customer scope is the caller's check)."""
    qs = TagHistory.objects.filter(tag_id__in=visible_tags(actor=actor).values("pk"))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if tag_id is not None:
        qs = qs.filter(tag_id=tag_id)
    return qs.order_by("-at", "-id")


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
