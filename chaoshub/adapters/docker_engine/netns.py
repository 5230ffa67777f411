"""Running ``tc`` and ``iptables`` inside a container's network namespace.

Two ways, chosen by the backend's ``network_helper``:

- ``sidecar`` (any Docker host, as Pumba does): a short-lived helper container from
  ``helper_image`` joins the target's namespace (``NetworkMode: container:<id>``, ``NET_ADMIN``),
  each command runs through exec, and the helper is force-removed afterwards. Helpers carry
  ``chaoshub.skip=true`` so no selector ever picks them, and end by themselves after
  :data:`HELPER_LIFETIME` in case their worker dies first (:func:`sweep` removes leftovers).
- ``nsenter`` (the worker runs as root on the Docker host): ``nsenter -t <pid> -n`` with the
  host's own tools.

Commands are argv lists, never shell strings. :func:`probe` answers which kernel features
(``sch_netem``, ``sch_tbf``, iptables ``statistic``) exist, in a namespace of its own.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from chaoshub.adapters.docker_engine.config import DockerConfig
from chaoshub.errors import RejectedByTool

log = logging.getLogger("chaoshub.adapters.docker")

HELPER_LABEL = "chaoshub.helper"
#: seconds a helper container lives at most; one inject, status or recover takes a few
HELPER_LIFETIME = 300
#: a helper created but never started is left behind (its worker died between the two
#: calls) only once it is this old; a younger one is another call's, about to start (several
#: statuses of one backend run side by side: the watch's ``status_many``)
CREATED_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        out = (self.stderr or self.stdout).strip()
        return f"`{' '.join(self.argv)}` exited {self.exit_code}: {out}"


class Shell:
    """Runs commands in one network namespace."""

    def run(self, argv: Sequence[str]) -> Result:
        raise NotImplementedError

    def check(self, argv: Sequence[str]) -> Result:
        result = self.run(argv)
        if not result.ok:
            raise RejectedByTool(
                result.describe(), native_code=result.exit_code, native_message=result.stderr
            )
        return result


class _SidecarShell(Shell):
    def __init__(self, helper: docker.models.containers.Container) -> None:
        self.helper = helper

    def run(self, argv: Sequence[str]) -> Result:
        code, (out, err) = self.helper.exec_run(list(argv), demux=True)
        return Result(tuple(argv), int(code or 0), _text(out), _text(err))


class _NsenterShell(Shell):
    def __init__(self, prefix: Sequence[str]) -> None:
        self.prefix = list(prefix)

    def run(self, argv: Sequence[str]) -> Result:
        try:
            proc = subprocess.run([*self.prefix, *argv], capture_output=True, text=True, timeout=60)
        except FileNotFoundError as exc:
            return Result(tuple(argv), 127, "", str(exc))
        return Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def ensure_image(client: docker.DockerClient, image: str, pull: bool) -> None:
    """Make sure ``image`` is present; pull it when allowed. Raises ``RejectedByTool``."""
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        if not pull:
            raise RejectedByTool(
                f"image {image} is not present on the Docker host and pull_images is off"
            ) from None
    client.images.pull(image)


def _same_process(pid: int, container_id: str) -> None:
    """The engine's pid must be that container's process here, or nsenter would enter
    another namespace: a worker not on the Docker host (or not in its pid namespace) sees
    other processes under the same numbers."""
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        cgroups = ""
    if container_id not in cgroups:
        raise RejectedByTool(
            f"process {pid} on this machine is not container {container_id[:12]}: "
            "network_helper nsenter needs the worker on the Docker host, in its pid namespace"
        )


@contextlib.contextmanager
def enter(
    client: docker.DockerClient,
    config: DockerConfig,
    *,
    container_id: str | None,
    execution_id: str = "",
) -> Iterator[Shell]:
    """A shell in ``container_id``'s network namespace, or in a fresh one when None."""
    if config.network_helper == "nsenter":
        if container_id is None:
            yield _NsenterShell(["unshare", "--net", "--"])
            return
        pid = int(client.api.inspect_container(container_id)["State"].get("Pid") or 0)
        if pid <= 0:
            raise RejectedByTool("the container is not running: it has no network namespace")
        _same_process(pid, container_id)
        yield _NsenterShell(["nsenter", "-t", str(pid), "-n", "--"])
        return

    ensure_image(client, config.helper_image, config.pull_images)
    # helpers whose worker died before the ``finally`` below (a SIGKILLed worker) end by
    # themselves after HELPER_LIFETIME; the ended ones are removed here, the others when their
    # execution is recovered. (Not AutoRemove: podman 4.3 races its own clean-up against
    # the removal below and can lose track of other containers' locks.)
    sweep(client, ended_only=True)
    helper = client.containers.create(
        config.helper_image,
        entrypoint=["sleep", str(HELPER_LIFETIME)],
        name=f"chaoshub-helper-{uuid.uuid4().hex[:12]}",
        network_mode=f"container:{container_id}" if container_id else "none",
        cap_add=["NET_ADMIN", "NET_RAW"],
        labels={"chaoshub.skip": "true", HELPER_LABEL: execution_id[:200] or "probe"},
        stop_signal="SIGKILL",
    )
    try:
        helper.start()
        yield _SidecarShell(helper)
    finally:
        try:
            helper.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            log.warning(
                "helper container not removed", extra={"helper": helper.id, "error": str(exc)}
            )


def sweep(
    client: docker.DockerClient,
    *,
    execution_id: str | None = None,
    container_id: str | None = None,
    ended_only: bool = False,
) -> int:
    """Remove helpers left behind (by a killed worker): those of one execution, those in one
    container's namespace, or any that has ended (exited, or created and never started for
    :data:`CREATED_GRACE_SECONDS`); returns how many. No helper of an execution has a use
    once it is recovered, nor of a container about to be removed, nor one that has ended."""
    removed = 0
    filters: dict[str, Any] = {"label": HELPER_LABEL}
    if ended_only:
        filters["status"] = ["exited", "created"]
    for found in client.api.containers(all=True, filters=filters):
        labels = found.get("Labels") or {}
        if execution_id is not None and labels.get(HELPER_LABEL) != execution_id[:200]:
            continue
        if ended_only and found.get("State") not in ("exited", "created"):
            continue
        if (
            ended_only
            and found.get("State") == "created"
            and time.time() - float(found.get("Created") or 0) < CREATED_GRACE_SECONDS
        ):
            continue
        if container_id is not None:
            with contextlib.suppress(docker.errors.NotFound):
                mode = client.api.inspect_container(found["Id"])["HostConfig"]["NetworkMode"]
                if mode != f"container:{container_id}":
                    continue
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.api.remove_container(found["Id"], force=True)
            removed += 1
    if removed:
        log.info(
            "removed helper containers left behind",
            extra={"execution": execution_id, "container": container_id, "count": removed},
        )
    return removed


# -- kernel capability probe -------------------------------------------------------------------

#: feature -> the command that must succeed in a fresh namespace; the qdisc probes are
#: undone after (in sidecar mode one namespace serves every probe; with nsenter each
#: command gets a namespace of its own, so the undo there is a harmless no-op)
_PROBES: dict[str, list[str]] = {
    "netem": ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
    "tbf": ["tc", "qdisc", "add", "dev", "lo", "root", "tbf",
            "rate", "1mbit", "burst", "32kbit", "latency", "100ms"],
    "iptables-statistic": [
        "iptables", "-w", "5", "-A", "INPUT", "-m", "statistic", "--mode", "random",
        "--probability", "0.5", "-m", "comment", "--comment", "chaoshub:probe", "-j", "DROP",
    ],
}  # fmt: skip
_UNDO = ["tc", "qdisc", "del", "dev", "lo", "root"]

_EXPLAIN = {
    "netem": "the kernel has no sch_netem",
    "tbf": "the kernel has no sch_tbf",
    "iptables-statistic": "iptables cannot use the statistic/comment matches",
}

_cache: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}
_cache_lock = threading.Lock()


def probe(client: docker.DockerClient, config: DockerConfig) -> dict[str, str]:
    """Feature -> "" when it works here, else the reason it does not. Cached for probe_ttl."""
    key = (config.base_url, config.network_helper, config.helper_image)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and time.monotonic() - cached[0] < config.probe_ttl:
            return dict(cached[1])
    reasons: dict[str, str] = {}
    try:
        # a namespace of its own, thrown away afterwards: nothing probed here touches a target
        with enter(client, config, container_id=None) as shell:
            for feature, argv in _PROBES.items():
                result = shell.run(argv)
                reasons[feature] = "" if result.ok else f"{_EXPLAIN[feature]} ({result.describe()})"
                if result.ok and argv[0] == "tc":
                    shell.run(_UNDO)
    except (RejectedByTool, docker.errors.APIError) as exc:
        # the helper could not run: the network faults cannot either, the backend may be fine
        reasons = dict.fromkeys(_PROBES, f"cannot probe: {exc}")
    with _cache_lock:
        _cache[key] = (time.monotonic(), reasons)
    return dict(reasons)
