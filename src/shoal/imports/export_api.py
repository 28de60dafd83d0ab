"""Export endpoint: GET /api/v1/exports (streamed CSV or xlsx) and GET /api/v1/exports/fields.

The customers: the caller's data scope, narrowed by ``query`` (a condition tree as JSON, as
``POST /api/v1/customers/search`` takes it), ``sql``, ``keyword``, ``saved_query`` (an id) and/or ``ids``.
CSV streams as it is produced; xlsx is built first (a temporary file), then sent."""

from __future__ import annotations

import json

from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from shoal.core.auth import calling_user, require
from shoal.core.errors import ShoalError
from shoal.core.schemas import DbId

from .exporting import EXPORT_PERMISSION, CustomerExport, export_customers, export_fields, split_keys

router = Router(tags=["exports"])

MAX_IDS = 100_000
BINARY = {"schema": {"type": "string", "format": "binary"}}


class ExportFieldOut(Schema):
    key: str
    label: str
    group: str = Field(description="standard | custom | tags | ownership")
    group_label: str


@router.get("/exports/fields", response=list[ExportFieldOut], summary="The fields a customer export may contain")
def export_field_list(request):
    require(request, EXPORT_PERMISSION)
    return [f.as_dict() for f in export_fields()]


def parse_ids(raw: str | None) -> list[int] | None:
    """``"1,2, 3"`` → [1, 2, 3]; None when not given; ShoalError ``invalid_ids`` otherwise."""
    if raw is None or not raw.strip():
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_IDS or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts):
        raise ShoalError("invalid_ids", _("Give the customer ids as numbers separated by commas (at most %(n)d)")
                         % {"n": MAX_IDS}, {"field": "ids"})
    return [int(p) for p in parts]


def parse_query(raw: str | None) -> dict | None:
    """The condition tree given as JSON text; ShoalError ``invalid_query`` when it is not a JSON object."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ShoalError("invalid_query", _("The query is not valid JSON"), {"field": "query"})
    if not isinstance(value, dict):
        raise ShoalError("invalid_query", _("The query must be a condition tree (a JSON object)"), {"field": "query"})
    return value


def export_response(export: CustomerExport):
    """The file as a download: CSV streamed, xlsx from its temporary file."""
    if export.fmt == "xlsx":
        response = FileResponse(export.xlsx_file(), as_attachment=True, filename=export.filename,
                                content_type=export.content_type)
    else:
        response = StreamingHttpResponse(export.stream(), content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/exports", summary="Export customers as CSV or xlsx (streamed; scope and masking applied)",
            description="The customers of the caller's data scope, narrowed by the query given (query, sql, keyword, "
                        "saved_query, ids). `fields`: keys from GET /api/v1/exports/fields, separated by commas "
                        "(default: the caller's customer list columns). CSV is UTF-8 with BOM or GB18030.",
            openapi_extra={"responses": {200: {"description": "The file (Content-Disposition: attachment)",
                                               "content": {"text/csv": BINARY,
                                                           "application/vnd.openxmlformats-officedocument"
                                                           ".spreadsheetml.sheet": BINARY}}}})
def export_file(request,
                fields: str | None = Query(None, max_length=20000, description="field keys, comma-separated"),
                fmt: str = Query("csv", alias="format", max_length=10, description="csv | xlsx"),
                encoding: str = Query("utf-8", max_length=20, description="utf-8 (with BOM) | gb18030; CSV only"),
                ids: str | None = Query(None, max_length=2_000_000, description="customer ids, comma-separated"),
                query: str | None = Query(None, max_length=200_000, description="a condition tree as JSON"),
                sql: str | None = Query(None, max_length=4000, description="custom SQL, as the advanced query"),
                keyword: str | None = Query(None, max_length=200),
                saved_query: DbId | None = Query(None, description="the id of a saved query")):
    require(request, EXPORT_PERMISSION)
    user = calling_user(request)
    export = export_customers(actor=user, fields=split_keys(fields) or None, fmt=fmt, encoding=encoding,
                              query=parse_query(query), sql=sql, keyword=keyword, ids=parse_ids(ids),
                              saved_query_id=saved_query, source="api")
    return export_response(export)
