"""The import pages (客户导入), for holders of ``customers.customers.import``:

1. 导入客户: upload a file with its options (encoding, normal or fast mode, the public sea or a customer group, tags
   to apply, strict);
2. preview: the first 20 rows, the column mapping (a choice per column), unknown columns, the counts over the whole
   file and the first errors; "Start import" or "Cancel";
3. the run: status and a progress bar (an htmx partial polled until the import ends), then the counts, the
   duration and the error report;
4. 导入历史: every import the user may see.

They parse, call the services, render; a service's refusal is a message on the page, never an error page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from shoal.core.auth import require_page
from shoal.core.errors import ShoalError
from shoal.core.oplog import register_action_labels
from shoal.core.permissions import Menu, register_menu
from shoal.core.site import site
from shoal.core.views import page

from . import services, uploads
from .forms import UploadForm
from .models import COUNT_KEYS, ImportRun, ImportStatus

PERMISSION = "customers.customers.import"
HISTORY_PAGE_SIZE = 50
ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING)


def count_labels() -> dict[str, str]:
    return {"rows": pgettext("import count", "Rows"), "empty": pgettext("import count", "Empty"),
            "invalid": pgettext("import count", "Invalid"), "duplicate": pgettext("import count", "Duplicate"),
            "created": pgettext("import count", "Created"), "updated": pgettext("import count", "Updated"),
            "unchanged": pgettext("import count", "Unchanged")}


def duration_text(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return _("%(s)s s") % {"s": f"{seconds:.1f}"}
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}


def _run(request, pk) -> ImportRun:
    try:
        return services.import_get(actor=request.user, pk=pk)
    except ShoalError as exc:
        if exc.status == 404:
            raise Http404(exc.message)
        raise PermissionDenied(exc.message)


def _target_label(run: ImportRun) -> str:
    return run.group.name if run.group_id and run.group else _("Company public sea")


def _tag_labels(run: ImportRun) -> list[str]:
    if not run.tag_ids:
        return []
    from shoal.tags.customer_pages import tag_choice_label
    from shoal.tags.models import Tag

    return [tag_choice_label(tag) for tag in Tag.objects.filter(pk__in=run.tag_ids).select_related("category")]


def run_status(run: ImportRun) -> dict:
    """What the run page and its polled partial show."""
    labels = count_labels()
    summary = run.summary()
    progress = getattr(run, "progress", None) or {}  # {"done", "total"}: the share of the file read
    finished = run.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)
    percent = None
    if run.status == ImportStatus.SUCCEEDED:
        percent = 100
    elif progress.get("total"):
        percent = max(0, min(100, int(100 * int(progress.get("done") or 0) / int(progress["total"]))))
    return {"run": run, "active": run.status in ACTIVE, "finished": finished, "percent": percent,
            "counts": [(key, labels[key], summary[key]) for key in COUNT_KEYS], "duration": duration_text(run.duration_ms),
            "errors_url": reverse("admin:customer_import_errors", args=[run.pk]) if run.errors_count else ""}


# -- 1. upload ---------------------------------------------------------------------------------------------------
@csrf_exempt
def upload_page(request):
    """The file streams to a temporary file, capped at IMPORT_MAX_MB (the handler is installed before the CSRF
    check reads the body, hence csrf_exempt here and csrf_protect on the page itself)."""
    require_page(request, PERMISSION)
    uploads.install(request)
    return _upload_page(request)


@csrf_protect
def _upload_page(request):
    form = UploadForm(request.POST or None, request.FILES or None, actor=request.user)
    if request.method == "POST":
        if uploads.was_too_large(request):
            messages.error(request, uploads.too_large_error().message)
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = services.import_upload(actor=request.user, upload=upload, file_name=upload.name,
                                             options=form.options(), source="page")
            except ShoalError as exc:
                messages.error(request, exc.message)
            else:
                return redirect("admin:customer_import_preview", run.pk)
        else:
            messages.error(request, _("Check the form: %(errors)s") % {"errors": "; ".join(
                f"{form.fields[name].label if name in form.fields else ''} {' '.join(errs)}".strip()
                for name, errs in form.errors.items())})
    max_mb = uploads.max_bytes() // uploads.MB
    return page(request, "imports/upload.html", {
        "title": _("Import customers"), "form": form, "max_mb": max_mb, "max_bytes": uploads.max_bytes(),
        "recent": services.import_list(actor=request.user).exclude(status=ImportStatus.DRAFT)[:5]})


def template_download(request):
    """The default template (默认模板): a CSV (UTF-8 with BOM) whose header names every field an import may fill, in
    the user's language; the import matches these headers without any remapping."""
    require_page(request, PERMISSION)
    import csv
    import io

    from .mapping import targets

    buffer = io.StringIO()
    csv.writer(buffer).writerow([target.label for target in targets()])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customer-import-template.csv"'
    return response


# -- 2. preview and mapping ------------------------------------------------------------------------------------
def _posted_mapping(request) -> dict[str, str] | None:
    """The mapping chosen on the preview page: ``header_<i>`` (the column's header) and ``field_<i>`` (a field key,
    or "" to ignore the column)."""
    mapping: dict[str, str] = {}
    for key, header in request.POST.items():
        if key.startswith("header_") and key[7:].isdigit():
            mapping[header] = request.POST.get(f"field_{key[7:]}", "")
    return mapping or None


def preview_page(request, pk):
    require_page(request, PERMISSION)
    run = _run(request, pk)
    if run.status != ImportStatus.DRAFT:
        return redirect("admin:customer_import_run", run.pk)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "cancel":
        uploads.discard_draft(run)
        messages.info(request, _("The import of %(file)s was cancelled; nothing was imported.") % {"file": run.file_name})
        return redirect("admin:customer_import")
    mapping = _posted_mapping(request) if request.method == "POST" else None
    encoding = request.POST.get("encoding") if request.method == "POST" else None
    if encoding not in (None, "auto", "utf-8", "gb18030", "big5"):
        encoding = None
    if action == "start":
        options = {}
        if mapping is not None:
            options["mapping"] = mapping
        if encoding:
            options["encoding"] = encoding
        try:
            run = services.import_start(actor=request.user, run=run, options=options)
        except ShoalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The import of %(file)s has started.") % {"file": run.file_name})
            return redirect("admin:customer_import_run", run.pk)
    # the preview (again): with the choices on the page, not saved until the import starts. Choices the services
    # refuse: the message, and the preview as saved (the page keeps its mapping table)
    saved = (run.mapping, run.encoding)
    if mapping is not None:
        run.mapping = mapping
    if encoding:
        run.encoding = encoding
    preview = None
    try:
        preview = services.import_preview(actor=request.user, run=run)
    except ShoalError as exc:
        messages.error(request, exc.message)
        if (run.mapping, run.encoding) != saved:
            run.mapping, run.encoding = saved
            try:
                preview = services.import_preview(actor=request.user, run=run)
            except ShoalError:
                preview = None
    context = {"title": _("Import customers: preview"), "run": run, "preview": preview,
               "encoding": run.encoding or "auto", "target": _target_label(run), "tags": _tag_labels(run),
               "labels": count_labels()}
    if preview:
        context["summary"] = [(key, context["labels"][key], (preview.get("summary") or {}).get(key, 0))
                              for key in COUNT_KEYS]
    from .forms import ENCODINGS

    context["encodings"] = ENCODINGS
    return page(request, "imports/preview.html", context)


# -- 3. the run ----------------------------------------------------------------------------------------------------
def run_page(request, pk):
    require_page(request, PERMISSION)
    run = _run(request, pk)
    if run.status == ImportStatus.DRAFT:
        return redirect("admin:customer_import_preview", run.pk)
    return page(request, "imports/run.html", {"title": _("Customer import"), "target": _target_label(run),
                                               "tags": _tag_labels(run), **run_status(run)})


def status_partial(request, pk):
    """The status block alone, polled by the run page (htmx) while the import is queued or running."""
    require_page(request, PERMISSION)
    run = _run(request, pk)
    return TemplateResponse(request, "imports/_status.html", run_status(run))


def errors_download(request, pk):
    require_page(request, PERMISSION)
    run = _run(request, pk)
    path = services.import_errors_path(run)
    if path is None or not path.is_file():
        messages.error(request, _("This import has no error report."))
        return redirect("admin:customer_import_run", run.pk)
    response = FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{run.pk}-errors.csv",
                            content_type="text/csv; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


# -- 4. history -------------------------------------------------------------------------------------------------
def history_page(request):
    require_page(request, PERMISSION)
    runs = services.import_list(actor=request.user).select_related("user", "group")
    page_obj = Paginator(runs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"run": run, "target": _target_label(run), "summary": run.summary(), "duration": duration_text(run.duration_ms),
             "url": reverse("admin:customer_import_preview" if run.status == ImportStatus.DRAFT
                            else "admin:customer_import_run", args=[run.pk])}
            for run in page_obj.object_list]
    return page(request, "imports/history.html", {"title": _("Import history"), "page_obj": page_obj, "rows": rows,
                                                   "labels": count_labels(), "query": ""})


# -- menu and pages -------------------------------------------------------------------------------------------
register_action_labels({"customer.import": gettext_lazy("Import customers")})  # the operation log's word
register_menu(Menu("customers.import", gettext_lazy("Import customers"), "customers", (), "admin:customer_import",
                   "upload_file", view_permission=PERMISSION, order=12))
site.register_page("imports/", upload_page, "customer_import")
site.register_page("imports/history/", history_page, "customer_import_history")
site.register_page("imports/template.csv", template_download, "customer_import_template")
site.register_page("imports/<int:pk>/", run_page, "customer_import_run")
site.register_page("imports/<int:pk>/preview/", preview_page, "customer_import_preview")
site.register_page("imports/<int:pk>/status/", status_partial, "customer_import_status")
site.register_page("imports/<int:pk>/errors/", errors_download, "customer_import_errors")
