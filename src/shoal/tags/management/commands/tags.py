"""``shoal tags refresh [--tag ID] [--full]``: refresh auto tags now, in this process.

A progress line goes to stderr; the last line on stdout is one JSON object
``{"tags", "evaluated", "added", "removed", "seconds"}``."""

import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError
from shoal.core.oplog import log_operation


class Command(BaseCommand):
    help = "Tags: 'shoal tags refresh [--tag ID] [--full]' refreshes auto tags and prints a JSON summary."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="refresh auto tags now (incremental unless --full)")
        refresh.add_argument("--tag", type=int, action="append", dest="tags", metavar="ID",
                             help="only this tag (may be given more than once)")
        refresh.add_argument("--full", action="store_true", help="re-read every customer")
        self.subparsers = sub

    def handle(self, *args, action, **options):
        if action == "refresh":
            return self.refresh(tag_ids=options.get("tags"), full=options.get("full", False),
                                verbose=options.get("verbosity", 1) >= 1)
        raise CommandError(f"unknown action {action}")

    def refresh(self, *, tag_ids, full, verbose):
        from shoal.tags.models import Tag, TagKind
        from shoal.tags.refresh import refresh

        if tag_ids:
            known = set(Tag.objects.filter(pk__in=tag_ids, kind=TagKind.AUTO).values_list("pk", flat=True))
            missing = sorted(set(tag_ids) - known)
            if missing:
                raise CommandError(f"not auto tags: {', '.join(map(str, missing))}")
        tty = sys.stderr.isatty()
        started = time.monotonic()

        def progress(done, total):
            if not verbose:
                return
            line = f"  tags: customer range {done:,} / {total:,}  ({done * 100 // max(total, 1)}%, " \
                   f"{time.monotonic() - started:.1f} s)"
            if tty:
                self.stderr.write("\r" + line, ending="")
                self.stderr.flush()
            else:
                self.stderr.write(line)

        try:
            result = refresh(tag_ids=tag_ids, full=full, progress=progress)
        except ShoalError as exc:
            raise CommandError(exc.message)
        if verbose and tty:
            self.stderr.write("")
        log_operation(actor=SYSTEM, action="tag.refresh", object_type="tag", detail={"full": full, "cli": True})
        if result.get("skipped"):
            self.stderr.write(f"  skipped (another refresh holds them): {result['skipped']}")
        summary = {k: result[k] for k in ("tags", "evaluated", "added", "removed", "seconds")}
        self.stdout.write(json.dumps(summary))
