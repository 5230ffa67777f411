"""stress-ng beside a real container: it burns CPU, stays out of selection, and goes on recovery."""

from __future__ import annotations

import time
import uuid
from typing import Any

import docker
import pytest
from docker_peers import TOOLS

from chaoshub import catalog as catalog_mod
from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.adapters.docker_engine.stress import sidecar_name
from chaoshub.contract import Execution, Handle, Observed
from chaoshub.errors import InvalidInput, NotFound, RejectedByTool


def _cpu_seconds(client: docker.DockerClient, name: str) -> float:
    stats = client.api.stats(name, stream=False)
    return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def test_stress_runs_beside_the_target_and_is_removed_on_recovery(
    adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container(labels={"app": "stressed"}, nano_cpus=500_000_000)
    params = catalog_mod.load().get("docker/stress").validate_params({"cpu_workers": 1})
    [target] = adapter.discover("stress", {"names": [container.name]})
    execution = Execution(
        id=f"test-{uuid.uuid4().hex[:10]}",
        fault="stress",
        params=params,
        target=target,
        duration_seconds=60,
    )

    data, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED
    stressor = client.containers.get(sidecar_name(execution))
    assert stressor.attrs["HostConfig"]["NanoCpus"] == 500_000_000, (
        "the target's CPU limit is copied"
    )
    assert "stress-ng" in " ".join(" ".join(p) for p in stressor.top()["Processes"])

    # measured from outside: the stressor's cgroup accrues CPU time, within the copied limit
    first, started = _cpu_seconds(client, stressor.name), time.monotonic()
    time.sleep(2)
    used = (_cpu_seconds(client, stressor.name) - first) / (time.monotonic() - started)
    # at least a trickle even on a crowded machine; never more than the copied 0.5 CPU
    assert 0.03 <= used <= 0.7, f"stressor used {used:.2f} CPUs"

    # the stressor is labelled skip: no selector ever picks it
    with pytest.raises(NotFound, match="skipped by label"):
        adapter.discover("stress", {"labels": {"chaoshub.target": container.id}})

    adapter.inject(execution)  # adopted
    assert len(client.containers.list(filters={"label": f"chaoshub.helper={execution.id}"})) == 1
    assert adapter.recover(Handle(execution, None)).state is Observed.RECOVERED
    assert not client.containers.list(all=True, filters={"name": sidecar_name(execution)})
    assert adapter.status(Handle(execution, data)).state is Observed.RECOVERED


def test_stress_inside_runs_in_the_target_and_ends_on_recovery(
    adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container(image=TOOLS)  # an image that ships stress-ng
    params = catalog_mod.load().get("docker/stress").validate_params({"placement": "inside"})
    [target] = adapter.discover("stress", {"names": [container.name]})
    execution = Execution(
        id=f"test-{uuid.uuid4().hex[:10]}",
        fault="stress",
        params=params,
        target=target,
        duration_seconds=60,
    )

    _, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED
    _, again = adapter.inject(execution)
    assert "adopted" in again.native
    processes = [" ".join(p) for p in container.top()["Processes"]]
    assert sum("stress-ng --cpu" in p for p in processes) == 1, processes  # in the target, once

    first, started = _cpu_seconds(client, container.name), time.monotonic()
    time.sleep(2)
    used = (_cpu_seconds(client, container.name) - first) / (time.monotonic() - started)
    assert used >= 0.03, f"the target's cgroup used {used:.2f} CPUs"

    assert adapter.recover(Handle(execution, None)).state is Observed.RECOVERED
    time.sleep(0.5)
    assert not any("stress-ng" in " ".join(p) for p in container.top()["Processes"])
    assert adapter.status(Handle(execution, None)).state is Observed.RECOVERED


def test_stress_inside_a_target_without_stress_ng_is_refused(
    adapter: DockerAdapter, make_container: Any
) -> None:
    container = make_container()
    params = catalog_mod.load().get("docker/stress").validate_params({"placement": "inside"})
    [target] = adapter.discover("stress", {"names": [container.name]})
    execution = Execution(
        id=f"test-{uuid.uuid4().hex[:10]}", fault="stress", params=params, target=target
    )
    with pytest.raises(RejectedByTool, match="did not start"):
        adapter.inject(execution)
    assert adapter.status(Handle(execution, None)).state is Observed.RECOVERED


def test_stress_without_any_worker_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        DockerAdapter({}).validate("stress", {"cpu_workers": 0}, {"names": ["x"]})
    assert err.value.field == ["params", "cpu_workers"]


def test_a_stressor_created_but_never_started_is_started_by_the_retry(
    adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    params = catalog_mod.load().get("docker/stress").validate_params({})
    [target] = adapter.discover("stress", {"names": [container.name]})
    execution = Execution(
        id=f"test-{uuid.uuid4().hex[:10]}",
        fault="stress",
        params=params,
        target=target,
        duration_seconds=60,
    )
    adapter.inject(execution)
    stressor = client.containers.get(sidecar_name(execution))
    stressor.stop(timeout=0)
    client.api.remove_container(stressor.id, force=True)
    # as a worker killed between create and start leaves it
    client.containers.create(
        TOOLS, entrypoint=["/usr/bin/stress-ng"], command=["--cpu", "1", "--timeout", "60s"],
        name=sidecar_name(execution), labels={"chaoshub.skip": "true", "chaoshub.target": container.id},
    )  # fmt: skip
    assert adapter.status(Handle(execution, None)).state is Observed.PENDING
    _, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED
    assert client.containers.get(sidecar_name(execution)).status == "running"
    adapter.recover(Handle(execution, None))
