"""Resource stress with ``stress-ng``: ``cpu-stress``, ``memory-stress``, ``io-stress``.

stress-ng runs in its own session with the execution id in its environment, so its
workers are found and stopped even when the injector crashed before storing the pid.
It is given no timeout of its own: the lease decides when it ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context, Fault, writable_directory
from chaoshub.native_injector.problems import InvalidRequest, Rejected
from chaoshub.native_injector.state import Record

#: stress-ng that has not failed within this long is taken as started
_STARTUP_SECONDS = 0.4

# children this process started, kept so they are reaped once stopped
_children: dict[int, subprocess.Popen[bytes]] = {}


class _Stress(Fault):
    requires = ("stress-ng",)

    def argv(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        """stress-ng's arguments for ``params`` and the values they apply."""
        raise NotImplementedError

    def apply(self, record: Record, ctx: Context) -> None:
        args, metrics = self.argv(record.params)
        logs = ctx.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"{self.name}-{os.getpid()}-{int(time.time() * 1000)}.log"
        env = {**os.environ, system.MARKER_ENV: record.execution_id}
        binary = shutil.which("stress-ng") or "stress-ng"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [binary, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        info = system.process(proc.pid)
        record.applied = {
            "pid": proc.pid,
            "starttime": info.starttime if info else None,
            "log": str(log_path),
        }
        ctx.save(record)
        try:
            proc.wait(timeout=_STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            record.metrics = metrics
            record.native = f"stress-ng {' '.join(args)} running as pid {proc.pid}"
            return
        _children.pop(proc.pid, None)
        said = log_path.read_text(errors="replace").strip()[-500:]
        raise Rejected(f"stress-ng exited {proc.returncode} at start: {said}")

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        pid = record.applied.get("pid")
        if pid is None:
            return False, "stress-ng was not started"
        child = _children.get(int(pid))
        if child is not None and child.poll() is not None:
            return False, f"stress-ng exited {child.returncode}"
        if system.same_process(int(pid), record.applied.get("starttime")) is None:
            return False, "stress-ng has exited"
        return True, f"stress-ng running as pid {pid}"

    def revert(self, record: Record, ctx: Context) -> None:
        # workers rewrite their environment (process titles) but stay in the leader's session
        leaders = set(system.marked_pids(record.execution_id))
        pid = record.applied.get("pid")
        if pid is not None:
            leaders.add(int(pid))
        pids = {m for leader in leaders for m in system.session_members(leader)}
        system.terminate(sorted(pids))
        if pid is not None and (child := _children.pop(int(pid), None)) is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        if record.applied.get("log"):
            Path(record.applied["log"]).unlink(missing_ok=True)


class CpuStress(_Stress):
    name = "cpu-stress"

    def argv(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        workers = int(params["workers"]) or (os.cpu_count() or 1)
        load = int(params["load_percent"])
        args = ["--cpu", str(workers), "--cpu-load", str(load)]
        return args, {"workers": float(workers), "load_percent": float(load)}


class MemoryStress(_Stress):
    name = "memory-stress"

    def argv(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        if (params.get("bytes") is None) == (params.get("percent") is None):
            raise InvalidRequest("give exactly one of bytes and percent", field=["params", "bytes"])
        total = params.get("bytes") or int(
            system.meminfo()["MemTotal"] * float(params["percent"]) / 100
        )
        workers = int(params["workers"])
        per_worker = max(4096, int(total) // workers)
        # --vm-hang 0: touch the memory once, then hold it without burning CPU
        args = ["--vm", str(workers), "--vm-bytes", f"{per_worker}b", "--vm-keep", "--vm-hang", "0"]
        return args, {"bytes": float(per_worker * workers), "workers": float(workers)}


class IoStress(_Stress):
    name = "io-stress"

    def check_params(self, params: dict[str, Any], ctx: Context) -> None:
        writable_directory(params.get("path"), "path")

    def argv(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        path = writable_directory(params.get("path"), "path")
        workers = int(params["workers"])
        per_worker = int(params["bytes_per_worker"])
        args = ["--hdd", str(workers), "--hdd-bytes", f"{per_worker}b", "--temp-path", str(path)]
        return args, {"workers": float(workers), "bytes_per_worker": float(per_worker)}
