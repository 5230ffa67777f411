"""Did it inject? One PromQL query answers: while a native run holds its fault (a paused
process, a CPU stress, an iptables loss), the hub's ``chaoshub_fault_active`` and
``chaoshub_fault_applied`` and the agent's ``chaoshub_injector_fault_active`` and
``chaoshub_injector_fault_value`` carry the run, its target and the values applied, in a
real Prometheus; once the run is recovered, every one of those series is gone."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.native.native_peers import NetPair
from tests.observability.observed import ObservedHub, observed_hub
from tests.support import queries as Q
from tests.support.stack import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedHub]:
    with observed_hub(tmp_path_factory.mktemp("gauges")) as observed:
        yield observed


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "600"])
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()


@pytest.fixture
def netpair() -> Iterator[NetPair]:
    pair = NetPair.create()
    try:
        yield pair
    finally:
        pair.delete()


def _start(hub: ObservedHub, fault: str, selector: dict[str, Any], params: dict[str, Any]) -> str:
    run = hub.gql(
        Q.START_RUN,
        input={
            "faultType": f"native/{fault}",
            "backend": "native",
            "selector": {"agents": ["local"], **selector},
            "params": params,
            "durationSeconds": 300,
        },
    )["startRun"]
    assert run["__typename"] == "Run", run
    run_id: str = run["id"]
    try:
        wait_for(lambda: hub.gql(Q.RUN, id=run_id)["run"]["phase"] == "running", 60, what="running")
    except BaseException:
        _end(hub, run_id)
        raise
    return run_id


def _end(hub: ObservedHub, run_id: str) -> None:
    hub.gql(Q.ABORT, id=run_id)
    wait_for(lambda: hub.gql(Q.RUN, id=run_id)["run"]["phase"] == "aborted", 60, what="recovered")


def _values(series: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(s["metric"]["name"], s["metric"]["source"]): float(s["value"][1]) for s in series}


def _check_held_then_gone(
    hub: ObservedHub, run_id: str, fault: str, expected: dict[tuple[str, str], float]
) -> None:
    prom = hub.prometheus
    held = f'chaoshub_fault_active{{run="{run_id}"}}'
    try:
        series = wait_for(lambda: prom.query(held), 30, what=held)
        assert len(series) == 1
        labels = series[0]["metric"]
        assert labels["fault_type"] == f"native/{fault}" and labels["adapter"] == "native"
        assert labels["backend"] == "native" and labels["target"]
        applied = wait_for(
            lambda: _values(prom.query(f'chaoshub_fault_applied{{run="{run_id}"}}')), 30
        )
        assert expected.items() <= applied.items(), applied
        on_agent = f'chaoshub_injector_fault_active{{execution_id=~"{run_id}-.*"}}'
        agent_series = wait_for(lambda: prom.query(on_agent), 30, what=on_agent)
        assert agent_series[0]["metric"]["fault"] == fault
        told = {n: v for (n, source), v in expected.items() if source == "tool"}
        on_agent_values = f'chaoshub_injector_fault_value{{execution_id=~"{run_id}-.*"}}'

        def agent_values() -> dict[str, float]:
            return {s["metric"]["name"]: float(s["value"][1]) for s in prom.query(on_agent_values)}

        # the agent reports what it applied once it has applied it: on a loaded machine, a
        # scrape or two after the fault's own series
        wait_for(lambda: told.items() <= agent_values().items(), 30, what=on_agent_values)
        got = agent_values()
        assert told.items() <= got.items(), got
        assert f'run="{run_id}"' in hub.hub_metrics()
    finally:
        _end(hub, run_id)
    assert f'run="{run_id}"' not in hub.hub_metrics()
    assert f'execution_id="{run_id}' not in hub.agent_metrics()
    for query in (
        held,
        f'chaoshub_fault_applied{{run="{run_id}"}}',
        f'chaoshub_injector_fault_value{{execution_id=~"{run_id}-.*"}}',
        f'chaoshub_injector_fault_active{{execution_id=~"{run_id}-.*"}}',
    ):
        wait_for(lambda q=query: prom.query(q) == [], 30, what=f"{query} gone")


def test_a_paused_process_shows_while_paused_and_goes_once_resumed(
    hub: ObservedHub, sleeper: subprocess.Popen[bytes]
) -> None:
    run_id = _start(hub, "process-pause", {"pid": sleeper.pid}, {})
    _check_held_then_gone(hub, run_id, "process-pause", {("processes", "tool"): 1.0})


def test_a_cpu_stress_shows_its_workers_and_load(hub: ObservedHub) -> None:
    run_id = _start(hub, "cpu-stress", {}, {"workers": 1, "load_percent": 20})
    _check_held_then_gone(
        hub,
        run_id,
        "cpu-stress",
        {
            ("workers", "tool"): 1.0,
            ("load_percent", "tool"): 20.0,
            ("load_percent", "params"): 20.0,
        },
    )


def test_an_iptables_loss_shows_the_share_dropped(hub: ObservedHub, netpair: NetPair) -> None:
    run_id = _start(hub, "network-loss", netpair.selector, {"percent": 25})
    _check_held_then_gone(
        hub,
        run_id,
        "network-loss",
        {("loss_percent", "tool"): 25.0, ("percent", "params"): 25.0},
    )
