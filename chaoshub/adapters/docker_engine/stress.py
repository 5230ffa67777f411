"""CPU, memory and I/O stress with stress-ng, beside the target or inside it.

``placement: beside`` (the default, as Pumba does): stress-ng runs in a container of its own
from ``stress_image``, under the target's cgroup parent and with copies of the target's CPU
and memory limits, so it cannot take more of the host than the target itself may (a
sibling cgroup, not the target's own). Its name derives from the execution and the
target, so a retried inject finds it. Recovery removes it.

``placement: inside``: stress-ng from the target's own image is started with exec, so it
runs in the target's cgroup and under its limits exactly. It needs ``sh`` and ``stress-ng``
in the target; its pid file (named from the execution) lets any worker find and end it.

Either way stress-ng's own ``--timeout`` (duration + 30 s) ends it even if the hub never
comes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import docker.errors

from chaoshub.adapters.docker_engine.driver import Driver, Engine
from chaoshub.adapters.docker_engine.netns import ensure_image
from chaoshub.contract import Execution, Observation, Observed
from chaoshub.errors import InvalidInput, RejectedByTool

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


# fixed scripts; every value arrives as a positional parameter, never inside the script
_START = 'echo $$ > "$0"; exec "$@" 2> "$0.err"'
# alive = the pid in the file runs stress-ng now: not the shell before its exec, not a
# reused pid, not a zombie
_ALIVE = (
    'p="$(cat "$0" 2>/dev/null)" && [ -n "$p" ]'
    ' && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = stress-ng ]'
    ' && ! grep -q "^State:.*zombie" "/proc/$p/status" 2>/dev/null'
)
_STOP = f'if {_ALIVE}; then kill -TERM "$p"; fi; rm -f "$0" "$0.err"'
# while starting: exit 0 runs stress-ng, 1 not yet (no pid file, or the shell before its
# exec), 2 ended (the exec failed, or stress-ng exited at once)
_STARTING = (
    f'if {_ALIVE}; then exit 0; fi; [ -z "$p" ] && exit 1;'
    ' [ -n "$(cat "/proc/$p/comm" 2>/dev/null)" ] && exit 1; exit 2'
)
_SEEN = 'test -e "$0"'


def _metrics(execution: Execution) -> dict[str, float]:
    p = execution.params
    return {
        "cpu_workers": float(p.get("cpu_workers", 1)),
        "cpu_load_percent": float(p.get("cpu_load_percent", 100)),
        "memory_workers": float(p.get("memory_workers", 0)),
        "memory_mb": float(p.get("memory_mb", 128)),
    }


def _timeout(execution: Execution) -> int:
    planned = execution.duration_seconds or execution.lease_seconds or 600
    return math.ceil(planned) + GRACE


class _Beside:
    """stress-ng in a container of its own next to the target."""

    def find(self, engine: Engine, execution: Execution) -> Any | None:
        try:
            return engine.client.containers.get(sidecar_name(execution))
        except docker.errors.NotFound:
            return None

    def start(self, engine: Engine, execution: Execution, attrs: Mapping[str, Any]) -> Observation:
        existing = self.find(engine, execution)
        if existing is not None:
            if existing.status == "created":  # its worker died between create and start
                existing.start()
                existing.reload()
            observed = self.observe(existing)
            return Observation(observed.state, native=f"{observed.native} (adopted)")
        config = engine.config
        ensure_image(engine.client, config.stress_image, config.pull_images)
        host = attrs.get("HostConfig") or {}
        stressor = engine.client.containers.create(
            config.stress_image,
            entrypoint=[config.stress_command],
            command=stress_args(execution.params, _timeout(execution)),
            name=sidecar_name(execution),
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
        return self.observe(stressor)

    @staticmethod
    def observe(stressor: Any) -> Observation:
        state = stressor.attrs.get("State") or {}
        status = str(state.get("Status") or stressor.status)
        if state.get("Running"):
            return Observation(Observed.INJECTED, native=f"stress-ng {status}")
        if status == "created":
            return Observation(Observed.PENDING, native="stress-ng created, not started")
        code = int(state.get("ExitCode") or 0)
        if code == 0:
            return Observation(Observed.DONE, native=f"stress-ng {status}: reached its timeout")
        return Observation(Observed.FAILED, native=f"stress-ng {status} (exit code {code})")

    def status(self, engine: Engine, execution: Execution) -> Observation:
        stressor = self.find(engine, execution)
        if stressor is None:
            return Observation(Observed.RECOVERED, native="no stressor")
        return self.observe(stressor)

    def stop(self, engine: Engine, execution: Execution) -> Observation:
        stressor = self.find(engine, execution)
        if stressor is None:
            return Observation(Observed.RECOVERED, native="no stressor")
        with contextlib.suppress(docker.errors.NotFound):
            stressor.remove(force=True)
        return Observation(Observed.RECOVERED, native="stressor removed")


class _Inside:
    """stress-ng started by exec in the target, in its cgroup."""

    @staticmethod
    def pidfile(execution: Execution) -> str:
        return f"/tmp/{sidecar_name(execution)}.pid"

    def _sh(self, engine: Engine, execution: Execution, script: str) -> tuple[int, str]:
        argv = ["sh", "-c", script, self.pidfile(execution)]
        code, out = engine.client.containers.get(execution.target.id).exec_run(argv)
        return int(code or 0), (out or b"").decode("utf-8", "replace").strip()

    def start(self, engine: Engine, execution: Execution, attrs: Mapping[str, Any]) -> Observation:
        if self._sh(engine, execution, _ALIVE)[0] == 0:
            return Observation(Observed.INJECTED, native="stress-ng running inside (adopted)")
        args = stress_args(execution.params, _timeout(execution))
        target = engine.client.containers.get(execution.target.id)
        target.exec_run(
            ["sh", "-c", _START, self.pidfile(execution), "stress-ng", *args], detach=True
        )
        for _ in range(30):  # the exec is detached: look until it runs or has ended
            phase = self._sh(engine, execution, _STARTING)[0]
            if phase == 0:
                return Observation(Observed.INJECTED, native="stress-ng running inside")
            if phase == 2:
                break
            time.sleep(0.1)
        _, why = self._sh(engine, execution, 'cat "$0.err"; rm -f "$0" "$0.err"')
        raise RejectedByTool(f"stress-ng did not start inside the container: {why or 'no output'}")

    def status(self, engine: Engine, execution: Execution) -> Observation:
        if self._sh(engine, execution, _ALIVE)[0] == 0:
            return Observation(Observed.INJECTED, native="stress-ng running inside")
        if self._sh(engine, execution, _SEEN)[0] == 0:
            return Observation(Observed.DONE, native="stress-ng ended by itself")
        return Observation(Observed.RECOVERED, native="no stressor")

    def stop(self, engine: Engine, execution: Execution) -> Observation:
        if self._sh(engine, execution, _SEEN)[0] != 0:
            return Observation(Observed.RECOVERED, native="no stressor")
        self._sh(engine, execution, _STOP)
        return Observation(Observed.RECOVERED, native="stress-ng ended")


_PLACEMENTS: dict[str, _Beside | _Inside] = {"beside": _Beside(), "inside": _Inside()}


class Stress(Driver):
    name: ClassVar[str] = "stress"

    def validate(self, params: Mapping[str, Any]) -> None:
        workers = sum(
            int(params.get(k, d))
            for k, d in (("cpu_workers", 1), ("memory_workers", 0), ("io_workers", 0))
        )
        if workers == 0:
            raise InvalidInput("ask for at least one worker", field=["params", "cpu_workers"])

    @staticmethod
    def _placement(execution: Execution) -> _Beside | _Inside:
        return _PLACEMENTS[str(execution.params.get("placement", "beside"))]

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        attrs = engine.inspect_or_raise(execution.target.id)
        if not (attrs.get("State") or {}).get("Running"):
            raise RejectedByTool("the container is not running", native_code=409)
        placement = str(execution.params.get("placement", "beside"))
        data = {
            "container": execution.target.id,
            "stressor": sidecar_name(execution),
            "placement": placement,
        }
        observed = self._placement(execution).start(engine, execution, attrs)
        return data, Observation(
            observed.state, native=observed.native, metrics=_metrics(execution)
        )

    def status(self, engine: Engine, execution: Execution) -> Observation:
        if isinstance(self._placement(execution), _Inside) and not _running(engine, execution):
            return Observation(
                Observed.RECOVERED, native="the container stopped, and stress-ng with it"
            )
        observed = self._placement(execution).status(engine, execution)
        return Observation(observed.state, native=observed.native, metrics=_metrics(execution))

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        if isinstance(self._placement(execution), _Inside) and not _running(engine, execution):
            return Observation(
                Observed.RECOVERED,
                native="container not running",
                messages=("the container stopped or vanished, and stress-ng with it",),
            )
        return self._placement(execution).stop(engine, execution)


def _running(engine: Engine, execution: Execution) -> bool:
    attrs = engine.inspect(execution.target.id)
    return bool(attrs and (attrs.get("State") or {}).get("Running"))
