"""The hub's watch over a held native fault asks the agent once for all the run's targets
(``/v1/status/batch``), not once per target: a run pausing two real processes on one agent
costs the agent one status call per tick."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from native_hub import call as admin_call
from native_hub import hub_with_agent
from native_peers import Injector, proc_state

from chaoshub.execution.driver import RunDriver
from chaoshub.runtime import Runtime
from tests.support import queries as Q

ADMIN = "watch-batch-admin"
AGENT = "watched"


@pytest.fixture
def agent(tmp_path: Path, scripts_dir: Path) -> Iterator[Injector]:
    (tmp_path / "agent").mkdir()
    inj = Injector(tmp_path / "agent", scripts_dir).start()
    try:
        yield inj
    finally:
        inj.stop()


@pytest.fixture
def hub(tmp_path: Path, agent: Injector) -> Iterator[tuple[TestClient, Runtime]]:
    with hub_with_agent(tmp_path, agent, admin=ADMIN, agent_name=AGENT) as made:
        yield made


@pytest.fixture
def sleepers() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """Two processes with a command line no other process has, and a pattern naming them."""
    duration = f"600.{secrets.randbelow(10**6):06d}"
    procs = [subprocess.Popen(["sleep", duration]) for _ in range(2)]
    try:
        yield f"^sleep {re.escape(duration)}$", procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait()


def status_calls(agent: Injector) -> dict[str, float]:
    """The agent's status counters: ``{"<call>": calls, "<call>/executions": asked}``."""
    with agent.client() as client:
        text = client.get("/metrics").text
    out: dict[str, float] = {}
    for line in text.splitlines():
        found = re.match(
            r'chaoshub_injector_status_(calls|executions)_total\{call="(\w+)"\} (\S+)', line
        )
        if found:
            kind, call, value = found.groups()
            out[call if kind == "calls" else f"{call}/executions"] = float(value)
    return out


def call(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    return admin_call(client, ADMIN, query, **variables)


def test_one_watch_tick_is_one_status_call_for_all_the_runs_targets(hub, agent, sleepers):
    client, runtime = hub
    pattern, procs = sleepers
    run = call(
        client,
        Q.START_RUN,
        input={
            "faultType": "native/process-pause",
            "backend": "hosts",
            "params": {},
            "selector": {"agents": [AGENT], "pattern": pattern},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert run["__typename"] == "Run", run
    try:
        RunDriver(runtime, run["id"]).advance()  # injects both, then one watch tick
        running = call(client, Q.RUN, id=run["id"])["run"]
        assert running["phase"] == "running", running
        assert [proc_state(p.pid) for p in procs] == ["T", "T"]

        assert status_calls(agent) == {"batch": 1, "batch/executions": 2}
    finally:
        call(client, Q.ABORT, id=run["id"])
        RunDriver(runtime, run["id"]).advance()
    assert call(client, Q.RUN, id=run["id"])["run"]["phase"] == "aborted"
    assert all(proc_state(p.pid) in ("S", "R") for p in procs)
