"""The real peers of the end-to-end searches: the fake Toxiproxy (its own process) with a
proxy ``payments`` in front of an upstream, and a checkout service that calls ``payments``
through the proxy with a client timeout of :data:`CLIENT_TIMEOUT` and answers 503 when the
call times out. Its tolerance is known by construction: latency up to about 500 ms holds."""

from __future__ import annotations

import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "toxiproxy"))

from toxiproxy_peers import FakeToxiproxy, Upstream, fake_toxiproxy

CLIENT_TIMEOUT = 0.5

__all__ = ["CLIENT_TIMEOUT", "Checkout", "FakeToxiproxy", "Upstream", "checkout", "fake_toxiproxy"]


@dataclass
class Checkout:
    url: str
    server: ThreadingHTTPServer


@contextmanager
def checkout(dependency_port: int) -> Iterator[Checkout]:
    """``GET /checkout``: 200 when ``payments`` answered within the client timeout, else 503."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{dependency_port}/bytes/2", timeout=CLIENT_TIMEOUT
                ) as answer:
                    answer.read()
                status = 200
            except OSError:
                status = 503
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Checkout(f"http://127.0.0.1:{server.server_address[1]}/checkout", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
