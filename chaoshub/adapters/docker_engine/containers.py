"""Faults on a container's life: kill, stop, pause, restart, remove.

Each state change is recorded in the :mod:`ledger` first, so a retried inject adopts and
recovery reverts exactly what this execution did (unpause what it paused, start what it
stopped when asked), from any worker, with or without the stored handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chaoshub.adapters.docker_engine import netns
from chaoshub.adapters.docker_engine.driver import Driver, Engine, describe
from chaoshub.contract import Execution, Observation, Observed
from chaoshub.errors import InvalidInput, RejectedByTool

DAY = 24 * 3600.0
WEEK = 7 * DAY


def _running(attrs: Mapping[str, Any]) -> bool:
    return bool((attrs.get("State") or {}).get("Running"))


def _paused(attrs: Mapping[str, Any]) -> bool:
    return bool((attrs.get("State") or {}).get("Paused"))


def _must_run(attrs: Mapping[str, Any]) -> None:
    if not _running(attrs):
        raise RejectedByTool(f"the container is not running ({describe(attrs)})", native_code=409)


class _Instant(Driver):
    """A one-shot action: nothing to hold, nothing to revert."""

    def act(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def precondition(self, attrs: Mapping[str, Any]) -> None:
        _must_run(attrs)

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        cid = execution.target.id
        data = {"container": cid, "fault": self.name}
        if engine.ledger.find(execution.id, cid) is not None:
            native = f"done already by this execution (adopted); {describe(engine.inspect(cid))}"
            return data, Observation(Observed.DONE, native=native)
        self.precondition(engine.inspect_or_raise(cid))
        engine.ledger.prune()
        engine.ledger.record(execution.id, cid, self.name, dict(execution.params), keep_seconds=DAY)
        try:
            self.act(engine, cid, execution.params)
        except BaseException:
            engine.ledger.forget(execution.id, cid)
            raise
        return data, Observation(Observed.DONE, native=describe(engine.inspect(cid)))

    def status(self, engine: Engine, execution: Execution) -> Observation:
        if engine.ledger.find(execution.id, execution.target.id) is None:
            return Observation(Observed.RECOVERED, native="nothing held")
        return Observation(Observed.DONE, native=describe(engine.inspect(execution.target.id)))

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        engine.ledger.forget(execution.id, execution.target.id)
        return Observation(Observed.RECOVERED, native="an instant fault leaves nothing to revert")


class _Held(Driver):
    """A state held for the duration and reverted on recovery."""

    def in_effect(self, attrs: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def apply(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def revert(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def precondition(self, attrs: Mapping[str, Any]) -> None:
        _must_run(attrs)

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        cid = execution.target.id
        data = {"container": cid, "fault": self.name}
        attrs = engine.inspect_or_raise(cid)
        if engine.ledger.find(execution.id, cid) is not None:
            if self.in_effect(attrs):
                return data, Observation(Observed.INJECTED, native=f"{describe(attrs)} (adopted)")
            # this execution's state was undone outside the hub: apply it again
            self.apply(engine, cid, execution.params)
            return data, Observation(Observed.INJECTED, native=describe(engine.inspect(cid)))
        self.precondition(attrs)
        keep = (execution.duration_seconds or 0) + WEEK
        engine.ledger.record(
            execution.id, cid, self.name, dict(execution.params), keep_seconds=keep
        )
        try:
            self.apply(engine, cid, execution.params)
        except BaseException:
            engine.ledger.forget(execution.id, cid)
            raise
        return data, Observation(Observed.INJECTED, native=describe(engine.inspect(cid)))

    def status(self, engine: Engine, execution: Execution) -> Observation:
        if engine.ledger.find(execution.id, execution.target.id) is None:
            return Observation(Observed.RECOVERED, native="nothing held by this execution")
        attrs = engine.inspect(execution.target.id)
        if attrs is None:
            return Observation(Observed.RECOVERED, native=describe(None))
        if self.in_effect(attrs):
            return Observation(Observed.INJECTED, native=describe(attrs))
        return Observation(
            Observed.UNKNOWN,
            native=describe(attrs),
            messages=("the fault was undone outside the hub",),
        )

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        cid = execution.target.id
        messages: tuple[str, ...] = ()
        if engine.ledger.find(execution.id, cid) is None:
            # no record: nothing of ours, unless the stored handle says this execution applied
            # it and the record was pruned away (`podman volume prune`) with no other claim
            if not data or data.get("fault") != self.name or engine.ledger.marks_on(cid):
                return Observation(Observed.RECOVERED, native="nothing held by this execution")
            messages = ("its ledger record was gone; reverted on the stored handle's word",)
        attrs = engine.inspect(cid)
        if attrs is None:
            messages += ("the container vanished; counted as recovered",)
        elif self.in_effect(attrs):
            messages += (self.revert(engine, cid, execution.params),)
        engine.ledger.forget(execution.id, cid)
        return Observation(
            Observed.RECOVERED, native=describe(engine.inspect(cid)), messages=messages
        )


class Kill(_Instant):
    name: ClassVar[str] = "container-kill"

    def act(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        engine.client.api.kill(container_id, signal=str(params.get("signal") or "SIGKILL"))


class Restart(_Instant):
    name: ClassVar[str] = "container-restart"

    def act(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        engine.client.api.restart(container_id, timeout=int(params.get("timeout_seconds", 1)))


class Remove(_Instant):
    name: ClassVar[str] = "container-remove"
    states: ClassVar[frozenset[str] | None] = None

    def validate(self, params: Mapping[str, Any]) -> None:
        if params.get("confirm") is not True:
            raise InvalidInput(
                "removing a container cannot be undone: set confirm to true",
                field=["params", "confirm"],
            )

    def precondition(self, attrs: Mapping[str, Any]) -> None:
        """Any state: a stopped container can be removed too."""

    def act(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        netns.sweep(engine.client, container_id=container_id)  # they would block the removal
        engine.client.api.remove_container(
            container_id,
            force=bool(params.get("force", True)),
            v=bool(params.get("volumes", False)),
        )


class Stop(_Held):
    name: ClassVar[str] = "container-stop"

    def in_effect(self, attrs: Mapping[str, Any]) -> bool:
        return not _running(attrs)

    def apply(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        engine.client.api.stop(container_id, timeout=int(params.get("grace_seconds", 5)))

    def revert(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> str:
        if not params.get("restart"):
            return "left stopped, as asked (restart is false)"
        engine.client.api.start(container_id)
        return "started again"


class Pause(_Held):
    name: ClassVar[str] = "container-pause"

    def in_effect(self, attrs: Mapping[str, Any]) -> bool:
        return _paused(attrs)

    def precondition(self, attrs: Mapping[str, Any]) -> None:
        if _paused(attrs):
            raise RejectedByTool(
                "the container is paused already, not by this execution", native_code=409
            )
        _must_run(attrs)

    def apply(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> None:
        engine.client.api.pause(container_id)

    def revert(self, engine: Engine, container_id: str, params: Mapping[str, Any]) -> str:
        engine.client.api.unpause(container_id)
        return "unpaused"
