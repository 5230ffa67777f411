"""Toxiproxy faults run through the whole hub (`chaoshub up`: API, worker, reconciler)
against the fake Toxiproxy server, with traffic measured through the proxy meanwhile.

Run with ``python -m pytest`` (as ``scripts/test`` does) so that ``tests.support`` imports.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from toxiproxy_peers import FakeToxiproxy, ProxyInfo, Upstream, fetch

from tests.support import queries as Q
from tests.support.stack import GraphQL, embedded_hub, free_port, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphQL]:
    with embedded_hub(tmp_path_factory.mktemp("toxiproxy-hub")) as (url, token):
        gql = GraphQL(url, token)
        yield gql
        gql.close()


@pytest.fixture(scope="module")
def backend(hub: GraphQL, toxiproxy_server: FakeToxiproxy) -> str:
    name = f"toxiproxy-{uuid.uuid4().hex[:6]}"
    created = hub(
        Q.CREATE_BACKEND,
        input={"name": name, "adapter": "toxiproxy", "config": {"url": toxiproxy_server.url}},
    )
    assert created["createBackend"]["__typename"] == "Backend", created
    return name


def _start(
    hub: GraphQL,
    backend: str,
    fault: str,
    params: dict[str, Any],
    selector: dict[str, Any],
    duration: float,
) -> str:
    started = hub(
        Q.START_RUN,
        input={
            "faultType": f"toxiproxy/{fault}",
            "backend": backend,
            "params": params,
            "selector": selector,
            "durationSeconds": duration,
        },
    )["startRun"]
    assert started["__typename"] == "Run", started
    return str(started["id"])


def _phase(hub: GraphQL, run_id: str, phase: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = hub(Q.RUN, id=run_id)["run"]
        return run if run["phase"] == phase else None

    return check


def test_a_latency_run_slows_traffic_while_it_runs_and_completes_recovered(
    hub: GraphQL, backend: str, proxy: ProxyInfo, api: httpx.Client
) -> None:
    before = min(fetch(proxy.port).seconds for _ in range(3))
    run_id = _start(hub, backend, "latency", {"latency": 200}, {"names": [proxy.name]}, duration=4)
    running = wait_for(_phase(hub, run_id, "running"), 30, what="running")
    during = min(fetch(proxy.port).seconds for _ in range(3))
    done = wait_for(_phase(hub, run_id, "completed"), 60, what="completion")
    after = min(fetch(proxy.port).seconds for _ in range(3))

    assert running["targets"][0]["metrics"]["latency_ms"] == 200
    assert during - before >= 0.19, (before, during)
    assert after - before < 0.1, (before, after)
    assert done["targets"][0]["phase"] == "recovered"
    assert api.get(f"/proxies/{proxy.name}/toxics").json() == []


def test_a_paused_run_lifts_the_toxic_and_a_resumed_one_puts_it_back(
    hub: GraphQL, backend: str, proxy: ProxyInfo, api: httpx.Client
) -> None:
    toxics = f"/proxies/{proxy.name}/toxics"
    run_id = _start(hub, backend, "bandwidth", {"rate": 20}, {"names": [proxy.name]}, duration=120)
    wait_for(_phase(hub, run_id, "running"), 30, what="running")
    assert [t["type"] for t in api.get(toxics).json()] == ["bandwidth"]

    assert hub(Q.PAUSE, id=run_id)["pauseRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "paused"), 30, what="paused")
    assert api.get(toxics).json() == []

    assert hub(Q.RESUME, id=run_id)["resumeRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "running"), 30, what="running again")
    assert [t["type"] for t in api.get(toxics).json()] == ["bandwidth"]

    assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "aborted"), 30, what="aborted")
    assert api.get(toxics).json() == []


def test_an_aborted_down_run_on_a_proxy_it_made_leaves_nothing_behind(
    hub: GraphQL, backend: str, api: httpx.Client, upstream: Upstream
) -> None:
    name = f"hub-made-{uuid.uuid4().hex[:6]}"
    port = free_port()
    spec = {"name": name, "upstream": upstream.address, "listen": f"127.0.0.1:{port}"}
    try:
        run_id = _start(hub, backend, "down", {}, {"ensure_proxy": spec}, duration=120)
        wait_for(_phase(hub, run_id, "running"), 30, what="running")
        assert api.get(f"/proxies/{name}").json()["enabled"] is False
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

        assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
        wait_for(_phase(hub, run_id, "aborted"), 30, what="aborted")
        assert api.get(f"/proxies/{name}").status_code == 404
    finally:
        api.delete(f"/proxies/{name}")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"latency": 1.7}, ["params", "latency"]),
        ({"latency": "100"}, ["params", "latency"]),
        ({"jitter": 2**63}, ["params", "jitter"]),
        ({"toxicity": "0.5"}, ["params", "toxicity"]),
    ],
)
def test_the_hub_refuses_values_toxiproxy_cannot_read_and_stores_nothing(
    hub: GraphQL,
    backend: str,
    proxy: ProxyInfo,
    api: httpx.Client,
    params: dict[str, Any],
    field: list[str],
) -> None:
    before = hub("{ runs { totalCount } }")["runs"]["totalCount"]
    refused = hub(
        Q.START_RUN,
        input={
            "faultType": "toxiproxy/latency",
            "backend": backend,
            "params": params,
            "selector": {"names": [proxy.name]},
            "durationSeconds": 5,
        },
    )["startRun"]
    assert refused["__typename"] == "InvalidInputError" and refused["field"] == field, refused
    assert hub("{ runs { totalCount } }")["runs"]["totalCount"] == before
    assert api.get(f"/proxies/{proxy.name}/toxics").json() == []
