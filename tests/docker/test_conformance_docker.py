"""The conformance kit against the Docker adapter on podman: pausing a real container, and
dropping its packets with iptables."""

from __future__ import annotations

import subprocess
from typing import Any

import docker
import pytest
from docker_peers import PODMAN_DIR, state

from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.adapters.docker_engine.network import rule_comment
from chaoshub.contract import Adapter, Handle
from chaoshub.testing.conformance import AdapterConformance, FaultCase


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


class TestDockerIptablesLossConformance(AdapterConformance):
    """The same kit on a network fault: rules in the container's namespace, seen with nsenter."""

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
        container = make_container("conformance-net")
        return FaultCase(
            fault="network-loss-iptables",
            params={"percent": 30},
            selector={"names": [container.name]},
            invalid_params={"percent": 250},
            unknown_selector={"names": [f"{prefix}-no-such-container"]},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        pid = str(state(self.client, handle.execution.target.id)["Pid"])
        rules = subprocess.run(
            ["nsenter", "-t", pid, "-n", "--", "iptables", "-S"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return rule_comment(handle.execution.id) in rules
