import signal
import threading

from django.core.management.base import BaseCommand

from shoal.schedules.services import run_scheduler


class Command(BaseCommand):
    help = "Run the scheduler: enqueue due jobs (safe to run more than one; each due run is claimed once)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
        parser.add_argument("--once", action="store_true", help="check once and exit")

    def handle(self, *args, interval, once, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stop.set())
        self.stdout.write(f"Scheduler started (every {interval:g}s).")
        self.stdout.flush()
        run_scheduler(interval=interval, max_ticks=1 if once else None, stop=stop)
        self.stdout.write("Scheduler stopped.")
