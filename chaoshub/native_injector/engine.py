"""The injector's core: inject, status, recover, discover — and what it left after a crash.

Every live injection is a :class:`Record` persisted before the fault touches the host.
``status`` renews an injection's lease; :mod:`chaoshub.native_injector.lease` recovers those whose
lease lapsed. What a previous run left is handled by :mod:`chaoshub.native_injector.restart`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydantic

from chaoshub.errors import InvalidInput
from chaoshub.native_injector import catalog, guards
from chaoshub.native_injector.capabilities import Prober
from chaoshub.native_injector.faults import FAULTS, Context, Fault
from chaoshub.native_injector.metrics import InjectorMetrics
from chaoshub.native_injector.problems import (
    InvalidRequest,
    Problem,
    Rejected,
    Unavailable,
    validation_message,
)
from chaoshub.native_injector.state import (
    ACTIVE,
    APPLYING,
    DONE,
    FAILED,
    KEEP_ENDED_SECONDS,
    RECOVERED,
    RELEASED,
    Record,
    StateStore,
)

log = logging.getLogger("chaoshub.injector.engine")

#: how long a failed recovery waits before the lease watcher tries again
RETRY_SECONDS = 5.0


class RecoveryError(Problem):
    type = "rejected"
    title = "Recovery failed"
    status = 409


def observation(
    phase: str,
    native: str = "",
    metrics: Mapping[str, float] | None = None,
    messages: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "phase": phase,
        "native": native,
        "metrics": dict(metrics or {}),
        "messages": list(messages or []),
    }


def _fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise InvalidRequest(
            f"no fault {name!r} here; known: {', '.join(sorted(FAULTS))}", field=["fault"]
        ) from None


def _guarded(fault_name: str) -> bool:
    """Whether ``fault_name`` changes what the guards measure (stressors, memory, disk)."""
    return fault_name in guards.STRESS_FAULTS or fault_name == "disk-fill"


class Injector:
    def __init__(
        self,
        state_dir: Path,
        scripts_dir: Path | None = None,
        prober: Prober | None = None,
        limits: guards.Guards | None = None,
    ) -> None:
        self.store = StateStore(state_dir)
        self.guards = limits or guards.Guards()
        self.prober = prober or Prober(state_dir, scripts_dir)
        self.metrics = InjectorMetrics(self)
        self.ctx = Context(
            state_dir=state_dir,
            scripts_dir=scripts_dir,
            save=self.store.save,
            # PID 1, the injector, and what started it (the embedded hub runs it as a child)
            protected_pids=frozenset({1, os.getpid(), os.getppid()}),
        )
        #: called when a fault the guards count (stress, disk-fill) starts or ends, so the
        #: hub hears of the host's new headroom at once rather than at the next beat
        self.on_guarded_change: Callable[[], None] = lambda: None
        self.records: dict[str, Record] = {}
        self.leftovers: list[str] = []  # chaoshub-tagged rules of executions never known here
        self._lock = threading.Lock()
        # held from the guard check until the record counts as live: two injects at once
        # must not both fit under one limit
        self._guard_lock = threading.Lock()
        self._exec_locks: dict[str, threading.Lock] = {}
        self._retry_at: dict[str, float] = {}

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _locked(self, execution_id: str) -> Iterator[None]:
        with self._lock:
            lock = self._exec_locks.setdefault(execution_id, threading.Lock())
        with lock:
            yield

    def live(self) -> list[Record]:
        with self._lock:
            return [r for r in self.records.values() if r.live]

    def adopt_record(self, record: Record) -> None:
        """Know ``record`` (read back from disk) without touching the host."""
        with self._lock:
            self.records[record.execution_id] = record

    def _put(self, record: Record) -> None:
        self.store.save(record)
        with self._lock:
            self.records[record.execution_id] = record

    # -- the protocol's operations -----------------------------------------------------------

    def discover(self, fault_name: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        fault = _fault(fault_name)
        try:
            parsed = fault.selector_model.model_validate(dict(selector))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidRequest(
                validation_message(first["msg"]), field=["selector", *first["loc"]]
            ) from None
        targets = fault.discover(parsed, self.ctx)
        if parsed.limit is not None:
            targets = targets[: parsed.limit]
        return targets

    def validate(self, fault_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` checked as ``inject`` checks them, on this host, and with defaults
        filled in; nothing is recorded or applied. Raises ``InvalidRequest``."""
        fault = _fault(fault_name)
        try:
            full = catalog.fault_type(fault_name).validate_params(params)
        except InvalidInput as exc:
            raise InvalidRequest(exc.message, field=exc.field) from None
        fault.check_params(full, self.ctx)
        return full

    def inject(
        self,
        execution_id: str,
        fault_name: str,
        params: Mapping[str, Any],
        target: dict[str, Any],
        lease_seconds: float,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        fault = _fault(fault_name)
        try:
            full = catalog.fault_type(fault_name).validate_params(params)
        except InvalidInput as exc:
            raise InvalidRequest(exc.message, field=exc.field) from None
        handle = {"execution_id": execution_id, "fault": fault_name, "target": target.get("id")}
        with self._locked(execution_id):
            existing = self.records.get(execution_id)
            if existing is not None and existing.fault != fault_name:
                raise Rejected(
                    f"execution {execution_id} is a {existing.fault} here", field=["execution_id"]
                )
            if existing is not None and existing.state in (ACTIVE, APPLYING, DONE):
                return handle, self._adopt(existing)
            if existing is not None and existing.state in (RECOVERED, RELEASED):
                raise Rejected(
                    f"execution {execution_id} was recovered already "
                    f"({existing.reason}); a new round needs a new id",
                    field=["execution_id"],
                )
            available = self.prober.faults()[fault_name]
            if not available.ok:
                self.metrics.injected(fault_name, "unavailable")
                raise Rejected(f"{fault_name} is not available on this host: {available.detail}")
            fault.check_params(full, self.ctx)  # before the record: nothing to recover yet
            fault.check_target(target, self.ctx)
            record = Record(
                execution_id=execution_id,
                fault=fault_name,
                target=dict(target),
                params=full,
                lease_seconds=float(lease_seconds),
            )
            record.renew()
            with self._guard_lock:
                self._check_guards(fault_name, full)
                self._put(record)
            try:
                fault.apply(record, self.ctx)
            except Exception as exc:  # whatever went wrong, undo what was done so far
                self._undo_failed(fault, record, exc)
                self.metrics.injected(fault_name, "failed")
                if isinstance(exc, Problem):
                    raise
                raise Rejected(f"{fault_name} could not be applied: {exc}") from exc
            if fault.instant:
                record.end(DONE, "instant fault: applied, nothing to recover")
            else:
                record.state = ACTIVE
            self._put(record)
            self.metrics.injected(fault_name, "ok")
            if _guarded(fault_name):
                self.on_guarded_change()
            log.info(
                "injected",
                extra={
                    "execution_id": execution_id,
                    "fault": fault_name,
                    "target": target.get("id"),
                },
            )
            return handle, self._observe(record)

    def host(self) -> guards.Host:
        """The host as the guards see it now (stress workers of live injections included)."""
        cpus = guards.measure(0).cpus
        running = sum(
            int(r.metrics.get("workers") or guards.stress_workers(r.fault, r.params, cpus))
            for r in self.live()
            if r.fault in guards.STRESS_FAULTS
        )
        return guards.measure(running)

    def guard_report(self) -> dict[str, Any]:
        """The guards and what they are checked against, for describe and health."""
        return guards.report(self.guards, self.host(), guards.filesystems())

    def _check_guards(self, fault_name: str, params: Mapping[str, Any]) -> None:
        """Refuse params over a host guard, measured now (the hub checked a report that may
        be seconds old, and the host has changed since)."""
        if fault_name not in guards.STRESS_FAULTS and fault_name != "disk-fill":
            return
        disk = guards.disk_at(str(params["path"])) if "path" in params else None
        found = guards.refusal(self.guards, fault_name, params, self.host(), disk)
        if found is not None:
            self.metrics.injected(fault_name, "guarded")
            raise InvalidRequest(f"{fault_name}: {found[1]}", field=["params", found[0]])

    def _adopt(self, record: Record) -> dict[str, Any]:
        if record.live:
            record.renew()
            self.store.save(record)
        obs = self._observe(record)
        obs["messages"].append("already applied for this execution id (adopted, not repeated)")
        return obs

    def _undo_failed(self, fault: Fault, record: Record, exc: Exception) -> None:
        try:
            fault.revert(record, self.ctx)
        except Exception as undo_exc:  # keep it live: the lease watcher retries
            record.native = f"apply failed ({exc}); undo failed too: {undo_exc}"
            record.state = ACTIVE
            self._put(record)
            self._retry_at[record.execution_id] = time.time() + RETRY_SECONDS
            return
        record.end(FAILED, f"apply failed: {exc}")
        self._put(record)

    def status(self, execution_id: str) -> dict[str, Any]:
        with self._locked(execution_id):
            record = self.records.get(execution_id)
            if record is None:
                return observation(
                    RECOVERED,
                    "no record of this execution: nothing of it is active on this injector",
                )
            if record.live:
                record.renew()
                self.store.save(record)
            return self._observe(record)

    def status_many(self, execution_ids: list[str]) -> list[dict[str, Any] | Problem]:
        """:meth:`status` of each execution, in order, each renewing its lease as a single
        call does: the hub's watch asks once per tick for all it holds here. One that cannot
        be answered is its problem, never a failure of the others."""
        answers: list[dict[str, Any] | Problem] = []
        for execution_id in execution_ids:
            try:
                answers.append(self.status(execution_id))
            except Problem as exc:
                answers.append(exc)
            except Exception as exc:  # e.g. the state could not be saved: say so for this one
                log.exception("status failed", extra={"execution_id": execution_id})
                answers.append(Unavailable(f"status of {execution_id} failed: {exc}"))
        return answers

    def _observe(self, record: Record) -> dict[str, Any]:
        if record.state == DONE:
            return observation("done", record.native, record.metrics)
        if record.state == RECOVERED:
            return observation("recovered", record.reason, record.metrics)
        if record.state == FAILED:
            return observation("failed", record.reason, record.metrics)
        if record.state == RELEASED:
            return observation("aborted", record.reason, record.metrics)
        if record.state == APPLYING:
            return observation("pending", "being applied", record.metrics)
        try:
            present, native = FAULTS[record.fault].present(record, self.ctx)
        except Exception as exc:  # the host could not be asked; say so rather than guess
            return observation("unknown", f"cannot tell whether it holds: {exc}", record.metrics)
        if present:
            return observation("injected", native, record.metrics)
        return observation(
            "failed",
            f"the fault is no longer in effect: {native}",
            record.metrics,
            ["recover this execution to close it"],
        )

    def recover(self, execution_id: str, reason: str = "recovery requested") -> dict[str, Any]:
        with self._locked(execution_id):
            record = self.records.get(execution_id)
            if record is None:
                return observation(RECOVERED, "no record of this execution: nothing to recover")
            if not record.live:
                native = (
                    record.reason if record.state != DONE else "instant fault: nothing to recover"
                )
                return observation(RECOVERED, native, record.metrics)
            self.revert(record, reason)
            if _guarded(record.fault):
                self.on_guarded_change()
            return observation(RECOVERED, record.reason, record.metrics)

    def forget(self, execution_id: str, reason: str) -> dict[str, Any]:
        """End a live record without reverting it: a person told the hub its target is
        clean (a force-release). It is no longer retried, nor recovered at exit."""
        with self._locked(execution_id):
            record = self.records.get(execution_id)
            if record is None:
                return observation(RECOVERED, "no record of this execution: nothing to forget")
            if not record.live:
                return self._observe(record)
            self._retry_at.pop(execution_id, None)
            record.end(RELEASED, f"released without recovery: {reason or 'no reason given'}")
            self._put(record)
            self.metrics.recovered(record.fault, "released")
            log.warning(
                "released without recovery",
                extra={"execution_id": execution_id, "native": record.native, "reason": reason},
            )
            return self._observe(record)

    def revert(self, record: Record, reason: str, kind: str = "requested") -> None:
        """Undo a live record's fault and end it with ``reason``; raises ``RecoveryError``."""
        fault = FAULTS[record.fault]
        try:
            fault.revert(record, self.ctx)
            still, native = fault.present(record, self.ctx)
            if still and fault.observable:
                raise RuntimeError(f"still in effect after revert: {native}")
        except Exception as exc:
            self._retry_at[record.execution_id] = time.time() + RETRY_SECONDS
            record.native = f"recovery failed: {exc}"
            self.store.save(record)
            self.metrics.recovered(record.fault, "failed")
            log.error(
                "recovery failed", extra={"execution_id": record.execution_id, "error": str(exc)}
            )
            raise RecoveryError(f"recovering {record.execution_id} failed: {exc}") from exc
        self._retry_at.pop(record.execution_id, None)
        record.end(RECOVERED, reason)
        self._put(record)
        self.metrics.recovered(record.fault, kind)
        log.info("recovered", extra={"execution_id": record.execution_id, "reason": reason})

    def executions(self) -> dict[str, Any]:
        with self._lock:
            records = list(self.records.values())
        return {
            "executions": [r.summary() for r in records if r.live],
            "recent": [
                r.summary() for r in sorted(records, key=lambda r: r.ended_at or 0) if not r.live
            ][-50:],
            "leftovers": list(self.leftovers),
        }

    # -- lease and restart -------------------------------------------------------------------

    def lapse_expired(self, now: float | None = None) -> None:
        """Recover every live injection whose lease lapsed (and retry failed recoveries)."""
        now = now or time.time()
        self._forget_old(now)
        for record in self.live():
            if record.expires_at > now or self._retry_at.get(record.execution_id, 0) > now:
                continue
            late = now - (record.expires_at - record.lease_seconds)
            reason = (
                f"lease lapsed: no status call for {late:.1f}s (lease {record.lease_seconds:g}s)"
            )
            if record.execution_id not in self._retry_at:  # a retry is not a new lapse
                self.metrics.lease_lapsed(record.fault)
            try:
                with self._locked(record.execution_id):
                    # a status call may have renewed it while this pass waited for the lock
                    if record.live and record.expires_at <= time.time():
                        self.revert(record, reason, "lease")
            except Problem:
                pass  # logged and scheduled for retry

    def _forget_old(self, now: float) -> None:
        """Drop ended records past the keep time from memory and disk."""
        cutoff = now - KEEP_ENDED_SECONDS
        with self._lock:
            old = [
                e for e, r in self.records.items() if not r.live and (r.ended_at or now) < cutoff
            ]
            for execution_id in old:
                del self.records[execution_id]
                self._exec_locks.pop(execution_id, None)
        for execution_id in old:
            self.store.delete(execution_id)
