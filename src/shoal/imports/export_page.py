"""Export pages: the form to choose fields and format, reached from the customer list (the batch action "Export":
the selected customers, or all those the list's filters match when "select all" is used) and from the advanced
query page (its current query). The download is the same file as ``GET /api/v1/exports`` (one service)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils.translation import gettext as _

from shoal.core.auth import require_page
from shoal.core.errors import ShoalError
from shoal.core.views import page

from .export_api import export_response, parse_ids, parse_query
from .exporting import EXPORT_PERMISSION, GROUP_LABELS, default_field_keys, export_customers, export_fields

SELECTION_KEYS = ("query", "sql", "keyword", "ids", "saved_query")


def _choices(request) -> dict:
    """What the user chose on the form (or the defaults: their list columns, CSV, UTF-8)."""
    data = request.POST if request.method == "POST" else request.GET
    chosen = (data.getlist("fields") if "fields" in data or "download" in data
              else default_field_keys(actor=request.user))
    fmt = data.get("format") or "csv"
    encoding = data.get("encoding") or "utf-8"
    return {"fields": chosen, "format": fmt, "encoding": encoding}


def _render(request, *, count, choices: dict, hidden: list[tuple[str, str]], form_url: str, back_url: str,
            what: str, can_download: bool = True):
    groups: dict[str, list] = {}
    for field in export_fields():
        groups.setdefault(field.group, []).append({"key": field.key, "label": field.label,
                                                   "checked": field.key in choices["fields"]})
    return page(request, "imports/export.html", {
        "title": _("Export customers"),
        "count": count, "what": what,
        "groups": [{"code": code, "label": GROUP_LABELS[code], "fields": fields} for code, fields in groups.items()],
        "choices": choices, "hidden": hidden, "form_url": form_url, "back_url": back_url,
        "can_download": can_download,
        "formats": [("csv", _("CSV")), ("xlsx", _("Excel (.xlsx)"))],
        "encodings": [("utf-8", _("UTF-8 (with BOM)")), ("gb18030", _("GB18030 (older Excel on Chinese Windows)"))],
    })


def export_page(request):
    """The export form for a query (from the advanced query page) or the whole data scope; POST with
    ``download`` sends the file."""
    require_page(request, EXPORT_PERMISSION)
    data = request.POST if request.method == "POST" else request.GET
    selection = {key: data.get(key, "") for key in SELECTION_KEYS}
    choices = _choices(request)
    count, can_download = None, True
    try:
        saved = selection["saved_query"].strip()
        if saved and not saved.isdigit():
            raise ShoalError("invalid_query", _("Unknown saved query"), {"field": "saved_query"})
        options = {"query": parse_query(selection["query"]), "sql": selection["sql"] or None,
                   "keyword": selection["keyword"] or None, "ids": parse_ids(selection["ids"]),
                   "saved_query_id": int(saved) if saved else None}
        if request.method == "POST" and "download" in request.POST:
            export = export_customers(actor=request.user, fields=choices["fields"] or [""], fmt=choices["format"],
                                      encoding=choices["encoding"], source="page", **options)
            return export_response(export)
        count = export_customers(actor=request.user, source="page", **options).total
    except ShoalError as exc:
        messages.error(request, exc.message)
        can_download = exc.code in ("invalid_fields", "invalid_format", "invalid_encoding")
    hidden = [(key, value) for key, value in selection.items() if value]
    has_query = any(selection[k] for k in ("query", "sql", "keyword", "saved_query"))
    what = _("the customers of the query") if has_query else (
        _("the chosen customers") if selection["ids"] else _("all your customers"))
    back = reverse("admin:segment_query") if has_query else reverse("admin:customers_customer_changelist")
    return _render(request, count=count, choices=choices, hidden=hidden, form_url=request.path, back_url=back,
                   what=what, can_download=can_download)


def export_action(model_admin, request, queryset):
    """The customer list's batch action "Export": a form first, then the file of the selected customers (with
    "select all": every customer the list's search and filters match), in the user's data scope."""
    choices = _choices(request)
    if "download" in request.POST:
        try:
            export = export_customers(actor=request.user, fields=choices["fields"] or [""], fmt=choices["format"],
                                      encoding=choices["encoding"], within=queryset, source="page")
        except ShoalError as exc:
            messages.error(request, exc.message)
        else:
            return export_response(export)
    select_across = request.POST.get("select_across") == "1"
    hidden = [("action", "customers_export"), ("select_across", "1" if select_across else "0")]
    hidden += [(helpers.ACTION_CHECKBOX_NAME, pk) for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)]
    list_url = request.get_full_path()
    return _render(request, count=queryset.count(), choices=choices, hidden=hidden, form_url=list_url,
                   back_url=list_url, what=_("the customers matching the list's filters") if select_across
                   else _("the selected customers"))
