"""A Docker backend's config: how to reach the engine and which helper images to run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.constants
import docker.tls

from chaoshub.errors import InvalidInput

#: the JSON Schema the hub checks a backend's config against before construction
CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "description": "Docker host: unix:///path/docker.sock, tcp://host:2376 or https://...",
            "default": "unix:///var/run/docker.sock",
        },
        "version": {
            "type": "string",
            "pattern": r"^(auto|\d+\.\d+)$",
            "description": "Engine API version: 'auto' negotiates with GET /version",
            "default": "auto",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "seconds one API call may take",
            "default": 30,
        },
        "tls": {
            "type": "object",
            "additionalProperties": False,
            "description": "TLS for a tcp:// or https:// host",
            "properties": {
                "verify": {"type": "boolean", "default": True},
                "ca_cert": {"type": "string", "description": "path of the CA bundle"},
                "client_cert": {"type": "string", "description": "path of the client cert"},
                "client_key": {
                    "type": "string",
                    "writeOnly": True,
                    "description": "path of the client key",
                },
            },
        },
        "network_helper": {
            "enum": ["sidecar", "nsenter"],
            "description": (
                "how tc/iptables reach a container's network namespace: a helper container "
                "sharing it (any Docker host), or nsenter (the worker runs on the Docker host "
                "as root)"
            ),
            "default": "sidecar",
        },
        "helper_image": {
            "type": "string",
            "description": "image with tc and iptables for the sidecar helper",
            "default": "ghcr.io/alexei-led/pumba-alpine-nettools:latest",
        },
        "stress_image": {
            "type": "string",
            "description": "image with stress-ng, run beside the target",
            "default": "ghcr.io/alexei-led/stress-ng:latest",
        },
        "stress_command": {
            "type": "string",
            "description": "path of stress-ng inside stress_image",
            "default": "/stress-ng",
        },
        "pull_images": {
            "type": "boolean",
            "description": "pull helper and stress images that are not present",
            "default": True,
        },
        "probe_ttl": {
            "type": "number",
            "minimum": 0,
            "description": "seconds a kernel capability probe stays valid",
            "default": 300,
        },
    },
}

#: the oldest Engine API the adapter's calls exist in (Docker 1.13)
MIN_API_VERSION = "1.25"

_REMOTE = re.compile(r"^(tcp|https?)://")


@dataclass(frozen=True)
class DockerConfig:
    base_url: str = "unix:///var/run/docker.sock"
    version: str = "auto"
    timeout: float = 30.0
    tls: Mapping[str, Any] | None = None
    network_helper: str = "sidecar"
    helper_image: str = "ghcr.io/alexei-led/pumba-alpine-nettools:latest"
    stress_image: str = "ghcr.io/alexei-led/stress-ng:latest"
    stress_command: str = "/stress-ng"
    pull_images: bool = True
    probe_ttl: float = 300.0

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> DockerConfig:
        known = {k: v for k, v in config.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def check(self) -> None:
        """Consistency beyond the JSON Schema; pure."""
        if not re.match(r"^(unix|npipe|tcp|https?)://", self.base_url):
            raise InvalidInput(
                "base_url must start with unix://, tcp://, http:// or https://",
                field=["config", "base_url"],
            )
        if self.tls is not None:
            if not _REMOTE.match(self.base_url):
                raise InvalidInput("tls needs a tcp:// or https:// host", field=["config", "tls"])
            if bool(self.tls.get("client_cert")) != bool(self.tls.get("client_key")):
                raise InvalidInput(
                    "client_cert and client_key go together", field=["config", "tls", "client_key"]
                )

    def client(self) -> docker.DockerClient:
        """A client; with ``version='auto'`` this asks the engine (``GET /_ping``, I/O)."""
        if self.version != "auto":
            return self._client(self.version)
        # negotiate as the Docker CLI does: the engine's API-Version header from /_ping,
        # capped at what the SDK speaks (the SDK's own "auto" asks the slower /version)
        probe = self._client(MIN_API_VERSION)
        try:
            answer = probe.api.get(f"{probe.api.base_url}/_ping", timeout=self.timeout)
            answer.raise_for_status()
            server = answer.headers.get("API-Version") or MIN_API_VERSION
        finally:
            probe.close()
        return self._client(
            min(server, docker.constants.DEFAULT_DOCKER_API_VERSION, key=_version_key)
        )

    def _client(self, version: str) -> docker.DockerClient:
        tls: docker.tls.TLSConfig | bool = False
        if self.tls is not None:
            cert = None
            if self.tls.get("client_cert"):
                cert = (str(self.tls["client_cert"]), str(self.tls["client_key"]))
            tls = docker.tls.TLSConfig(
                client_cert=cert,
                ca_cert=self.tls.get("ca_cert"),
                verify=bool(self.tls.get("verify", True)),
            )
        client = docker.DockerClient(
            base_url=self.base_url, version=version, timeout=self.timeout, tls=tls
        )
        if self.tls is not None:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's own CA or
            # verify=False (psf/requests#4726, #3829): the backend's TLS settings must win
            client.api.trust_env = False
        return client


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
