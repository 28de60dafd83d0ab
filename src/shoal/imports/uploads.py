"""Receiving an import file: up to IMPORT_MAX_MB, streamed to a temporary file (never held in memory), and
refused above the limit without storing it.

Django parses a multipart body the first time ``request.POST`` or ``request.FILES`` is read. The import
endpoint and the upload page install :class:`CappedUploadHandler` before that: it writes the file to a
temporary file chunk by chunk and, as soon as the file passes the limit, drops it (the rest of the body is
read and discarded, nothing more is written) and marks the request. A request whose Content-Length alone is
over the limit is refused before its body is read (:func:`declared_too_large`)."""

from __future__ import annotations

from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.utils.translation import gettext as _

from shoal.core import parameters
from shoal.core.errors import ShoalError

MB = 1024 * 1024
FORM_ALLOWANCE = 4 * MB  # the other form fields and the multipart boundaries beside the file
TOO_LARGE_ATTR = "_shoal_import_too_large"


def max_bytes() -> int:
    return int(parameters.get("IMPORT_MAX_MB")) * MB


class CappedUploadHandler(TemporaryFileUploadHandler):
    """A file goes to a temporary file (deleted when the request ends); one over ``limit`` bytes is
    skipped (its temporary file is closed and removed) and the request is marked too large."""

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = max_bytes() if limit is None else limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            if self.request is not None:
                setattr(self.request, TOO_LARGE_ATTR, True)
            raise SkipFile
        return super().receive_data_chunk(raw_data, start)


def install(request) -> None:
    """Before the body is parsed: import files stream to a temporary file, capped at IMPORT_MAX_MB."""
    request.upload_handlers = [CappedUploadHandler(request)]


def declared_too_large(request) -> bool:
    """The Content-Length alone says the file cannot fit (the body is not read)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > max_bytes() + FORM_ALLOWANCE


def was_too_large(request) -> bool:
    return bool(getattr(request, TOO_LARGE_ATTR, False))


def too_large_error() -> ShoalError:
    limit = int(parameters.get("IMPORT_MAX_MB"))
    return ShoalError("file_too_large", _("The file is larger than %(mb)s MB, the import limit") % {"mb": limit},
                      {"max_mb": limit}, status=413)


def discard_draft(run) -> None:
    """A draft that will not be imported (a preview through the API, "Cancel" on the page): its stored file and the
    run go. A CLI draft reads the user's own file where it is: that file stays."""
    from . import services

    if run.stored_name and run.source != "cli":
        services.run_path(run).unlink(missing_ok=True)
    run.delete()
