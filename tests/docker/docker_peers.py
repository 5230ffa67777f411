"""Helpers the Docker adapter's tests share: where podman is, and reading state through the API."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from chaoshub.adapters.docker_engine.ledger import LABEL as MARK_LABEL

ROOT = Path(__file__).resolve().parents[2]
PODMAN_DIR = Path(os.environ.get("CHAOSHUB_PODMAN_DIR", "/tmp/chaoshub-podman"))
SETUP = ROOT / "scripts" / "setup.d" / "podman.sh"
BUSYBOX = "localhost/chaoshub-busybox:latest"
TOOLS = "localhost/chaoshub-tools:latest"


def _reachable(url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=url, version="auto", timeout=5)
    except docker.errors.DockerException:
        return False
    client.close()
    return True


def start_podman() -> str:
    """The podman API's URL, starting it (and building the images) when needed."""
    url_file = PODMAN_DIR / "docker-host"
    url = url_file.read_text().strip() if url_file.exists() else ""
    if url and _reachable(url):
        return url
    if shutil.which("podman") is None:
        message = (
            "podman is not installed: apt-get install the packages in scripts/apt-packages.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{SETUP} failed:\n{done.stdout}\n{done.stderr}"
    url = url_file.read_text().strip()
    assert _reachable(url), f"podman API at {url} does not answer"
    return url


def sweep_leftovers(url: str, older_than: float = 3600) -> None:
    """Remove what an interrupted earlier run left (test containers, networks), not a
    concurrent run's: only names of this suite, only when older than ``older_than`` seconds."""
    client = docker.DockerClient(base_url=url, version="auto", timeout=60)
    cutoff = time.time() - older_than
    try:
        for attrs in client.api.containers(all=True):
            name = str((attrs.get("Names") or [""])[0]).lstrip("/")
            if (
                name.startswith(("cht-", "chaoshub-helper-", "chaoshub-stress-"))
                and attrs["Created"] < cutoff
            ):
                remove_container(client, attrs["Id"])
        for network in client.networks.list(filters={"name": "cht-"}):
            created = str(network.attrs.get("Created") or "")[:19]
            if network.name.startswith("cht-") and created and _epoch(created) < cutoff:
                with contextlib.suppress(docker.errors.APIError):
                    network.remove()
    finally:
        client.close()
    # CNI's IPAM folders of this suite's networks that are gone (the network teardown of a
    # container stopping late can write one again after the test removed it)
    for folder in Path("/var/lib/cni/networks").glob("cht-*"):
        if not Path(f"/etc/cni/net.d/{folder.name}.conflist").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _epoch(utc: str) -> float:
    return datetime.strptime(utc, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()


def remove_container(client: docker.DockerClient, cid: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_container(cid, force=True)


def state(client: docker.DockerClient, container_id: str) -> dict[str, Any]:
    """The container's State, read through the API (not through the adapter)."""
    return dict(client.api.inspect_container(container_id)["State"])


def marks_for(client: docker.DockerClient, container_id: str) -> list[str]:
    """The adapter's ledger records about one container (podman ORs label filters: match here)."""
    return [
        v.name
        for v in client.volumes.list(filters={"label": MARK_LABEL})
        if (v.attrs.get("Labels") or {}).get("chaoshub.target") == container_id
    ]
