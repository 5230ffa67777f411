"""The log of a short `chaoshub up` session reads as a person's: no periodic ticks at INFO,
no query strings in access lines, and a run ending under an open subscription closes it
with a clean `complete` (no `aclose()` error in the log or to the client). The limits hold
over the websocket as over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support import queries as Q
from tests.support.stack import MEMORY_ADAPTER, GraphQL, Stack, up_process, wait_for

pytestmark = pytest.mark.slow


async def _ws_session(url: str, token: str, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Subscribe to the run until the server completes it; send two refused operations."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    got: dict[str, list[dict[str, Any]]] = {"1": [], "2": [], "3": []}
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        async def send(op: str, query: str, **payload: Any) -> None:
            body = {"query": query, **payload}
            await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": body}))

        await send(
            "1",
            "subscription($id: ID!) { runUpdates(runId: $id) { phase } }",
            variables={"id": run_id},
        )
        aliases = " ".join(f'a{i}: backendHealth(name: "mem-log") {{ ok }}' for i in range(40))
        await send("2", "{ " + aliases + " }")
        await send("3", "query A { viewer { name } } query B { viewer { role } }")
        done: set[str] = set()
        while done != {"1", "2", "3"}:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            op = message.get("id", "")
            got[op].append(message)
            if message["type"] in ("complete", "error"):
                done.add(op)
    return got


async def _ws_oversized(url: str, token: str) -> int | None:
    """Send a 2 MB subscribe message; the server's close code (None if it stayed open)."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(  # type: ignore[list-item]
        ws_url, subprotocols=["graphql-transport-ws"], max_size=None
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        big = "{ viewer { name } }" + " " * 2_000_000
        await ws.send(json.dumps({"id": "9", "type": "subscribe", "payload": {"query": big}}))
        try:
            await asyncio.wait_for(ws.recv(), timeout=30)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else -1
        return None


def _errors(messages: list[dict[str, Any]]) -> str:
    out = []
    for m in messages:
        payload = m.get("payload")
        if m["type"] == "error":
            out += [e["message"] for e in payload]
        elif m["type"] == "next":
            out += [e["message"] for e in payload.get("errors") or []]
    return " ".join(out)


def test_a_short_session_logs_no_ticks_no_queries_and_closes_subscriptions_cleanly(
    tmp_path: Path,
) -> None:
    env = {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER}
    with up_process(tmp_path, env) as up:
        gql = GraphQL(up.url, up.token)
        gql(Q.CREATE_BACKEND, input={"name": "mem-log", "adapter": "memory", "config": {}})
        secret = "needle-in-the-query"
        httpx.get(
            f"{up.url}/graphql",
            params={"query": f'{{ runs(filter: {{adapter: "{secret}"}}) {{ totalCount }} }}'},
            headers={"Authorization": f"Bearer {up.token}"},
            timeout=10,
        )
        run = gql(
            Q.START_RUN,
            input={
                "faultType": "memory/latency",
                "backend": "mem-log",
                "params": {},
                "selector": {"names": ["alpha"]},
                "durationSeconds": 2,
            },
        )["startRun"]
        got = asyncio.run(_ws_session(up.url, up.token, run["id"]))
        oversized = asyncio.run(_ws_oversized(up.url, up.token))
        time.sleep(3)  # a few more reconcile ticks
        log = up.proc.log.read_text(errors="replace")

    updates = got["1"]
    assert not _errors(updates), updates  # was: aclose(): asynchronous generator is already running
    assert updates[-1]["type"] == "complete", updates
    phases = [m["payload"]["data"]["runUpdates"]["phase"] for m in updates if m["type"] == "next"]
    assert phases[-1] == "completed", updates
    assert "aclose()" not in log and "already running" not in log
    assert oversized == 1009  # message too big

    assert "at most 30" in _errors(got["2"]) or "at most 5" in _errors(got["2"]), got["2"]
    assert "operationName required" in _errors(got["3"]), got["3"]

    lines = log.splitlines()
    ticks = [line for line in lines if "chaoshub.reconcile" in line or "Sending due task" in line]
    assert not ticks, ticks[:5]
    assert secret not in log and "?query=" not in log
    assert any('"GET /graphql HTTP/1.1" 200' in line for line in lines), lines[-40:]


def test_worker_and_beat_at_info_log_no_ticks(tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        stack.start_api()  # migrates the database
        worker = stack.start_worker()
        beat = stack.spawn("beat", "beat", "--log-level", "info")
        wait_for(lambda: "beat: Starting" in beat.log.read_text(errors="replace"), 60, what="beat")
        time.sleep(4)  # eight reconcile ticks at 0.5 s
        logs = worker.log.read_text(errors="replace") + beat.log.read_text(errors="replace")
    finally:
        stack.stop()
    ticks = [
        line
        for line in logs.splitlines()
        if " INFO " in line and ("chaoshub.reconcile" in line or "Sending due task" in line)
    ]
    assert not ticks, ticks[:5]
    assert "ready" in logs  # the worker's own INFO lines still show
