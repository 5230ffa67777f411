"""Kubernetes Events out: a ``kubernetes-events`` sink on a whole hub (``chaoshub up``: API,
worker, beat) writes core/v1 Events about the chaos objects of ``litmus`` and ``chaos-mesh``
runs on that run's own cluster (the fake API server), read back with the official client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fake_apiserver import CHAOS_MESH
from fake_operators import ENGINE, EXPERIMENT, Outcome
from kube_peers import FakeCluster, start_cluster, stop_cluster
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.support import queries as Q
from tests.support.stack import GraphQL, embedded_hub, wait_for

pytestmark = pytest.mark.slow

NETWORK = CHAOS_MESH[1]
CREATE_SINK = """mutation($input: CreateEventSinkInput!) { createEventSink(input: $input) {
  __typename ... on EventSink { id kind } ... on Error { code message field } } }"""
DELIVERIES = """query($sinkId: ID!) { eventSinkDeliveries(sinkId: $sinkId, first: 500) {
  type state lastError event { runId } } }"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    c = start_cluster(tmp_path_factory.mktemp("kube-events") / "kubeconfig")
    try:
        for i in range(2):
            c.api.store.add_pod("shop", f"cart-{i}", {"app": "cart"})
        c.api.store.create(
            EXPERIMENT, "shop", {"metadata": {"name": "pod-delete"}, "spec": {"definition": {}}}
        )
        c.litmus.default = Outcome(verdict="Pass", run_seconds=1.0)
        yield c
    finally:
        stop_cluster(c)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, cluster: FakeCluster) -> Iterator[GraphQL]:
    with embedded_hub(tmp_path_factory.mktemp("kube-events-hub")) as (url, token):
        gql = GraphQL(url, token)
        for adapter in ("litmus", "chaos-mesh"):
            made = gql(
                Q.CREATE_BACKEND,
                input={
                    "name": adapter,
                    "adapter": adapter,
                    "config": {**cluster.config("shop"), "wait_seconds": 1.0},
                },
            )["createBackend"]
            assert made["__typename"] == "Backend", made
        sink = gql(CREATE_SINK, input={"name": "cluster", "kind": "kubernetes-events"})
        assert sink["createEventSink"]["__typename"] == "EventSink", sink
        gql.sink_id = sink["createEventSink"]["id"]  # type: ignore[attr-defined]
        yield gql
        gql.close()


@pytest.fixture(scope="module")
def core(cluster: FakeCluster) -> Iterator[k8s.CoreV1Api]:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=str(cluster.kubeconfig),
        client_configuration=configuration,
        persist_config=False,
    )
    api = k8s.ApiClient(configuration)
    yield k8s.CoreV1Api(api)
    api.close()


def _start(hub: GraphQL, backend: str, fault: str, **extra: Any) -> str:
    started = hub(
        Q.START_RUN,
        input={
            "faultType": fault,
            "backend": backend,
            "selector": {"labels": {"app": "cart"}},
            **extra,
        },
    )["startRun"]
    assert started["__typename"] == "Run", started
    run_id = str(started["id"])
    wait_for(
        lambda: hub(Q.RUN, id=run_id)["run"]["phase"] in ("completed", "failed", "aborted"),
        90,
        what=f"run {run_id} ended",
    )
    return run_id


def _events_of(core: k8s.CoreV1Api, run_id: str) -> list[Any]:
    return [
        e
        for e in core.list_namespaced_event("shop", field_selector="source=chaoshub").items
        if (e.metadata.annotations or {}).get("chaoshub.io/run-id") == run_id
    ]


def _created(cluster: FakeCluster, resource: str, run_id: str) -> dict[str, Any]:
    (obj,) = [
        e.obj
        for e in cluster.api.store.events
        if e.resource == resource
        and e.type == "ADDED"
        and e.obj["metadata"]["annotations"]["chaoshub.io/execution-id"].startswith(run_id)
    ]
    return obj


def test_a_chaos_mesh_run_is_told_in_events_about_its_networkchaos(
    hub: GraphQL, cluster: FakeCluster, core: k8s.CoreV1Api
) -> None:
    run_id = _start(
        hub, "chaos-mesh", "chaos-mesh/network-delay", params={"latency_ms": 100}, durationSeconds=2
    )
    made = _created(cluster, NETWORK.resource, run_id)
    events = wait_for(
        lambda: (
            (got := _events_of(core, run_id))
            and {"ChaosInjected", "ChaosRecovered", "ChaosCompleted"} <= {e.reason for e in got}
            and got
        ),
        60,
        what="the run's Events",
    )
    reasons = [e.reason for e in events]
    assert reasons.count("ChaosInjected") == 1 and reasons.count("ChaosRecovered") == 1
    for e in events:
        assert e.involved_object.kind == "NetworkChaos"
        assert e.involved_object.api_version == "chaos-mesh.org/v1alpha1"
        assert e.involved_object.name == made["metadata"]["name"]
        assert e.involved_object.namespace == "shop"
        assert e.source.component == "chaoshub" and e.type == "Normal"
        assert run_id in e.message


def test_a_litmus_run_is_told_in_events_about_its_chaosengine(
    hub: GraphQL, cluster: FakeCluster, core: k8s.CoreV1Api
) -> None:
    run_id = _start(hub, "litmus", "litmus/pod-delete")
    engine = _created(cluster, ENGINE.resource, run_id)
    events = wait_for(
        lambda: (
            (got := _events_of(core, run_id))
            and {"ChaosInjected", "ChaosRecovered"} <= {e.reason for e in got}
            and got
        ),
        60,
        what="the run's Events",
    )
    for e in events:
        assert (e.involved_object.kind, e.involved_object.name) == (
            "ChaosEngine",
            engine["metadata"]["name"],
        )

    # every delivery of this run goes out; none stays pending or dies
    def delivered() -> list[dict[str, Any]]:
        got = [
            d
            for d in hub(DELIVERIES, sinkId=hub.sink_id)["eventSinkDeliveries"]  # type: ignore[attr-defined]
            if d["event"]["runId"] == run_id
        ]
        return got if got and {d["state"] for d in got} == {"delivered"} else []

    wait_for(delivered, 60, what="every delivery of the run delivered")
    assert "ChaosCompleted" in {e.reason for e in _events_of(core, run_id)}
