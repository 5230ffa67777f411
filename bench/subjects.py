"""The targets the benchmarks hit, what a direct call to each tool looks like, and how the
fault is seen from outside the hub.

Each subject owns a target and the tool in front of it for the length of a ``with`` block:

- ``native``: a ``sleep`` process, paused by a native injector (``native/process-pause``);
  seen as state ``T`` in ``/proc/<pid>/stat``; the direct call is ``POST /v1/inject`` to
  an injector of the benchmark's own;
- ``toxiproxy``: a proxy on the fake Toxiproxy server of ``tests/toxiproxy`` (the real
  server cannot be installed here), ``toxiproxy/latency``; seen in ``GET .../toxics``; the
  direct call is ``POST /proxies/<p>/toxics``;
- ``docker``: a busybox container on podman's Docker API, ``docker/container-pause``; seen
  as ``State.Paused`` in ``GET /containers/<id>/json``; the direct call is ``POST .../pause``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx

from bench.hubs import Hub
from tests.docker.docker_peers import BUSYBOX, TOOLS, remove_container, start_podman
from tests.native.native_peers import Injector, proc_state
from tests.toxiproxy.toxiproxy_peers import Upstream, fake_toxiproxy

CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { name } ... on Error { code message field } } }"""


class Subject:
    adapter: str = ""
    fault_type: str = ""
    params: dict[str, Any] = {}

    def backend(self, hub: Hub) -> str:
        """The backend runs on ``hub`` go to (created on first use)."""
        raise NotImplementedError

    def selector(self, hub: Hub) -> dict[str, Any]:
        raise NotImplementedError

    def injected(self) -> bool:
        raise NotImplementedError

    def clean(self) -> bool:
        raise NotImplementedError

    def direct_inject(self) -> None:
        raise NotImplementedError

    def direct_recover(self) -> None:
        raise NotImplementedError

    def _create_backend(self, hub: Hub, config: dict[str, Any]) -> str:
        name = f"bench-{self.adapter}-{uuid.uuid4().hex[:6]}"
        made = hub.gql(
            CREATE_BACKEND, input={"name": name, "adapter": self.adapter, "config": config}
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        return name


class NativePause(Subject):
    adapter = "native"
    fault_type = "native/process-pause"

    def __init__(self, sleeper: subprocess.Popen[bytes], injector: Injector) -> None:
        self.pid = sleeper.pid
        self.api = injector.client()
        found = self.api.post(
            "/v1/discover", json={"fault": "process-pause", "selector": {"pid": self.pid}}
        )
        found.raise_for_status()
        self.target = found.json()["targets"][0]
        self.execution = ""

    def backend(self, hub: Hub) -> str:
        return "native"

    def selector(self, hub: Hub) -> dict[str, Any]:
        return {"agents": [hub.agent], "pid": self.pid}

    def injected(self) -> bool:
        return proc_state(self.pid) == "T"

    def clean(self) -> bool:
        return proc_state(self.pid) != "T"

    def direct_inject(self) -> None:
        self.execution = f"direct-{uuid.uuid4().hex[:10]}"
        answer = self.api.post(
            "/v1/inject",
            json={
                "execution_id": self.execution,
                "fault": "process-pause",
                "params": {},
                "target": self.target,
                "lease_seconds": 120,
            },
        )
        answer.raise_for_status()

    def direct_recover(self) -> None:
        self.api.post("/v1/recover", json={"execution_id": self.execution}).raise_for_status()


class ToxiproxyLatency(Subject):
    adapter = "toxiproxy"
    fault_type = "toxiproxy/latency"
    params = {"latency": 100}

    def __init__(self, url: str, proxy: str) -> None:
        self.url = url
        self.proxy = proxy
        self.api = httpx.Client(base_url=url, timeout=10)
        self._backends: dict[str, str] = {}

    def backend(self, hub: Hub) -> str:
        if hub.url not in self._backends:
            self._backends[hub.url] = self._create_backend(hub, {"url": self.url})
        return self._backends[hub.url]

    def selector(self, hub: Hub) -> dict[str, Any]:
        return {"names": [self.proxy]}

    def toxics(self) -> list[dict[str, Any]]:
        answer = self.api.get(f"/proxies/{self.proxy}/toxics")
        answer.raise_for_status()
        return list(answer.json())

    def injected(self) -> bool:
        return bool(self.toxics())

    def clean(self) -> bool:
        return not self.toxics()

    def direct_inject(self) -> None:
        self.api.post(
            f"/proxies/{self.proxy}/toxics",
            json={"name": "direct", "type": "latency", "attributes": {"latency": 100}},
        ).raise_for_status()

    def direct_recover(self) -> None:
        self.api.delete(f"/proxies/{self.proxy}/toxics/direct").raise_for_status()


class DockerPause(Subject):
    adapter = "docker"
    fault_type = "docker/container-pause"

    def __init__(self, base_url: str, client: docker.DockerClient, container: Any) -> None:
        self.base_url = base_url
        self.client = client
        self.container_id = container.id
        self.name = container.name
        self._backends: dict[str, str] = {}

    def backend(self, hub: Hub) -> str:
        if hub.url not in self._backends:
            self._backends[hub.url] = self._create_backend(hub, docker_config(self.base_url))
        return self._backends[hub.url]

    def selector(self, hub: Hub) -> dict[str, Any]:
        return {"names": [self.name]}

    def paused(self) -> bool:
        return bool(self.client.api.inspect_container(self.container_id)["State"].get("Paused"))

    def injected(self) -> bool:
        return self.paused()

    def clean(self) -> bool:
        return not self.paused()

    def direct_inject(self) -> None:
        self.client.api.pause(self.container_id)

    def direct_recover(self) -> None:
        self.client.api.unpause(self.container_id)


def docker_config(base_url: str) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "helper_image": TOOLS,
        "stress_image": TOOLS,
        "stress_command": "/usr/bin/stress-ng",
        "pull_images": False,
    }


@contextlib.contextmanager
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", f"3600.{secrets.randbelow(10**6):06d}"])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait()


@contextlib.contextmanager
def native() -> Iterator[NativePause]:
    with sleeper() as proc, tempfile.TemporaryDirectory(prefix="chaoshub-bench-inj-") as d:
        injector = Injector(Path(d)).start()
        try:
            subject = NativePause(proc, injector)
            yield subject
            subject.api.close()
        finally:
            injector.stop()


@contextlib.contextmanager
def toxiproxy() -> Iterator[ToxiproxyLatency]:
    with (
        tempfile.TemporaryDirectory(prefix="chaoshub-bench-toxi-") as d,
        fake_toxiproxy(Path(d) / "server.log") as server,
        Upstream() as upstream,
    ):
        name = f"bench-{uuid.uuid4().hex[:6]}"
        made = httpx.post(
            f"{server.url}/proxies",
            json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream.address},
            timeout=10,
        )
        made.raise_for_status()
        subject = ToxiproxyLatency(server.url, name)
        yield subject
        subject.api.close()


@contextlib.contextmanager
def docker_engine() -> Iterator[DockerPause]:
    base_url = start_podman()
    client = docker.DockerClient(base_url=base_url, version="auto", timeout=60)
    container = client.containers.run(
        BUSYBOX, ["sleep", "3600"], name=f"chb-{uuid.uuid4().hex[:6]}", detach=True
    )
    container.reload()
    try:
        yield DockerPause(base_url, client, container)
    finally:
        remove_container(client, container.id)
        client.close()


SUBJECTS = {"native": native, "toxiproxy": toxiproxy, "docker": docker_engine}
