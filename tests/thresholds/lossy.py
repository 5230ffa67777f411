"""A service whose tolerance of packet loss the test builds, in network namespaces.

``NetPair`` (``tests/native``): namespace ``a`` (198.51.100.1) and ``b`` (198.51.100.2)
joined by a veth pair. An echo server listens on UDP in ``b``; the checkout service, served
over HTTP in the test's own namespace, sends each checkout's :data:`ITEMS` item requests to
it from a UDP socket in ``a`` and **retries** every unanswered one ``retries`` times (the
test sets it). A checkout succeeds (200) when at least :data:`NEEDED` of its items were
answered, else 503.

With a share ``p`` of the packets leaving ``a`` dropped (the native injector's
``network-loss`` on ``a``'s interface, egress: the answers come back untouched), an item is
lost only when all ``retries + 1`` tries are: with probability ``p ** (retries + 1)``. The
checkout succeeds while that stays under ``1 - NEEDED``, so the loss the service tolerates
is, by construction, ``(1 - NEEDED) ** (1 / (retries + 1))``: 31.6 % with one retry. With
500 items a checkout, the share lost is within about 1.5 percentage points of its
expectation, so a checkout's outcome is sharp on either side of that loss."""

from __future__ import annotations

import ctypes
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ITEMS = 500
NEEDED = 0.9
ROUND_SECONDS = 0.15
ECHO_PORT = 7007
CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = 33


def tolerated_loss_percent(retries: int) -> float:
    return 100 * (1 - NEEDED) ** (1 / (retries + 1))


def _in_netns(netns: str, make: type[socket.socket] | None = None) -> socket.socket:
    """A UDP socket made inside the named network namespace (a thread of its own enters the
    namespace; the socket stays in it whichever thread uses it)."""
    made: list[socket.socket | BaseException] = []

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/var/run/netns/{netns}") as ns:
                if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # room for a whole checkout's burst: a full buffer would drop items itself
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
            made.append(sock)
        except BaseException as exc:
            made.append(exc)

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join(10)
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass
class Lossy:
    url: str
    #: how many times an unanswered item is sent again (the test may change it)
    retries: int = 1


@contextmanager
def lossy_checkout(netns_a: str, netns_b: str, addr_b: str) -> Iterator[Lossy]:
    echo = _in_netns(netns_b)
    echo.bind((addr_b, ECHO_PORT))
    echo.settimeout(0.2)
    client = _in_netns(netns_a)
    client.bind(("0.0.0.0", 0))
    stop = threading.Event()

    def serve_echo() -> None:
        while not stop.is_set():
            try:
                data, peer = echo.recvfrom(64)
            except TimeoutError:
                continue
            except OSError:
                return
            echo.sendto(data, peer)

    lock = threading.Lock()
    state: list[Lossy] = []

    def one_checkout() -> float:
        """The share of the items answered within the tries."""
        with lock:
            nonce = secrets.token_hex(4).encode()
            missing = set(range(ITEMS))
            for _ in range(state[0].retries + 1):
                for item in sorted(missing):
                    try:
                        client.sendto(nonce + b":" + str(item).encode(), (addr_b, ECHO_PORT))
                    except PermissionError:  # dropped on its way out (iptables says EPERM)
                        pass
                until = time.monotonic() + ROUND_SECONDS
                while missing and (left := until - time.monotonic()) > 0:
                    client.settimeout(left)
                    try:
                        data = client.recv(64)
                    except TimeoutError:
                        break
                    tag, _, item_text = data.partition(b":")
                    if tag == nonce:
                        missing.discard(int(item_text))
                if not missing:
                    break
            return 1 - len(missing) / ITEMS

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            share = one_checkout()
            body = f"{share:.4f}".encode()
            self.send_response(200 if share >= NEEDED else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True),
        threading.Thread(target=serve_echo, daemon=True),
    ]
    state.append(Lossy(f"http://127.0.0.1:{server.server_address[1]}/checkout"))
    for t in threads:
        t.start()
    try:
        yield state[0]
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for t in threads:
            t.join(5)
        echo.close()
        client.close()
