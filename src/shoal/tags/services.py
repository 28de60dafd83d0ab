"""Writes of tag categories, tags, rules and manual taggings. Keyword-only, with an explicit ``actor``.

Who may do what is checked by the callers (API, pages) with menu permissions; the services check what the
data says: personal tags belong to their owner, customers must be in the actor's data scope, auto tags take
no manual taggings."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from shoal.accounts.models import Application
from shoal.core.actors import SYSTEM, is_system
from shoal.core.errors import Conflict, NotFound, ShoalError
from shoal.core.oplog import log_operation
from shoal.core.services import model_update
from shoal.customers.masking import masked_field_keys
from shoal.customers.selectors import customer_queryset
from shoal.customers.services.timeline import actor_name, is_user
from shoal.segments.selectors import validate

from . import rules as rule_logic
from . import store
from .models import ObjectType, Tag, TagCategory, Tagging, TagKind, TagRule, TagSource
from .refresh import expiry_for

logger = logging.getLogger("shoal.tags")
MAX_BATCH = 100_000  # customers per apply/remove call


def _user_id(actor):
    return None if is_system(actor) or not getattr(actor, "is_authenticated", False) else actor.pk


# -- categories ----------------------------------------------------------------------------------------
def _clean_category(data: dict, *, instance: TagCategory | None = None) -> dict:
    out = {}
    if "name" in data or instance is None:
        name = (data.get("name") or "").strip()
        if not name or len(name) > 100:
            raise ShoalError("invalid", _("A category needs a name of at most 100 characters"), {"field": "name"})
        out["name"] = name
    if "object_type" in data or instance is None:
        kind = data.get("object_type") or ObjectType.CUSTOMER
        if kind not in ObjectType.values:
            raise ShoalError("invalid", _("Unknown object type %(type)s") % {"type": kind}, {"field": "object_type"})
        if instance is not None and kind != instance.object_type and (instance.tags.exists() or instance.children.exists()):
            raise ShoalError("invalid", _("A category with tags or subcategories keeps its object type"),
                             {"field": "object_type"})
        out["object_type"] = kind
    if "parent_id" in data:
        parent_id = data["parent_id"]
        parent = None
        if parent_id is not None:
            parent = TagCategory.objects.filter(pk=parent_id).first()
            if parent is None:
                raise ShoalError("invalid", _("Unknown parent category %(id)s") % {"id": parent_id}, {"field": "parent_id"})
            node, depth = parent, 0
            while node is not None:
                if instance is not None and node.pk == instance.pk:
                    raise ShoalError("invalid", _("A category cannot be moved under itself"), {"field": "parent_id"})
                node, depth = node.parent, depth + 1
                if depth > 20:
                    raise ShoalError("invalid", _("Categories nest at most 20 levels deep"), {"field": "parent_id"})
            kind = out.get("object_type") or (instance.object_type if instance else ObjectType.CUSTOMER)
            if parent.object_type != kind:
                raise ShoalError("invalid", _("The parent category is for another object type"), {"field": "parent_id"})
        out["parent"] = parent
    if "order" in data:
        order = data["order"]
        if isinstance(order, bool) or not isinstance(order, int) or abs(order) > 2**31 - 1:
            raise ShoalError("invalid", _("The display order must be a whole number"), {"field": "order"})
        out["order"] = order
    return out


def _unique_name_error(what: str) -> Conflict:
    return Conflict("duplicate", _("A %(what)s with this name already exists here") % {"what": what}, {"field": "name"})


def category_create(*, actor, data: dict) -> TagCategory:
    values = _clean_category(data)
    try:
        with transaction.atomic():
            category = TagCategory.objects.create(**values)
    except IntegrityError:
        raise _unique_name_error(_("category"))
    log_operation(actor=actor, action="tag_category.create", obj=category)
    return category


def category_update(*, actor, category: TagCategory, data: dict) -> TagCategory:
    values = _clean_category(data, instance=category)
    try:
        with transaction.atomic():
            model_update(instance=category, fields=list(values), data=values)
    except IntegrityError:
        raise _unique_name_error(_("category"))
    log_operation(actor=actor, action="tag_category.update", obj=category)
    return category


def category_delete(*, actor, category: TagCategory) -> None:
    if category.children.exists() or category.tags.exists():
        raise Conflict("category_not_empty",
                       _("The category still has subcategories or tags; move or delete them first"))
    log_operation(actor=actor, action="tag_category.delete", obj=category)
    category.delete()


# -- tags -------------------------------------------------------------------------------------------------
def _clean_tag(data: dict, *, actor, instance: Tag | None = None) -> dict:
    out = {}
    creating = instance is None
    if "name" in data or creating:
        name = (data.get("name") or "").strip()
        if not name or len(name) > 100:
            raise ShoalError("invalid", _("A tag needs a name of at most 100 characters"), {"field": "name"})
        out["name"] = name
    if "category_id" in data or creating:
        category = TagCategory.objects.filter(pk=data.get("category_id")).first() if data.get("category_id") is not None else None
        if category is None:
            raise ShoalError("invalid", _("Choose an existing category"), {"field": "category_id"})
        out["category"] = category
    if "kind" in data or creating:
        kind = data.get("kind") or TagKind.MANUAL
        if kind not in TagKind.values:
            raise ShoalError("invalid", _("The kind must be auto, manual or personal"), {"field": "kind"})
        if instance is not None and kind != instance.kind:
            if instance.kind == TagKind.PERSONAL or kind == TagKind.PERSONAL:
                raise ShoalError("invalid", _("A personal tag stays personal and a global tag stays global"),
                                 {"field": "kind"})
            if Tagging.objects.filter(tag=instance).exists():
                raise ShoalError("invalid", _("A tag that customers have keeps its kind; remove it from them first"),
                                 {"field": "kind"})
        out["kind"] = kind
    for key, label in (("score", _("score")),):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1_000_000:
                raise ShoalError("invalid", _("The %(label)s must be a whole number between -1000000 and 1000000")
                                 % {"label": label}, {"field": key})
            out[key] = value
    if "valid_days" in data:
        value = data["valid_days"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36500):
            raise ShoalError("invalid", _("The validity is a number of days from 1 to 36500, or empty"),
                             {"field": "valid_days"})
        out["valid_days"] = value
    for key in ("enabled", "refresh_on_change"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ShoalError("invalid", _("%(field)s must be true or false") % {"field": key}, {"field": key})
            out[key] = data[key]
    if "description" in data:
        description = data["description"] or ""
        if not isinstance(description, str) or len(description) > 500:
            raise ShoalError("invalid", _("The description has at most 500 characters"), {"field": "description"})
        out["description"] = description
    category = out.get("category") or (instance.category if instance else None)
    if category is not None and category.object_type != ObjectType.CUSTOMER and (out.get("kind") or instance.kind) == TagKind.AUTO:
        raise ShoalError("invalid", _("Auto tags are for customers only"), {"field": "kind"})
    return out


def tag_create(*, actor, data: dict) -> Tag:
    values = _clean_tag(data, actor=actor)
    if values["kind"] == TagKind.PERSONAL:
        if _user_id(actor) is None:
            raise ShoalError("invalid", _("A personal tag belongs to a user"), {"field": "kind"})
        values["owner"] = actor
    values["created_by"] = actor if _user_id(actor) else None
    try:
        with transaction.atomic():
            tag = Tag.objects.create(**values)
    except IntegrityError:
        raise _unique_name_error(_("tag"))
    log_operation(actor=actor, action="tag.create", obj=tag, detail={"kind": tag.kind})
    return tag


def tag_update(*, actor, tag: Tag, data: dict) -> Tag:
    check_owner(actor=actor, tag=tag)
    values = _clean_tag(data, actor=actor, instance=tag)
    try:
        with transaction.atomic():
            old_score = store.locked_scores([tag.pk])[tag.pk]  # as stored, the row locked until commit
            tag, changed = model_update(instance=tag, fields=list(values), data=values)
            if tag.score != old_score:
                store.add_score_to_tagged(tag.pk, tag.score - old_score)
            if "enabled" in values and tag.enabled and tag.kind == TagKind.AUTO:
                Tag.objects.filter(pk=tag.pk).update(needs_full=True)
    except IntegrityError:
        raise _unique_name_error(_("tag"))
    if changed:
        log_operation(actor=actor, action="tag.update", obj=tag, detail={k: str(v) for k, v in values.items()})
    return tag


def tag_delete(*, actor, tag: Tag) -> None:
    """Delete a tag: its customers lose it (scores follow); its history goes with it. Refused while a refresh
    holds the tag (its claim), so no refresh writes taggings of a tag that is gone."""
    check_owner(actor=actor, tag=tag)
    deps = rule_logic.dependency_map()
    users = [t for t, used in deps.items() if tag.pk in used]
    if users:
        names = list(Tag.objects.filter(pk__in=users).values_list("name", flat=True))
        raise Conflict("tag_in_use", _("Rules of other tags use this tag: %(names)s") % {"names": "、".join(names)},
                       {"tags": users})
    from .refresh import claim

    token = f"delete-{tag.pk}-{timezone.now().timestamp()}"
    if not claim([tag.pk], token, timezone.now()):
        raise Conflict("tag_busy", _("The tag is being refreshed; try again when the refresh has finished"),
                       {"tag": tag.pk})
    with transaction.atomic():
        score = store.locked_scores([tag.pk]).get(tag.pk, 0)
        while True:
            ids = list(Tagging.objects.filter(tag=tag).order_by().values_list("customer_id", flat=True)[:store.BATCH])
            if not ids:
                break
            removed = store.delete_taggings(tag.pk, ids, log=False)  # its history goes with it
            store.add_scores({c: -score for c in removed})
        log_operation(actor=actor, action="tag.delete", obj=tag)
        tag.delete()


def delete_personal_tags(*, owner) -> None:
    """A user is deleted: their personal tags go first, through :func:`tag_delete` (scores follow)."""
    for tag in Tag.objects.filter(kind=TagKind.PERSONAL, owner=owner):
        tag_delete(actor=SYSTEM, tag=tag)


def customers_deleting(customer_ids) -> None:
    """Customers are about to be deleted (their taggings go with them): the tags' counts follow, and the adds
    of their taggings not in the history table yet are written to it (the history outlives the customer)."""
    ids = list(customer_ids)
    for start in range(0, len(ids), store.BATCH):
        chunk = ids[start:start + store.BATCH]
        store.log_adds(None, chunk)
        counts = (Tagging.objects.filter(customer_id__in=chunk).order_by().values("tag_id")
                  .annotate(n=Count("customer_id")).values_list("tag_id", "n"))
        for tag_id, n in counts:
            Tag.objects.filter(pk=tag_id).update(customer_count=F("customer_count") - n)


def check_owner(*, actor, tag: Tag) -> None:
    """A personal tag is its owner's alone: to anyone else it does not exist."""
    if tag.kind == TagKind.PERSONAL and not is_system(actor) and (not is_user(actor) or tag.owner_id != actor.pk):
        raise NotFound(_("Tag not found"))


# -- rules ------------------------------------------------------------------------------------------------
def _rule_values(tag: Tag, data: dict, instance: TagRule | None = None, *, actor=None) -> dict:
    if tag.kind != TagKind.AUTO:
        raise ShoalError("not_auto", _("Only auto tags have rules"))
    merged = {k: getattr(instance, k) for k in ("query", "sql", "include_tags", "exclude_tags")} if instance else {}
    merged.update({k: data[k] for k in ("query", "sql", "include_tags", "exclude_tags") if k in data})
    cleaned = rule_logic.clean_rule(tag=tag, query=merged.get("query"), sql=merged.get("sql"),
                                    include_tags=merged.get("include_tags"), exclude_tags=merged.get("exclude_tags"))
    if "rows" in data:
        cleaned["rows"] = data["rows"]
    masked = masked_field_keys(viewer=actor)
    if masked and (cleaned["query"] is not None or cleaned["sql"]):
        # the writer's masking limits hold for rules too: a tag's customer count must not answer
        # "mobile starts with 138…" for a user who may not see mobiles
        validate(query=cleaned["query"], sql=cleaned["sql"] or None, masked=masked)
    return cleaned


def rule_create(*, actor, tag: Tag, data: dict) -> TagRule:
    values = _rule_values(tag, data, actor=actor)
    with transaction.atomic():
        rule = TagRule.objects.create(tag=tag, **values)
        _rules_changed(tag)
    log_operation(actor=actor, action="tag_rule.create", obj=tag, detail={"rule": rule.pk})
    return rule


def rule_update(*, actor, rule: TagRule, data: dict) -> TagRule:
    values = _rule_values(rule.tag, data, rule, actor=actor)
    with transaction.atomic():
        model_update(instance=rule, fields=list(values), data=values)
        _rules_changed(rule.tag)
    log_operation(actor=actor, action="tag_rule.update", obj=rule.tag, detail={"rule": rule.pk})
    return rule


def rule_delete(*, actor, rule: TagRule) -> None:
    tag = rule.tag
    with transaction.atomic():
        rule.delete()
        _rules_changed(tag)
    log_operation(actor=actor, action="tag_rule.delete", obj=tag, detail={"rule": rule.pk})


def _rules_changed(tag: Tag) -> None:
    """The next refresh of the tag re-reads every customer."""
    relative = any(rule_logic.rule_is_relative(r) for r in tag.rules.all())
    Tag.objects.filter(pk=tag.pk).update(needs_full=True, relative=relative)


# -- manual taggings ----------------------------------------------------------------------------------------
def _check_manual(actor, tag: Tag) -> None:
    check_owner(actor=actor, tag=tag)
    if tag.kind == TagKind.AUTO:
        raise ShoalError("auto_tag", _("%(name)s is an auto tag: its rules decide who has it") % {"name": tag.name})
    if not tag.enabled:
        raise ShoalError("tag_disabled", _("%(name)s is disabled") % {"name": tag.name})
    if tag.category.object_type != ObjectType.CUSTOMER:
        raise ShoalError("invalid", _("%(name)s is not a customer tag") % {"name": tag.name})


def _customer_ids(actor, customer_ids) -> list[int]:
    if (not isinstance(customer_ids, list | tuple | set) or not customer_ids or len(customer_ids) > MAX_BATCH
            or any(isinstance(c, bool) or not isinstance(c, int) for c in customer_ids)):
        raise ShoalError("invalid", _("Give 1 to %(limit)s customer ids") % {"limit": MAX_BATCH},
                         {"field": "customer_ids"})
    wanted = sorted(set(customer_ids))
    visible: set[int] = set()
    scoped = customer_queryset(actor=SYSTEM if isinstance(actor, Application) else actor)  # apps: no data scope
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        visible |= set(scoped.filter(pk__in=chunk).order_by().values_list("pk", flat=True))
    missing = [c for c in wanted if c not in visible]
    if missing:
        raise NotFound(_("Customers not found: %(ids)s") % {"ids": ", ".join(map(str, missing[:20]))},
                       {"customer_ids": missing[:100]})
    return wanted


def apply_tag(*, actor, tag: Tag, customer_ids, source: str = TagSource.USER,
              expires_at: datetime | None = None) -> int:
    """Give a manual or personal tag to customers (those that lack it). Returns how many got it."""
    _check_manual(actor, tag)
    ids = _customer_ids(actor, customer_ids)
    now = timezone.now()
    with transaction.atomic():
        added = store.tag_customers(tag.pk, ids, source=source, at=now,
                                    expires_at=expires_at if expires_at is not None else expiry_for(tag, now),
                                    actor_id=_user_id(actor), actor_name=actor_name(actor))
    if added:
        log_operation(actor=actor, action="tag.apply", obj=tag, detail={"customers": len(added), "source": source})
        transaction.on_commit(lambda: _refresh_on_change(added))
    return len(added)


def remove_tag(*, actor, tag: Tag, customer_ids, source: str = TagSource.USER) -> int:
    """Take a manual or personal tag from customers. Returns how many lost it."""
    _check_manual(actor, tag)
    ids = _customer_ids(actor, customer_ids)
    now = timezone.now()
    with transaction.atomic():
        removed = store.untag_customers(tag.pk, ids, source=source, at=now, actor_id=_user_id(actor),
                                        actor_name=actor_name(actor))
    if removed:
        log_operation(actor=actor, action="tag.remove", obj=tag, detail={"customers": len(removed), "source": source})
        transaction.on_commit(lambda: _refresh_on_change(removed))
    return len(removed)


def _refresh_on_change(customer_ids) -> None:
    """Auto tags marked "refresh on change" re-read these customers now."""
    from .refresh import refresh

    tag_ids = list(Tag.objects.filter(kind=TagKind.AUTO, enabled=True, refresh_on_change=True)
                   .values_list("pk", flat=True))
    if tag_ids and customer_ids:
        try:  # after the write's commit: a rule that cannot run must not turn a saved edit into an error
            refresh(tag_ids=tag_ids, customer_ids=customer_ids)
        except Exception:
            logger.exception("refresh on change failed for %s customers", len(customer_ids))


customers_changed = _refresh_on_change


def move_taggings(*, actor, source_id: int, target_id: int) -> int:
    """Merging customers: the target takes the source's manual and personal taggings it lacks."""
    now = timezone.now()
    moved = 0
    for tag_id, source, expires_at in (Tagging.objects.filter(customer_id=source_id).exclude(source=TagSource.RULE)
                                       .values_list("tag_id", "source", "expires_at")):
        moved += len(store.tag_customers(tag_id, [target_id], source=source, at=now, expires_at=expires_at,
                                         actor_id=_user_id(actor), actor_name=actor_name(actor)))
    return moved


# -- refresh now ----------------------------------------------------------------------------------------------
INLINE_MAX_CUSTOMERS = 50_000  # up to this many customers a refresh runs in the request; beyond, a job


def refresh_now(*, actor, tag: Tag | None = None, full: bool = False) -> dict:
    """"Refresh now" from a page or the API: run in the request for small databases (the result), or queue the
    ``tags.refresh_all`` job for the worker (``{"job_id"}``; progress at ``GET /api/v1/jobs/{id}``)."""
    from django.conf import settings

    from shoal.customers.models import Customer
    from shoal.schedules import services as schedules

    from .refresh import refresh

    if tag is not None and tag.kind != TagKind.AUTO:
        raise ShoalError("not_auto", _("Only auto tags are refreshed"))
    tag_ids = [tag.pk] if tag is not None else None
    limit = getattr(settings, "SHOAL_TAG_REFRESH_INLINE_MAX", INLINE_MAX_CUSTOMERS)
    log_operation(actor=actor, action="tag.refresh", obj=tag, object_type="tag" if tag is None else "",
                  detail={"full": full})
    if Customer.objects.count() <= limit:
        return refresh(tag_ids=tag_ids, full=full)
    schedules.sync_registry()
    job = schedules.job_get("tags.refresh_all")
    run = schedules.run_now(job=job, actor=actor, params={"tag_ids": tag_ids, "full": full})
    return {"job_id": run.pk}
