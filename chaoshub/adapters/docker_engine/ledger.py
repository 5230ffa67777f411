"""What this adapter did to a container, recorded on the Docker host itself.

The engine keeps no notes of its own on a container (labels are fixed at creation), yet
recovery must know "was this container paused/stopped *by this execution*?" from any
worker, with or without the stored handle. Each state change is therefore recorded as a
small labelled volume, named from the execution id and the container id, created before
the change and removed on recovery:

- a retried inject finds its record and adopts instead of acting twice;
- ``recover`` with ``handle.data`` None finds it by name;
- a container paused by someone else has no record of ours, so it is neither adopted nor
  unpaused;
- if a record was pruned away (``podman volume prune`` removes unused named volumes; Docker
  23+ keeps named ones unless ``--all``), recovery trusts the stored handle instead, as
  long as no other execution claims the container.

Records of instant faults (nothing to recover) carry an expiry and are pruned by later
injections. Operators see them as ``chaoshub-mark-*`` volumes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

PREFIX = "chaoshub-mark-"
LABEL = "chaoshub.mark"


@dataclass(frozen=True)
class Mark:
    name: str
    fault: str
    data: Mapping[str, Any]


def mark_name(execution_id: str, container_id: str) -> str:
    digest = hashlib.sha256(f"{execution_id}\0{container_id}".encode()).hexdigest()
    return PREFIX + digest[:40]


class Ledger:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def find(self, execution_id: str, container_id: str) -> Mark | None:
        name = mark_name(execution_id, container_id)
        try:
            volume = self.client.volumes.get(name)
        except docker.errors.NotFound:
            return None
        labels = volume.attrs.get("Labels") or {}
        return Mark(
            name, labels.get("chaoshub.fault", ""), json.loads(labels.get("chaoshub.data") or "{}")
        )

    def record(
        self,
        execution_id: str,
        container_id: str,
        fault: str,
        data: Mapping[str, Any],
        *,
        keep_seconds: float,
    ) -> Mark:
        name = mark_name(execution_id, container_id)
        self.client.volumes.create(
            name=name,
            labels={
                LABEL: "true",
                "chaoshub.execution": execution_id[:200],
                "chaoshub.target": container_id,
                "chaoshub.fault": fault,
                "chaoshub.data": json.dumps(dict(data), sort_keys=True),
                "chaoshub.expires": str(int(time.time() + keep_seconds)),
            },
        )
        return Mark(name, fault, data)

    def marks_on(self, container_id: str) -> list[Mark]:
        """Every execution's record about one container (filtered here: podman ORs labels)."""
        found = []
        for volume in self.client.volumes.list(filters={"label": LABEL}):
            labels = volume.attrs.get("Labels") or {}
            if labels.get("chaoshub.target") == container_id:
                data = json.loads(labels.get("chaoshub.data") or "{}")
                found.append(Mark(volume.name, labels.get("chaoshub.fault", ""), data))
        return found

    def forget(self, execution_id: str, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.volumes.get(mark_name(execution_id, container_id)).remove(force=True)

    def prune(self) -> int:
        """Remove records past their expiry; returns how many."""
        now = time.time()
        removed = 0
        for volume in self.client.volumes.list(filters={"label": LABEL}):
            expires = (volume.attrs.get("Labels") or {}).get("chaoshub.expires", "")
            if expires.isdigit() and int(expires) < now:
                try:
                    volume.remove(force=True)
                    removed += 1
                except docker.errors.NotFound:
                    pass
        return removed
