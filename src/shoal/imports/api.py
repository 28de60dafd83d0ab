"""Import endpoints (permission ``customers.customers.import``):

- ``POST /api/v1/imports`` (multipart: ``file`` and the options as form fields) → 201 ``{"id"}``; the worker runs it;
- ``GET /api/v1/imports`` the imports the caller may see, newest first (paginated);
- ``GET /api/v1/imports/{id}`` status, progress (rows done / total), counts, duration;
- ``GET /api/v1/imports/{id}/errors`` the error report (CSV, UTF-8 with BOM);
- ``POST /api/v1/imports/preview`` (same multipart) → the first rows, the column mapping and the counts over the
  whole file; nothing is imported and the uploaded file is not kept.

The file streams to a temporary file, never into memory; one over IMPORT_MAX_MB is refused with 413 (from its
Content-Length before the body is read, else as soon as the upload passes the limit)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import wraps
from typing import Any, Literal

from django.http import FileResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from shoal.core.auth import require
from shoal.core.errors import NotFound, ShoalError, error_response
from shoal.core.pagination import Pages
from shoal.core.schemas import DbId

from . import services, uploads

router = Router(tags=["imports"])

PERMISSION = "customers.customers.import"
Encoding = Literal["auto", "utf-8", "gb18030", "big5"]
Mode = Literal["normal", "fast"]
MAX_TAGS = 100
MAX_MAPPING = 1000


# -- schemas ---------------------------------------------------------------------------------------------------
class ImportOptionsForm(Schema):
    """The options of an import, as form fields beside ``file``."""

    encoding: Encoding = Field("auto", description="CSV encoding; auto: detected (UTF-8 with or without BOM, GB18030, Big5)")
    mode: Mode = Field("normal", description="normal: timeline entries for created customers and changed fields; "
                                            "fast: one entry per customer, bulk SQL")
    strict: bool = Field(False, description="if any row is invalid, nothing is written")
    dry_run: bool = Field(False, description="read and count everything, write nothing")
    group_id: DbId | None = Field(None, description="import into this customer group (default: the company public sea)")
    tags: list[str] = Field([], description="ids of tags to put on every imported customer: comma-separated, or the "
                                            "field repeated")
    mapping: str | None = Field(None, max_length=200_000,
                                description='JSON object {"<column header>": "<field key>" or "" to ignore the column}; '
                                            "columns not named are matched automatically")


class CreatedOut(Schema):
    id: int


class ProgressOut(Schema):
    done: int
    total: int | None


class ImportOut(Schema):
    id: int
    status: str
    file_name: str
    kind: str
    encoding: str
    mode: str
    strict: bool
    dry_run: bool
    group_id: int | None
    tag_ids: list[int]
    progress: ProgressOut
    counts: dict[str, int]
    errors_count: int
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None


class ColumnOut(Schema):
    index: int
    header: str
    field: str
    field_label: str


class ImportFieldOut(Schema):
    key: str
    label: str


class RowErrorOut(Schema):
    row: int | None
    column: str | None
    value: Any = None
    reason: str


class ImportPreviewOut(Schema):
    file_name: str
    kind: str
    encoding: str | None
    delimiter: str | None
    columns: list[ColumnOut]
    unknown_columns: list[str]
    fields: list[ImportFieldOut]
    rows: list[list[Any]]
    summary: dict[str, int]
    errors: list[RowErrorOut]


# -- helpers ---------------------------------------------------------------------------------------------------
def _int_list(values: list[str], name: str) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 18:
                raise ShoalError("validation_error", _("%(name)s: %(value)s is not an id") % {"name": name, "value": part[:40]},
                                 {"field": name, "value": part[:40]})
            ids.append(int(part))
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_TAGS:
        raise ShoalError("validation_error", _("At most %(n)d tags") % {"n": MAX_TAGS}, {"field": name})
    return ids


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """The mapping form field: a JSON object of header → field key ("" ignores the column); None when not given."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ShoalError("validation_error", _("mapping: not valid JSON"), {"field": "mapping"})
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str | None)
                                              for k, v in value.items()):
        raise ShoalError("validation_error",
                         _('mapping: a JSON object of column header → field key (or "" to ignore the column) is expected'),
                         {"field": "mapping"})
    if len(value) > MAX_MAPPING:
        raise ShoalError("validation_error", _("mapping: at most %(n)d columns") % {"n": MAX_MAPPING}, {"field": "mapping"})
    return {k: (v or "") for k, v in value.items()}


def options_from(form: ImportOptionsForm) -> dict:
    options = {"encoding": form.encoding, "mode": form.mode, "strict": form.strict, "dry_run": form.dry_run,
               "group_id": form.group_id, "tag_ids": _int_list(form.tags, "tags")}
    mapping = parse_mapping(form.mapping)
    if mapping is not None:
        options["mapping"] = mapping
    return options


def capped_upload(view):
    """Runs before django-ninja reads the body: a Content-Length over IMPORT_MAX_MB is a 413 at once; otherwise the
    file streams to a temporary file, dropped as soon as it passes the limit."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if uploads.declared_too_large(request):
            error = uploads.too_large_error()
            return error_response(error.status, error.code, error.message, error.detail)
        uploads.install(request)
        response = view(request, *args, **kwargs)
        if uploads.was_too_large(request):  # whatever the endpoint made of the missing file: too large
            error = uploads.too_large_error()
            return error_response(error.status, error.code, error.message, error.detail)
        return response

    return wrapped


def _run(request, import_id: int):
    require(request, PERMISSION)
    return services.import_get(actor=request.auth, pk=import_id)


# -- endpoints -------------------------------------------------------------------------------------------------
@router.post("/imports", response={201: CreatedOut}, summary="Upload a file and queue its import",
             openapi_extra={"responses": {413: {"description": "The file is larger than IMPORT_MAX_MB"}}})
@decorate_view(capped_upload)
def create_import(request, options: Form[ImportOptionsForm], file: File[UploadedFile]):
    require(request, PERMISSION)
    run = services.import_create(actor=request.auth, upload=file, file_name=file.name or "upload",
                                 options=options_from(options), source="api")
    return 201, {"id": run.pk}


@router.post("/imports/preview", response=ImportPreviewOut, summary="Preview an import: first rows, mapping, counts (writes nothing)",
             openapi_extra={"responses": {413: {"description": "The file is larger than IMPORT_MAX_MB"}}})
@decorate_view(capped_upload)
def preview_import(request, options: Form[ImportOptionsForm], file: File[UploadedFile]):
    require(request, PERMISSION)
    run = services.import_upload(actor=request.auth, upload=file, file_name=file.name or "upload",
                                 options=options_from(options), source="api")
    try:
        return services.import_preview(actor=request.auth, run=run)
    finally:
        uploads.discard_draft(run)


@router.get("/imports", response=list[ImportOut], summary="Imports the caller may see, newest first")
@paginate(Pages, page_size=50)
def list_imports(request):
    require(request, PERMISSION)
    return _Outputs(services.import_list(actor=request.auth))


@router.get("/imports/{import_id}", response=ImportOut, summary="An import: status, progress, counts")
def get_import(request, import_id: DbId):
    return services.import_output(_run(request, import_id))


@router.get("/imports/{import_id}/errors", summary="The error report of an import (CSV)",
            response={200: None}, openapi_extra={"responses": {200: {
                "description": "CSV (UTF-8 with BOM): row, column, value, reason",
                "content": {"text/csv": {"schema": {"type": "string"}}}}}})
def import_errors(request, import_id: DbId):
    run = _run(request, import_id)
    path = services.import_errors_path(run)
    if path is None or not path.is_file():
        raise NotFound(_("This import has no error report: no row was invalid or duplicate, or it has not run yet."))
    response = FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{run.pk}-errors.csv",
                            content_type="text/csv; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


class _Outputs:
    """The runs of a queryset in the API shape, sliced by the paginator (only the page is read)."""

    def __init__(self, queryset):
        self.queryset = queryset

    def all(self):
        return self.queryset.all()

    def __len__(self):
        return self.queryset.count()

    def __getitem__(self, item):
        return [services.import_output(run) for run in self.queryset[item]]
