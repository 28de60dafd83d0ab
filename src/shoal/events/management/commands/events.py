"""``shoal events send FILE.jsonl [--app-key K]``: send the events of a JSON-lines file (one event object per
line, as ``POST /api/v1/events`` takes it) in batches of 1,000, for a bulk backfill. Without an application
key the events are sent by the command line itself (no application; ids deduplicate among themselves).
A line that is not JSON is recorded as a refused event, as the API would. No rate limit applies.

``shoal events process [--follow]``: process the accepted events waiting in the queue now, in this process
(statistics, strategies); ``--follow`` keeps going: each time it has drained the queue (a batch not full)
it waits ``--interval`` seconds before it looks again (what arrived meanwhile makes one larger batch).
Ctrl-C or SIGTERM stops it (a batch in progress is rolled back, left to the next worker) and it prints its
summary.

``shoal events prune``: remove event history older than EVENTS_RETENTION_DAYS now.

A progress line goes to stderr; the last line on stdout is one JSON object (the summary)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shoal.core.cli_progress import ProgressLine

BATCH = 1000


class Command(BaseCommand):
    help = ("Events: 'shoal events send FILE.jsonl [--app-key K]' sends events from a JSON-lines file; "
            "'shoal events process [--follow]' processes the queued events; 'shoal events prune' applies the "
            "history retention.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        send = sub.add_parser("send", help="send the events of a JSON-lines file")
        send.add_argument("file", help="one event object per line (UTF-8)")
        send.add_argument("--app-key", dest="app_key", default="", help="send as this application (its secret key)")
        send.add_argument("--process", action="store_true", help="process the accepted events afterwards")
        process = sub.add_parser("process", help="process the queued events now")
        process.add_argument("--follow", action="store_true", help="keep processing new events until stopped")
        process.add_argument("--interval", type=float, default=0.5, help="seconds to wait after draining the queue (--follow)")
        process.add_argument("--batch", type=int, default=2000, help="events per transaction")
        sub.add_parser("prune", help="remove event history older than EVENTS_RETENTION_DAYS")

    def handle(self, *args, action, **options):
        verbose = options.get("verbosity", 1) >= 1
        if action == "send":
            return self.send(options, verbose=verbose)
        if action == "process":
            return self.process(options, verbose=verbose)
        if action == "prune":
            from shoal.events.services.retention import prune_history

            self.stdout.write(json.dumps(prune_history(), ensure_ascii=False))
            return None
        raise CommandError(f"unknown action {action}")

    def send(self, options, *, verbose):
        from shoal.accounts.models import Application
        from shoal.events.models import EventSource
        from shoal.events.services.ingest import BadBody, Caller, ingest, loads

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        app = None
        if options.get("app_key"):
            app = Application.for_key(options["app_key"])
            if app is None:
                raise CommandError("unknown application key")
        caller = Caller(application=app, source=EventSource.CLI, rate_limited=False)
        counts = {"lines": 0, "accepted": 0, "duplicate": 0, "failed": 0}
        reasons: dict[str, int] = {}
        progress = ProgressLine(self.stderr, lambda done, total, seconds: (
            f"  events: {done:,} lines · accepted {counts['accepted']:,} · duplicate {counts['duplicate']:,} · "
            f"failed {counts['failed']:,}  ({seconds:.1f} s)"), verbose=verbose)
        started = time.monotonic()

        def flush(batch):
            for result in ingest(caller=caller, items=batch):
                counts[result["status"]] += 1
                if result["error"]:
                    reasons[result["error"]["code"]] = reasons.get(result["error"]["code"], 0) + 1
            progress(counts["lines"], 0)

        batch = []
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                counts["lines"] += 1
                try:
                    batch.append(loads(line))
                except (ValueError, RecursionError):
                    batch.append(BadBody(line.strip()[:500]))
                if len(batch) >= BATCH:
                    flush(batch)
                    batch = []
        if batch:
            flush(batch)
        progress.end()
        seconds = time.monotonic() - started
        summary = {**counts, "reasons": reasons, "seconds": round(seconds, 3),
                   "events_per_s": round(counts["lines"] / seconds) if seconds else None}
        if options.get("process"):
            from shoal.events.services.processing import process_pending

            summary["processing"] = process_pending()
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
        return None

    def process(self, options, *, verbose):
        from shoal.events.services.processing import process_pending

        total = {"processed": 0, "batches": 0}
        started = time.monotonic()
        progress = ProgressLine(self.stderr, lambda done, _total, seconds: (
            f"  events processed: {done:,}  ({seconds:.1f} s)"), verbose=verbose)
        before = 0

        def committed(done_in_call):  # after each committed batch: the summary counts it even if stopped next
            total["processed"] = before + done_in_call
            progress(total["processed"], 0)

        def stop(signum, frame):  # SIGTERM (systemd, a supervisor) stops it as Ctrl-C does
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            while True:
                before = total["processed"]
                size = max(1, options["batch"])
                result = process_pending(batch=size, progress=committed, until_short=bool(options.get("follow")))
                total["batches"] += result["batches"]
                if not options.get("follow"):
                    break
                time.sleep(max(0.05, options["interval"]))  # it returns when the queue was drained
        except KeyboardInterrupt:
            pass
        progress.end()
        self.stdout.write(json.dumps({**total, "seconds": round(time.monotonic() - started, 3)}))
        return None
