"""The conformance kit against the Docker adapter: pausing a real container on podman."""

from __future__ import annotations

from typing import Any

import docker
import pytest
from docker_peers import PODMAN_DIR, state

from adapters.docker_engine import DockerAdapter
from hub.contract import Adapter, Handle
from hub.testing.conformance import AdapterConformance, FaultCase


class TestDockerAdapterConformance(AdapterConformance):
    @pytest.fixture(autouse=True)
    def _client(self, client: docker.DockerClient) -> None:
        self.client = client

    @pytest.fixture
    def unreachable_adapter(self) -> DockerAdapter:
        return DockerAdapter(
            {"base_url": f"unix://{PODMAN_DIR}/no-such.sock", "timeout": 2}, backend="gone"
        )

    @pytest.fixture
    def case(self, make_container: Any, prefix: str) -> FaultCase:
        container = make_container("conformance")
        return FaultCase(
            fault="container-pause",
            params={},
            selector={"names": [container.name]},
            invalid_params={"paused_for_ever": True},
            unknown_selector={"names": [f"{prefix}-no-such-container"]},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        # from outside the adapter: what the engine says about the container
        return bool(state(self.client, handle.execution.target.id).get("Paused"))
