"""``shoal export [--query FILE.json] [--fields a,b,c] [--format csv|xlsx] [--encoding utf-8|gb18030]
[--ids 1,2,3] [--user USERNAME] OUT``: export customers to a file, as the user would from the API.

The query file holds a condition tree (as the advanced query and ``POST /api/v1/customers/search`` take
it), or an object ``{"query": tree, "sql": "...", "keyword": "..."}``. Without ``--user``: the user
``admin`` if there is one, else the first superuser. A progress line goes to stderr; the last line on stdout
is one JSON object ``{"rows", "seconds", "file"}``."""

import json
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from shoal.core.errors import ShoalError


class Command(BaseCommand):
    help = ("Export customers to a CSV or xlsx file (the fields, the query, the user's data scope and masking as in "
            "the API); prints a JSON summary {rows, seconds, file} as the last line.")

    def add_arguments(self, parser):
        parser.add_argument("out", metavar="OUT", help="the file to write (.csv or .xlsx)")
        parser.add_argument("--query", metavar="FILE.json", help="a condition tree (JSON), or {query, sql, keyword}")
        parser.add_argument("--fields", help="field keys separated by commas (see GET /api/v1/exports/fields); "
                                             "default: the user's customer list columns")
        parser.add_argument("--format", dest="fmt", choices=("csv", "xlsx"),
                            help="default: from OUT's extension, else csv")
        parser.add_argument("--encoding", choices=("utf-8", "gb18030"), default="utf-8",
                            help="CSV encoding (default utf-8, with BOM)")
        parser.add_argument("--ids", help="only these customer ids, separated by commas")
        parser.add_argument("--user", help="export as this user (default: admin, else the first superuser)")

    def handle(self, *args, out, **options):
        from shoal.imports.export_api import parse_ids
        from shoal.imports.exporting import export_customers, split_keys

        user = self._user(options.get("user"))
        selection = self._query(options.get("query"))
        path = Path(out)
        fmt = options.get("fmt") or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent}: no such directory")
        verbose = options.get("verbosity", 1) >= 1
        tty = sys.stderr.isatty()
        started = time.monotonic()
        last = {"at": 0.0}

        def progress(done, total):
            now = time.monotonic()
            if not verbose or (now - last["at"] < 1 and done != total):
                return
            last["at"] = now
            seconds = now - started
            of = f" / {total:,}" if total is not None else ""
            line = f"  export: {done:,}{of} customers ({done / max(seconds, 1e-9):,.0f}/s, {seconds:.1f} s)"
            if tty:
                self.stderr.write("\r" + line, ending="")
                self.stderr.flush()
            else:
                self.stderr.write(line)

        language = getattr(user, "language", "") or settings.LANGUAGE_CODE
        try:
            with translation.override(language), path.open("wb") as handle:
                export = export_customers(actor=user, fields=split_keys(options.get("fields")) or None, fmt=fmt,
                                          encoding=options["encoding"], ids=parse_ids(options.get("ids")),
                                          source="cli", progress=progress, out=handle, **selection)
        except ShoalError as exc:
            path.unlink(missing_ok=True)
            raise CommandError(exc.message)
        if verbose and tty:
            self.stderr.write("")
        self.stdout.write(json.dumps({"rows": export.rows, "seconds": round(time.monotonic() - started, 3),
                                      "file": str(path.resolve())}, ensure_ascii=False))

    @staticmethod
    def _user(username):
        from shoal.accounts.models import User

        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username}")
            if not user.is_active:
                raise CommandError(f"the user {username} is disabled")
            return user
        user = (User.objects.filter(username="admin", is_active=True).first()
                or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first())
        if user is None:
            raise CommandError("no admin user: give --user USERNAME")
        return user

    @staticmethod
    def _query(name) -> dict:
        if not name:
            return {}
        try:
            data = json.loads(Path(name).read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise CommandError(f"{name}: no such file")
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: not JSON ({exc})")
        if not isinstance(data, dict):
            raise CommandError(f"{name}: give a condition tree (a JSON object)")
        if data and set(data) <= {"query", "sql", "keyword"}:
            return {"query": data.get("query"), "sql": data.get("sql"), "keyword": data.get("keyword")}
        return {"query": data}
