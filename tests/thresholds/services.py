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
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "toxiproxy"))

from toxiproxy_peers import FakeToxiproxy, Upstream, fake_toxiproxy

CLIENT_TIMEOUT = 0.5

__all__ = [
    "CLIENT_TIMEOUT",
    "Checkout",
    "FakeToxiproxy",
    "Upstream",
    "checkout",
    "fake_toxiproxy",
    "proxy",
    "toxics",
]


@contextmanager
def proxy(toxiproxy: FakeToxiproxy, name: str) -> Iterator[tuple[str, int]]:
    """A proxy ``name`` in front of a fresh upstream: its name and loopback port; deleted
    (and the upstream stopped) on the way out."""
    with Upstream() as upstream, httpx.Client(base_url=toxiproxy.url, timeout=10) as api:
        body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream.address}
        created = api.post("/proxies", json=body)
        assert created.status_code == 201, created.text
        try:
            yield name, int(created.json()["listen"].rsplit(":", 1)[1])
        finally:
            api.delete(f"/proxies/{name}")


def toxics(toxiproxy: FakeToxiproxy, name: str) -> list[Any]:
    """The toxics in place on proxy ``name``."""
    answer = httpx.get(f"{toxiproxy.url}/proxies/{name}/toxics", timeout=10)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


@dataclass
class Checkout:
    url: str
    server: ThreadingHTTPServer
    #: the client timeout to ``payments``, in seconds: a test may change it at any moment
    #: (a service that flips), and the next request uses the new one
    client_timeout: float = CLIENT_TIMEOUT


@contextmanager
def checkout(dependency_port: int, port: int = 0) -> Iterator[Checkout]:
    """``GET /checkout``: 200 when ``payments`` answered within the client timeout, else 503.
    Served on 127.0.0.1:``port`` (0: a free one)."""

    made: list[Checkout] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{dependency_port}/bytes/2",
                    timeout=made[0].client_timeout,
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

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    made.append(Checkout(f"http://127.0.0.1:{server.server_address[1]}/checkout", server))
    try:
        yield made[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
