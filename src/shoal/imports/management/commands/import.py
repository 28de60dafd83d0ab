"""``shoal import FILE [--encoding auto|utf-8|gb18030|big5] [--group NAME] [--tag NAME ...] [--mode normal|fast]
[--strict] [--dry-run] [--errors OUT.csv] [--user USERNAME]``: import customers from a CSV or Excel file, in this
process. A progress line goes to stderr; the last line on stdout is one JSON object with the summary counts,
``seconds`` and ``errors_file``."""

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shoal.core.actors import SYSTEM
from shoal.core.errors import ShoalError


class Command(BaseCommand):
    help = "Import customers from a CSV (UTF-8, GB18030, Big5) or Excel file; prints a JSON summary last."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--encoding", choices=("auto", "utf-8", "gb18030", "big5"), default="auto")
        parser.add_argument("--group", help="put the customers in this customer group (default: the company public sea)")
        parser.add_argument("--tag", action="append", dest="tags", metavar="NAME", default=[],
                            help="apply this manual tag to every imported customer (may be repeated)")
        parser.add_argument("--mode", choices=("normal", "fast"), default="normal")
        parser.add_argument("--strict", action="store_true", help="write nothing if any row is invalid")
        parser.add_argument("--dry-run", action="store_true", help="count what would happen, write nothing")
        parser.add_argument("--errors", metavar="OUT.csv", help="write the error report here")
        parser.add_argument("--user", metavar="USERNAME", help="import as this user (scope, masking); default: system")
        parser.add_argument("--mapping", metavar="JSON", help='column mapping, e.g. {"手机": "mobile", "备注": ""}')

    def handle(self, *args, **o):
        from shoal.accounts.models import User
        from shoal.customers.models import CustomerGroup
        from shoal.imports import services
        from shoal.tags.models import Tag

        actor = SYSTEM
        if o["user"]:
            actor = User.objects.filter(username=o["user"]).first()
            if actor is None:
                raise CommandError(f"no user {o['user']}")
        options = {"encoding": o["encoding"], "mode": o["mode"], "strict": o["strict"], "dry_run": o["dry_run"]}
        if o["group"]:
            group = CustomerGroup.objects.filter(name=o["group"]).first()
            if group is None:
                raise CommandError(f"no customer group named {o['group']}")
            options["group_id"] = group.pk
        if o["tags"]:
            ids = []
            for name in o["tags"]:
                found = list(Tag.objects.filter(name=name).values_list("pk", flat=True))
                if len(found) != 1:
                    raise CommandError(f"tag {name}: {'no such tag' if not found else 'several tags have this name'}")
                ids += found
            options["tag_ids"] = ids
        if o["mapping"]:
            try:
                options["mapping"] = json.loads(o["mapping"])
            except ValueError as exc:
                raise CommandError(f"--mapping: {exc}") from None
        verbose = o.get("verbosity", 1) >= 1
        tty = sys.stderr.isatty()
        started = time.monotonic()

        def progress(done, total):
            if not verbose:
                return
            line = f"  import: {done * 100 // max(total, 1)}%  ({time.monotonic() - started:.1f} s)"
            if tty:
                self.stderr.write("\r" + line, ending="")
                self.stderr.flush()
            else:
                self.stderr.write(line)

        try:
            run = services.import_local_file(actor=actor, path=Path(o["file"]), options=options)
            services.import_start(actor=actor, run=run, enqueue=False)
            done = services.import_execute(run.pk, progress=progress)
        except ShoalError as exc:
            raise CommandError(exc.message) from None
        if verbose and tty:
            self.stderr.write("")
        if done is None:
            raise CommandError("the import was taken by another worker")
        errors_file = None
        if o["errors"]:
            target = services.copy_report(done, Path(o["errors"]))
            errors_file = str(target) if target else None
        elif services.import_errors_path(done):
            errors_file = str(services.import_errors_path(done))
        summary = {**done.summary(), "seconds": round(time.monotonic() - started, 2), "errors_file": errors_file,
                   "status": done.status}
        if done.error:
            summary["error"] = done.error
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
        if done.status != "succeeded":
            sys.exit(1)
