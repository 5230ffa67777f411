"""Fixtures for the Kubernetes adapter tests (``litmus``, ``chaos-mesh``).

One fake API server (``fake_apiserver.py``) with both operators (``fake_operators.py``)
serves the session; each test gets a namespace of its own with three running pods
``web-0..2`` labelled ``app=web`` and every Litmus ChaosExperiment installed, and adapters
that reach the fake through a generated kubeconfig, as they would reach a real cluster.
Servers and operator threads are stopped even when tests fail.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_apiserver import write_kubeconfig
from fake_operators import EXPERIMENT, Outcome
from kube_peers import LITMUS_FAULTS, FakeCluster, closed_port, start_cluster, stop_cluster

from chaoshub import catalog
from chaoshub.adapters.chaos_mesh import ChaosMeshAdapter
from chaoshub.adapters.litmus import LitmusAdapter

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("kube") / "kubeconfig")
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def ns(kube: FakeCluster) -> Iterator[str]:
    """A fresh namespace with pods web-0..2 (app=web) and every Litmus ChaosExperiment."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        kube.api.store.add_pod(name, f"web-{i}", {"app": "web"})
    for fault in LITMUS_FAULTS:
        kube.api.store.create(
            EXPERIMENT,
            name,
            {
                "metadata": {"name": fault},
                "spec": {"definition": {"image": "litmuschaos/go-runner:3.18.0", "env": []}},
            },
        )
    kube.litmus.default = Outcome()
    kube.litmus.outcomes.clear()
    kube.litmus.stuck = False
    kube.mesh.fail_apply.clear()
    kube.mesh.stuck_finalizer = False
    yield name
    kube.litmus.stuck = False
    kube.mesh.stuck_finalizer = False
    kube.mesh.fail_apply.clear()


@pytest.fixture
def litmus(kube: FakeCluster, ns: str) -> Iterator[LitmusAdapter]:
    adapter = LitmusAdapter(kube.config(ns), backend="fake-cluster")
    yield adapter
    adapter.close()


@pytest.fixture
def mesh(kube: FakeCluster, ns: str) -> Iterator[ChaosMeshAdapter]:
    adapter = ChaosMeshAdapter(kube.config(ns), backend="fake-cluster")
    yield adapter
    adapter.close()


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig for a cluster nobody listens for."""
    return write_kubeconfig(tmp_path / "gone", f"http://127.0.0.1:{closed_port()}", "no-token")


@pytest.fixture(scope="session")
def loaded_catalog() -> catalog.Catalog:
    return catalog.load()


@pytest.fixture(autouse=True)
def catalog_loaded_once(monkeypatch: pytest.MonkeyPatch, loaded_catalog: catalog.Catalog) -> None:
    # the conformance kit reads the whole catalog in each test; it does not change
    real = catalog.load
    monkeypatch.setattr(
        catalog,
        "load",
        lambda directory=None: loaded_catalog if directory is None else real(directory),
    )
