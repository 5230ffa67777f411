"""Two things a start and a stop rely on to be quick, with real peers:

- a wish (stop, pause) told on the production bus reaches every worker process listening,
  so the one whose watch holds the run gives it back at once, whichever process the task
  for it reached (Redis pub/sub);
- calls to the same protocol-v1 server share one client and its kept connections across
  adapters (each start and each step of a run makes a new adapter).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
import uvicorn
from fastapi import FastAPI, Request

from chaoshub.adapters.http import ProtocolClient, shared_http
from chaoshub.bus import LocalBus, RedisBus
from tests.support.stack import REDIS_TEST_URL, free_port


def test_a_wish_told_on_redis_reaches_every_listener() -> None:
    redis.Redis.from_url(REDIS_TEST_URL).ping()
    bus = RedisBus(REDIS_TEST_URL)
    heard: list[list[str]] = [[], []]
    stops = [bus.on_wish(heard[0].append), bus.on_wish(heard[1].append)]
    try:
        deadline = time.monotonic() + 10
        # a listener subscribes in its own thread: tell until both heard (or time is up)
        while not all("run-1" in h for h in heard) and time.monotonic() < deadline:
            bus.tell_wish("run-1")
            time.sleep(0.05)
        assert all("run-1" in h for h in heard), heard
    finally:
        for stop in stops:
            assert stop is not None
            stop()
        bus.close()


def test_a_listener_stopped_hears_no_more() -> None:
    bus = RedisBus(REDIS_TEST_URL)
    heard: list[str] = []
    stop = bus.on_wish(heard.append)
    assert stop is not None
    try:
        deadline = time.monotonic() + 10
        while "first" not in heard and time.monotonic() < deadline:
            bus.tell_wish("first")
            time.sleep(0.05)
        assert "first" in heard
        stop()
        time.sleep(1.5)  # the listener looks for its stop at least every second
        heard.clear()
        bus.tell_wish("second")
        time.sleep(0.3)
        assert heard == []
    finally:
        bus.close()


def test_the_embedded_bus_has_nothing_to_listen_to() -> None:
    """One process: the task sent for a wish reaches the watch itself."""
    bus = LocalBus()
    assert bus.on_wish(lambda _: None) is None
    bus.tell_wish("run-1")  # nothing to do, and no error


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    """A small HTTP server that says which client connection each request came on."""
    app = FastAPI()
    peers: list[str] = []

    @app.post("/v1/discover")
    async def discover(request: Request) -> dict[str, object]:
        client = request.client
        peers.append(f"{client.host}:{client.port}" if client else "?")
        return {"targets": []}

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", peers
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_clients_of_one_server_share_a_kept_connection(server: tuple[str, list[str]]) -> None:
    url, peers = server
    peers.clear()
    for _ in range(3):  # three adapters' clients, one after the other, as three starts make
        client = ProtocolClient(url, "token-a", timeout=5)
        client.discover("process-pause", {})
        client.close()
    assert len(peers) == 3
    assert len(set(peers)) == 1, peers  # one connection, kept open between them


def test_another_token_or_timeout_is_another_client(server: tuple[str, list[str]]) -> None:
    url, _ = server
    assert shared_http(url, "token-a", 5) is shared_http(url, "token-a", 5)
    assert shared_http(url, "token-a", 5) is not shared_http(url, "token-b", 5)
    assert shared_http(url, "token-a", 5) is not shared_http(url, "token-a", 6)
