"""``shoal tags …``: tag work from the console. ``shoal tags import FILE`` imports external tags (a CSV of
``identity value, tag name[, expiry date]``) as the system, printing a progress line per batch and, last,
one JSON object: the report's counts."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.tags import importing


class Command(BaseCommand):
    help = "Tags: 'shoal tags import FILE' imports external tags from a CSV (identity value, tag name[, expiry date])."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import external tags from a CSV file")
        imp.add_argument("file", help="CSV: identity value, tag name[, expiry date YYYY-MM-DD]; UTF-8 or GB18030")
        imp.add_argument("--encoding", choices=importing.ENCODINGS, default="auto")
        imp.add_argument("--field", choices=["mobile", "email", "ent_user_id"],
                         help="the identity field of the values (default: the configured identity fields)")
        imp.add_argument("--report", help="also write the full report (CSV) to this file")

    def handle(self, *args, action, **options):
        if action == "import":
            self._import(options)

    def _import(self, options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")

        def progress(report):
            self.stdout.write(f"rows {report.rows} · tagged {report.tagged} · already {report.already} · "
                              f"unknown customers {report.unknown_customer_rows} · unknown tags "
                              f"{report.unknown_tag_rows} · bad rows {report.bad_row_count}")

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
