"""End to end: GraphQL → Celery worker → the docker adapter → real podman containers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import redis
from docker_peers import state

from tests.support import queries as Q
from tests.support.stack import GraphQL, Stack, wait_for

pytestmark = pytest.mark.slow

#: a Redis database of its own, so other stacks' workers never take these runs
BROKER = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(BROKER).flushdb()
    workdir = tmp_path_factory.mktemp("docker-stack")
    s = Stack(workdir=workdir, database_url=f"sqlite:///{workdir / 'hub.db'}", broker_url=BROKER)
    with s.running("w1"):
        yield s


@pytest.fixture
def gql(stack: Stack) -> Iterator[GraphQL]:
    client = GraphQL(stack.url)
    yield client
    client(Q.HALT_ALL)
    client.close()


@pytest.fixture
def backend(gql: GraphQL, adapter_config: dict[str, Any]) -> str:
    name = f"podman-{uuid.uuid4().hex[:6]}"
    result = gql(
        Q.CREATE_BACKEND, input={"name": name, "adapter": "docker", "config": adapter_config}
    )
    assert result["createBackend"]["__typename"] == "Backend", result
    return name


def start(gql: GraphQL, backend: str, fault: str, container: Any, duration: float | None) -> str:
    result = gql(
        Q.START_RUN,
        input={
            "faultType": f"docker/{fault}",
            "backend": backend,
            "params": {},
            "selector": {"names": [container.name]},
            "durationSeconds": duration,
        },
    )["startRun"]
    assert result["__typename"] == "Run", result
    return str(result["id"])


def wait_phase(gql: GraphQL, run_id: str, *phases: str, timeout: float = 40) -> dict[str, Any]:
    return wait_for(
        lambda: (r := gql(Q.RUN, id=run_id)["run"])["phase"] in phases and r,
        timeout,
        what=f"run {run_id} in {phases}",
    )


def test_a_pause_run_pauses_the_container_and_unpauses_it_when_done(
    gql: GraphQL, backend: str, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    run_id = start(gql, backend, "container-pause", container, duration=3)
    running = wait_phase(gql, run_id, "running")
    assert running["targets"][0]["nativeStatus"] == "paused"
    assert state(client, container.id)["Paused"] is True

    wait_phase(gql, run_id, "completed")
    assert state(client, container.id)["Paused"] is False


def test_pausing_the_run_unpauses_the_container_and_resuming_pauses_it_again(
    gql: GraphQL, backend: str, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    run_id = start(gql, backend, "container-pause", container, duration=120)
    wait_phase(gql, run_id, "running")

    assert gql(Q.PAUSE, id=run_id)["pauseRun"]["__typename"] == "Run"
    wait_phase(gql, run_id, "paused")
    assert state(client, container.id)["Paused"] is False

    assert gql(Q.RESUME, id=run_id)["resumeRun"]["__typename"] == "Run"
    wait_phase(gql, run_id, "running")
    assert state(client, container.id)["Paused"] is True

    assert gql(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
    wait_phase(gql, run_id, "aborted")
    assert state(client, container.id)["Paused"] is False


def test_a_netem_run_on_a_kernel_without_netem_is_refused_with_the_reason(
    gql: GraphQL, backend: str, make_container: Any, adapter: Any
) -> None:
    if adapter.health().faults["network-delay"].available:
        pytest.skip("this kernel has sch_netem: the refusal path cannot be shown here")
    container = make_container()
    result = gql(
        Q.START_RUN,
        input={
            "faultType": "docker/network-delay",
            "backend": backend,
            "params": {"delay_ms": 200},
            "selector": {"names": [container.name]},
            "durationSeconds": 30,
        },
    )["startRun"]
    assert result["__typename"] != "Run", result
    assert "sch_netem" in result["message"]
