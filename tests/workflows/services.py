"""Small real services for workflow tests: a cache (a TCP server answering PING with PONG)
and an API whose ``/health`` asks the cache within 0.5 s — so pausing the cache process
makes a fragile API fail, as a real dependency would, while a resilient one keeps answering
200 (a little slower) as if from a fallback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.support.stack import free_port, wait_for

CACHE = textwrap.dedent(
    """
    import socketserver, sys
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(b"PONG\\n")
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)

API = textwrap.dedent(
    """
    import http.server, socket, sys
    cache_port = int(sys.argv[2])
    resilient = sys.argv[3] == "resilient"
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                with socket.create_connection(("127.0.0.1", cache_port), timeout=0.5) as c:
                    c.settimeout(0.5)
                    c.sendall(b"PING\\n")
                    ok = c.recv(16).startswith(b"PONG")
            except OSError:
                ok = False
            body = b'{"cache": "up"}' if ok else b'{"cache": "down"}'
            # a resilient API serves without its cache (as from a fallback); a fragile one fails
            self.send_response(200 if ok or resilient else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


@dataclass
class Services:
    cache: subprocess.Popen[bytes]
    cache_name: str
    cache_port: int
    api: subprocess.Popen[bytes]
    api_port: int

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/health"

    def cache_state(self) -> str:
        """The cache process's state letter from /proc (``T`` while stopped)."""
        with open(f"/proc/{self.cache.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]


def _spawn(argv0: str, code: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [argv0, "-c", code, *args],
        executable=sys.executable,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a paused process must be able to die
            proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@contextmanager
def api_with_cache(
    cache_name: str,
    *,
    api_port: int | None = None,
    cache_port: int | None = None,
    resilient: bool = False,
) -> Iterator[Services]:
    """The cache (its argv[0] is ``cache_name``, which a process selector's ``name`` matches)
    and the API in front of it, both answering before this yields; both gone after."""
    cport = cache_port or free_port()
    aport = api_port or free_port()
    cache = _spawn(cache_name, CACHE, str(cport))
    api = _spawn("test-api", API, str(aport), str(cport), "resilient" if resilient else "fragile")
    services = Services(cache, cache_name, cport, api, aport)
    try:
        wait_for(
            lambda: httpx.get(services.health_url, timeout=2).status_code == 200,
            20,
            what="the API and its cache",
        )
        yield services
    finally:
        _stop(api)
        _stop(cache)
