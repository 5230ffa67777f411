"""Backends of adapter `http`: any server speaking protocol v1 describes its own faults,
which then run through the hub like packaged ones. The server here is a real native
injector process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chaoshub.api.app import create_app
from chaoshub.execution.driver import RunDriver
from chaoshub.runtime import Runtime
from tests.native.native_peers import Injector, proc_state
from tests.support import queries as Q
from tests.support.stack import in_process_runtime

ADMIN = "http-backends-admin"


@pytest.fixture
def injector(tmp_path: Path) -> Iterator[Injector]:
    (tmp_path / "inj").mkdir()
    server = Injector(state_dir=tmp_path / "inj").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = in_process_runtime(tmp_path, admin=ADMIN)
    with TestClient(create_app(runtime, lambda *a: None)) as client:
        yield client, runtime


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def data(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


FAULTS = '{ faultTypes(filter: {adapter: "http"}) { id timeControl params } }'


def test_an_http_backend_describes_its_faults_into_the_catalog(
    hub: Any, injector: Injector
) -> None:
    client, _ = hub
    assert data(client, FAULTS)["faultTypes"] == []
    made = data(
        client,
        Q.CREATE_BACKEND,
        input={
            "name": "host-a",
            "adapter": "http",
            "config": {"url": injector.url, "token": injector.token},
        },
    )
    assert made["createBackend"]["__typename"] == "Backend", made
    ids = {f["id"] for f in data(client, FAULTS)["faultTypes"]}
    assert {"http/process-pause", "http/network-loss", "http/cpu-stress"} <= ids

    data(
        client,
        "mutation($id: ID!) { deleteBackend(id: $id) { __typename } }",
        id=made["createBackend"]["id"],
    )
    assert data(client, FAULTS)["faultTypes"] == []


def test_an_http_backend_that_cannot_be_asked_is_refused_and_nothing_is_stored(hub: Any) -> None:
    client, _ = hub
    result = data(
        client,
        Q.CREATE_BACKEND,
        input={
            "name": "gone",
            "adapter": "http",
            "config": {"url": "http://127.0.0.1:9", "token": "x"},
        },
    )
    assert result["createBackend"]["__typename"] == "BackendUnavailableError"
    assert "gone" not in {b["name"] for b in data(client, "{ backends { name } }")["backends"]}


def test_a_described_fault_runs_through_the_hub_on_a_real_process(
    hub: Any, injector: Injector, sleeper: subprocess.Popen[bytes]
) -> None:
    client, runtime = hub
    data(
        client,
        Q.CREATE_BACKEND,
        input={
            "name": "host-b",
            "adapter": "http",
            "config": {"url": injector.url, "token": injector.token},
        },
    )
    bad = data(
        client,
        Q.START_RUN,
        input={
            "faultType": "http/process-pause",
            "backend": "host-b",
            "params": {},
            "selector": {"pid": sleeper.pid, "colour": "red"},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert bad["__typename"] == "InvalidInputError" and bad["field"] == ["selector", "colour"]

    run = data(
        client,
        Q.START_RUN,
        input={
            "faultType": "http/process-pause",
            "backend": "host-b",
            "params": {},
            "selector": {"pid": sleeper.pid},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert run["__typename"] == "Run", run
    RunDriver(runtime, run["id"]).advance()
    assert proc_state(sleeper.pid) == "T"
    assert data(client, Q.ABORT, id=run["id"])["abortRun"]["desiredState"] == "stop"
    RunDriver(runtime, run["id"]).advance()
    final = data(client, Q.RUN, id=run["id"])["run"]
    assert final["phase"] == "aborted" and final["targets"][0]["phase"] == "recovered"
    assert proc_state(sleeper.pid) != "T"
