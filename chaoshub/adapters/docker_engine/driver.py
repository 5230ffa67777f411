"""What every Docker fault implements, and the engine handle they share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import docker
import docker.errors
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from chaoshub.adapters.docker_engine import netns
from chaoshub.adapters.docker_engine.config import DockerConfig
from chaoshub.adapters.docker_engine.ledger import Ledger
from chaoshub.contract import Execution, Observation
from chaoshub.errors import NotFound

#: container states a fault that needs a live process acts on
LIVE = frozenset({"running", "paused"})


def _vanished_while_listing(exc: BaseException) -> bool:
    if isinstance(exc, docker.errors.NotFound):
        return True
    if not isinstance(exc, docker.errors.APIError):
        return False
    text = str(exc.explanation or exc).lower()
    return "no such container" in text or "container not known" in text


@dataclass
class Engine:
    """One Docker host as the faults see it."""

    client: docker.DockerClient
    config: DockerConfig

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.client)

    def containers(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every container (any state) matching ``filters``.

        Podman's list endpoint fails the whole call with "no such container" / "container
        not known" when a container is removed while it builds the answer; the list is
        asked again (three times at most) rather than refusing the user's selector.
        """
        listing = Retrying(
            retry=retry_if_exception(_vanished_while_listing),
            stop=stop_after_attempt(3),
            wait=wait_fixed(0.2),
            reraise=True,
        )
        return list(listing(self.client.api.containers, all=True, filters=filters))

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        """The container's inspect document, or None when it is gone."""
        try:
            return dict(self.client.api.inspect_container(container_id))
        except docker.errors.NotFound:
            return None

    def inspect_or_raise(self, container_id: str) -> dict[str, Any]:
        attrs = self.inspect(container_id)
        if attrs is None:
            raise NotFound(f"no container {container_id[:12]}", target=container_id)
        return attrs

    @contextlib.contextmanager
    def netns(self, container_id: str, execution_id: str) -> Iterator[netns.Shell]:
        with netns.enter(
            self.client, self.config, container_id=container_id, execution_id=execution_id
        ) as shell:
            yield shell


class Driver:
    """One fault type. Stateless: everything it needs is on the host or in the execution."""

    #: the fault's name, as in ``chaoshub/catalog/docker/<name>.yaml``
    name: ClassVar[str] = ""
    #: the kernel feature (from :func:`netns.probe`) the fault needs, if any
    needs: ClassVar[str | None] = None
    #: container states ``discover`` offers for this fault (None: any state)
    states: ClassVar[frozenset[str] | None] = LIVE

    def validate(self, params: Mapping[str, Any]) -> None:
        """Checks beyond the JSON Schema; pure; raise ``InvalidInput``."""

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        raise NotImplementedError

    def status(self, engine: Engine, execution: Execution) -> Observation:
        raise NotImplementedError

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        raise NotImplementedError


def describe(attrs: Mapping[str, Any] | None) -> str:
    """A container's state in the engine's own words, for ``Observation.native``."""
    if attrs is None:
        return "container is gone"
    state = attrs.get("State") or {}
    text = str(state.get("Status") or "unknown")
    if state.get("Paused") and text != "paused":
        text += " (paused)"
    if text == "exited":
        text += f" (exit code {state.get('ExitCode')})"
    return text
