"""The ``docker`` adapter: Pumba's fault set, driven straight through the Docker Engine API."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import docker
import docker.errors
import requests.exceptions

from chaoshub.adapters.docker_engine import containers, netns, network, selection, stress
from chaoshub.adapters.docker_engine.config import CONFIG_SCHEMA, DockerConfig
from chaoshub.adapters.docker_engine.driver import Driver, Engine
from chaoshub.contract import (
    Adapter,
    Capabilities,
    Execution,
    FaultAvailability,
    Handle,
    Health,
    Observation,
    Observed,
    Target,
)
from chaoshub.errors import (
    BackendUnavailable,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

log = logging.getLogger("chaoshub.adapters.docker")

DRIVERS: dict[str, Driver] = {
    d.name: d
    for d in (
        containers.Kill(),
        containers.Stop(),
        containers.Pause(),
        containers.Restart(),
        containers.Remove(),
        network.Delay(),
        network.Loss(),
        network.Duplicate(),
        network.Corrupt(),
        network.Rate(),
        network.IptablesLoss(),
        stress.Stress(),
    )
}

#: engine answers that mean "try again later"; any other 5xx is the engine failing the request
_TRANSIENT = frozenset({502, 503, 504})


class DockerAdapter(Adapter):
    """Faults on containers of one Docker (or Docker-compatible) host."""

    name: ClassVar[str] = "docker"
    capabilities: ClassVar[Capabilities] = Capabilities(faults=frozenset(DRIVERS), pause=True)
    config_schema: ClassVar[Mapping[str, Any]] = CONFIG_SCHEMA
    # order matters: the first matching type wins, and NotFound is an APIError
    error_map: ClassVar[Mapping[type[BaseException], type[HubError]]] = {
        docker.errors.NotFound: NotFound,
        docker.errors.APIError: RejectedByTool,
        requests.exceptions.ConnectionError: BackendUnavailable,
        requests.exceptions.Timeout: BackendUnavailable,
        requests.exceptions.RequestException: BackendUnavailable,  # e.g. /_ping answering 5xx
        docker.errors.TLSParameterError: InvalidInput,  # a cert/key file the config names is missing
        docker.errors.DockerException: BackendUnavailable,
    }

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        self.settings = DockerConfig.from_mapping(self.config)
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        DockerConfig.from_mapping(config).check()

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def translate_errors(self, target: str | None = None) -> Iterator[None]:
        """As the base class, plus the engine's HTTP status: 404 not found, 502-504 retry."""
        with super().translate_errors(target):
            try:
                yield
            except docker.errors.APIError as exc:
                status = exc.status_code
                if status == 404 or isinstance(exc, docker.errors.NotFound):
                    kind: type[HubError] = NotFound
                elif status in _TRANSIENT:
                    kind = BackendUnavailable
                else:
                    kind = RejectedByTool
                message = str(exc.explanation or exc)
                raise kind(message, native_code=status, native_message=message) from exc

    def _engine(self) -> Engine:
        with self._lock:
            if self._client is None:
                self._client = self.settings.client()
            return Engine(self._client, self.settings)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _driver(self, fault: str) -> Driver:
        try:
            return DRIVERS[fault]
        except KeyError:
            raise InvalidInput(
                f"the docker adapter has no fault {fault!r}", field=["fault"]
            ) from None

    # -- the contract --------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        driver = self._driver(fault)
        selection.parse(selector)
        driver.validate(params)

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        driver = self._driver(fault)
        sel = selection.parse(selector)
        with self.translate_errors():
            engine = self._engine()
            filters = {"label": sel.label_filters} if sel.labels else None
            listed = engine.containers(filters)
            chosen = selection.choose(sel, listed, states=driver.states)
        return [
            Target(
                id=str(attrs["Id"]),
                label=selection.container_name(attrs),
                attributes={
                    "name": selection.container_name(attrs),
                    "image": attrs.get("Image", ""),
                    "state": attrs.get("State", ""),
                    "labels": dict(attrs.get("Labels") or {}),
                },
            )
            for attrs in chosen
        ]

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        driver = self._driver(execution.fault)
        driver.validate(execution.params)
        with self.translate_errors(execution.target.id):
            engine = self._engine()
            attrs = engine.inspect(execution.target.id)
            if attrs is not None and selection.is_skipped(
                (attrs.get("Config") or {}).get("Labels")
            ):
                raise RejectedByTool(
                    "the container is labelled to be skipped (chaoshub.skip=true)", native_code=403
                )
            if driver.needs:
                reason = netns.probe(engine.client, self.settings).get(driver.needs, "")
                if reason:
                    raise RejectedByTool(
                        f"{execution.fault} is not available on this host: {reason}"
                    )
            data, observation = driver.inject(engine, execution)
        log.info(
            "injected",
            extra={
                "fault": execution.fault,
                "execution": execution.id,
                "target": execution.target.id,
            },
        )
        return data, observation

    def status(self, handle: Handle) -> Observation:
        execution = handle.execution
        driver = self._driver(execution.fault)
        with self.translate_errors(execution.target.id):
            return driver.status(self._engine(), execution)

    def recover(self, handle: Handle) -> Observation:
        execution = handle.execution
        driver = self._driver(execution.fault)
        target = execution.target.id
        try:
            with self.translate_errors(target):
                engine = self._engine()
                try:
                    observation = driver.recover(engine, execution, handle.data)
                except docker.errors.NotFound:
                    if engine.inspect(target) is not None:
                        raise
                    # removed between two calls: nothing of the fault can remain on it
                    return Observation(
                        Observed.RECOVERED,
                        native="container is gone",
                        messages=("the container vanished during recovery",),
                    )
        except (RejectedByTool, NotFound) as exc:
            raise RecoveryFailed(
                f"could not revert {execution.fault}: {exc.message}",
                adapter=self.name,
                backend=self.backend,
                target=target,
                native_code=exc.native_code,
                native_message=exc.native_message,
            ) from exc
        log.info(
            "recovered",
            extra={"fault": execution.fault, "execution": execution.id, "target": target},
        )
        return observation

    def health(self) -> Health:
        try:
            with self.translate_errors():
                engine = self._engine()
                info = engine.client.version()
                reasons = netns.probe(engine.client, self.settings)
                stress_reason = self._image_reason(engine, self.settings.stress_image)
        except HubError as exc:
            return Health(ok=False, message=str(exc))
        faults: dict[str, FaultAvailability] = {}
        for name, driver in sorted(DRIVERS.items()):
            reason = reasons.get(driver.needs, "") if driver.needs else ""
            faults[name] = FaultAvailability(available=not reason, reason=reason)
        if stress_reason:
            # placement inside needs no image, only stress-ng in the target's own
            faults[stress.Stress.name] = FaultAvailability(
                available=True,
                reason=f"placement beside is unavailable ({stress_reason}); "
                "placement inside works where the target ships stress-ng",
            )
        engine_name = next(
            (
                c.get("Name", "")
                for c in info.get("Components") or []
                if "Engine" in str(c.get("Name"))
            ),
            "Docker Engine",
        )
        version = f"{info.get('Version', '?')} (API {engine.client.api.api_version})"
        return Health(
            ok=True,
            version=version,
            message=f"{engine_name} at {self.settings.base_url}",
            faults=faults,
        )

    def _image_reason(self, engine: Engine, image: str) -> str:
        if self.settings.pull_images:
            return ""
        try:
            engine.client.images.get(image)
        except docker.errors.ImageNotFound:
            return f"image {image} is not present on the Docker host and pull_images is off"
        return ""
