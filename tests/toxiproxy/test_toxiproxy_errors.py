"""Toxiproxy's answers mapped onto the hub's errors (reference: backends-wire.md §1.4).

The real-network cases (a port already taken, a refused connection, a server that never
answers) go over sockets; answers the fake server has no reason to give (503 from its
25 s handler timeout, a 405 from a server older than 2.6.0) come from an
``httpx.MockTransport`` that answers the way the reference says Toxiproxy does.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from toxiproxy_peers import ProxyInfo, Upstream

from chaoshub.adapters.toxiproxy import ToxiproxyAdapter, toxic_name
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import (
    BackendUnavailable,
    Conflict,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

TARGET = Target(id="db", label="db", attributes={})
EXECUTION = Execution(id="run-1:db", fault="latency", params={"latency": 100}, target=TARGET)
PROXY = {"name": "db", "listen": "127.0.0.1:26379", "upstream": "db:6379", "enabled": True}


def _go_error(status: int, message: str) -> httpx.Response:
    # what Go's http.Error sends: a JSON body under a text/plain header
    body = json.dumps({"error": message, "status": status}) + "\n"
    return httpx.Response(status, text=body, headers={"Content-Type": "text/plain; charset=utf-8"})


def _adapter(handler: Callable[[httpx.Request], httpx.Response]) -> ToxiproxyAdapter:
    return ToxiproxyAdapter(
        {"url": "http://toxiproxy.test"}, backend="mocked", transport=httpx.MockTransport(handler)
    )


@pytest.mark.parametrize(
    ("status", "message", "hub_error"),
    [
        (400, "bad request body: unexpected EOF", InvalidInput),
        (400, "invalid toxic type", RejectedByTool),
        (404, "proxy not found", NotFound),
        (409, "proxy already exists", Conflict),
        (500, "listen tcp 127.0.0.1:3310: bind: address already in use", RejectedByTool),
        (503, "<html><body>Timeout</body></html>", BackendUnavailable),
    ],
)
def test_error_answers_map_to_the_hub_error_that_says_what_to_do(
    status: int, message: str, hub_error: type[HubError]
) -> None:
    adapter = _adapter(lambda request: _go_error(status, message))
    with pytest.raises(hub_error) as err:
        adapter.discover("latency", {"names": ["db"]})
    assert err.value.adapter == "toxiproxy" and err.value.backend == "mocked"
    assert message in (err.value.native_message or "")


def test_the_error_message_is_read_from_json_sent_as_text_plain() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=PROXY)
        return _go_error(400, "stream was invalid, can be either upstream or downstream")

    with pytest.raises(InvalidInput) as err:
        _adapter(answer).inject(EXECUTION)
    assert err.value.target == "db"
    assert err.value.message.endswith(
        "HTTP 400: stream was invalid, can be either upstream or downstream"
    )


def test_a_failing_recovery_is_a_recovery_failure_with_the_native_answer() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return _go_error(500, "something broke")
        return httpx.Response(200, json=PROXY)

    with pytest.raises(RecoveryFailed) as err:
        _adapter(answer).recover(Handle(EXECUTION, None))
    assert err.value.native_code == 500 and err.value.native_message == "something broke"
    assert err.value.target == "db"


def test_a_busy_server_during_recovery_asks_for_a_retry() -> None:
    adapter = _adapter(lambda request: _go_error(503, "timeout"))
    with pytest.raises(BackendUnavailable):
        adapter.recover(Handle(EXECUTION, None))


def test_updates_fall_back_to_post_on_servers_without_patch() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "PATCH":
            return httpx.Response(405)
        if request.method == "POST" and request.url.path == "/proxies/db":
            return httpx.Response(200, json={**PROXY, "enabled": False})
        if request.method == "POST":
            return httpx.Response(200, json={"name": toxic_name("run-1:db", "down")})
        return httpx.Response(200, json={**PROXY, "toxics": []})

    down = Execution(id="run-1:db", fault="down", params={}, target=TARGET)
    _, observation = _adapter(answer).inject(down)
    assert observation.state is Observed.INJECTED
    assert seen[-2:] == ["PATCH /proxies/db", "POST /proxies/db"]


def test_health_reads_a_plain_text_version_from_old_servers() -> None:
    health = _adapter(lambda request: httpx.Response(200, text="2.5.0")).health()
    assert health.ok and health.version == "2.5.0"


def test_the_adapter_never_looks_like_a_browser() -> None:
    agents: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers["User-Agent"])
        return httpx.Response(200, json={"version": "2.12.0"})

    _adapter(answer).health()
    assert not agents[0].startswith("Mozilla/")


# -- over real sockets ------------------------------------------------------------------------


def test_a_listen_port_in_use_is_rejected_by_the_tool(
    adapter: ToxiproxyAdapter, upstream: Upstream
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        name = f"clash-{uuid.uuid4().hex[:6]}"
        spec = {"name": name, "upstream": upstream.address, "listen": f"127.0.0.1:{port}"}
        target = adapter.discover("latency", {"ensure_proxy": spec})[0]
        execution = Execution(id=f"clash-{name}", fault="latency", params={}, target=target)
        with pytest.raises(RejectedByTool) as err:
            adapter.inject(execution)
    assert "address already in use" in (err.value.native_message or "")


def test_a_refused_connection_asks_for_a_retry(unreachable_adapter: ToxiproxyAdapter) -> None:
    with pytest.raises(BackendUnavailable):
        unreachable_adapter.inject(EXECUTION)
    with pytest.raises(BackendUnavailable):
        unreachable_adapter.recover(Handle(EXECUTION, None))
    health = unreachable_adapter.health()
    assert not health.ok and "cannot reach" in health.message


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections (backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_does_not_answer_in_time_asks_for_a_retry(silent_server: int) -> None:
    adapter = ToxiproxyAdapter({"url": f"http://127.0.0.1:{silent_server}", "timeout": 0.5})
    try:
        with pytest.raises(BackendUnavailable):
            adapter.status(Handle(EXECUTION, None))
    finally:
        adapter.close()


def test_a_proxy_deleted_between_discover_and_inject_is_not_found(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    target = adapter.discover("latency", {"names": [proxy.name]})[0]
    api.delete(f"/proxies/{proxy.name}")
    execution = Execution(id="gone-1", fault="latency", params={"latency": 1}, target=target)
    with pytest.raises(NotFound) as err:
        adapter.inject(execution)
    assert err.value.target == proxy.name
