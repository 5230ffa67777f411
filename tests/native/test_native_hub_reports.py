"""A start on a registered agent is checked against what the agent reported with its last
heartbeat (its capabilities, its guards and its host's headroom), not against a full health
report asked per start; a report older than two heartbeat intervals is not relied on, and
the agent is asked as before. The hub is the real API served over HTTP (no worker: nothing
is injected through it); the agent is a real injector that registers with it, reached
through a recording proxy so the test sees every call the hub makes to it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from native_peers import Injector, free_port, inject

from tests.support import queries as Q
from tests.support.api_server import Hub, serve
from tests.support.stack import wait_for


class RecordingProxy:
    """Forwards every request to ``target`` and records its method and path."""

    def __init__(self, target: str) -> None:
        self.paths: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.paths.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type")
                }
                answer = httpx.request(
                    self.command, target + self.path, content=body, headers=headers, timeout=30
                )
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", "text/plain"))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def asked(self, path: str) -> int:
        return sum(1 for p in self.paths if p == path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with serve(tmp_path_factory.mktemp("hub-reports")) as h:
        yield h


@pytest.fixture(scope="module")
def agent(
    hub: Hub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Injector, RecordingProxy]]:
    """A registered injector with guards (25 % free disk, 2 stressors), behind the proxy."""
    name = f"reports-{uuid.uuid4().hex[:6]}"
    token, _ = hub.token("agent", agent_name=name)
    inj = Injector(tmp_path_factory.mktemp("reports-agent"))
    proxy = RecordingProxy(inj.url)
    inj.extra = [
        *("--hub", hub.url, "--token", token, "--name", name),
        *("--advertise-url", proxy.url),
        *("--min-free-disk-percent", "25", "--max-stressors", "2"),
    ]
    try:
        inj.start()
        wait_for(lambda: (row := hub.agent(name)) is not None and row.online, 30, what="online")
        yield name, inj, proxy
    finally:
        inj.stop()
        proxy.stop()


def start(
    hub: Hub, agent: str, fault: str, params: dict[str, Any], selector: dict[str, Any]
) -> Any:
    return hub.data(
        Q.START_RUN,
        input={
            "faultType": f"native/{fault}",
            "backend": "native",
            "params": params,
            "selector": {"agents": [agent], **selector},
            "durationSeconds": 30,
        },
    )["startRun"]


def stored(hub: Hub, name: str) -> dict[str, Any]:
    return hub.runtime.presence.reports([name]).get(name) or {}


def test_a_start_on_a_registered_agent_asks_it_for_no_health_report(hub, agent, sleeper):
    name, _, proxy = agent
    wait_for(lambda: stored(hub, name), 10, what="a report with the agent's last beat")
    before = proxy.asked("/v1/health")
    run = start(hub, name, "process-pause", {}, {"pid": sleeper.pid})
    assert run["__typename"] == "Run", run
    assert proxy.asked("/v1/health") == before
    assert proxy.asked("/v1/discover") >= 1  # the targets are still the agent's answer
    hub.data(Q.ABORT, id=run["id"])


def test_params_over_the_guards_it_reported_are_refused_without_asking_it(hub, agent, small_fs):
    name, _, proxy = agent
    # the next beat carries the filesystem mounted just now
    wait_for(
        lambda: any(
            fs["mount"] == str(small_fs)
            for fs in stored(hub, name)["limits"]["host"]["filesystems"]
        ),
        15,
        what="the new filesystem in the agent's report",
    )
    runs = hub.data(Q.RUN_COUNT)["runs"]["totalCount"]
    before = proxy.asked("/v1/health")
    refused = start(hub, name, "disk-fill", {"path": str(small_fs), "percent": 80}, {})
    assert refused["__typename"] == "InvalidInputError", refused
    assert refused["field"] == ["params", "percent"]
    assert refused["message"].startswith(f"agent {name}: ")
    assert proxy.asked("/v1/health") == before
    assert hub.data(Q.RUN_COUNT)["runs"]["totalCount"] == runs


def test_a_stress_fault_started_on_the_agent_is_pushed_to_the_hub_before_the_next_beat(hub, agent):
    name, inj, _ = agent
    with inj.client() as api:
        execution = f"push-{uuid.uuid4().hex[:6]}"
        inject(api, execution, "cpu-stress", {}, {"workers": 2, "load_percent": 1}, lease=30)
        try:
            # beats come every 5 s; the agent nudges its client at once instead
            wait_for(
                lambda: stored(hub, name)["limits"]["host"]["stressors_running"] == 2,
                4,
                what="the agent's new stressor count at the hub",
            )
            refused = start(hub, name, "cpu-stress", {"workers": 1, "load_percent": 1}, {})
            assert refused["__typename"] == "InvalidInputError", refused
            assert refused["field"] == ["params", "workers"]
        finally:
            api.post("/v1/recover", json={"execution_id": execution})


def test_a_report_older_than_two_heartbeat_intervals_is_not_relied_on(hub, agent, sleeper):
    name, _, proxy = agent
    for _ in range(3):
        report = stored(hub, name)
        stale = time.time() - hub.runtime.report_max_age() - 5
        # as if the agent's beats had stopped reaching this hub a while ago
        hub.runtime.presence._reports[name] = {**report, "at": stale}
        before = proxy.asked("/v1/health")
        run = start(hub, name, "process-pause", {}, {"pid": sleeper.pid})
        assert run["__typename"] == "Run", run
        hub.data(Q.ABORT, id=run["id"])
        if proxy.asked("/v1/health") == before + 1:
            return
        # the agent's own beat may have freshened the report between the two lines above
        assert stored(hub, name)["at"] > stale, "a stale report was relied on"
    raise AssertionError("the agent's beats kept freshening the report; nothing shown")


def test_an_agent_that_sends_no_report_is_asked(hub, tmp_path: Path, sleeper):
    """An injector older than the report (or a hand-made agent) is checked as before."""
    name = f"plain-{uuid.uuid4().hex[:6]}"
    token, _ = hub.token("agent", agent_name=name)
    inj = Injector(tmp_path)
    proxy = RecordingProxy(inj.url)
    try:
        inj.start()
        with inj.client() as api:
            caps = api.get("/v1/describe").json()["capabilities"]
        answer = hub.post(
            "/agents/register",
            {"name": name, "url": proxy.url, "api_token": inj.token, "capabilities": caps},
            token,
        )
        assert answer.status_code == 200, answer.text
        run = start(hub, name, "process-pause", {}, {"pid": sleeper.pid})
        assert run["__typename"] == "Run", run
        assert proxy.asked("/v1/health") == 1
        hub.data(Q.ABORT, id=run["id"])
    finally:
        inj.stop()
        proxy.stop()
