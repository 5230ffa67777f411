"""Input that used to make a run unrecoverable is refused before anything is applied: a
disk-fill path that is a file, a recover script that is a symlink out of the scripts
directory. The agent refuses it at ``/v1/inject`` and ``/v1/validate`` (nothing recorded),
and the hub asks ``/v1/validate`` before storing a run. A force-release tells the agent to
drop its record, so it stops retrying and does not try again at exit.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from native_hub import call as admin_call
from native_hub import hub_with_agent
from native_peers import Injector

from chaoshub.adapters.http import ProtocolClient
from chaoshub.execution.driver import RunDriver
from chaoshub.runtime import Runtime
from tests.support import queries as Q

ADMIN = "unrecoverable-admin"
AGENT = "unrecoverable"


@pytest.fixture
def scripts(tmp_path: Path, scripts_dir: Path) -> Path:
    """A scripts directory of the test's own, with the shared scripts and a symlink that
    leads out of it."""
    root = tmp_path / "scripts"
    shutil.copytree(scripts_dir, root)
    (root / "escape.sh").symlink_to(shutil.which("true") or "/bin/true")
    return root


@pytest.fixture
def agent(tmp_path: Path, scripts: Path) -> Iterator[Injector]:
    (tmp_path / "agent").mkdir()
    inj = Injector(tmp_path / "agent", scripts).start()
    try:
        yield inj
    finally:
        inj.stop()


@pytest.fixture
def hub(tmp_path: Path, agent: Injector) -> Iterator[tuple[TestClient, Runtime]]:
    with hub_with_agent(tmp_path, agent, admin=ADMIN, agent_name=AGENT) as made:
        yield made


def call(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    return admin_call(client, ADMIN, query, **variables)


def known(agent: Injector) -> list[dict[str, Any]]:
    with agent.client() as client:
        listed = client.get("/v1/executions").json()
    return [*listed["executions"], *listed["recent"]]


BAD = [
    ("disk-fill", {"path": "/etc/passwd", "bytes": 4096}, ["params", "path"], "not a directory"),
    ("disk-fill", {"path": "/no/such/dir", "bytes": 4096}, ["params", "path"], "does not exist"),
    (
        "host-script",
        {"script": "mark.sh", "args": ["/tmp/never"], "recover_script": "escape.sh"},
        ["params", "recover_script"],
        "out of the scripts directory",
    ),
    ("host-script", {"script": "escape.sh"}, ["params", "script"], "out of the scripts directory"),
    ("host-script", {"script": "missing.sh"}, ["params", "script"], "no script"),
]
IDS = ["fill-a-file", "fill-nowhere", "recover-symlink-out", "script-symlink-out", "no-script"]


@pytest.mark.parametrize(("fault", "params", "field", "words"), BAD, ids=IDS)
def test_the_agent_refuses_it_at_inject_before_anything_is_recorded_or_run(
    agent: Injector,
    tmp_path: Path,
    fault: str,
    params: dict[str, Any],
    field: list[str],
    words: str,
) -> None:
    marker = tmp_path / "marker"
    params = {**params, "args": [str(marker)]} if fault == "host-script" else params
    with agent.client() as client:
        for path, body in (
            ("/v1/validate", {"fault": fault, "params": params}),
            (
                "/v1/inject",
                {
                    "execution_id": f"bad-{uuid.uuid4().hex[:8]}",
                    "fault": fault,
                    "params": params,
                    "target": {"id": "host"},
                    "lease_seconds": 30,
                },
            ),
        ):
            answer = client.post(path, json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["field"] == field
            assert words in answer.json()["detail"]
    assert known(agent) == []  # no record, so no recovery to fail
    assert not marker.exists()  # the inject script never ran


@pytest.mark.parametrize(("fault", "params", "field", "words"), BAD, ids=IDS)
def test_the_hub_asks_the_agent_before_storing_the_run(
    hub: Any, agent: Injector, fault: str, params: dict[str, Any], field: list[str], words: str
) -> None:
    client, _ = hub
    result = call(
        client,
        Q.START_RUN,
        input={
            "faultType": f"native/{fault}",
            "backend": "hosts",
            "params": params,
            "selector": {"agents": [AGENT]},
            "durationSeconds": 30,
        },
    )["startRun"]
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == field and words in result["message"], result
    assert call(client, Q.RUN_COUNT)["runs"]["totalCount"] == 0
    assert known(agent) == []


def test_a_good_disk_fill_still_validates_and_runs(agent: Injector, tmp_path: Path) -> None:
    folder = tmp_path / "fill"
    folder.mkdir()
    with agent.client() as client:
        answer = client.post(
            "/v1/validate", json={"fault": "disk-fill", "params": {"path": str(folder), "bytes": 1}}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["params"]["path"] == str(folder)


class _OldServer(BaseHTTPRequestHandler):
    """A protocol-v1 server from before ``/v1/validate`` and ``/v1/forget``: no such route."""

    def do_POST(self) -> None:
        body = b'{"type": "not-found", "title": "Not found", "status": 404}'
        self.send_response(404)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_server_without_the_new_calls_keeps_working() -> None:
    server = HTTPServer(("127.0.0.1", 0), _OldServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ProtocolClient(f"http://127.0.0.1:{server.server_port}", "t")
    try:
        assert client.validate("disk-fill", {"path": "/tmp"}) is False
        assert client.forget("e-1", None, "clean") is None
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_force_release_makes_the_agent_forget_and_stop_retrying(
    hub: Any, agent: Injector, tmp_path: Path
) -> None:
    """A recover script that fails keeps the run recovering; once a person force-releases
    it, the agent drops its record: no more retries, nothing "could not recover" at exit."""
    client, runtime = hub
    marker = tmp_path / "held"
    run = call(
        client,
        Q.START_RUN,
        input={
            "faultType": "native/host-script",
            "backend": "hosts",
            "params": {"script": "mark.sh", "args": [str(marker)], "recover_script": "fail.sh"},
            "selector": {"agents": [AGENT]},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert run["__typename"] == "Run", run
    RunDriver(runtime, run["id"]).advance()
    assert marker.exists()
    call(client, Q.ABORT, id=run["id"])
    RunDriver(runtime, run["id"]).advance()
    stuck = call(client, Q.RUN, id=run["id"])["run"]
    assert stuck["phase"] == "recovering", stuck
    assert [e["state"] for e in known(agent)] == ["active"]

    released = call(client, Q.FORCE_RELEASE, id=run["id"], reason="cleaned by hand")
    assert released["forceReleaseRun"]["phase"] == "aborted", released
    [record] = known(agent)
    assert record["state"] == "released" and "cleaned by hand" in record["reason"]
    events = call(client, Q.RUN, id=run["id"])["run"]["events"]
    [event] = [e for e in events if e["kind"] == "force-released"]
    assert "the tool forgot 1 of 1" in event["reason"], event

    failures = agent.log().count("recovery failed")
    assert failures >= 1  # the recover script really failed
    time.sleep(7)  # longer than the agent's retry interval (5 s)
    assert agent.log().count("recovery failed") == failures
    agent.stop()
    assert "could not recover on exit" not in agent.log()
