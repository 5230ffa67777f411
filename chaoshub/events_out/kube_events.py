"""Kubernetes Events for runs on a ``litmus`` / ``chaos-mesh`` backend, on that backend's
cluster: what ``kubectl describe`` and every cluster dashboard already show.

Each Event is about the chaos object the adapter made for a target (its ChaosEngine, its
NetworkChaos…): a target's own event (``injected``, ``recovered``, a failure) on that
target's object, a run's phase move on every target's object. Events are named after the
hub's event id, so a retried delivery finds its Event made and is done."""

from __future__ import annotations

import os
import socket
from typing import Any

from chaoshub.contract import Execution, Handle, Target
from chaoshub.errors import RejectedByTool
from chaoshub.runtime import Runtime
from chaoshub.store.models import Backend, Event, EventDelivery, Run, RunTarget

COMPONENT = "chaoshub"
#: one run's phase move becomes an Event on at most this many targets' objects
MAX_OBJECTS = 20
#: the longest message the API server keeps
MESSAGE_CHARS = 1024

#: a target's event kind -> (reason, type)
TARGET_REASONS = {
    "injected": ("ChaosInjected", "Normal"),
    "recovered": ("ChaosRecovered", "Normal"),
    "inject-failed": ("ChaosInjectFailed", "Warning"),
    "recover-failed": ("ChaosRecoverFailed", "Warning"),
    "fault-gone": ("ChaosFaultGone", "Warning"),
}
#: a run's phase -> (reason, type)
PHASE_REASONS = {
    "injecting": ("ChaosInjecting", "Normal"),
    "running": ("ChaosRunning", "Normal"),
    "paused": ("ChaosPaused", "Normal"),
    "recovering": ("ChaosRecovering", "Normal"),
    "completed": ("ChaosCompleted", "Normal"),
    "aborted": ("ChaosAborted", "Warning"),
    "failed": ("ChaosFailed", "Warning"),
}


def reason_of(event: Event) -> tuple[str, str]:
    if event.kind == "phase" and event.to_phase:
        return PHASE_REASONS.get(event.to_phase, ("ChaosPhaseChanged", "Normal"))
    if event.kind in TARGET_REASONS:
        return TARGET_REASONS[event.kind]
    camel = "".join(part.capitalize() for part in event.kind.split("-"))
    return f"Chaos{camel}", "Normal"


def _execution(run: Run, target: RunTarget, fault: str) -> Handle:
    from chaoshub.execution.driver import execution_id

    execution = Execution(
        id=execution_id(run, target),
        fault=fault,
        params=run.params,
        target=Target(id=target.target_id, label=target.label, attributes=target.attributes or {}),
        duration_seconds=run.duration_seconds,
    )
    return Handle(execution=execution, data=target.handle)


def body(event: Event, run: Run, obj: dict[str, str], index: int) -> dict[str, Any]:
    reason, kind = reason_of(event)
    at = event.at.isoformat().replace("+00:00", "Z")
    message = f"run {run.id}: {event.reason}" if event.reason else f"run {run.id}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{obj['name']}.chaoshub-{event.id}-{index}"[:253],
            "namespace": obj["namespace"],
            "labels": {"app.kubernetes.io/managed-by": COMPONENT},
            "annotations": {"chaoshub.io/run-id": run.id, "chaoshub.io/event-id": str(event.id)},
        },
        "involvedObject": obj,
        "reason": reason,
        "message": message[:MESSAGE_CHARS],
        "type": kind,
        "source": {"component": COMPONENT, "host": socket.gethostname()},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
        "reportingComponent": COMPONENT,
        "reportingInstance": f"{socket.gethostname()}-{os.getpid()}"[:128],
    }


def deliver(rt: Runtime, delivery_id: int) -> None:
    """Write the Events of one delivery; raises the hub error of what failed."""
    with rt.session() as s:
        d = s.get(EventDelivery, delivery_id)
        if d is None:
            return
        event = d.event
        run = s.get(Run, event.run_id) if event.run_id else None
        if run is None:
            return  # the run was deleted: nothing left to describe
        backend = s.get(Backend, run.backend_id) if run.backend_id else None
        if backend is None:
            raise RejectedByTool(f"the backend {run.backend_name} of run {run.id} is gone")
        adapter = rt.adapter_for(s, backend)
        fault = run.fault_type.split("/", 1)[-1]
        targets = [t for t in run.targets if not event.target or t.label == event.target]
        objects = [
            adapter.chaos_object(_execution(run, t, fault))  # type: ignore[attr-defined]
            for t in targets[:MAX_OBJECTS]
        ]
        bodies = [body(event, run, obj, i) for i, obj in enumerate(objects)]
    try:
        for b in bodies:
            adapter.cluster.create_event(b["metadata"]["namespace"], b)  # type: ignore[attr-defined]
    finally:
        adapter.close()
