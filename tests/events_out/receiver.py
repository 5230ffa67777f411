"""A real webhook receiver for the events-out tests: an HTTP server on loopback that keeps
what it was sent, and that a test can stop (connection refused), make answer 503, or make
slow, then start again on the same port."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaoshub.events_out import signing
from tests.support.stack import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    #: what it answers: 200, or e.g. 503
    status: int = 200
    #: how long it waits before answering
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if owner.delay:
                    time.sleep(owner.delay)
                status = owner.status
                if status == 200:
                    with owner._lock:
                        owner.received.append(
                            Received(dict(self.headers), body, time.time(), self.path)
                        )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, subject: str | None = None) -> list[dict[str, Any]]:
        """The CloudEvents received (first receipt of each id), in the order they came."""
        with self._lock:
            got = list(self.received)
        seen: set[str] = set()
        out = []
        for r in got:
            ce = r.json()
            if ce["id"] in seen or (subject is not None and ce.get("subject") != subject):
                continue
            seen.add(ce["id"])
            out.append(ce)
        return out

    def verify_all(self, secret: str) -> None:
        """Every request carries a valid signature over its timestamp and body."""
        with self._lock:
            got = list(self.received)
        for r in got:
            headers = {k.lower(): v for k, v in r.headers.items()}
            ts = headers[signing.TIMESTAMP_HEADER.lower()]
            assert abs(int(ts) - r.at) < 120, "the timestamp is the time of the attempt"
            # computed here as a receiver would, not with the hub's own helper
            mac = hmac.new(secret.encode(), ts.encode() + b"." + r.body, hashlib.sha256)
            assert headers[signing.SIGNATURE_HEADER.lower()] == "sha256=" + mac.hexdigest()
