"""Tag endpoints: categories, tags, rules, refresh, manual taggings, history, rule preview.

Reading tags and categories: ``customers.tags.view`` or ``customers.customers.view`` (or an application key).
Writing categories, global tags and rules: ``customers.tags.create|edit|delete``; personal tags:
``customers.customers.tag``, by their owner (to anyone else they do not exist: 404). Refresh:
``customers.tags.run``. Tagging customers: ``customers.customers.tag`` (or an application key, source "api"),
customers in the caller's data scope (the services check it)."""

from datetime import datetime
from typing import Any, Literal

from django.db import DatabaseError
from django.utils.translation import gettext as _
from ninja import Body, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from shoal.accounts.models import Application, DataScope, User
from shoal.core.auth import ANY_AUTH, require
from shoal.core.errors import NotFound, ShoalError
from shoal.core.pagination import Pages
from shoal.core.schemas import DbId, DbInt
from shoal.customers import extensions
from shoal.customers.api import CustomerOut
from shoal.customers.selectors import customer_get, customer_queryset
from shoal.segments.rows import rows_to_tree
from shoal.segments.selectors import segment_page
from shoal.segments.sql import guarded

from . import selectors, services
from .models import ObjectType, TagCategory, TagKind, TagRule, TagSource

router = Router(tags=["tags"])

READ = ("customers.tags.view", "customers.customers.view")
TAG = "customers.customers.tag"
Kind = Literal["auto", "manual", "personal"]
ObjectTypeName = Literal["customer", "product", "company"]


# -- schemas ---------------------------------------------------------------------------------------------
class CategoryIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    parent_id: DbId | None = None
    object_type: ObjectTypeName = ObjectType.CUSTOMER
    order: DbInt = 0


class CategoryPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    parent_id: DbId | None = None
    object_type: ObjectTypeName | None = None
    order: DbInt | None = None


class CategoryOut(Schema):
    id: int
    name: str
    parent_id: int | None
    object_type: str
    order: int
    created_at: datetime


class TagIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    category_id: DbId
    kind: Kind = TagKind.MANUAL
    score: DbInt = Field(0, description="added to the quality score of every customer with the tag; may be negative")
    valid_days: DbInt | None = Field(None, description="natural days; the tag ends at 00:00 after them")
    enabled: bool = True
    description: str = Field("", max_length=500)
    refresh_on_change: bool = False


class TagPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    category_id: DbId | None = None
    kind: Kind | None = None
    score: DbInt | None = None
    valid_days: DbInt | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)
    refresh_on_change: bool | None = None


class TagOut(Schema):
    id: int
    name: str
    category_id: int
    category_name: str
    kind: str
    score: int
    valid_days: int | None
    enabled: bool
    description: str
    refresh_on_change: bool
    owner_id: int | None
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    customers: int

    @staticmethod
    def resolve_category_name(obj) -> str:
        return obj.category.name

    @staticmethod
    def resolve_customers(obj) -> int:
        return obj.customer_count


class TagFilters(Schema):
    category_id: DbId | None = None
    kind: Kind | None = None
    q: str = Field("", max_length=100, description="name contains")


class TagRuleIn(Schema):
    """A condition tree (``query``), custom SQL (``sql``) or the page's condition rows (``rows``), with
    include-tags (has any of) and exclude-tags (has none of)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    query: dict[str, Any] | None = None
    sql: str | None = Field(None, max_length=4000)
    rows: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=200,
                                              description="condition rows; the query is made from them")
    include_tags: list[DbId] | None = Field(None, max_length=1000)
    exclude_tags: list[DbId] | None = Field(None, max_length=1000)


class RuleOut(Schema):
    id: int
    tag_id: int
    query: dict[str, Any] | None
    rows: list[dict[str, Any]] | None
    sql: str
    include_tags: list[int]
    exclude_tags: list[int]
    created_at: datetime
    updated_at: datetime


class TagRulePreviewOut(Schema):
    count: int
    sample: list[CustomerOut]


class RefreshIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    full: bool = Field(False, description="re-read every customer (otherwise only what changed)")


class RefreshOut(Schema):
    tags: int
    evaluated: int
    added: int
    removed: int
    seconds: float


class QueuedOut(Schema):
    job_id: int = Field(description="progress at GET /api/v1/jobs/{job_id}")


class CustomerTagIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    tag_id: DbId


class CustomersIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    customer_ids: list[DbId] = Field(min_length=1, max_length=services.MAX_BATCH)


class AppliedOut(Schema):
    applied: int


class RemovedOut(Schema):
    removed: int


class HistoryFilters(Schema):
    customer_id: DbId | None = None
    tag_id: DbId | None = None


class HistoryOut(Schema):
    id: int
    customer_id: int
    tag_id: int
    tag_name: str
    action: str
    source: str
    rule_id: int | None
    actor_name: str
    at: datetime


# -- helpers -----------------------------------------------------------------------------------------------
def _require_any(request, codes) -> None:
    user = request.auth
    if not (isinstance(user, User) and any(user.has_shoal_perm(c) for c in codes)):
        require(request, codes[0])  # the 403 naming the first


def _require_reader(request) -> None:
    if not isinstance(request.auth, Application):
        _require_any(request, READ)


def _require_tagger(request) -> str:
    """Users need ``customers.customers.tag``; an application may tag. The tagging's source."""
    if isinstance(request.auth, Application):
        return TagSource.API
    require(request, TAG)
    return TagSource.USER


def _require_tag_write(request, kind: str, action: str) -> None:
    require(request, TAG if kind == TagKind.PERSONAL else f"customers.tags.{action}")


def _category(pk) -> TagCategory:
    found = TagCategory.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Tag category not found"))
    return found


def _patch(payload: Schema, nullable: tuple[str, ...] = ()) -> dict:
    """The keys given; ``null`` leaves a field unchanged unless the field may be empty (``nullable``)."""
    return {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k in nullable}


def _rule(tag, rule_id) -> TagRule:
    rule = TagRule.objects.filter(pk=rule_id, tag=tag).select_related("tag").first()
    if rule is None:
        raise NotFound(_("Tag rule not found"))
    return rule


def _rule_data(payload: TagRuleIn) -> dict:
    data = payload.dict(exclude_unset=True)
    if data.get("rows") is not None and data.get("query") is None:
        data["query"] = rows_to_tree(data["rows"])
    return data


# -- categories ------------------------------------------------------------------------------------------------
@router.get("/tag-categories", response=list[CategoryOut], auth=ANY_AUTH, summary="Tag categories (a tree per object type)")
def list_categories(request, object_type: ObjectTypeName | None = None):
    _require_reader(request)
    return selectors.category_tree(object_type=object_type)


@router.post("/tag-categories", response={201: CategoryOut}, summary="Create a tag category")
def create_category(request, payload: CategoryIn):
    require(request, "customers.tags.create")
    return 201, services.category_create(actor=request.auth, data=payload.dict())


@router.patch("/tag-categories/{category_id}", response=CategoryOut, summary="Rename, move or reorder a category")
def update_category(request, category_id: DbId, payload: CategoryPatch):
    require(request, "customers.tags.edit")
    return services.category_update(actor=request.auth, category=_category(category_id),
                                    data=_patch(payload, nullable=("parent_id",)))


@router.delete("/tag-categories/{category_id}", response={204: None}, summary="Delete an empty category")
def delete_category(request, category_id: DbId):
    require(request, "customers.tags.delete")
    services.category_delete(actor=request.auth, category=_category(category_id))
    return 204, None


# -- tags ------------------------------------------------------------------------------------------------------
@router.get("/tags", response=list[TagOut], auth=ANY_AUTH,
            summary="Tags the caller may see (global ones and the caller's personal tags)")
@paginate(Pages, page_size=50)
def list_tags(request, filters: Query[TagFilters]):
    _require_reader(request)
    qs = selectors.visible_tags(actor=request.auth)
    if filters.category_id is not None:
        qs = qs.filter(category_id=filters.category_id)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.q.strip():
        qs = qs.filter(name__icontains=filters.q.strip())
    return qs


@router.post("/tags", response={201: TagOut}, summary="Create a tag (personal: the caller's own)")
def create_tag(request, payload: TagIn):
    _require_tag_write(request, payload.kind, "create")
    return 201, services.tag_create(actor=request.auth, data=payload.dict())


@router.post("/tags/refresh", response={200: RefreshOut, 202: QueuedOut},
             summary="Refresh all auto tags: in the request for small databases, else queued (202 job_id)")
def refresh_all(request, payload: RefreshIn = Body(None)):  # noqa: B008 (no body: an incremental refresh)
    require(request, "customers.tags.run")
    return _refresh(request, None, payload)


@router.get("/tags/{tag_id}", response=TagOut, auth=ANY_AUTH)
def get_tag(request, tag_id: DbId):
    _require_reader(request)
    return selectors.tag_get(actor=request.auth, pk=tag_id)


@router.patch("/tags/{tag_id}", response=TagOut)
def update_tag(request, tag_id: DbId, payload: TagPatch):
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    _require_tag_write(request, tag.kind, "edit")
    services.tag_update(actor=request.auth, tag=tag, data=_patch(payload, nullable=("valid_days",)))
    return selectors.tag_get(actor=request.auth, pk=tag_id)


@router.delete("/tags/{tag_id}", response={204: None}, summary="Delete a tag: its customers lose it")
def delete_tag(request, tag_id: DbId):
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    _require_tag_write(request, tag.kind, "delete")
    services.tag_delete(actor=request.auth, tag=tag)
    return 204, None


@router.post("/tags/{tag_id}/refresh", response={200: RefreshOut, 202: QueuedOut},
             summary="Refresh one auto tag: in the request for small databases, else queued (202 job_id)")
def refresh_tag(request, tag_id: DbId, payload: RefreshIn = Body(None)):  # noqa: B008 (no body: an incremental refresh)
    require(request, "customers.tags.run")
    return _refresh(request, selectors.tag_get(actor=request.auth, pk=tag_id), payload)


def _refresh(request, tag, payload: RefreshIn | None):
    try:
        result = services.refresh_now(actor=request.auth, tag=tag, full=bool(payload and payload.full))
    except DatabaseError as error:  # a rule the database cannot evaluate (e.g. custom SQL against a changed field)
        raise ShoalError("refresh_failed", _("A rule could not be evaluated: %(error)s")
                         % {"error": str(error).splitlines()[0][:200] if str(error) else type(error).__name__})
    if "job_id" in result:
        return 202, {"job_id": result["job_id"]}
    return 200, result


# -- rules -------------------------------------------------------------------------------------------------------
@router.get("/tags/{tag_id}/rules", response=list[RuleOut], summary="The rules of an auto tag")
def list_rules(request, tag_id: DbId):
    _require_any(request, READ)
    return list(selectors.tag_get(actor=request.auth, pk=tag_id).rules.all())


@router.post("/tags/{tag_id}/rules", response={201: RuleOut}, summary="Add a rule to an auto tag")
def create_rule(request, tag_id: DbId, payload: TagRuleIn):
    require(request, "customers.tags.create")
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    return 201, services.rule_create(actor=request.auth, tag=tag, data=_rule_data(payload))


@router.patch("/tags/{tag_id}/rules/{rule_id}", response=RuleOut)
def update_rule(request, tag_id: DbId, rule_id: DbId, payload: TagRuleIn):
    require(request, "customers.tags.edit")
    rule = _rule(selectors.tag_get(actor=request.auth, pk=tag_id), rule_id)
    return services.rule_update(actor=request.auth, rule=rule, data=_rule_data(payload))


@router.delete("/tags/{tag_id}/rules/{rule_id}", response={204: None})
def delete_rule(request, tag_id: DbId, rule_id: DbId):
    require(request, "customers.tags.delete")
    services.rule_delete(actor=request.auth, rule=_rule(selectors.tag_get(actor=request.auth, pk=tag_id), rule_id))
    return 204, None


@router.post("/tags/{tag_id}/preview", response=TagRulePreviewOut,
             summary="Count and a masked sample of the customers a rule would give the tag (in the caller's scope)")
def preview_rule(request, tag_id: DbId, payload: TagRuleIn):
    require(request, "customers.customers.view")
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    data = _rule_data(payload)
    with guarded():
        qs = selectors.rule_preview_queryset(actor=request.auth, tag=tag, query=data.get("query"),
                                             sql=data.get("sql"), include_tags=data.get("include_tags"),
                                             exclude_tags=data.get("exclude_tags"))
        count = qs.count()
        rows = segment_page(qs, start=0, size=10, total=count)
    return {"count": count, "sample": extensions.list_outputs(rows, viewer=request.auth)}


# -- manual taggings ------------------------------------------------------------------------------------------------
@router.post("/tags/{tag_id}/apply", response=AppliedOut, auth=ANY_AUTH,
             summary="Give a manual or personal tag to customers in the caller's scope")
def apply_tag(request, tag_id: DbId, payload: CustomersIn):
    source = _require_tagger(request)
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    return {"applied": services.apply_tag(actor=request.auth, tag=tag, customer_ids=payload.customer_ids,
                                          source=source)}


@router.post("/tags/{tag_id}/remove", response=RemovedOut, auth=ANY_AUTH,
             summary="Take a manual or personal tag from customers in the caller's scope")
def remove_tag(request, tag_id: DbId, payload: CustomersIn):
    source = _require_tagger(request)
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    return {"removed": services.remove_tag(actor=request.auth, tag=tag, customer_ids=payload.customer_ids,
                                           source=source)}


@router.post("/customers/{customer_id}/tags", response=AppliedOut, auth=ANY_AUTH, summary="Tag one customer")
def tag_customer(request, customer_id: DbId, payload: CustomerTagIn):
    source = _require_tagger(request)
    tag = selectors.tag_get(actor=request.auth, pk=payload.tag_id)
    return {"applied": services.apply_tag(actor=request.auth, tag=tag, customer_ids=[customer_id], source=source)}


@router.delete("/customers/{customer_id}/tags/{tag_id}", response=RemovedOut, auth=ANY_AUTH,
               summary="Untag one customer")
def untag_customer(request, customer_id: DbId, tag_id: DbId):
    source = _require_tagger(request)
    tag = selectors.tag_get(actor=request.auth, pk=tag_id)
    return {"removed": services.remove_tag(actor=request.auth, tag=tag, customer_ids=[customer_id], source=source)}


# -- history ---------------------------------------------------------------------------------------------------------
@router.get("/tag-history", response=list[HistoryOut], summary="Every add and removal of the tags the caller may see")
@paginate(Pages, page_size=50)
def tag_history(request, filters: Query[HistoryFilters]):
    user = request.auth
    if filters.customer_id is not None:
        _require_any(request, READ)
        customer_get(actor=user, pk=filters.customer_id)  # outside the scope: 404
        feed = selectors.history_feed(actor=user, customer_id=filters.customer_id, tag_id=filters.tag_id)
    else:
        require(request, "customers.tags.view")
        feed = selectors.history_feed(actor=user, tag_id=filters.tag_id)
        if user.data_scope() != DataScope.ALL:
            feed = feed.filter(customer_in=customer_queryset(actor=user).order_by().values("pk"))
    return feed.with_names()
