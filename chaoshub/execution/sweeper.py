"""The orphan sweep: recover injections a tool still holds that no run of the hub may carry.

Protocol v1 has ``GET /v1/executions`` "for reconciliation after a hub crash" (DESIGN.md
§5.4). Every backend whose adapter offers ``active_executions`` (``native``: each online
agent; ``http``) is listed, then the store is read, and every execution whose target the
hub does not believe may carry the fault is an **orphan**, recovered through the adapter:

- its id names no run in the store (a lost or deleted run, a hub restored from a backup);
- its run is terminal (e.g. force-released while the tool still held the fault);
- its run has no such target, or the target's ``may_carry_fault`` is clear; this covers a
  fault left from an earlier round (a pause whose recovery the tool did not really do).

The unit is the target, not the round: an earlier round's leftover on a target that carries
the current round's fault waits until that target is recovered, because recovering it could
lift the current fault too (two ``process-pause`` rounds on one process share one SIGCONT).
So a run's current injection is never touched.

Only ids the hub makes are considered: ``<run id: 32 lowercase hex>-<target index>``,
optionally ``-r<round>`` (:func:`chaoshub.execution.driver.execution_id`). Anything else on a
tool was put there by someone else and is left alone. A tool serves one hub: another hub's
runs would look unknown here, and be recovered.

Why a run being injected right now is never touched: the driver commits ``may_carry_fault``
(and a resume's new round) *before* it asks the tool, and the store is read here *after*
the tool was listed, so anything the listing shows is already in the store. On top of that,
an injection younger than :data:`GRACE_SECONDS` (by the tool's ``started_at``, when the
listing gives it) is left for the next sweep. A recovery that ends between the listing and
the read makes an execution look orphaned: it is recovered twice, which ``recover`` allows.

Each orphan recovered is an ``orphan-recovered`` event; a failure is an
``orphan-recover-failed`` event with the error, and the next sweep tries again. A backend or
agent that cannot be reached is logged and skipped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from chaoshub import metrics, registry
from chaoshub.contract import Adapter, Execution, Handle, Target
from chaoshub.lifecycle import Phase
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.store.models import Backend, Run

log = logging.getLogger("chaoshub.sweeper")

#: an injection this young (by the tool's ``started_at``) may belong to a record being
#: written now: it is left to a later sweep
GRACE_SECONDS = 10.0

#: the shape of :func:`chaoshub.execution.driver.execution_id`
HUB_EXECUTION_ID = re.compile(r"(?P<run>[0-9a-f]{32})-(?P<index>\d+)(?:-r(?P<round>\d+))?")


@runtime_checkable
class ListsExecutions(Protocol):
    """An adapter that can list what its tool holds now (``native``, ``http``)."""

    def active_executions(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Orphan:
    """One orphaned execution found on a tool, and what came of recovering it."""

    backend: str
    agent: str | None  # the native agent that held it; None for any other adapter
    execution_id: str
    target: str  # the target's label, as the tool listed it
    why: str  # why no run holds it
    error: str | None = None  # why recovering it failed; None when it was recovered


def why_orphaned(execution_id: str, run: Run | None) -> str | None:
    """Why a hub-made ``execution_id`` is an orphan (``run``: the stored run its id names,
    or None); None when its target may carry the fault, or when the id is not the hub's."""
    match = HUB_EXECUTION_ID.fullmatch(execution_id)
    if match is None:
        return None
    if run is None:
        return "no such run in the store"
    if Phase(run.phase).terminal:
        return f"the run is {run.phase}"
    index, round_ = int(match["index"]), int(match["round"] or 0)
    target = next((t for t in run.targets if t.index == index), None)
    if target is None:
        return f"the run has no target {index}"
    if target.may_carry_fault:
        return None  # the current round, or an earlier one that waits for it (module doc)
    if round_ != run.round:
        return f"from round {round_}; the run is at round {run.round} with no fault here"
    return "the run holds no fault on this target"


def sweep_orphans(runtime: Runtime, grace_seconds: float = GRACE_SECONDS) -> list[Orphan]:
    """Recover every orphan on every backend that can list its executions; return them
    with their outcomes. A backend or agent that cannot be reached is skipped, never fatal."""
    found: list[Orphan] = []
    seen: set[str] = set()  # one server may be reachable through two backends
    for adapter in _listing_adapters(runtime):
        try:
            found += _sweep(runtime, adapter, grace_seconds, seen)
        except Exception:
            log.exception("orphan sweep of backend %s failed", adapter.backend)
        finally:
            adapter.close()
    return found


def _listing_adapters(runtime: Runtime) -> list[Adapter]:
    adapters = []
    with runtime.session() as s:
        for backend in s.scalars(select(Backend).order_by(Backend.name)):
            try:
                if issubclass(registry.get(backend.adapter), ListsExecutions):
                    adapters.append(runtime.adapter_for(s, backend))
            except Exception as exc:
                log.warning("orphan sweep skips backend %s: %s", backend.name, exc)
    return adapters


def _sweep(
    runtime: Runtime, adapter: Adapter, grace_seconds: float, seen: set[str]
) -> list[Orphan]:
    assert isinstance(adapter, ListsExecutions)
    try:
        listed = adapter.active_executions()
    except Exception as exc:
        log.warning("orphan sweep: backend %s unreachable: %s", adapter.backend, exc)
        return []
    young = time.time() - grace_seconds
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in listed:
        eid = str(entry.get("execution_id") or "")
        started = entry.get("started_at")
        if eid in seen or not HUB_EXECUTION_ID.fullmatch(eid):
            continue
        if isinstance(started, int | float) and started > young:
            continue
        seen.add(eid)
        entries[eid] = entry
    if not entries:
        return []
    run_ids = {_run_id(eid) for eid in entries}
    # read only now, after the listing: see the module docstring
    with runtime.session() as s:
        runs = {
            r.id: r
            for r in s.scalars(
                select(Run).where(Run.id.in_(run_ids)).options(selectinload(Run.targets))
            )
        }
        orphans = [
            (entry, why)
            for eid, entry in entries.items()
            if (why := why_orphaned(eid, runs.get(_run_id(eid))))
        ]
    results = [_recover(adapter, entry, why) for entry, why in orphans]
    _record(runtime, adapter, results, known_runs=set(runs))
    return results


def _recover(adapter: Adapter, entry: Mapping[str, Any], why: str) -> Orphan:
    eid = str(entry["execution_id"])
    agent = str(entry["agent"]) if entry.get("agent") else None
    listed = entry.get("target")
    target = Target.from_dict(listed) if isinstance(listed, Mapping) and "id" in listed else None
    target = target or Target(id=eid, label=eid)
    if agent is not None:  # a native target id names its agent (chaoshub/adapters/native.py)
        target = replace(target, id=f"{agent}/{target.id}")
    execution = Execution(id=eid, fault=str(entry.get("fault") or ""), params={}, target=target)
    orphan = Orphan(adapter.backend, agent, eid, target.label, why)
    try:
        # no stored handle: the contract lets recover find an injection by its id alone
        with adapter.translate_errors(target=target.label):
            adapter.recover(Handle(execution))
    except Exception as exc:
        metrics.ORPHAN_RECOVERIES.labels(adapter=adapter.name, outcome="failed").inc()
        log.error("orphan %s on %s: recovery failed: %s", eid, agent or adapter.backend, exc)
        return replace(orphan, error=f"{type(exc).__name__}: {exc}")
    metrics.ORPHAN_RECOVERIES.labels(adapter=adapter.name, outcome="ok").inc()
    log.warning("orphan %s on %s recovered (%s)", eid, agent or adapter.backend, why)
    return orphan


def _record(
    runtime: Runtime, adapter: Adapter, orphans: list[Orphan], known_runs: set[str]
) -> None:
    """One event per orphan, tied to its run when the store has the run."""
    published: list[tuple[str | None, int]] = []
    with runtime.session() as s:
        for o in orphans:
            run_id = _run_id(o.execution_id) if _run_id(o.execution_id) in known_runs else None
            where = f"agent {o.agent}" if o.agent else f"backend {o.backend}"
            if o.error is None:
                kind, reason = "orphan-recovered", f"recovered {o.execution_id} on {where}: {o.why}"
            else:
                kind = "orphan-recover-failed"
                reason = f"recovering {o.execution_id} on {where} failed ({o.why}): {o.error}"
            data = {**asdict(o), "adapter": adapter.name}
            ev = events.record(
                s, kind, reason, run_id=run_id, agent=o.agent, target=o.target, data=data
            )
            s.flush()
            published.append((run_id, ev.id))
    for run_id, event_id in published:
        runtime.publish_events([event_id], run_id)


def _run_id(execution_id: str) -> str:
    return execution_id.split("-", 1)[0]
