"""Real containers for the Docker adapter's tests, on podman's Docker-compatible API.

``scripts/setup.d/podman.sh`` starts the API and builds the images; when it has not run
(``pytest tests/docker`` on its own), the ``docker_host`` fixture runs it. Every container,
network and ledger record a test makes is removed afterwards, pass or fail.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker_peers import BUSYBOX, TOOLS, remove_container, start_podman, sweep_leftovers

from chaoshub.adapters.docker_engine import DockerAdapter, netns


@pytest.fixture(scope="session")
def docker_host() -> str:
    url = start_podman()
    sweep_leftovers(url)
    return url


@pytest.fixture(scope="session")
def client(docker_host: str) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=docker_host, version="auto", timeout=60)
    yield c
    c.close()


@pytest.fixture(scope="session")
def adapter_config(docker_host: str) -> dict[str, Any]:
    return {
        "base_url": docker_host,
        "helper_image": TOOLS,
        "stress_image": TOOLS,
        "stress_command": "/usr/bin/stress-ng",
        "pull_images": False,
    }


@pytest.fixture
def adapter(adapter_config: dict[str, Any]) -> Iterator[DockerAdapter]:
    a = DockerAdapter(adapter_config, backend="podman-test")
    yield a
    a.close()


@pytest.fixture(scope="session")
def prefix() -> str:
    return f"cht-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def make_container(client: docker.DockerClient, prefix: str) -> Iterator[Callable[..., Any]]:
    """Start a busybox container; all of them are removed after the test."""
    made: list[str] = []

    def make(name: str = "", *, labels: dict[str, str] | None = None, **kwargs: Any) -> Any:
        full = f"{prefix}-{name or uuid.uuid4().hex[:6]}"
        kwargs.setdefault("command", ["sleep", "3600"])
        container = client.containers.run(
            kwargs.pop("image", BUSYBOX), name=full, labels=labels or {}, detach=True, **kwargs
        )
        made.append(container.id)
        container.reload()
        return container

    yield make
    for cid in made:
        netns.sweep(client, container_id=cid)  # a helper left in its namespace blocks removal
        remove_container(client, cid)
        for volume in client.volumes.list(filters={"label": f"chaoshub.target={cid}"}):
            volume.remove(force=True)
    for cid in made:  # stressors started beside them
        for stressor in client.containers.list(
            all=True, filters={"label": f"chaoshub.target={cid}"}
        ):
            remove_container(client, stressor.id)


@pytest.fixture
def internal_network(client: docker.DockerClient, prefix: str) -> Iterator[str]:
    """A bridge network with no way out, for traffic between two test containers."""
    name = f"{prefix}-net-{uuid.uuid4().hex[:4]}"
    network = client.networks.create(name, driver="bridge", internal=True)
    yield name
    for container in client.containers.list(all=True, filters={"network": name}):
        remove_container(client, container.id)
    network.remove()
    # CNI's host-local IPAM keeps a folder per network name after the network is gone
    shutil.rmtree(Path("/var/lib/cni/networks") / name, ignore_errors=True)
