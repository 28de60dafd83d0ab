"""``shoal tags refresh [--tag ID] [--full]``: refresh auto tags now, in this process.
``shoal tags import FILE``: import external tags (a CSV of ``identity value, tag name[, expiry date]``).

A progress line goes to stderr; the last line on stdout is one JSON object
``{"tags", "evaluated", "added", "removed", "seconds"}`` (refresh) or the import report's counts (import)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shoal.core.actors import SYSTEM
from shoal.core.cli_progress import ProgressLine
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation


class Command(BaseCommand):
    help = ("Tags: 'shoal tags refresh [--tag ID] [--full]' refreshes auto tags and prints a JSON summary; "
            "'shoal tags import FILE' imports external tags from a CSV (identity value, tag name[, expiry date]).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="refresh auto tags now (incremental unless --full)")
        refresh.add_argument("--tag", type=int, action="append", dest="tags", metavar="ID",
                             help="only this tag (may be given more than once)")
        refresh.add_argument("--full", action="store_true", help="re-read every customer")
        imp = sub.add_parser("import", help="import external tags from a CSV file")
        imp.add_argument("file", help="CSV: identity value, tag name[, expiry date YYYY-MM-DD]; UTF-8 or GB18030")
        imp.add_argument("--encoding", choices=("auto", "utf-8", "gb18030"), default="auto")
        imp.add_argument("--field", choices=["mobile", "email", "ent_user_id"],
                         help="the identity field of the values (default: the configured identity fields)")
        imp.add_argument("--report", help="also write the full report (CSV) to this file")
        self.subparsers = sub

    def handle(self, *args, action, **options):
        if action == "refresh":
            return self.refresh(tag_ids=options.get("tags"), full=options.get("full", False),
                                verbose=options.get("verbosity", 1) >= 1)
        if action == "import":
            return self.import_file(options, verbose=options.get("verbosity", 1) >= 1)
        raise CommandError(f"unknown action {action}")

    def refresh(self, *, tag_ids, full, verbose):
        from shoal.tags.models import Tag, TagKind
        from shoal.tags.refresh import refresh

        if tag_ids:
            known = set(Tag.objects.filter(pk__in=tag_ids, kind=TagKind.AUTO).values_list("pk", flat=True))
            missing = sorted(set(tag_ids) - known)
            if missing:
                raise CommandError(f"not auto tags: {', '.join(map(str, missing))}")
        progress = ProgressLine(self.stderr, lambda done, total, seconds: (
            f"  tags: customer range {done:,} / {total:,}  ({done * 100 // max(total, 1)}%, {seconds:.1f} s)"),
            verbose=verbose)

        try:
            result = refresh(tag_ids=tag_ids, full=full, progress=progress)
        except ShoalError as exc:
            raise CommandError(exc.message)
        progress.end()
        log_operation(actor=SYSTEM, action="tag.refresh", object_type="tag", detail={"full": full, "cli": True})
        if result.get("skipped"):
            self.stderr.write(f"  skipped (another refresh holds them): {result['skipped']}")
        summary = {k: result[k] for k in ("tags", "evaluated", "added", "removed", "seconds")}
        self.stdout.write(json.dumps(summary))

    def import_file(self, options, *, verbose):
        from shoal.tags import importing

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")

        def progress(report):
            if verbose:
                self.stderr.write(f"  tags import: rows {report.rows:,} · tagged {report.tagged:,} · already "
                                  f"{report.already:,} · unknown customers {report.unknown_customer_rows:,} · "
                                  f"unknown tags {report.unknown_tag_rows:,} · bad rows {report.bad_row_count:,}")

        try:
            with path.open("rb") as handle:
                report = importing.import_tags(actor=SYSTEM, file=handle, encoding=options["encoding"],
                                               field_name=options.get("field"), progress=progress)
        except ShoalError as exc:
            raise CommandError(exc.message)
        if options.get("report"):
            Path(options["report"]).write_text(report.csv_text(), encoding="utf-8")
        self.stdout.write(json.dumps(report.summary(), ensure_ascii=False))
        if report.error:
            raise CommandError(report.error)
