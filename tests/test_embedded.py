"""`chaoshub up` as a person runs it: one process, SQLite, in-process worker and beat;
then `chaoshub run FILE --wait` as a pipeline runs it, a live subscription, and the
orphan sweep recovering what the local agent holds for no run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support import queries as Q
from tests.support.stack import MEMORY_ADAPTER, GraphQL, embedded_hub, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    data_dir = tmp_path_factory.mktemp("embedded")
    env = {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER, "CHAOSHUB_ORPHAN_SWEEP_SECONDS": "1"}
    with embedded_hub(data_dir, env) as (url, token):
        yield url, token, data_dir


def test_up_prints_a_token_once_and_keeps_it_private(hub: tuple[str, str, Path]) -> None:
    _, token, data_dir = hub
    assert token.startswith("chub_")
    assert stat.S_IMODE((data_dir / "admin-token").stat().st_mode) == 0o600
    assert token in (data_dir / "up.log").read_text()
    assert (data_dir / "chaoshub.db").exists()


def test_up_answers_with_the_token_and_a_run_completes(hub: tuple[str, str, Path]) -> None:
    url, token, _ = hub
    gql = GraphQL(url, token)
    assert gql("{ viewer { role } }")["viewer"]["role"] == "admin"
    assert (
        gql(Q.CREATE_BACKEND, input={"name": "mem-up", "adapter": "memory", "config": {}})[
            "createBackend"
        ]["__typename"]
        == "Backend"
    )
    run = gql(
        Q.START_RUN,
        input={
            "faultType": "memory/latency",
            "backend": "mem-up",
            "params": {},
            "selector": {"names": ["alpha"]},
            "durationSeconds": 1,
        },
    )["startRun"]
    done = wait_for(
        lambda: (r := gql(Q.RUN, id=run["id"])["run"])["phase"] == "completed" and r,
        30,
        what="completion",
    )
    assert done["targets"][0]["phase"] == "recovered"
    assert GraphQL(url, None).raw("{ runs { totalCount } }").status_code == 401


def test_run_wait_exits_zero_on_a_passing_run_and_one_on_a_failing_verdict(
    hub: tuple[str, str, Path], tmp_path: Path
) -> None:
    url, token, _ = hub
    gql = GraphQL(url, token)
    gql(Q.CREATE_BACKEND, input={"name": "mem-cli", "adapter": "memory", "config": {}})
    env = {**os.environ, "CHAOSHUB_TOKEN": token, "CHAOSHUB_URL": url}

    def run_file(doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "experiment.yaml"
        path.write_text(json.dumps(doc))  # JSON is YAML
        return subprocess.run(
            [sys.executable, "-m", "chaoshub.cli", "run", str(path), "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    passing = run_file(
        {
            "faultType": "memory/job",
            "backend": "mem-cli",
            "params": {"verdict": "pass"},
            "selector": {"names": ["beta"]},
            "durationSeconds": 1,
        }
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "completed" in passing.stdout

    failing = run_file(
        {
            "faultType": "memory/job",
            "backend": "mem-cli",
            "params": {"verdict": "fail"},
            "selector": {"names": ["beta"]},
            "durationSeconds": 1,
        }
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "verdict fail" in failing.stdout

    invalid = run_file(
        {
            "faultType": "memory/job",
            "backend": "mem-cli",
            "params": {"verdict": "maybe"},
            "selector": {"names": ["beta"]},
            "durationSeconds": 1,
        }
    )
    assert invalid.returncode != 0 and "params.verdict" in invalid.stderr


async def _subscribe(
    url: str, token: str, query: str, variables: dict[str, Any], until: Any
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
            assert message["type"] in ("next", "complete"), message
            if message["type"] == "complete":
                return seen
            assert not message["payload"].get("errors"), message
            seen.append(message["payload"]["data"])
            if until(seen):
                return seen


def test_run_updates_streams_every_phase_live(hub: tuple[str, str, Path]) -> None:
    url, token, _ = hub
    gql = GraphQL(url, token)
    gql(
        Q.CREATE_BACKEND,
        input={"name": "mem-ws", "adapter": "memory", "config": {"inject_delay": 1}},
    )
    run = gql(
        Q.START_RUN,
        input={
            "faultType": "memory/latency",
            "backend": "mem-ws",
            "params": {},
            "selector": {"names": ["alpha"]},
            "durationSeconds": 1,
        },
    )["startRun"]
    seen = asyncio.run(
        _subscribe(
            url,
            token,
            "subscription($id: ID!) { runUpdates(runId: $id) { phase } }",
            {"id": run["id"]},
            lambda s: s[-1]["runUpdates"]["phase"] == "completed",
        )
    )
    phases = [s["runUpdates"]["phase"] for s in seen]
    # each update is the run as stored when it is read: fast moves may fold together,
    # but the order never goes back and the stream ends with the end
    order = ["pending", "injecting", "running", "recovering", "completed"]
    assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases)
    assert phases[-1] == "completed" and "running" in phases


def test_the_events_subscription_sees_what_the_worker_writes(hub: tuple[str, str, Path]) -> None:
    url, token, _ = hub
    gql = GraphQL(url, token)
    gql(Q.CREATE_BACKEND, input={"name": "mem-ev", "adapter": "memory", "config": {}})

    async def scenario() -> list[dict[str, Any]]:
        task = asyncio.create_task(
            _subscribe(
                url,
                token,
                'subscription { events(filter: {kind: "phase"}) { kind toPhase runId } }',
                {},
                lambda s: any(e["events"]["toPhase"] == "completed" for e in s),
            )
        )
        await asyncio.sleep(1)
        await asyncio.to_thread(
            gql,
            Q.START_RUN,
            input={
                "faultType": "memory/kill",
                "backend": "mem-ev",
                "params": {},
                "selector": {"names": ["gamma"]},
            },
        )
        return await task

    seen = asyncio.run(scenario())
    assert all(e["events"]["kind"] == "phase" for e in seen)
    assert [e["events"]["toPhase"] for e in seen][-1] == "completed"


def test_a_subscription_without_a_token_is_refused_at_connection(
    hub: tuple[str, str, Path],
) -> None:
    url, _, _ = hub

    async def attempt() -> Any:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
            )
            try:
                await asyncio.wait_for(ws.recv(), timeout=10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd
            raise AssertionError("the connection was accepted")

    close = asyncio.run(attempt())
    assert close is not None and close.code == 4403


ORPHAN_EVENTS = """query { events(filter: {kind: "orphan-recovered"}) {
  edges { node { agent data } } } }"""


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0]


def test_the_orphan_sweep_runs_in_the_embedded_hub(hub: tuple[str, str, Path]) -> None:
    url, token, data_dir = hub
    gql = GraphQL(url, token)
    local = wait_for(
        lambda: next(
            (a for a in gql("{ agents { name url online } }")["agents"] if a["online"]), None
        ),
        30,
        what="the local agent online",
    )
    agent_token = (data_dir / "injector" / "api-token").read_text().strip()  # the agent's own
    sleeper = subprocess.Popen(["sleep", "600"])
    agent = httpx.Client(
        base_url=local["url"], headers={"Authorization": f"Bearer {agent_token}"}, timeout=30
    )
    execution_id = f"{uuid.uuid4().hex}-0"  # the hub has no such run
    try:
        (target,) = agent.post(
            "/v1/discover", json={"fault": "process-pause", "selector": {"pid": sleeper.pid}}
        ).json()["targets"]
        injected = agent.post(
            "/v1/inject",
            json={
                "execution_id": execution_id,
                "fault": "process-pause",
                "params": {},
                "target": target,
                "lease_seconds": 3600,  # so only the sweep can be what recovers it
            },
        )
        assert injected.status_code == 200, injected.text
        assert _state(sleeper.pid) == "T"

        wait_for(lambda: _state(sleeper.pid) != "T", 60, what="the sweep to resume the process")
        events = [e["node"] for e in gql(ORPHAN_EVENTS)["events"]["edges"]]
        assert [(e["agent"], e["data"]["execution_id"]) for e in events] == [
            (local["name"], execution_id)
        ]
    finally:
        agent.post("/v1/recover", json={"execution_id": execution_id})
        agent.close()
        os.kill(sleeper.pid, signal.SIGCONT)
        sleeper.kill()
        sleeper.wait()


def test_two_hubs_starting_at_once_each_get_a_local_agent_while_its_port_is_taken(
    tmp_path: Path,
) -> None:
    """The local agent's port is bound by the hub and handed to the agent, so hubs starting
    at the same moment (and a port another program holds) never leave one without it."""
    import contextlib
    import socket

    with contextlib.ExitStack() as stack:
        squatter = stack.enter_context(socket.socket())
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # held by something else already: just as good
            squatter.bind(("127.0.0.1", 31767))
            squatter.listen()
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
        # entered together: both processes start before either is waited for
        from concurrent.futures import ThreadPoolExecutor

        def start(name: str) -> tuple[str, str]:
            return stack.enter_context(embedded_hub(tmp_path / name))

        with ThreadPoolExecutor(2) as pool:
            hubs = list(pool.map(start, ("a", "b")))

        urls = []
        for url, token in hubs:
            gql = GraphQL(url, token)
            agent = wait_for(
                lambda gql=gql: next(
                    (a for a in gql("{ agents { name online url } }")["agents"] if a["online"]),
                    None,
                ),
                60,
                what="the local agent online",
            )
            assert agent["name"] == "local"
            urls.append(agent["url"])
        assert len(set(urls)) == 2
        assert all(not u.endswith(":31767") for u in urls)
