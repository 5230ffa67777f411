"""The peers the Toxiproxy tests talk to, apart from the adapter under test.

- :class:`FakeToxiproxy`: the fake server of ``fake_toxiproxy.py`` in its own process on a
  loopback port, stopped (and its sockets with it) however the tests end;
- :class:`Upstream`: a small HTTP server on loopback that answers ``GET /bytes/N`` with N
  bytes, so a test can time and count what comes back through a proxy;
- :func:`fetch`: one request on a fresh connection, timed and counted from outside.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAKE = Path(__file__).with_name("fake_toxiproxy.py")


@dataclass
class FakeToxiproxy:
    url: str
    process: subprocess.Popen[str]


@dataclass
class ProxyInfo:
    """A proxy a test made: its name and the loopback port it listens on."""

    name: str
    port: int


@contextlib.contextmanager
def fake_toxiproxy(log: Path, version: str | None = None) -> Iterator[FakeToxiproxy]:
    """Start the fake server on a free loopback port, answering as Toxiproxy ``version``
    (the fake's default release when None); stop it on the way out."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                str(FAKE),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--stop-on-stdin-eof",
                *(["--version", version] if version else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"fake Toxiproxy did not start: {line!r}; see {log}")
        yield FakeToxiproxy(url=f"http://{line.split()[-1]}", process=process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe:
                pipe.close()


class _Bytes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        size = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/bytes/") else 2
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(b"x" * size)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Upstream:
    """An HTTP/1.0 server on loopback: ``GET /bytes/N`` answers N bytes and closes."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Bytes)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class Fetched:
    seconds: float
    received: int  # bytes received, headers included
    error: str = ""  # the socket error that ended it, if the peer did not close cleanly


def fetch(port: int, size: int = 2, *, timeout: float = 10.0) -> Fetched:
    """GET /bytes/<size> through ``127.0.0.1:port`` on a new connection; time and count it."""
    started = time.monotonic()
    received = 0
    error = ""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET /bytes/{size} HTTP/1.0\r\nHost: upstream\r\n\r\n".encode())
            while chunk := sock.recv(65536):
                received += len(chunk)
    except OSError as exc:
        error = type(exc).__name__
    return Fetched(time.monotonic() - started, received, error)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
