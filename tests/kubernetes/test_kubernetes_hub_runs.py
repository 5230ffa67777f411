"""Runs through the whole hub (``chaoshub up``: API, worker, reconciler) on two fake
clusters at once: one backend per cluster and adapter, runs on both, each cluster holding
only its own objects; a Litmus verdict reaching the run's verdict; a Chaos Mesh abort held
``recovering`` by a stuck finalizer until the finalizer finishes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_apiserver import CHAOS_MESH
from fake_operators import ENGINE, EXPERIMENT, RESULT, Outcome
from kube_peers import FakeCluster, start_cluster, stop_cluster

from tests.support import queries as Q
from tests.support.stack import GraphQL, embedded_hub, wait_for

pytestmark = pytest.mark.slow

NETWORK = CHAOS_MESH[1]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FakeCluster]]:
    started: dict[str, FakeCluster] = {}
    try:
        for name in ("east", "west", "south"):
            cluster = start_cluster(tmp_path_factory.mktemp(name) / "kubeconfig")
            started[name] = cluster
            for i in range(2):
                cluster.api.store.add_pod("shop", f"cart-{i}", {"app": "cart"})
            for fault in ("pod-delete", "pod-cpu-hog"):
                cluster.api.store.create(
                    EXPERIMENT,
                    "shop",
                    {"metadata": {"name": fault}, "spec": {"definition": {}}},
                )
        # the same experiment passes in one cluster and fails in the other
        started["east"].litmus.default = Outcome(verdict="Pass", run_seconds=1.0)
        started["west"].litmus.default = Outcome(verdict="Fail", run_seconds=1.0, probe_success="0")
        yield started
    finally:
        for cluster in started.values():
            stop_cluster(cluster)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphQL]:
    env = {"CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS": "1"}
    with embedded_hub(tmp_path_factory.mktemp("kube-hub"), env) as (url, token):
        gql = GraphQL(url, token)
        yield gql
        gql.close()


@pytest.fixture(scope="module")
def backends(hub: GraphQL, clusters: dict[str, FakeCluster]) -> dict[str, str]:
    names = {}
    for cluster_name, cluster in clusters.items():
        for adapter in ("litmus", "chaos-mesh"):
            name = f"{adapter}-{cluster_name}"
            config = {**cluster.config("shop"), "wait_seconds": 1.0}
            created = hub(
                Q.CREATE_BACKEND, input={"name": name, "adapter": adapter, "config": config}
            )
            assert created["createBackend"]["__typename"] == "Backend", created
            names[f"{adapter}/{cluster_name}"] = name
    return names


def _start(hub: GraphQL, backend: str, fault: str, selector: dict[str, Any], **extra: Any) -> str:
    started = hub(
        Q.START_RUN, input={"faultType": fault, "backend": backend, "selector": selector, **extra}
    )["startRun"]
    assert started["__typename"] == "Run", started
    return str(started["id"])


def _phase(hub: GraphQL, run_id: str, *phases: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = hub(Q.RUN, id=run_id)["run"]
        return run if run["phase"] in phases else None

    return check


def test_litmus_runs_on_two_clusters_keep_their_own_verdicts(
    hub: GraphQL, clusters: dict[str, FakeCluster], backends: dict[str, str]
) -> None:
    runs = {
        name: _start(
            hub, backends[f"litmus/{name}"], "litmus/pod-delete", {"labels": {"app": "cart"}}
        )
        for name in ("east", "west")
    }
    done = {
        name: wait_for(_phase(hub, run_id, "completed", "failed", "aborted"), 60, what=name)
        for name, run_id in runs.items()
    }
    assert (done["east"]["phase"], done["east"]["verdict"]) == ("completed", "pass")
    assert (done["west"]["phase"], done["west"]["verdict"]) == ("completed", "fail")
    assert "verdict=Fail" in done["west"]["targets"][0]["nativeStatus"]
    for name, run_id in runs.items():
        store = clusters[name].api.store
        assert not store.all(ENGINE), f"{name}: the run's engine is deleted"
        assert not store.all(RESULT), f"{name}: the run's result is deleted"
        created = [e for e in store.events if e.resource == ENGINE.resource and e.type == "ADDED"]
        (engine,) = (e.obj for e in created)  # each cluster saw its own run's engine only
        assert engine["metadata"]["annotations"]["chaoshub.io/execution-id"] == f"{run_id}-0"


def test_an_abort_held_by_a_stuck_finalizer_stays_recovering_until_it_finishes(
    hub: GraphQL, clusters: dict[str, FakeCluster], backends: dict[str, str]
) -> None:
    west = clusters["west"]
    west.mesh.stuck_finalizer = True
    try:
        run_id = _start(
            hub,
            backends["chaos-mesh/west"],
            "chaos-mesh/network-delay",
            {"labels": {"app": "cart"}},
            params={"latency_ms": 200},
            durationSeconds=600,
        )
        wait_for(_phase(hub, run_id, "running"), 60, what="running")
        assert len(west.api.store.all(NETWORK)) == 1 and not clusters["east"].api.store.all(NETWORK)
        assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"

        def held() -> dict[str, Any] | None:
            run: dict[str, Any] = hub(Q.RUN, id=run_id)["run"]
            return (
                run
                if run["phase"] == "recovering" and "chaos-mesh/records" in (run["error"] or "")
                else None
            )

        run = wait_for(held, 60, what="recovery held by the finalizer")
        assert run["targets"][0]["mayCarryFault"]
    finally:
        west.mesh.stuck_finalizer = False
    aborted = wait_for(_phase(hub, run_id, "aborted"), 60, what="abort")
    assert not aborted["targets"][0]["mayCarryFault"]
    assert not west.api.store.all(NETWORK)


def test_a_chaos_mesh_run_pauses_and_resumes_with_a_new_object_per_round(
    hub: GraphQL, clusters: dict[str, FakeCluster], backends: dict[str, str]
) -> None:
    east = clusters["east"]
    run_id = _start(
        hub,
        backends["chaos-mesh/east"],
        "chaos-mesh/stress-cpu",
        {"labels": {"app": "cart"}, "mode": "one"},
        durationSeconds=600,
    )
    wait_for(_phase(hub, run_id, "running"), 60, what="running")
    (first,) = east.api.store.all(CHAOS_MESH[2])
    assert first["metadata"]["name"].endswith(f"{run_id}-0")
    assert hub(Q.PAUSE, id=run_id)["pauseRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "paused"), 60, what="paused")
    assert not east.api.store.all(CHAOS_MESH[2]), "pausing reverts: the object is deleted"
    assert hub(Q.RESUME, id=run_id)["resumeRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "running"), 60, what="running again")
    (second,) = east.api.store.all(CHAOS_MESH[2])
    assert second["metadata"]["name"].endswith(f"{run_id}-0-r1")
    assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
    wait_for(_phase(hub, run_id, "aborted"), 60, what="abort")
    assert not east.api.store.all(CHAOS_MESH[2])


def test_a_run_whose_cluster_went_away_keeps_recovering_until_it_comes_back(
    hub: GraphQL, clusters: dict[str, FakeCluster], backends: dict[str, str]
) -> None:
    south = clusters["south"]
    run_id = _start(
        hub,
        backends["chaos-mesh/south"],
        "chaos-mesh/network-loss",
        {"labels": {"app": "cart"}},
        params={"loss": 50},
        durationSeconds=600,
    )
    wait_for(_phase(hub, run_id, "running"), 60, what="running")
    south.api.stop()  # the operators keep their state; only the API is gone
    try:
        assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"

        def held() -> dict[str, Any] | None:
            run: dict[str, Any] = hub(Q.RUN, id=run_id)["run"]
            unreachable = "cannot be reached" in (run["error"] or "")
            return run if run["phase"] == "recovering" and unreachable else None

        run = wait_for(held, 60, what="recovery waiting for the cluster")
        assert run["targets"][0]["mayCarryFault"]
        assert len(south.api.store.all(NETWORK)) == 1, "nothing was deleted while unreachable"
    finally:
        south.api = south.api.restarted()
    aborted = wait_for(_phase(hub, run_id, "aborted"), 60, what="abort once reachable")
    assert not aborted["targets"][0]["mayCarryFault"]
    assert not south.api.store.all(NETWORK)
