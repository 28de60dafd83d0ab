"""Customer import services: upload, preview, start, run (resumable), list, error report.

Options (a dict; every key optional): ``encoding`` "auto" | "utf-8" | "gb18030" | "big5"; ``mode``
"normal" | "fast"; ``strict`` bool; ``dry_run`` bool; ``group_id`` int | None; ``tag_ids`` [int];
``mapping`` {"<header as in the file>": "<field key>" or "" to ignore the column} (missing headers: matched
automatically).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.actors import is_system
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation
from shoal.customers import masking
from shoal.customers.services.timeline import is_user

from . import mapping as M
from . import pipeline
from .execution import STALE_AFTER, import_execute  # noqa: F401  (the services' public face)
from .models import ImportMode, ImportRun, ImportStatus
from .reading import open_table
from .storage import _too_large, import_dir, max_bytes, run_path

logger = logging.getLogger("shoal.imports")
PERMISSION = "customers.customers.import"
ENCODINGS = ("auto", "utf-8", "gb18030", "big5")
COPY_CHUNK = 1 << 20


def _check_permission(actor) -> None:
    if is_system(actor):
        return
    if not is_user(actor) or not actor.is_active or not actor.has_shoal_perm(PERMISSION):
        raise ShoalError("permission_denied", gettext("Missing permission %(code)s") % {"code": PERMISSION},
                         {"permission": PERMISSION}, status=403)


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def target_groups(actor):
    """The customer groups ``actor`` may import into: every group for the system and an unrestricted data
    scope, else the groups they administer or sell in."""
    from django.db.models import Q

    from shoal.accounts.models import DataScope
    from shoal.customers.models import CustomerGroup

    qs = CustomerGroup.objects.order_by("name", "pk")
    if is_system(actor) or actor.is_superuser or actor.data_scope() == DataScope.ALL:
        return qs
    return qs.filter(pk__in=CustomerGroup.objects.filter(Q(admins=actor) | Q(salespeople=actor)).values("pk"))


def clean_options(actor, options: dict | None) -> dict:
    """Validated options (see the module doc); ShoalError 400 naming the bad one."""
    options = dict(options or {})
    out: dict = {}
    if "encoding" in options and options["encoding"] not in (None, ""):
        encoding = str(options["encoding"]).strip().lower().replace("_", "-")
        encoding = {"utf8": "utf-8", "gbk": "gb18030", "gb2312": "gb18030"}.get(encoding, encoding)
        if encoding not in ENCODINGS:
            raise ShoalError("invalid_option", gettext("Unknown encoding %(value)s: choose auto, UTF-8, GB18030 or Big5")
                             % {"value": options["encoding"]}, {"field": "encoding"})
        out["encoding"] = encoding
    if "mode" in options and options["mode"] not in (None, ""):
        if options["mode"] not in ImportMode.values:
            raise ShoalError("invalid_option", gettext("Unknown mode %(value)s: choose normal or fast")
                             % {"value": options["mode"]}, {"field": "mode"})
        out["mode"] = options["mode"]
    for key in ("strict", "dry_run"):
        if key in options and options[key] is not None:
            out[key] = _bool(options[key])
    if "group_id" in options:
        group_id = options["group_id"]
        if group_id in (None, "", 0, "0"):
            out["group_id"] = None
        else:
            try:
                group = target_groups(actor).filter(pk=int(group_id)).first()
            except (TypeError, ValueError, OverflowError):
                group = None
            if group is None:  # missing, or a group the importer may not put customers in: the same answer
                raise ShoalError("invalid_option", gettext("No such customer group"), {"field": "group_id"})
            out["group_id"] = group.pk
    if "tag_ids" in options and options["tag_ids"] is not None:
        out["tag_ids"] = _clean_tags(actor, options["tag_ids"])
    if "mapping" in options and options["mapping"] is not None:
        raw = options["mapping"]
        if not isinstance(raw, dict) or not all(isinstance(v, str | type(None)) for v in raw.values()):
            raise ShoalError("invalid_option", gettext("The column mapping must map each header to a field key"),
                             {"field": "mapping"})
        out["mapping"] = {str(k): (v or "") for k, v in raw.items()}
    return out


def _clean_tags(actor, raw) -> list[int]:
    from shoal.tags.models import Tag, TagKind

    if isinstance(raw, str):
        raw = [p for p in raw.replace("，", ",").split(",") if p.strip()]
    try:
        ids = list(dict.fromkeys(int(v) for v in raw))
    except (TypeError, ValueError):
        raise ShoalError("invalid_option", gettext("Tags are given by their ids"), {"field": "tag_ids"}) from None
    tags = {t.pk: t for t in Tag.objects.filter(pk__in=ids)}
    for pk in ids:
        tag = tags.get(pk)
        if tag is None:
            raise ShoalError("invalid_option", gettext("No such tag: %(id)s") % {"id": pk}, {"field": "tag_ids"})
        if tag.kind == TagKind.AUTO:
            raise ShoalError("invalid_option", gettext("%(name)s is an auto tag: its rules give it") % {"name": tag.name},
                             {"field": "tag_ids"})
        if not tag.enabled:
            raise ShoalError("invalid_option", gettext("%(name)s is disabled") % {"name": tag.name}, {"field": "tag_ids"})
        if tag.kind == TagKind.PERSONAL and (not is_user(actor) or tag.owner_id != actor.pk):
            raise ShoalError("invalid_option", gettext("No such tag: %(id)s") % {"id": pk}, {"field": "tag_ids"})
    return ids


def _store(upload, limit: int) -> tuple[str, int]:
    """Copy the upload under the imports directory (refusing it past ``limit`` bytes); (name, size)."""
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _too_large()
    name = f"{uuid.uuid4().hex}.upload"
    path = import_dir() / name
    written = 0
    chunks = upload.chunks(COPY_CHUNK) if hasattr(upload, "chunks") else iter(lambda: upload.read(COPY_CHUNK), b"")
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise _too_large()
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return name, written


def import_upload(*, actor, upload, file_name: str, options: dict | None = None, source: str = "page") -> ImportRun:
    """Check permission, size and format, store the file and return a draft run (nothing imported yet).
    ``upload``: a Django UploadedFile, or any binary file object. Raises ShoalError (4xx) on bad input."""
    _check_permission(actor)
    opts = clean_options(actor, options)
    limit = max_bytes()
    name, size = _store(upload, limit)
    return _draft(actor, name, size, file_name, opts, source)


def import_local_file(*, actor, path: Path, options: dict | None = None) -> ImportRun:
    """The CLI's draft: the file is read where it is (not copied)."""
    _check_permission(actor)
    opts = clean_options(actor, options)
    path = Path(path).resolve()
    if not path.is_file():
        raise ShoalError("not_found", gettext("No such file: %(path)s") % {"path": str(path)}, status=404)
    if path.stat().st_size > max_bytes():
        raise _too_large()
    return _draft(actor, str(path), path.stat().st_size, path.name, opts, "cli")


def _draft(actor, stored: str, size: int, file_name: str, opts: dict, source: str) -> ImportRun:
    run = ImportRun(user=actor if is_user(actor) else None, source=source, file_name=(file_name or "upload")[:255],
                    stored_name=stored, size=size, status=ImportStatus.DRAFT)
    _apply(run, opts)
    try:
        with open_table(run_path(run), encoding=run.encoding, file_name=file_name, max_bytes=max_bytes()) as table:
            run.kind = table.kind
            run.detected_encoding = table.encoding or ""
            M.build_mapping(table.header, run.mapping)  # a file no column of which identifies: refused now
    except BaseException:
        if source != "cli":
            run_path(run).unlink(missing_ok=True)
        raise
    run.save()
    return run


def _apply(run: ImportRun, opts: dict) -> None:
    for key in ("encoding", "mode", "strict", "dry_run", "group_id", "tag_ids", "mapping"):
        if key in opts:
            setattr(run, key, opts[key])


def _masked_value(actor, key: str | None, value: str) -> str:
    if not value or not key or key not in pipeline.masked_keys(actor):
        return value
    return masking._mask_value(pipeline._mask_kind(key), value) or value


def import_preview(*, actor, run: ImportRun, rows: int = 20) -> dict:
    """Read the whole file without writing anything (see the API docs for the shape)."""
    _check_permission(actor)
    with open_table(run_path(run), encoding=run.encoding, file_name=run.file_name, max_bytes=max_bytes()) as table:
        mapping = M.build_mapping(table.header, run.mapping)
        result = pipeline.process(run, table, actor=actor, write=False, sample=rows)
        by_header = {h: t.key for h, t in zip(mapping.header, mapping.columns, strict=True) if t is not None}
        sample = [[_masked_value(actor, by_header.get(h), c) for h, c in zip(mapping.header, row, strict=False)]
                  for row in result.sample]
        return {
            "file_name": run.file_name, "kind": table.kind, "encoding": table.encoding, "delimiter": table.delimiter,
            "columns": mapping.described(), "unknown_columns": mapping.unknown,
            "fields": [{"key": t.key, "label": t.label} for t in M.targets()],
            "rows": sample,
            "summary": {k: result.counts[k] for k in result.counts},
            "errors": [{"row": e.row, "column": e.column, "value": _masked_value(actor, by_header.get(e.column), e.value),
                        "reason": e.reason} for e in result.errors[:20]],
        }


def import_start(*, actor, run: ImportRun, options: dict | None = None, enqueue: bool = True) -> ImportRun:
    """Queue a draft run for the worker (options may change mapping, mode, strict, group, tags)."""
    _check_permission(actor)
    if run.status != ImportStatus.DRAFT:
        raise ShoalError("not_draft", gettext("This import has already been started"), status=409)
    opts = clean_options(actor, options)
    _apply(run, opts)
    if "mapping" in opts:
        with open_table(run_path(run), encoding=run.encoding, file_name=run.file_name, max_bytes=max_bytes()) as table:
            M.build_mapping(table.header, run.mapping)
    run.status = ImportStatus.QUEUED
    with transaction.atomic():
        run.save()
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run.pk))
    if not is_system(actor):
        log_operation(actor=actor, action="customer.import", obj=run, object_type="import",
                      detail={"file": run.file_name, "mode": run.mode, "strict": run.strict, "dry_run": run.dry_run})
    return run


def _enqueue(run_id: int) -> None:
    from .tasks import run_import

    run_import.enqueue(run_id)


def import_create(*, actor, upload, file_name: str, options: dict | None = None, source: str = "api") -> ImportRun:
    """Upload and start at once (the API)."""
    run = import_upload(actor=actor, upload=upload, file_name=file_name, options=options, source=source)
    return import_start(actor=actor, run=run)


def resume_stalled() -> int:
    """Re-queue running imports whose worker stopped sending heartbeats; returns how many."""
    stale = timezone.now() - STALE_AFTER
    ids = list(ImportRun.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
               .values_list("pk", flat=True))
    for pk in ids:
        transaction.on_commit(lambda pk=pk: _enqueue(pk))
    return len(ids)


DRAFT_KEPT = timedelta(days=1)


def purge_drafts(*, now=None) -> int:
    """Delete uploads that were never started (drafts older than a day) with their files; how many."""
    cutoff = (now or timezone.now()) - DRAFT_KEPT
    purged = 0
    for run in ImportRun.objects.filter(status=ImportStatus.DRAFT, created_at__lt=cutoff).only("pk", "stored_name"):
        if not ImportRun.objects.filter(pk=run.pk, status=ImportStatus.DRAFT).delete()[0]:
            continue  # started meanwhile: its file is in use
        if run.stored_name and not Path(run.stored_name).is_absolute():  # never the CLI's own file
            run_path(run).unlink(missing_ok=True)
        purged += 1
    return purged


def import_list(*, actor):
    """The imports the actor may see: their own; everyone's with an unrestricted data scope."""
    _check_permission(actor)
    qs = ImportRun.objects.select_related("user", "group").exclude(status=ImportStatus.DRAFT)
    if not pipeline._unrestricted(actor):
        qs = qs.filter(user=actor)
    return qs


def import_get(*, actor, pk: int) -> ImportRun:
    _check_permission(actor)
    qs = ImportRun.objects.select_related("user", "group")
    if not pipeline._unrestricted(actor):
        qs = qs.filter(user=actor)
    run = qs.filter(pk=pk).first()
    if run is None:
        raise ShoalError("not_found", gettext("No such import"), status=404)
    return run


def import_output(run: ImportRun) -> dict:
    """The API shape: {"id", "status", "file_name", "kind", "encoding", "mode", "strict", "dry_run", "group_id",
    "tag_ids", "progress": {"done", "total"}, "counts": {...}, "errors_count", "error", "created_at",
    "started_at", "finished_at", "seconds"}."""
    progress = run.progress or {}
    return {
        "id": run.pk, "status": run.status, "file_name": run.file_name, "kind": run.kind,
        "encoding": run.detected_encoding or run.encoding, "mode": run.mode, "strict": run.strict,
        "dry_run": run.dry_run, "group_id": run.group_id, "tag_ids": list(run.tag_ids or []),
        "progress": {"done": int(progress.get("done", 0)), "total": int(progress.get("total", 0))},
        "counts": run.summary(), "errors_count": run.errors_count, "error": run.error,
        "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at,
        "seconds": round(run.duration_ms / 1000, 2) if run.duration_ms is not None else None,
    }


def import_errors_path(run: ImportRun) -> Path | None:
    """The error report (CSV, UTF-8 with BOM) of a run, or None when there is none."""
    if not run.errors_name:
        return None
    path = import_dir() / run.errors_name
    return path if path.exists() else None


def copy_report(run: ImportRun, target: Path) -> Path | None:
    source = import_errors_path(run)
    if source is None:
        return None
    shutil.copyfile(source, target)
    return target
