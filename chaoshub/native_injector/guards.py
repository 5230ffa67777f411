"""Host guards: how hard a fault may hit this host, as the agent's owner set it.

Three limits, each a flag of ``chaoshub-injector``: the free disk space a fill (or the
files of io-stress) must leave, the available memory memory-stress must leave, and the
stress-ng workers that may run at once. The injector checks them at every inject against
the host as it is then; it reports them with the measurements in ``describe``/``health``,
and the hub runs the same :func:`refusal` on those before it stores a run.

This module is pure (no I/O but :func:`measure` and :func:`disk_at`), so the hub imports it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

MiB = 1 << 20

#: the faults that start stress-ng workers
STRESS_FAULTS = frozenset({"cpu-stress", "memory-stress", "io-stress"})

# filesystems that hold no data a fill could exhaust
_PSEUDO_FS = frozenset(
    {
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "devpts",
        "mqueue",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "hugetlbfs",
        "autofs",
        "binfmt_misc",
        "nsfs",
        "rpc_pipefs",
        "efivarfs",
    }
)
#: filesystems reported at most (a host with many container mounts has hundreds)
MAX_FILESYSTEMS = 64


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Guards:
    """The owner's limits; the free space left is the larger of the percent and bytes."""

    min_free_disk_percent: float = 10.0
    min_free_disk_bytes: int = 0
    memory_headroom_percent: float = 10.0
    memory_headroom_bytes: int = 256 * MiB
    max_stressors: int = 0  # 0: twice the online CPUs

    def __post_init__(self) -> None:
        if not 0 <= self.min_free_disk_percent <= 100:
            raise ValueError("min_free_disk_percent is 0 to 100")
        if not 0 <= self.memory_headroom_percent <= 100:
            raise ValueError("memory_headroom_percent is 0 to 100")
        if min(self.min_free_disk_bytes, self.memory_headroom_bytes, self.max_stressors) < 0:
            raise ValueError("byte and stressor limits are not negative")
        if not self.max_stressors:
            object.__setattr__(self, "max_stressors", 2 * _cpus())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Guards:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def disk_reserve(self, total: int) -> int:
        return max(self.min_free_disk_bytes, int(total * self.min_free_disk_percent / 100))

    def memory_reserve(self, total: int) -> int:
        return max(self.memory_headroom_bytes, int(total * self.memory_headroom_percent / 100))


@dataclass(frozen=True)
class Host:
    """What the guards are checked against, measured now."""

    cpus: int
    memory_total_bytes: int
    memory_available_bytes: int
    stressors_running: int = 0


@dataclass(frozen=True)
class Disk:
    """One filesystem's size and the space an unprivileged writer may still use."""

    mount: str
    total_bytes: int
    free_bytes: int


def _size(n: float) -> str:
    return f"{n / MiB:.1f} MiB" if abs(n) < 1 << 30 else f"{n / (1 << 30):.2f} GiB"


def stress_workers(fault: str, params: Mapping[str, Any], cpus: int) -> int:
    """The stress-ng workers ``params`` start (cpu-stress 0 means one per CPU)."""
    if fault not in STRESS_FAULTS:
        return 0
    return int(params.get("workers") or 0) or (cpus if fault == "cpu-stress" else 1)


def refusal(
    guards: Guards,
    fault: str,
    params: Mapping[str, Any],
    host: Host,
    disk: Disk | None,
) -> tuple[str, str] | None:
    """The param a guard refuses and why, or ``None``; ``disk`` is the filesystem holding
    ``params["path"]`` (``None``: unknown, not checked)."""
    workers = stress_workers(fault, params, host.cpus)
    if workers and host.stressors_running + workers > guards.max_stressors:
        return "workers", (
            f"{workers} stress worker(s) beside the {host.stressors_running} running would exceed "
            f"this agent's --max-stressors {guards.max_stressors}"
        )
    if fault == "memory-stress":
        key = "bytes" if params.get("bytes") is not None else "percent"
        wanted = (
            int(params["bytes"])
            if key == "bytes"
            else int(host.memory_total_bytes * float(params.get("percent") or 0) / 100)
        )
        reserve = guards.memory_reserve(host.memory_total_bytes)
        allowed = max(0, host.memory_available_bytes - reserve)
        if wanted > allowed:
            return key, (
                f"holding {_size(wanted)} would leave less than this agent's memory headroom of "
                f"{_size(reserve)} available ({_size(host.memory_available_bytes)} is available "
                f"now): at most {_size(allowed)}"
            )
    if disk is not None and fault in ("disk-fill", "io-stress"):
        if fault == "disk-fill":
            key = "bytes" if params.get("bytes") is not None else "percent"
            wanted = (
                int(params["bytes"])
                if key == "bytes"
                else int(disk.total_bytes * float(params.get("percent") or 0) / 100)
            )
        else:
            key = "bytes_per_worker"
            wanted = workers * int(params.get("bytes_per_worker") or 0)
        reserve = guards.disk_reserve(disk.total_bytes)
        allowed = max(0, disk.free_bytes - reserve)
        if wanted > allowed:
            return key, (
                f"writing {_size(wanted)} on {disk.mount} would leave less than this agent's "
                f"minimum of {_size(reserve)} free ({_size(disk.free_bytes)} is free now): "
                f"at most {_size(allowed)}"
            )
    return None


def containing(filesystems: Sequence[Disk], path: str) -> Disk | None:
    """The reported filesystem a path lies on, by its mount point (the longest prefix);
    symbolic links are not followed here: the agent checks again on the real path."""
    clean = posixpath.normpath(path)
    best: Disk | None = None
    for fs in filesystems:
        mount = fs.mount.rstrip("/") or "/"
        inside = mount == "/" or clean == mount or clean.startswith(mount + "/")
        if inside and (best is None or len(mount) > len(best.mount.rstrip("/") or "/")):
            best = fs
    return best


# -- measuring (the agent only) ----------------------------------------------------------------


def disk_at(path: str) -> Disk | None:
    """The filesystem holding directory ``path`` now, or ``None`` when it is no directory."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return Disk(path, st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)


def filesystems() -> list[Disk]:
    """The data-holding mounted filesystems, for the hub to check disk guards on."""
    out: dict[str, Disk] = {}
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or parts[2] in _PSEUDO_FS:
            continue
        mount = parts[1].replace("\\040", " ")
        disk = disk_at(mount)
        if disk is not None and disk.total_bytes > 0:
            out[mount] = disk  # a later mount on the same point hides the earlier
        if len(out) >= MAX_FILESYSTEMS:
            break
    return list(out.values())


def measure(stressors_running: int) -> Host:
    mem: dict[str, int] = {}
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            mem[key] = int(rest.split()[0]) * 1024
    return Host(
        _cpus(), mem["MemTotal"], mem.get("MemAvailable", mem["MemFree"]), stressors_running
    )


def report(guards: Guards, host: Host, disks: Sequence[Disk]) -> dict[str, Any]:
    """The ``guards`` and ``host`` of a describe/health answer."""
    return {
        "guards": guards.as_dict(),
        "host": {**asdict(host), "filesystems": [asdict(d) for d in disks]},
    }


def from_report(data: Mapping[str, Any]) -> tuple[Guards, Host, list[Disk]] | None:
    """The inverse of :func:`report`, from a server's answer; ``None`` when it has none."""
    guards, host = data.get("guards"), data.get("host")
    if not isinstance(guards, Mapping) or not isinstance(host, Mapping):
        return None
    try:
        disks = [
            Disk(str(d["mount"]), int(d["total_bytes"]), int(d["free_bytes"]))
            for d in host.get("filesystems") or ()
        ]
        measured = Host(
            int(host["cpus"]),
            int(host["memory_total_bytes"]),
            int(host["memory_available_bytes"]),
            int(host.get("stressors_running") or 0),
        )
        return Guards.from_dict(guards), measured, disks
    except (KeyError, TypeError, ValueError):
        return None
