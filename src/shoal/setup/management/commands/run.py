import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.core.management.base import BaseCommand


def wait_until_up(host: str, port: int, *, timeout: float = 60, alive=lambda: True) -> bool:
    """Poll /healthz until the web server answers (or it died, or the time is up)."""
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{url_host}]:{port}/healthz" if ":" in url_host else f"http://{url_host}:{port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.3)
    return False


class Command(BaseCommand):
    help = "Run the web server, one task worker and the scheduler together; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        shoal = [sys.executable, "-m", "shoal.cli"]
        procs = {
            "web": subprocess.Popen([*shoal, "serve", "--host", host, "--port", str(port)]),
            "worker": subprocess.Popen([*shoal, "worker"]),
            "scheduler": subprocess.Popen([*shoal, "scheduler"]),
        }
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        code = 0
        try:
            if wait_until_up(host, port, alive=lambda: not stopping and procs["web"].poll() is None):
                from shoal.setup.firstrun import login_banner

                time.sleep(1)  # let the servers' start-up lines (and that request's access line) go first
                self.stdout.write(login_banner(host=host, port=port))
                self.stdout.flush()
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping the others.")
                        code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping web, worker and scheduler…")
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped.")
        sys.exit(code)
