"""Customer import services: upload, preview, start, run (resumable), list, error report.

Options (a dict; every key optional): ``encoding`` "auto" | "utf-8" | "gb18030" | "big5"; ``mode``
"normal" | "fast"; ``strict`` bool; ``dry_run`` bool; ``group_id`` int | None; ``tag_ids`` [int];
``mapping`` {"<header as in the file>": "<field key>" or "" to ignore the column} (missing headers: matched
automatically).
"""

from __future__ import annotations

from pathlib import Path

from .models import ImportRun


def import_upload(*, actor, upload, file_name: str, options: dict | None = None, source: str = "page") -> ImportRun:
    """Check permission, size and format, store the file and return a draft run (nothing imported yet).
    ``upload``: a Django UploadedFile, or any binary file object. Raises ShoalError (4xx) on bad input."""
    raise NotImplementedError


def import_preview(*, actor, run: ImportRun, rows: int = 20) -> dict:
    """Read the whole file without writing anything. Returns
    {"file_name", "kind", "encoding", "delimiter",
     "columns": [{"index", "header", "field", "field_label"}],   # field "" = ignored
     "unknown_columns": [header, ...], "fields": [{"key", "label"}],  # choices for remapping
     "rows": [[cell, ...], ...] (the first ``rows`` data rows, decoded),
     "summary": {"rows", "empty", "invalid", "duplicate", "created", "updated", "unchanged"},
     "errors": [{"row", "column", "value", "reason"}, ...] (the first 20, values masked for the actor)}"""
    raise NotImplementedError


def import_start(*, actor, run: ImportRun, options: dict | None = None) -> ImportRun:
    """Queue a draft run for the worker (options may change mapping, mode, strict, group, tags)."""
    raise NotImplementedError


def import_create(*, actor, upload, file_name: str, options: dict | None = None, source: str = "api") -> ImportRun:
    """Upload and start at once (the API and the CLI's queued form)."""
    run = import_upload(actor=actor, upload=upload, file_name=file_name, options=options, source=source)
    return import_start(actor=actor, run=run)


def import_execute(run_id: int, *, progress=None) -> ImportRun | None:
    """Run a queued (or stalled) import; the worker task and the CLI call it. Safe twice / on two workers:
    one claims the run. ``progress(done, total)`` is called about once a second."""
    raise NotImplementedError


def resume_stalled() -> int:
    """Re-queue running imports whose worker stopped sending heartbeats; returns how many."""
    raise NotImplementedError


def import_list(*, actor):
    """The imports the actor may see (their own; all with the import permission and an unrestricted scope)."""
    raise NotImplementedError


def import_get(*, actor, pk: int) -> ImportRun:
    raise NotImplementedError


def import_output(run: ImportRun) -> dict:
    """The API shape: {"id", "status", "file_name", "kind", "encoding", "mode", "strict", "dry_run", "group_id",
    "tag_ids", "progress": {"done", "total"}, "counts": {...}, "errors_count", "error", "created_at",
    "started_at", "finished_at", "seconds"}."""
    raise NotImplementedError


def import_errors_path(run: ImportRun) -> Path | None:
    """The error report (CSV, UTF-8 with BOM) of a run, or None when there is none."""
    raise NotImplementedError
