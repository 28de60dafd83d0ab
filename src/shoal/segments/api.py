from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from shoal.core.auth import require
from shoal.core.schemas import DbId
from shoal.customers import extensions, masking
from shoal.customers.api import CustomerOut

from . import services
from .catalog import OPERATORS, field_catalog
from .masked import EXACT_OPS
from .rows import ordered_operators, row_field_catalog, rows_to_tree
from .selectors import saved_query_list, segment_page, segment_queryset, validate
from .sql import guarded

router = Router(tags=["segments"])


class SortItem(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    field: str
    dir: Literal["asc", "desc"] = "asc"


class SearchIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    query: dict | None = None
    sql: str | None = Field(None, max_length=4000)
    keyword: str | None = Field(None, max_length=200)
    sort: list[SortItem] = Field(default_factory=list, max_length=5)
    page: int = Field(1, ge=1, le=100000)
    page_size: int = Field(20, ge=1, le=100)


class SearchOut(Schema):
    total: int
    page: int
    page_size: int
    items: list[CustomerOut]


class SegmentRuleIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    query: dict | None = None
    sql: str | None = Field(None, max_length=4000)


class SegmentPreviewOut(Schema):
    count: int
    sample: list[CustomerOut]


class OkOut(Schema):
    ok: bool


class RowFieldChoice(Schema):
    value: str
    label: str
    enabled: bool


class RowFieldArg(Schema):
    key: str = Field(description="the row's (and the node's) key of the argument, e.g. event")
    label: str
    choices: list[RowFieldChoice]


class FieldInfo(Schema):
    key: str
    label: str
    type: str
    operators: list[str]
    choices: list[str]
    custom: bool
    group: str = Field("", description="the heading the page lists the field under (row fields: e.g. Events)")
    arg: RowFieldArg | None = Field(
        None, description="a row field (not a column: not sortable): the row {field, <arg.key>: choice, op, value} "
                          "stands for the node {field: {<arg.key>: choice, op, value}}")


class SavedQueryOut(Schema):
    id: int
    name: str
    owner: str
    query: dict | None
    rows: list[dict] | None = Field(None, description="the page's condition rows, when saved from them")
    sql: str
    sort: list[Any]
    shared: bool
    mine: bool
    updated_at: datetime


class SavedQueryIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str = Field(min_length=1, max_length=100)
    query: dict | None = None
    rows: list[dict] | None = Field(None, max_length=200,
                                    description="condition rows (the page's form); the query is made from them")
    sql: str = Field("", max_length=4000)
    sort: list[SortItem] = Field(default_factory=list, max_length=5)
    shared: bool = False


class SavedQueryPatch(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    name: str | None = Field(None, min_length=1, max_length=100)
    query: dict | None = None
    rows: list[dict] | None = Field(None, max_length=200)
    sql: str | None = Field(None, max_length=4000)
    sort: list[SortItem] | None = None
    shared: bool | None = None


@router.post("/customers/search", response=SearchOut,
             summary="Customers matching a condition tree, custom SQL and/or keyword (scope and masking applied)")
def search_customers(request, payload: SearchIn):
    require(request, "customers.customers.view")
    user = request.auth
    with guarded():
        qs = segment_queryset(actor=user, query=payload.query, sql=payload.sql, keyword=payload.keyword,
                              sort=[s.dict() for s in payload.sort])
        total = qs.count()
        start = (payload.page - 1) * payload.page_size
        rows = segment_page(qs, start=start, size=payload.page_size, total=total)
    items = extensions.list_outputs(rows, viewer=user)
    return {"total": total, "page": payload.page, "page_size": payload.page_size, "items": items}


@router.post("/segments/preview", response=SegmentPreviewOut, summary="Count and a sample of the customers a rule matches")
def preview_segment(request, payload: SegmentRuleIn):
    require(request, "customers.customers.view")
    user = request.auth
    if payload.query is None and not payload.sql:
        validate()  # the "give a tree or SQL" error; otherwise segment_queryset validates while compiling
    with guarded():
        qs = segment_queryset(actor=user, query=payload.query, sql=payload.sql)
        count = qs.count()
        rows = segment_page(qs, start=0, size=20, total=count)
    return {"count": count, "sample": extensions.list_outputs(rows, viewer=user)}


class RowsIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is a 400, not ignored

    rows: list[dict] = Field(min_length=1, max_length=200)


class TreeOut(Schema):
    query: dict


@router.post("/segments/from-rows", response=TreeOut,
             summary="Convert the UI's rows (parentheses, field, operator, value, AND/OR) to a condition tree")
def rows_to_query(request, payload: RowsIn):
    require(request, "customers.customers.view")
    tree = rows_to_tree(payload.rows)
    validate(query=tree, masked=masking.masked_field_keys(viewer=request.auth), viewer=request.auth)
    return {"query": tree}


@router.post("/segments/validate", response=OkOut, summary="Check a condition tree or custom SQL")
def validate_segment(request, payload: SegmentRuleIn):
    require(request, "customers.customers.view")
    validate(query=payload.query, sql=payload.sql, masked=masking.masked_field_keys(viewer=request.auth),
             viewer=request.auth)
    return {"ok": True}


@router.get("/segments/fields", response=list[FieldInfo], summary="Fields and operators usable in conditions")
def segment_fields(request, filter_only: bool = False):
    require(request, "customers.customers.view")
    from shoal.customers.models import CustomField

    in_filter = set(CustomField.objects.filter(enabled=True, show_in_filter=True).values_list("key", flat=True))
    masked = masking.masked_field_keys(viewer=request.auth)
    out = []
    for spec in field_catalog().values():
        if filter_only and spec.is_json and spec.key not in in_filter:
            continue
        operators = OPERATORS[spec.type] & EXACT_OPS if spec.key in masked else OPERATORS[spec.type]
        out.append({"key": spec.key, "label": spec.label, "type": spec.type,
                    "operators": ordered_operators(operators), "choices": list(spec.choices),
                    "custom": spec.is_json})
    taken = {item["key"] for item in out}
    return out + [item for item in row_field_catalog(viewer=request.auth) if item["key"] not in taken]


@router.get("/saved-queries", response=list[SavedQueryOut])
def list_saved_queries(request):
    require(request, "customers.customers.view")
    rows = saved_query_list(actor=request.auth)
    return [_saved_out(s, request.auth) for s in rows]


def _saved_out(saved, user):
    return {**{f: getattr(saved, f) for f in ("id", "name", "query", "rows", "sql", "sort", "shared", "updated_at")},
            "owner": saved.owner.username, "mine": saved.owner_id == user.pk}


@router.post("/saved-queries", response={201: SavedQueryOut})
def create_saved_query(request, payload: SavedQueryIn):
    require(request, "customers.customers.view")
    data = payload.dict()
    data["sort"] = [s for s in data["sort"]]
    saved = services.saved_query_create(actor=request.auth, **data)
    return 201, _saved_out(saved, request.auth)


@router.get("/saved-queries/{saved_id}", response=SavedQueryOut)
def get_saved_query(request, saved_id: DbId):
    require(request, "customers.customers.view")
    return _saved_out(services.saved_query_get(actor=request.auth, pk=saved_id), request.auth)


@router.patch("/saved-queries/{saved_id}", response=SavedQueryOut)
def update_saved_query(request, saved_id: DbId, payload: SavedQueryPatch):
    require(request, "customers.customers.view")
    saved = services.saved_query_get(actor=request.auth, pk=saved_id, for_write=True)
    saved = services.saved_query_update(actor=request.auth, saved=saved, data=payload.dict(exclude_unset=True))
    return _saved_out(saved, request.auth)


@router.delete("/saved-queries/{saved_id}", response={204: None})
def delete_saved_query(request, saved_id: DbId):
    require(request, "customers.customers.view")
    saved = services.saved_query_get(actor=request.auth, pk=saved_id, for_write=True)
    services.saved_query_delete(actor=request.auth, saved=saved)
    return 204, None
