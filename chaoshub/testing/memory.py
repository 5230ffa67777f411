"""An in-memory adapter for the hub's own tests and for trying the conformance kit.

It is not a user-facing adapter: it is never registered by the package, so it appears in
neither ``chaoshub adapters`` nor the catalog unless a test registers it (in-process with
:func:`chaoshub.registry.register`, or for worker processes through
``CHAOSHUB_EXTRA_ADAPTERS=memory=chaoshub.testing.memory:MemoryAdapter``).

Its "tool" is a JSON document: in a dict by default, or in a file (``state_path``) shared
by every process that names it, guarded by ``fcntl`` locks, so that tests can kill one
worker and let another finish. It counts how often each execution was really applied,
which is how the tests prove nothing was injected twice.

Backend config:

- ``targets``: the names ``discover`` can find (default ``["alpha", "beta", "gamma"]``);
- ``state_path``: share the tool's state through this file;
- ``inject_delay`` / ``recover_delay``: seconds each call takes (to kill a worker mid-call);
- ``status_hold``: a file path; while that file exists every ``status`` call waits (a tool
  that stopped answering), counting the calls in flight in the state's ``status_waiting``;
- ``fail_recover``: recoveries that fail before one succeeds (``-1``: never succeeds);
- ``fail_inject``: target names whose injection the tool refuses;
- ``unreachable``: every call raises ``BackendUnavailable``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from chaoshub.contract import (
    Adapter,
    Capabilities,
    Execution,
    FaultAvailability,
    Handle,
    Health,
    Observation,
    Observed,
    Target,
)
from chaoshub.errors import (
    BackendUnavailable,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

_FAULTS: list[dict[str, Any]] = [
    {
        "id": "memory/latency",
        "title": "Latency (in memory)",
        "description": "Pretends to add latency to a named in-memory target.",
        "category": "network",
        "target_kind": "memory-target",
        "time_control": "timed",
        "reversible": True,
        "params": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "latency_ms": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 60000,
                    "default": 100,
                    "description": "added latency, milliseconds",
                }
            },
        },
    },
    {
        "id": "memory/kill",
        "title": "Kill (in memory)",
        "description": "Pretends to kill a named in-memory target; nothing to recover.",
        "category": "process",
        "target_kind": "memory-target",
        "time_control": "instant",
        "reversible": False,
        "params": {"type": "object", "additionalProperties": False, "properties": {}},
    },
    {
        "id": "memory/job",
        "title": "Job (in memory)",
        "description": "A fault the tool runs to its own end after its duration, with a verdict.",
        "category": "application",
        "target_kind": "memory-target",
        "time_control": "external",
        "reversible": False,
        "params": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "verdict": {
                    "enum": ["pass", "fail"],
                    "default": "pass",
                    "description": "the verdict the tool reports when the job ends",
                },
            },
        },
    },
]

_LOCAL_STATES: dict[str, dict[str, Any]] = {}
_LOCAL_LOCK = threading.Lock()


def _empty() -> dict[str, Any]:
    return {"active": {}, "applied": {}, "recover_calls": {}, "recover_failures": {}}


class MemoryAdapter(Adapter):
    name: ClassVar[str] = "memory"
    capabilities: ClassVar[Capabilities] = Capabilities(
        faults=frozenset({"latency", "kill", "job"}), pause=True
    )
    config_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "targets": {"type": "array", "items": {"type": "string"}},
            "state_path": {"type": "string"},
            "inject_delay": {"type": "number", "minimum": 0},
            "recover_delay": {"type": "number", "minimum": 0},
            "status_hold": {"type": "string"},
            "fail_recover": {"type": "integer", "minimum": -1},
            "fail_inject": {"type": "array", "items": {"type": "string"}},
            "unreachable": {"type": "boolean"},
        },
    }

    @classmethod
    def fault_types(cls) -> list[dict[str, Any]]:
        return _FAULTS

    # -- the tool's state ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        path = self.config.get("state_path")
        if not path:
            with _LOCAL_LOCK:
                state = _LOCAL_STATES.setdefault(self.backend or "default", _empty())
                yield state
            return
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p.with_suffix(p.suffix + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = json.loads(p.read_text()) if p.exists() and p.stat().st_size else _empty()
            yield state
            tmp = p.with_suffix(p.suffix + ".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(p)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the tool's state: what is active, how often each execution was applied."""
        with self._state() as state:
            return json.loads(json.dumps(state))

    def _reachable(self) -> None:
        if self.config.get("unreachable"):
            raise BackendUnavailable(
                "in-memory tool is configured unreachable", adapter=self.name, backend=self.backend
            )

    # -- the contract ----------------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        unknown = set(selector) - {"names", "pattern", "limit"}
        if unknown:
            raise InvalidInput(
                f"unknown selector key {sorted(unknown)[0]!r}",
                field=["selector", sorted(unknown)[0]],
            )
        if not selector.get("names") and not selector.get("pattern"):
            raise InvalidInput("give target names or a pattern", field=["selector", "names"])
        if "pattern" in selector:
            try:
                re.compile(str(selector["pattern"]))
            except re.error as exc:
                raise InvalidInput(f"bad pattern: {exc}", field=["selector", "pattern"]) from exc

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        self._reachable()
        known = list(self.config.get("targets") or ["alpha", "beta", "gamma"])
        names = selector.get("names")
        if names:
            missing = [n for n in names if n not in known]
            if missing:
                raise NotFound(f"no target named {missing[0]!r}", field=["selector", "names"])
            found = [n for n in known if n in names]
        else:
            rx = re.compile(str(selector.get("pattern", "")))
            found = [n for n in known if rx.search(n)]
        if selector.get("limit"):
            found = found[: int(selector["limit"])]
        if not found:
            raise NotFound("the selector matches no target", field=["selector"])
        return [Target(id=n, label=n, attributes={"kind": "memory-target"}) for n in found]

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        self._reachable()
        if execution.target.id in (self.config.get("fail_inject") or []):
            raise RejectedByTool(
                f"tool refused to inject into {execution.target.id}",
                adapter=self.name,
                backend=self.backend,
                target=execution.target.id,
                native_code="E_REFUSED",
            )
        with self._state() as state:
            if execution.id in state["active"]:
                entry = state["active"][execution.id]
                return {"key": execution.id}, Observation(
                    Observed.INJECTED, native="already active (adopted)", metrics=entry["metrics"]
                )
        delay = float(self.config.get("inject_delay") or 0)
        if delay:
            time.sleep(delay)
        with self._state() as state:
            if execution.id not in state["active"]:
                metrics = {
                    k: float(v) for k, v in execution.params.items() if isinstance(v, int | float)
                }
                state["active"][execution.id] = {
                    "target": execution.target.id,
                    "fault": execution.fault,
                    "metrics": metrics,
                    "started": time.time(),
                    "duration": execution.duration_seconds,
                    "verdict": execution.params.get("verdict"),
                }
                state["applied"][execution.id] = state["applied"].get(execution.id, 0) + 1
            entry = state["active"][execution.id]
        if execution.fault == "kill":
            with self._state() as state:
                state["active"].pop(execution.id, None)
            return {"key": execution.id}, Observation(Observed.DONE, native="killed")
        return {"key": execution.id}, Observation(
            Observed.INJECTED, native="active", metrics=entry["metrics"]
        )

    def status(self, handle: Handle) -> Observation:
        self._reachable()
        self._hold_status()
        with self._state() as state:
            entry = state["active"].get(handle.execution.id)
        return self._observe(entry)

    def status_many(self, handles: Sequence[Handle]) -> dict[str, Observation | HubError]:
        """Every handle answered from one read of the tool's state (as a tool with a batch
        status call does); each call's size is appended to the state's ``status_batches``
        (the last 1000), so tests can see how the hub asked."""
        try:
            self._reachable()
        except HubError as exc:
            return {h.execution.id: exc for h in handles}
        self._hold_status()
        with self._state() as state:
            batches = state.setdefault("status_batches", [])
            batches.append(len(handles))
            del batches[:-1000]
            entries = {h.execution.id: state["active"].get(h.execution.id) for h in handles}
        return {key: self._observe(entry) for key, entry in entries.items()}

    @staticmethod
    def _observe(entry: Mapping[str, Any] | None) -> Observation:
        if entry is None:
            return Observation(Observed.RECOVERED, native="not active")
        if entry["fault"] == "job" and entry["duration"] is not None:
            if time.time() - entry["started"] >= float(entry["duration"]):
                return Observation(
                    Observed.DONE, native="finished", verdict=entry.get("verdict") or "pass"
                )
        return Observation(Observed.INJECTED, native="active", metrics=entry["metrics"])

    def _hold_status(self) -> None:
        hold = self.config.get("status_hold")
        if not hold or not Path(hold).exists():
            return
        with self._state() as state:
            state["status_waiting"] = state.get("status_waiting", 0) + 1
        try:
            deadline = time.monotonic() + 300
            while Path(hold).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            with self._state() as state:
                state["status_waiting"] -= 1

    def recover(self, handle: Handle) -> Observation:
        self._reachable()
        key = handle.execution.id
        delay = float(self.config.get("recover_delay") or 0)
        if delay:
            time.sleep(delay)
        failed_attempt = 0
        with self._state() as state:
            state["recover_calls"][key] = state["recover_calls"].get(key, 0) + 1
            if key in state["active"]:
                allowed = int(self.config.get("fail_recover") or 0)
                failures = state["recover_failures"].get(key, 0)
                if allowed == -1 or failures < allowed:
                    state["recover_failures"][key] = failed_attempt = failures + 1
                else:
                    del state["active"][key]
        if failed_attempt:
            raise RecoveryFailed(
                f"tool could not revert {key} (attempt {failed_attempt})",
                adapter=self.name,
                backend=self.backend,
                target=handle.execution.target.id,
                native_code="E_STUCK",
            )
        return Observation(Observed.RECOVERED, native="reverted")

    def health(self) -> Health:
        if self.config.get("unreachable"):
            return Health(ok=False, message="configured unreachable")
        return Health(
            ok=True,
            version="memory-1",
            faults={f: FaultAvailability(True) for f in sorted(self.capabilities.faults)},
        )
