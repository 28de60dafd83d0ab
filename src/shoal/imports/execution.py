"""Running a queued import (the worker's task and the CLI): claim it, go through the file, record the outcome."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError

from . import mapping as M
from . import pipeline
from .models import ImportRun, ImportStatus
from .reading import open_table
from .storage import import_dir, max_bytes, run_path

logger = logging.getLogger("shoal.imports")
STALE_AFTER = timedelta(minutes=2)  # a running import without a heartbeat this long: its worker died


def _actor_of(run: ImportRun):
    return run.user if run.user_id else SYSTEM


def import_execute(run_id: int, *, progress=None) -> ImportRun | None:
    """Run a queued (or stalled) import; the worker task and the CLI call it. Safe twice / on two workers:
    one claims the run. ``progress(done, total)`` is called about once a second."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = ImportRun.objects.filter(pk=run_id).filter(
        Q(status=ImportStatus.QUEUED) | Q(status=ImportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    ).update(status=ImportStatus.RUNNING, worker=token, heartbeat_at=now)
    if not claimed:
        return None
    run = ImportRun.objects.select_related("user").get(pk=run_id)
    if run.started_at is None:
        run.started_at = now
        ImportRun.objects.filter(pk=run.pk).update(started_at=now)
    actor = _actor_of(run)
    started = time.monotonic()
    last = [0.0]

    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        moment = time.monotonic()
        if done < total and moment - last[0] < 1.0:
            return
        last[0] = moment
        ImportRun.objects.filter(pk=run.pk, worker=token).update(progress={"done": done, "total": total},
                                                                 heartbeat_at=timezone.now())

    report_name = run.errors_name or f"{uuid.uuid4().hex}-errors.csv"
    if not run.errors_name:  # known from the start: a worker resuming this run keeps its committed lines
        ImportRun.objects.filter(pk=run.pk, worker=token).update(errors_name=report_name)
    report = None
    try:
        if run.pending_indexes:  # its rows committed, its worker died before the indexes were built
            report = pipeline.Report(import_dir() / report_name, actor, {}, keep_up_to=run.rows_done)
            report.close()
            pipeline.build_pending_indexes(run, token)
            return _finish(run, token, started, run.counts, report, ImportStatus.SUCCEEDED, "")
        path = run_path(run)

        def table():
            return open_table(path, encoding=run.encoding, file_name=run.file_name, max_bytes=max_bytes())

        with table() as t:
            mapping = M.build_mapping(t.header, run.mapping)
        fields = {h: m.key for h, m in zip(mapping.header, mapping.columns, strict=True) if m is not None}
        report = pipeline.Report(import_dir() / report_name, actor, fields, keep_up_to=run.rows_done)
        write = not run.dry_run
        if write and run.strict and not run.rows_done:  # strict: the whole file is checked before any write
            with table() as t:
                checked = pipeline.process(run, t, actor=actor, write=False, progress=tick, report=report)
            if checked.counts["invalid"]:
                report.close()
                return _finish(run, token, started, checked.counts, report, ImportStatus.FAILED,
                               gettext("%(n)s invalid rows: nothing was imported (strict mode)")
                               % {"n": checked.counts["invalid"]})
            report.close()
            report = pipeline.Report(import_dir() / report_name, actor, fields)
        with table() as t:
            result = pipeline.process(run, t, actor=actor, write=write, worker=token, progress=tick, report=report)
        report.close()
        if write:
            pipeline.build_pending_indexes(run, token)  # the run is done when the customers' indexes exist
        return _finish(run, token, started, result.counts, report, ImportStatus.SUCCEEDED, "")
    except pipeline.LostClaim:
        return None
    except ShoalError as exc:
        if report is not None:
            report.close()
        return _finish(run, token, started, None, report, ImportStatus.FAILED, exc.message)
    except Exception as exc:  # recorded on the run; the worker goes on
        logger.exception("import %s failed", run.pk)
        if report is not None:
            report.close()
        return _finish(run, token, started, None, report, ImportStatus.FAILED,
                       gettext("The import stopped on an unexpected error (%(error)s); it has been logged")
                       % {"error": type(exc).__name__})


def _finish(run: ImportRun, token: str, started: float, counts: dict | None, report, status: str,
            error: str) -> ImportRun | None:
    now = timezone.now()
    fields = {"status": status, "error": error, "finished_at": now, "heartbeat_at": now,
              "duration_ms": int((now - (run.started_at or now)).total_seconds() * 1000)}
    if counts is not None:
        fields["counts"] = counts
        fields["rows_total"] = counts.get("rows", 0)
        fields["progress"] = {"done": 1, "total": 1}
    if report is not None:
        fields["errors_count"] = report.count
        fields["errors_name"] = report.path.name if report.count else ""
        if not report.count:
            report.path.unlink(missing_ok=True)
    if not ImportRun.objects.filter(pk=run.pk, worker=token).update(**fields):
        return None
    run.refresh_from_db()
    if run.source != "cli" and run.status == ImportStatus.SUCCEEDED:
        run_path(run).unlink(missing_ok=True)  # the upload is no longer needed
    return run


