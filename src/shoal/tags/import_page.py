"""The page 导入外部标签 (Tag management): upload a CSV of ``identity value, tag name[, expiry date]``, read the
report on the page and download it as CSV. Open to holders of ``customers.tags.create`` or
``customers.customers.import``; the customers are those of the user's data scope."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from shoal.core.auth import user_can
from shoal.core.errors import ShoalError
from shoal.core.views import page
from shoal.customers.models import Customer

from . import importing

IMPORT_PERMISSIONS = ("customers.tags.create", "customers.customers.import")
REPORT_KEEP_SECONDS = 7 * 24 * 3600
SHOWN = 100  # values of each kind listed on the page (the CSV has them all)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def can_import(user) -> bool:
    return any(user_can(user, code) for code in IMPORT_PERMISSIONS)


def _report_dir() -> Path:
    path = Path(settings.DATA_DIR) / "tag-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_report(user, report: importing.ImportReport) -> str:
    """Keep the CSV report for its user (reports older than a week are dropped); its token."""
    folder = _report_dir()
    cutoff = time.time() - REPORT_KEEP_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    (folder / f"{user.pk}-{token}.csv").write_text(report.csv_text(), encoding="utf-8")
    return token


def tag_import(request):
    if not can_import(request.user):
        raise PermissionDenied
    fields = [(name, Customer._meta.get_field(name).verbose_name) for name in ("mobile", "email", "ent_user_id")]
    context = {"title": _("Import external tags"), "fields": fields, "encodings": importing.ENCODINGS,
               "report": None, "chosen": {"encoding": "auto", "field": ""}}
    if request.method == "POST":
        encoding = request.POST.get("encoding") or "auto"
        field_name = request.POST.get("field") or None
        context["chosen"] = {"encoding": encoding, "field": field_name or ""}
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose a CSV file to import."))
        else:
            try:
                upload.seek(0)
                report = importing.import_tags(actor=request.user, file=upload.file, encoding=encoding,
                                               field_name=field_name)
            except ShoalError as exc:
                messages.error(request, exc.message)
            else:
                token = _save_report(request.user, report)
                context.update(report=report, file_name=upload.name, shown=SHOWN,
                               unknown_customers=list(report.unknown_customers.items())[:SHOWN],
                               unknown_tags=list(report.unknown_tags.items())[:SHOWN],
                               bad_rows=report.bad_rows[:SHOWN],
                               report_url=reverse("admin:tag_import_report", args=[token]))
                if report.error:
                    messages.error(request, report.error)
                else:
                    messages.success(request, _("Imported %(file)s: %(n)d customers tagged.") % {
                        "file": upload.name, "n": report.tagged})
    return page(request, "tags/import.html", context)


def tag_import_report(request, token):
    if not can_import(request.user):
        raise PermissionDenied
    if not _TOKEN.fullmatch(token):
        raise Http404
    path = _report_dir() / f"{request.user.pk}-{token}.csv"  # only its own user finds a report
    if not path.is_file():
        raise Http404(_("The report is no longer kept; import the file again to see it."))
    response = FileResponse(path.open("rb"), as_attachment=True, filename="tag-import-report.csv",
                            content_type="text/csv; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response
