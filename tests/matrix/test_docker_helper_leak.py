"""A worker that dies while the Docker adapter has a network helper container up leaves
that helper behind for good: found by the fault matrix, reproduced here without timing luck.

The helper (``tail -f /dev/null`` with NET_ADMIN, ``NetworkMode: container:<target>``) is
created for every network inject, status and recover, and removed in a ``finally`` that a
SIGKILLed worker never runs. Nothing removes it later, and while it exists the target
cannot be removed either ("has dependent containers"). Here a child process calls
``status`` in a loop and is killed the moment a helper of the execution appears; the next
recovery, from a fresh adapter as another worker would make, must leave no helper.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from chaoshub import catalog as catalog_mod
from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.adapters.docker_engine.netns import HELPER_LABEL
from chaoshub.contract import Execution, Handle
from tests.docker.docker_peers import BUSYBOX, TOOLS, remove_container, start_podman

pytestmark = [pytest.mark.slow, pytest.mark.matrix]

STATUS_LOOP = """
import json, sys
from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.contract import Execution, Handle, Target
config, execution, data = json.loads(sys.stdin.read())
execution["target"] = Target(**execution["target"])
adapter = DockerAdapter(config, backend="leak")
handle = Handle(Execution(**execution), data)
while True:
    adapter.status(handle)
"""


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return {
        "base_url": start_podman(),
        "helper_image": TOOLS,
        "stress_image": TOOLS,
        "stress_command": "/usr/bin/stress-ng",
        "pull_images": False,
    }


@pytest.fixture
def client(config: dict[str, Any]) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=config["base_url"], version="auto", timeout=60)
    yield c
    c.close()


@pytest.fixture
def target(client: docker.DockerClient) -> Iterator[Any]:
    container = client.containers.run(
        BUSYBOX, ["sleep", "3600"], name=f"chm-leak-{uuid.uuid4().hex[:6]}", detach=True
    )
    container.reload()
    yield container
    for helper in helpers(client, container.id):
        remove_container(client, helper)
    remove_container(client, container.id)


def helpers(client: docker.DockerClient, container_id: str) -> list[str]:
    found = []
    for c in client.api.containers(all=True, filters={"label": HELPER_LABEL}):
        try:  # other tests' helpers come and go meanwhile
            mode = client.api.inspect_container(c["Id"])["HostConfig"].get("NetworkMode")
        except docker.errors.NotFound:
            continue
        if mode == f"container:{container_id}":
            found.append(str(c["Id"]))
    return found


def test_a_helper_left_by_a_killed_worker_is_gone_after_the_next_recovery(
    config: dict[str, Any], client: docker.DockerClient, target: Any
) -> None:
    adapter = DockerAdapter(config, backend="leak")
    fault = "network-loss-iptables"
    params = catalog_mod.load().get(f"docker/{fault}").validate_params({"percent": 50})
    [found] = adapter.discover(fault, {"names": [target.name]})
    execution = Execution(
        id=f"leak-{uuid.uuid4().hex[:10]}",
        fault=fault,
        params=params,
        target=found,
        duration_seconds=60,
    )
    data, _ = adapter.inject(execution)
    payload = [
        config,
        {
            "id": execution.id,
            "fault": fault,
            "params": dict(params),
            "target": {"id": found.id, "label": found.label, "attributes": dict(found.attributes)},
            "duration_seconds": 60,
        },
        dict(data),
    ]
    caught = False
    for _ in range(5):  # a helper lives for a good half second: one try nearly always does
        child = subprocess.Popen(
            [sys.executable, "-c", STATUS_LOOP], stdin=subprocess.PIPE, text=True
        )
        assert child.stdin is not None
        child.stdin.write(json.dumps(payload))
        child.stdin.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child.poll() is None:
            if helpers(client, target.id):
                child.send_signal(signal.SIGKILL)
                caught = True
                break
            time.sleep(0.01)
        child.kill()
        child.wait()
        if caught and helpers(client, target.id):
            break
        caught = False
    assert caught, "no helper was ever seen up while status ran"

    # another worker takes over and recovers, as the hub does
    fresh = DockerAdapter(config, backend="leak")
    try:
        fresh.recover(Handle(execution, data))
    finally:
        fresh.close()
        adapter.close()
    time.sleep(1)
    assert helpers(client, target.id) == [], "a helper container is still in the namespace"
