"""A real HTTP receiver on 127.0.0.1 (a thread), and outbound calls to it allowed for these tests."""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Records every request; ``answers`` (a list of (status, headers, body), used in turn, the last one
    repeated) or ``handler(request) -> (status, headers, body)`` decides the answers."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict, bytes]] = [(200, {}, b"ok")]
        self.handler: Callable[[dict], tuple[int, dict, bytes]] | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": body}
                with receiver.lock:
                    receiver.requests.append(request)
                    if receiver.handler is not None:
                        status, headers, payload = receiver.handler(request)
                    else:
                        index = min(len(receiver.requests) - 1, len(receiver.answers) - 1)
                        status, headers, payload = receiver.answers[index]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = False  # server_close() joins the handler threads: none outlives its test
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def json(self, index: int = -1):
        return json.loads(self.requests[index]["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def allow_loopback(settings):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return settings
