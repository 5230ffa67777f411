"""The engine's failures as hub errors: what the caller must do, with the engine's own code."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest
import requests

from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import (
    BackendUnavailable,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)


def _api_error(status: int, message: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(message, response=response, explanation=message)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_api_error(404, "no such container"), NotFound),
        (docker.errors.NotFound("no such container"), NotFound),
        (_api_error(409, "container is not running"), RejectedByTool),
        (_api_error(500, "OCI runtime error"), RejectedByTool),
        (_api_error(503, "engine is shutting down"), BackendUnavailable),
        (requests.exceptions.ConnectionError("refused"), BackendUnavailable),
        (
            docker.errors.DockerException("Error while fetching server API version"),
            BackendUnavailable,
        ),
        (docker.errors.TLSParameterError("a client certificate file is missing"), InvalidInput),
    ],
)
def test_engine_errors_map_to_what_the_caller_must_do(
    error: Exception, expected: type[HubError]
) -> None:
    adapter = DockerAdapter({}, backend="b1")
    with pytest.raises(expected) as err, adapter.translate_errors("c1"):
        raise error
    assert (err.value.adapter, err.value.backend, err.value.target) == ("docker", "b1", "c1")
    if isinstance(error, docker.errors.APIError) and error.status_code:
        assert err.value.native_code == error.status_code


def test_an_unreachable_engine_is_unavailable_and_unhealthy(tmp_path: Any) -> None:
    adapter = DockerAdapter(
        {"base_url": f"unix://{tmp_path}/docker.sock", "timeout": 2}, backend="gone"
    )
    with pytest.raises(BackendUnavailable):
        adapter.discover("container-kill", {"names": ["web"]})
    health = adapter.health()
    assert not health.ok and health.message


def test_config_is_checked_without_io() -> None:
    with pytest.raises(InvalidInput) as err:
        DockerAdapter.validate_config(
            {"base_url": "unix:///var/run/docker.sock", "tls": {"verify": True}}
        )
    assert err.value.field == ["config", "tls"]
    with pytest.raises(InvalidInput):
        DockerAdapter.validate_config({"base_url": "ftp://host"})
    DockerAdapter.validate_config(
        {"base_url": "tcp://10.0.0.5:2376", "tls": {"client_cert": "c", "client_key": "k"}}
    )


def test_an_unknown_fault_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as err:
        DockerAdapter({}).validate("container-melt", {}, {"names": ["web"]})
    assert err.value.field == ["fault"]


def test_a_recovery_the_engine_refuses_is_recovery_failed_and_can_be_retried(
    adapter: DockerAdapter, make_container: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = make_container()
    target = Target(id=container.id, label=container.name)
    execution = Execution(id="test-stuck", fault="container-pause", params={}, target=target)
    adapter.inject(execution)
    api = adapter._engine().client.api

    def refuse(_: str) -> None:
        raise _api_error(500, "cannot unpause: OCI runtime error")

    monkeypatch.setattr(api, "unpause", refuse)
    with pytest.raises(RecoveryFailed) as err:
        adapter.recover(Handle(execution, None))
    assert (err.value.target, err.value.native_code) == (container.id, 500)
    assert client.api.inspect_container(container.id)["State"]["Paused"]

    monkeypatch.undo()
    assert adapter.recover(Handle(execution, None)).state is Observed.RECOVERED
    assert not client.api.inspect_container(container.id)["State"]["Paused"]


class _Listing:
    """Stands in for ``client.api`` only: podman's race (a container removed while it builds
    the list fails the whole call) cannot be caused on purpose against the real service."""

    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [{"Id": "c1"}]


def _engine(api: _Listing) -> Any:
    from types import SimpleNamespace

    from chaoshub.adapters.docker_engine.driver import Engine

    return Engine(SimpleNamespace(api=api), None)  # type: ignore[arg-type]


def test_a_container_vanishing_while_podman_lists_is_asked_again() -> None:
    api = _Listing([_api_error(500, "container not known"), _api_error(404, "no such container")])
    assert _engine(api).containers() == [{"Id": "c1"}]
    assert api.calls == 3


def test_listing_gives_up_after_three_races_and_other_errors_are_not_retried() -> None:
    api = _Listing([_api_error(500, "container not known")] * 3)
    with pytest.raises(docker.errors.APIError):
        _engine(api).containers()
    assert api.calls == 3
    api = _Listing([_api_error(500, "OCI runtime error")])
    with pytest.raises(docker.errors.APIError):
        _engine(api).containers()
    assert api.calls == 1
