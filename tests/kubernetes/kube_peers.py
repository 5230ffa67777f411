"""A fake cluster for the Kubernetes adapter tests: the fake API server and both operators."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from fake_apiserver import CHAOS_MESH, LITMUS, FakeApiServer
from fake_operators import ChaosMeshController, LitmusOperator

from chaoshub.adapters.litmus import LitmusAdapter

LITMUS_FAULTS = sorted(LitmusAdapter.capabilities.faults)
#: how long the adapters wait for the fake operators; they answer in milliseconds
WAIT_SECONDS = 3.0


@dataclass
class FakeCluster:
    api: FakeApiServer
    litmus: LitmusOperator
    mesh: ChaosMeshController
    kubeconfig: Path

    def config(self, namespace: str, **extra: object) -> dict[str, object]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "namespace": namespace,
            "wait_seconds": WAIT_SECONDS,
            "request_timeout_seconds": 5,
            **extra,
        }


def start_cluster(path: Path) -> FakeCluster:
    api = FakeApiServer()
    api.store.install(LITMUS)
    api.store.install(CHAOS_MESH)
    api.start()
    litmus, mesh = LitmusOperator(api.store), ChaosMeshController(api.store)
    litmus.start()
    mesh.start()
    return FakeCluster(api, litmus, mesh, api.kubeconfig(path))


def stop_cluster(cluster: FakeCluster) -> None:
    try:
        cluster.litmus.stop()
        cluster.mesh.stop()
    finally:
        cluster.api.stop()
    errors = cluster.litmus.errors + cluster.mesh.errors
    assert not errors, f"the fake operators failed: {errors!r}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
