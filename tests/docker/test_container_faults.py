"""Container faults on real podman containers, each checked through the engine's API."""

from __future__ import annotations

import uuid
from typing import Any

import docker
import docker.errors
import pytest
from docker_peers import marks_for, state

from chaoshub import catalog as catalog_mod
from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.contract import Execution, Handle, Observed
from chaoshub.errors import InvalidInput, NotFound, RejectedByTool


@pytest.fixture(scope="module")
def catalog() -> catalog_mod.Catalog:
    return catalog_mod.load()


@pytest.fixture
def run(adapter: DockerAdapter, catalog: catalog_mod.Catalog) -> Any:
    """Discover by name and inject, as the hub does: params checked by schema, then validate."""

    def run(fault: str, container: Any, **params: Any) -> tuple[Handle, Any]:
        full = catalog.get(f"docker/{fault}").validate_params(params)
        selector = {"names": [container.name]}
        adapter.validate(fault, full, selector)
        [target] = adapter.discover(fault, selector)
        execution = Execution(
            id=f"test-{uuid.uuid4().hex[:10]}",
            fault=fault,
            params=full,
            target=target,
            duration_seconds=30,
        )
        data, observation = adapter.inject(execution)
        return Handle(execution, data), observation

    return run


def test_kill_sends_the_signal_and_the_container_exits(
    run: Any, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    _, observation = run("container-kill", container, signal="SIGKILL")
    assert observation.state is Observed.DONE
    after = state(client, container.id)
    assert after["Status"] == "exited" and after["ExitCode"] == 137


def test_kill_retried_with_one_execution_id_signals_once(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, _ = run("container-kill", container)
    assert len(marks_for(client, container.id)) == 1, "the kill is recorded on the host"
    client.api.start(container.id)  # came back (as a restart policy would bring it)
    _, again = adapter.inject(handle.execution)
    assert "adopted" in again.native
    assert state(client, container.id)["Running"], "the retry must not kill the container again"
    adapter.recover(handle)
    assert marks_for(client, container.id) == []


def test_stop_with_restart_is_started_again_on_recovery(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, observation = run("container-stop", container, grace_seconds=1, restart=True)
    assert observation.state is Observed.INJECTED
    assert state(client, container.id)["Status"] == "exited"
    assert adapter.status(handle).state is Observed.INJECTED

    recovered = adapter.recover(Handle(handle.execution, None))
    assert recovered.state is Observed.RECOVERED
    assert state(client, container.id)["Running"]


def test_stop_without_restart_leaves_the_container_stopped(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, _ = run("container-stop", container, grace_seconds=1)
    recovered = adapter.recover(handle)
    assert recovered.state is Observed.RECOVERED
    assert any("left stopped" in m for m in recovered.messages)
    assert state(client, container.id)["Status"] == "exited"


def test_a_container_stopped_by_someone_else_is_not_selected(
    adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    client.api.stop(container.id, timeout=0)
    with pytest.raises(NotFound, match="not in a state this fault acts on"):
        adapter.discover("container-stop", {"names": [container.name]})


def test_pause_freezes_the_container_until_recovery(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, observation = run("container-pause", container)
    assert observation.state is Observed.INJECTED
    assert state(client, container.id)["Paused"] is True
    with pytest.raises(docker.errors.APIError, match="paused"):
        container.exec_run(["true"])  # the engine refuses to run anything in it

    adapter.recover(handle)
    assert state(client, container.id)["Paused"] is False
    assert container.exec_run(["true"]).exit_code == 0


def test_pause_of_a_container_paused_by_someone_else_is_refused_and_left_alone(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    client.api.pause(container.id)
    with pytest.raises(RejectedByTool, match="paused already"):
        run("container-pause", container)
    target = adapter.discover("container-pause", {"names": [container.name]})[0]
    never = Execution(id="never-injected", fault="container-pause", params={}, target=target)
    assert adapter.recover(Handle(never, None)).state is Observed.RECOVERED
    assert state(client, container.id)["Paused"] is True, "someone else's pause stays"
    client.api.unpause(container.id)


def test_restart_starts_the_container_anew(
    run: Any, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    before = state(client, container.id)
    _, observation = run("container-restart", container, timeout_seconds=0)
    after = state(client, container.id)
    assert observation.state is Observed.DONE
    assert after["Running"] and after["StartedAt"] != before["StartedAt"]
    assert after["Pid"] != before["Pid"]


def test_remove_is_refused_without_confirmation(
    adapter: DockerAdapter, catalog: catalog_mod.Catalog
) -> None:
    params = catalog.get("docker/container-remove").validate_params({})
    with pytest.raises(InvalidInput) as err:
        adapter.validate("container-remove", params, {"names": ["anything"]})
    assert err.value.field == ["params", "confirm"]


def test_remove_with_confirmation_removes_the_container(
    run: Any, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    _, observation = run("container-remove", container, confirm=True)
    assert observation.state is Observed.DONE
    assert not client.containers.list(all=True, filters={"id": container.id})


def test_a_container_that_vanished_counts_as_recovered_with_a_note(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, _ = run("container-pause", container)
    client.api.remove_container(container.id, force=True)
    recovered = adapter.recover(handle)
    assert recovered.state is Observed.RECOVERED
    assert any("vanished" in m for m in recovered.messages)
    assert marks_for(client, container.id) == []


def test_a_pruned_ledger_record_still_lets_the_stored_handle_unpause(
    run: Any, adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    handle, _ = run("container-pause", container)
    for name in marks_for(client, container.id):  # as `podman volume prune` would
        client.volumes.get(name).remove(force=True)

    assert state(client, container.id)["Paused"] is True
    without_handle = adapter.recover(Handle(handle.execution, None))
    assert without_handle.native == "nothing held by this execution"
    assert state(client, container.id)["Paused"] is True, "no record, no handle: not ours to touch"

    recovered = adapter.recover(handle)
    assert recovered.state is Observed.RECOVERED
    assert any("stored handle" in m for m in recovered.messages)
    assert state(client, container.id)["Paused"] is False
