"""``shoal pools run group|assign|recycle|warn [--group ID]``: run a step of the pool rules now, in this process.

A progress line goes to stderr; the last line on stdout is one JSON object
(``{"grouped"|"assigned"|"recycled": n, "seconds"}``; warn: ``{"warned", "notified", "seconds"}``)."""

import json

from django.core.management.base import BaseCommand, CommandError

from shoal.core.actors import SYSTEM
from shoal.core.cli_progress import ProgressLine
from shoal.core.errors import ShoalError


class Command(BaseCommand):
    help = "Pools: 'shoal pools run group|assign|recycle|warn [--group ID]' runs the rules now and prints a JSON summary."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run the group, assignment or recycle rules (or the recycle warnings) now")
        run.add_argument("step", choices=["group", "assign", "recycle", "warn"])
        run.add_argument("--group", type=int, dest="group_id", metavar="ID", help="only this customer group")

    def handle(self, *args, action, step, group_id=None, **options):
        verbose = options.get("verbosity", 1) >= 1
        progress = ProgressLine(self.stderr, lambda done, total, seconds: (
            f"  pools {step}: {'rule' if step == 'group' or step == 'recycle' else 'group'} {done:,} / {total:,}  "
            f"({done * 100 // max(total, 1)}%, {seconds:.1f} s)"), verbose=verbose)
        try:
            if step == "warn":
                from shoal.pools.engine import run_warnings

                result = run_warnings(group_id=group_id, actor=SYSTEM)
            else:
                from shoal.pools.engine.services import pools_run

                result = pools_run(actor=SYSTEM, step=step, group_id=group_id, progress=progress)
        except ShoalError as exc:
            raise CommandError(exc.message)
        progress.end()
        self.stdout.write(json.dumps(result))
