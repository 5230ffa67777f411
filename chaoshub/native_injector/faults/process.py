"""Process faults: ``process-kill`` (instant) and ``process-pause`` (SIGSTOP/SIGCONT).

A target is one process, named by its pid and its start time, so a pid the kernel
reused for another process is never signalled by mistake. PID 1, the injector itself
and its parent (the embedded hub starts it as a child) are left out unless the selector
says ``include_protected``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import model_validator

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context, Fault, Selector
from chaoshub.native_injector.problems import InvalidRequest, Missing, Rejected
from chaoshub.native_injector.state import Record
from chaoshub.patterns import PatternError, compile_pattern

_SETTLE_SECONDS = 5.0


def _settles(info: system.ProcessInfo, done: Callable[[str], bool]) -> bool:
    """Wait until the process' state satisfies ``done`` (or it is gone). A signal usually
    takes effect within a millisecond or two (when the process is next scheduled), so the
    state is read again after 0.5 ms, then at intervals doubling up to 10 ms."""
    deadline = time.monotonic() + _SETTLE_SECONDS
    pause = 0.0005
    while True:
        now = system.same_process(info.pid, info.starttime)
        if now is None or done(now.state):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


class ProcessSelector(Selector):
    pid: int | None = None
    name: str | None = None  # exact: the kernel's short name or argv[0]'s basename
    pattern: str | None = None  # a regular expression searched in the command line
    include_protected: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> ProcessSelector:
        given = [k for k in ("pid", "name", "pattern") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of pid, name, pattern")
        if self.pattern is not None:
            try:
                compile_pattern(self.pattern)
            except PatternError as exc:
                raise ValueError(f"bad pattern: {exc}") from exc
        return self


def _target(info: system.ProcessInfo, protected_ok: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "kind": "process",
        "pid": info.pid,
        "name": info.name,
        "starttime": info.starttime,
        "command": info.command[:300],
    }
    if protected_ok:
        attributes["include_protected"] = True
    return {"id": str(info.pid), "label": f"{info.name} ({info.pid})", "attributes": attributes}


def _protected(pid: int) -> str:
    return (
        f"process {pid} is protected (PID 1, the injector or its parent): set include_protected"
        " in the selector to hit it anyway (admins only)"
    )


class _ProcessFault(Fault):
    selector_model: ClassVar[type[Selector]] = ProcessSelector

    def discover(self, selector: Selector, ctx: Context) -> list[dict[str, Any]]:
        assert isinstance(selector, ProcessSelector)
        found: list[system.ProcessInfo] = []
        if selector.pid is not None:
            if selector.pid in ctx.protected_pids and not selector.include_protected:
                # Named outright: say why nothing matches and how to override, not "0 targets".
                raise InvalidRequest(_protected(selector.pid), field=["selector", "pid"])
            info = system.same_process(selector.pid, None)
            found = [info] if info else []
        else:
            rx = compile_pattern(selector.pattern) if selector.pattern is not None else None
            for info in system.processes():
                if not info.cmdline or info.state in ("Z", "X"):
                    continue  # kernel threads and zombies cannot be hit
                if rx is not None:
                    if rx.search(info.command):
                        found.append(info)
                elif selector.name in (info.name, os.path.basename(info.cmdline[0])):
                    found.append(info)
        if not selector.include_protected:
            found = [p for p in found if p.pid not in ctx.protected_pids]
        found.sort(key=lambda p: p.pid)
        return [_target(p, selector.include_protected) for p in found]

    def _process(self, target: dict[str, Any], ctx: Context) -> system.ProcessInfo:
        try:
            pid = int(target["id"])
        except (KeyError, ValueError):
            raise InvalidRequest("a process target id is its pid", field=["target", "id"]) from None
        attributes = target.get("attributes") or {}
        info = system.same_process(pid, _starttime(attributes))
        if info is None:
            raise Missing(f"process {pid} is gone", field=["target", "id"])
        if pid in ctx.protected_pids and not attributes.get("include_protected"):
            raise Rejected(_protected(pid), field=["target", "id"])
        return info

    def check_target(self, target: dict[str, Any], ctx: Context) -> None:
        self._process(target, ctx)


def _starttime(attributes: dict[str, Any]) -> int | None:
    """The target's start time in clock ticks, as discover reported it (absent: any)."""
    value = attributes.get("starttime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidRequest(
            "starttime is a whole number of clock ticks",
            field=["target", "attributes", "starttime"],
        )
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(
            f"starttime is a whole number of clock ticks, not {value!r}",
            field=["target", "attributes", "starttime"],
        ) from None


class ProcessKill(_ProcessFault):
    name = "process-kill"
    instant = True

    def apply(self, record: Record, ctx: Context) -> None:
        info = self._process(record.target, ctx)
        signum = signal.Signals[record.params["signal"]]
        record.applied = {"pid": info.pid, "starttime": info.starttime, "signal": signum.name}
        os.kill(info.pid, signum)
        record.metrics = {"signal": float(signum.value), "processes": 1.0}
        record.native = f"sent {signum.name} to {info.name} ({info.pid})"

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        return False, record.native

    def revert(self, record: Record, ctx: Context) -> None:
        """A signal cannot be taken back; there is nothing to undo."""


class ProcessPause(_ProcessFault):
    name = "process-pause"

    def apply(self, record: Record, ctx: Context) -> None:
        info = self._process(record.target, ctx)
        record.applied = {"pid": info.pid, "starttime": info.starttime}
        ctx.save(record)
        os.kill(info.pid, signal.SIGSTOP)
        # the stop takes effect when the process is next scheduled, not at kill()
        if not _settles(info, lambda state: state == "T"):
            raise Rejected(f"process {info.pid} did not stop within {_SETTLE_SECONDS:g}s")
        record.metrics = {"processes": 1.0}
        record.native = f"stopped {info.name} ({info.pid})"

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        pid = record.applied.get("pid")
        if pid is None:
            return False, "nothing was stopped"
        info = system.same_process(int(pid), record.applied.get("starttime"))
        if info is None:
            return False, f"process {pid} has exited"
        if info.state != "T":
            return False, f"process {pid} is running again (state {info.state})"
        return True, f"process {pid} is stopped (state T)"

    def revert(self, record: Record, ctx: Context) -> None:
        pid = record.applied.get("pid")
        if pid is None:
            return
        info = system.same_process(int(pid), record.applied.get("starttime"))
        if info is not None:
            os.kill(int(pid), signal.SIGCONT)
            _settles(info, lambda state: state != "T")
