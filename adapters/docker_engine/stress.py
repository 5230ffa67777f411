"""CPU, memory and I/O stress with stress-ng in a container beside the target.

The stressor runs from ``stress_image`` under the target's cgroup parent and with copies of
the target's CPU and memory limits, so it cannot take more of the host than the target
itself may (it is a sibling cgroup, not the target's own). Its name derives from the
execution and the target, so a retried inject finds it, and stress-ng's own ``--timeout``
(duration + 30 s) ends it even if the hub never comes back. Recovery removes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import docker.errors

from adapters.docker_engine.driver import Driver, Engine
from adapters.docker_engine.netns import ensure_image
from hub.contract import Execution, Observation, Observed
from hub.errors import InvalidInput, RejectedByTool

#: seconds stress-ng outlives the planned duration before ending by itself
GRACE = 30


def sidecar_name(execution: Execution) -> str:
    digest = hashlib.sha256(f"{execution.id}\0{execution.target.id}".encode()).hexdigest()
    return f"chaoshub-stress-{digest[:24]}"


def stress_args(params: Mapping[str, Any], timeout: int) -> list[str]:
    args: list[str] = []
    if int(params.get("cpu_workers", 1)):
        args += ["--cpu", str(int(params.get("cpu_workers", 1)))]
        args += ["--cpu-load", str(int(params.get("cpu_load_percent", 100)))]
    if int(params.get("memory_workers", 0)):
        args += ["--vm", str(int(params["memory_workers"]))]
        args += ["--vm-bytes", f"{int(params.get('memory_mb', 128))}M"]
    if int(params.get("io_workers", 0)):
        args += ["--io", str(int(params["io_workers"]))]
    return [*args, "--timeout", f"{timeout}s", "--metrics-brief"]


def _cpu_limit(host: Mapping[str, Any]) -> dict[str, int]:
    """The target's CPU limit, in the one form the engine accepts back (not both)."""
    if host.get("NanoCpus"):
        return {"nano_cpus": int(host["NanoCpus"])}
    if host.get("CpuQuota"):
        return {
            "cpu_quota": int(host["CpuQuota"]),
            "cpu_period": int(host.get("CpuPeriod") or 100_000),
        }
    return {}


class Stress(Driver):
    name: ClassVar[str] = "stress"

    def validate(self, params: Mapping[str, Any]) -> None:
        workers = sum(
            int(params.get(k, d))
            for k, d in (("cpu_workers", 1), ("memory_workers", 0), ("io_workers", 0))
        )
        if workers == 0:
            raise InvalidInput("ask for at least one worker", field=["params", "cpu_workers"])

    def _find(self, engine: Engine, execution: Execution) -> Any | None:
        try:
            return engine.client.containers.get(sidecar_name(execution))
        except docker.errors.NotFound:
            return None

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        name = sidecar_name(execution)
        data = {"container": execution.target.id, "stressor": name}
        existing = self._find(engine, execution)
        if existing is not None:
            observed = self._observe(existing)
            return data, Observation(
                observed.state,
                native=f"{observed.native} (adopted)",
                metrics=self._metrics(execution),
            )
        attrs = engine.inspect_or_raise(execution.target.id)
        if not (attrs.get("State") or {}).get("Running"):
            raise RejectedByTool("the container is not running", native_code=409)
        config = engine.config
        ensure_image(engine.client, config.stress_image, config.pull_images)
        planned = execution.duration_seconds or execution.lease_seconds or 600
        host = attrs.get("HostConfig") or {}
        stressor = engine.client.containers.create(
            config.stress_image,
            entrypoint=[config.stress_command],
            command=stress_args(execution.params, math.ceil(planned) + GRACE),
            name=name,
            labels={
                "chaoshub.skip": "true",
                "chaoshub.helper": execution.id[:200],
                "chaoshub.target": execution.target.id,
            },
            network_mode="none",
            cgroup_parent=host.get("CgroupParent") or None,
            cpuset_cpus=host.get("CpusetCpus") or None,
            mem_limit=host.get("Memory") or None,
            **_cpu_limit(host),
        )
        try:
            stressor.start()
        except BaseException:
            stressor.remove(force=True)
            raise
        stressor.reload()
        return data, Observation(
            Observed.INJECTED,
            native=self._observe(stressor).native,
            metrics=self._metrics(execution),
        )

    @staticmethod
    def _metrics(execution: Execution) -> dict[str, float]:
        p = execution.params
        return {
            "cpu_workers": float(p.get("cpu_workers", 1)),
            "cpu_load_percent": float(p.get("cpu_load_percent", 100)),
            "memory_workers": float(p.get("memory_workers", 0)),
            "memory_mb": float(p.get("memory_mb", 128)),
        }

    @staticmethod
    def _observe(stressor: Any) -> Observation:
        state = stressor.attrs.get("State") or {}
        status = str(state.get("Status") or stressor.status)
        if state.get("Running"):
            return Observation(Observed.INJECTED, native=f"stress-ng {status}")
        code = int(state.get("ExitCode") or 0)
        if code == 0:
            return Observation(Observed.DONE, native=f"stress-ng {status}: reached its timeout")
        return Observation(Observed.FAILED, native=f"stress-ng {status} (exit code {code})")

    def status(self, engine: Engine, execution: Execution) -> Observation:
        stressor = self._find(engine, execution)
        if stressor is None:
            return Observation(Observed.RECOVERED, native="no stressor")
        observed = self._observe(stressor)
        return Observation(observed.state, native=observed.native, metrics=self._metrics(execution))

    def recover(self, engine: Engine, execution: Execution) -> Observation:
        stressor = self._find(engine, execution)
        if stressor is None:
            return Observation(Observed.RECOVERED, native="no stressor")
        with contextlib.suppress(docker.errors.NotFound):
            stressor.remove(force=True)
        return Observation(Observed.RECOVERED, native="stressor removed")
