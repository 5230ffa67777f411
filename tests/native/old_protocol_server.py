"""A protocol-v1 server from before ``/v1/status/batch`` (protocol 1.0), served over real HTTP
in a thread: the hub must fall back to one ``/v1/status`` per execution against it.

It knows the executions it is given, says ``injected`` of them and ``recovered`` of any
other (as ``/v1/status`` does), and records every request it answered. ``batch`` says how it
answers the batch call: ``"absent"`` (no route: 404), ``"wrong-method"`` (405) or
``"not-implemented"`` (501).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaoshub.adapters import http as http_adapter

TOKEN = "old-server-token"


@dataclass
class OldServer:
    url: str
    held: set[str]
    requests: list[tuple[str, str]] = field(default_factory=list)

    def calls(self, path: str) -> int:
        return sum(1 for _, p in self.requests if p == path)


@contextmanager
def old_server(held: set[str], batch: str = "absent") -> Iterator[OldServer]:
    state = OldServer(url="", held=held)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            media = "application/problem+json" if status >= 400 else "application/json"
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _missing(self) -> None:
            self._answer(404, {"type": "not-found", "title": "Not found", "status": 404})

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            if self.path == "/v1/describe":
                self._answer(200, {"name": "old", "version": "0.9", "protocol": "v1"})
            elif self.path == "/v1/status/batch" and batch == "wrong-method":
                self._answer(200, {})
            else:
                self._missing()

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"type": "unauthorized", "title": "Unauthorized", "status": 401})
            elif self.path == "/v1/status":
                phase = "injected" if body.get("execution_id") in state.held else "recovered"
                self._answer(200, {"observation": {"phase": phase, "native": "old server"}})
            elif self.path == "/v1/status/batch" and batch == "wrong-method":
                self._answer(405, {"title": "Method Not Allowed", "status": 405})
            elif self.path == "/v1/status/batch" and batch == "not-implemented":
                self._answer(501, {"title": "Not Implemented", "status": 501})
            else:
                self._missing()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        # hubs remember a server without the batch call by URL: a later server on this port
        # must be asked afresh
        http_adapter._without_batch.pop(state.url, None)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
