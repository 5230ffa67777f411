"""The conformance kit run against both Kubernetes adapters and the fake cluster.

Presence is checked from outside the adapters: for Litmus, the chaos pods the operator
runs for the engine (labelled ``chaosUID``); for Chaos Mesh, the targets the controller
holds under an injected record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_operators import ENGINE
from kube_peers import FakeCluster

from chaoshub.adapters.chaos_mesh import ChaosMeshAdapter
from chaoshub.adapters.kube import object_name
from chaoshub.adapters.litmus import LitmusAdapter
from chaoshub.contract import Adapter, Handle
from chaoshub.testing.conformance import AdapterConformance, FaultCase


class TestLitmus(AdapterConformance):
    @pytest.fixture
    def adapter(self, litmus: LitmusAdapter, kube: FakeCluster, ns: str) -> LitmusAdapter:
        self.kube, self.ns = kube, ns
        return litmus

    @pytest.fixture
    def unreachable_adapter(self, unreachable_kubeconfig: Path) -> Iterator[LitmusAdapter]:
        adapter = LitmusAdapter({"kubeconfig": str(unreachable_kubeconfig)}, backend="gone")
        yield adapter
        adapter.close()

    @pytest.fixture
    def case(self) -> FaultCase:
        return FaultCase(
            fault="pod-cpu-hog",
            params={"CPU_LOAD": 50, "CPU_CORES": 1},
            selector={"labels": {"app": "web"}},
            invalid_params={"CPU_LOAD": 150},
            unknown_selector={"labels": {"app": "nothing"}},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        engine = self.kube.api.store.find(ENGINE, self.ns, object_name(handle.execution.id))
        if engine is None:
            return False
        uid = engine["metadata"]["uid"]
        return any(
            p["metadata"]["labels"].get("chaosUID") == uid
            for p in self.kube.api.store.pods.values()
        )


class TestChaosMesh(AdapterConformance):
    @pytest.fixture
    def adapter(self, mesh: ChaosMeshAdapter, kube: FakeCluster) -> ChaosMeshAdapter:
        self.kube = kube
        return mesh

    @pytest.fixture
    def unreachable_adapter(self, unreachable_kubeconfig: Path) -> Iterator[ChaosMeshAdapter]:
        adapter = ChaosMeshAdapter({"kubeconfig": str(unreachable_kubeconfig)}, backend="gone")
        yield adapter
        adapter.close()

    @pytest.fixture
    def case(self) -> FaultCase:
        return FaultCase(
            fault="network-loss",
            params={"loss": 30, "direction": "both", "external_targets": ["203.0.113.7"]},
            selector={"labels": {"app": "web"}, "mode": "fixed-percent", "value": "50"},
            invalid_params={"loss": 140},
            unknown_selector={"labels": {"app": "nothing"}},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        return bool(self.kube.mesh.effects.get(object_name(handle.execution.id)))
