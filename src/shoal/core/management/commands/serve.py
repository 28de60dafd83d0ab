import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application with gunicorn (production server; no worker, no scheduler)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))

    def handle(self, *args, host, port, workers, **options):
        argv = [sys.executable, "-m", "gunicorn", "shoal.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", str(workers), "--threads", "4", "--access-logfile", "-",
                "--timeout", os.environ.get("WEB_TIMEOUT", "120"), "--graceful-timeout", "10"]
        self.stdout.write(f"Shoal listening on http://{host}:{port}")
        self.stdout.flush()
        os.execv(sys.executable, argv)
