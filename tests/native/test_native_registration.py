"""Registration and heartbeat against a stand-in for the hub's two agent endpoints.

The stand-in is a recording HTTP server that answers as ``chaoshub/api`` does
(``POST /agents/register`` → ``{"agent", "heartbeat_seconds"}``, ``POST /agents/heartbeat``
→ 200, or 404 for an agent it does not know); the hub's own tests cover the real one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from native_peers import Injector, free_port, inject, observe, wait_for


class StandInHub:
    def __init__(self, port: int) -> None:
        self.port = port
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.known: set[str] = set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                hub.calls.append((self.path, self.headers.get("authorization", ""), body))
                if self.path == "/agents/register":
                    hub.known.add(body["name"])
                    self._answer(200, {"agent": body["name"], "heartbeat_seconds": 0.3})
                elif self.path == "/agents/heartbeat" and body["name"] in hub.known:
                    self._answer(200, {"agent": body["name"], "heartbeat_seconds": 0.3})
                else:
                    self._answer(404, {"type": "not_found", "title": "register first"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.calls if p == path]


def _agent_args(hub_port: int) -> list[str]:
    return [
        "--hub",
        f"http://127.0.0.1:{hub_port}",
        "--token",
        "agent-secret",
        "--name",
        "edge-1",
        "--labels",
        "zone=a, rack=7",
    ]


@pytest.fixture(scope="module")
def hub() -> Iterator[StandInHub]:
    stand_in = StandInHub(free_port())
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture(scope="module")
def agent(hub: StandInHub, scripts_dir, tmp_path_factory) -> Iterator[Injector]:
    """One registered injector for the tests that only watch what it sends."""
    inj = Injector(tmp_path_factory.mktemp("agent"), scripts_dir, extra=_agent_args(hub.port))
    try:
        yield inj.start()
    finally:
        inj.stop()


def test_registers_with_its_token_name_url_labels_and_capabilities(agent: Injector, hub):
    assert wait_for(lambda: hub.of("/agents/register"), timeout=10)
    _, auth, body = hub.calls[0]
    assert auth == "Bearer agent-secret"
    assert body["name"] == "edge-1"
    assert body["url"] == agent.url
    assert body["labels"] == {"zone": "a", "rack": "7"}
    assert body["api_token"] == agent.token
    assert body["version"]
    assert body["capabilities"]["process-pause"] == {"available": True, "reason": ""}
    assert set(body["capabilities"]) >= {"network-delay", "cpu-stress", "host-script"}


def test_heartbeats_carry_the_active_executions(agent: Injector, hub, sleeper):
    assert wait_for(lambda: hub.of("/agents/heartbeat"), timeout=10)
    assert hub.of("/agents/heartbeat")[-1]["active"] == []
    with agent.client() as api:
        inject(api, "beat-pause", "process-pause", {"pid": sleeper.pid})
        assert wait_for(lambda: hub.of("/agents/heartbeat")[-1]["active"] == ["beat-pause"])
        observe(api, "recover", "beat-pause")
    assert wait_for(lambda: hub.of("/agents/heartbeat")[-1]["active"] == [])


def test_registers_again_when_the_hub_forgot_it(agent: Injector, hub):
    assert wait_for(lambda: hub.of("/agents/heartbeat"), timeout=10)
    registrations = len(hub.of("/agents/register"))
    hub.known.clear()  # the hub lost its agent table
    assert wait_for(lambda: len(hub.of("/agents/register")) > registrations, timeout=10)
    assert wait_for(lambda: "edge-1" in hub.known)


def test_keeps_serving_while_the_hub_is_down_and_registers_once_it_is_up(fresh_injector: Injector):
    hub_port = free_port()
    fresh_injector.extra = _agent_args(hub_port)
    fresh_injector.start()  # nothing listens on the hub port yet
    with fresh_injector.client() as api:
        assert api.get("/v1/health").status_code == 200
    late = StandInHub(hub_port)
    try:
        assert wait_for(lambda: late.of("/agents/register"), timeout=20)
        assert fresh_injector.proc is not None and fresh_injector.proc.poll() is None
    finally:
        late.stop()


def test_the_real_hub_binds_the_injector_to_its_name_and_it_says_so_when_refused(
    fresh_injector: Injector, tmp_path
):
    """The hub's own endpoints (``chaoshub/api``, served in this process) and a real injector:
    a token issued for another agent is refused, the injector logs why, nothing is stored;
    with a token for its own name it registers."""
    from tests.support.api_server import serve

    with serve(tmp_path / "hub") as real:
        elsewhere, _ = real.token(agent_name="edge-other")
        port = int(real.url.rsplit(":", 1)[1])

        def args(token: str) -> list[str]:
            out = _agent_args(port)
            out[out.index("--token") + 1] = token
            return out

        fresh_injector.extra = args(elsewhere)
        fresh_injector.start()
        assert wait_for(lambda: "the hub refuses this agent" in fresh_injector.log(), timeout=20)
        assert "bound to agent 'edge-other'" in fresh_injector.log()
        assert real.agent("edge-1") is None
        refused = [e for e in real.audit("registerAgent") if e["result"] == "FORBIDDEN"]
        assert refused and refused[0]["subject"] == "edge-1"
        fresh_injector.stop()

        own, _ = real.token(agent_name="edge-1")
        fresh_injector.extra = args(own)
        fresh_injector.start()
        registered = wait_for(lambda: real.agent("edge-1"), timeout=20)
        assert registered.url == fresh_injector.url
        assert registered.api_token == fresh_injector.token
