"""The reconciler (Celery beat, every few seconds): drives runs toward their desired state.

It finds runs that need a worker and no worker holds — deadlines reached, stop or pause
or resume desired, recoveries due for a retry, external tools to poll, runs whose worker
vanished (their lease lapsed) — and sends each one task. It marks agents whose heartbeats
lapsed offline, with an event saying why.

Faults a tool holds that no run does (after a hub crash, a lost database, a pause whose
recovery the tool did not really do) are found by the orphan sweep (:mod:`chaoshub.execution.sweeper`),
a beat task of its own every ``CHAOSHUB_ORPHAN_SWEEP_SECONDS``: it asks every agent, and a
slow one must not delay this pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from chaoshub import lifecycle
from chaoshub.lifecycle import DesiredState, Phase, TimeControl
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.store.models import Agent, Run, WorkflowRun

log = logging.getLogger("chaoshub.reconciler")

PICKUP_GRACE = timedelta(seconds=3)
#: the "adapter" a workflow run is dispatched with (its driver has a queue of its own)
WORKFLOW = "workflow"

Dispatch = Callable[[str, str, str], None]


def _why(run: Run, at: datetime) -> str | None:
    """The reason this run needs a worker now, or None."""
    phase = Phase(run.phase)
    desired = DesiredState(run.desired_state)
    waiting = run.next_attempt_at is not None and run.next_attempt_at > at
    if phase is Phase.PENDING or phase is Phase.INJECTING:
        # a fresh run's own task is probably still queued: only resend after a grace period
        fresh = run.updated_at is not None and run.updated_at > at - PICKUP_GRACE
        return None if fresh and run.worker is None else "inject"
    if phase is Phase.RECOVERING:
        return None if waiting else "recover"
    if phase is Phase.PAUSED:
        return "inject" if desired is not DesiredState.PAUSE else None
    if phase is Phase.RUNNING:
        if desired is not DesiredState.RUN:
            return "recover"
        if run.deadline is not None and run.deadline <= at:
            return "recover"
        if not waiting and run.time_control != TimeControl.INSTANT.value:
            return "poll"  # external: has the tool ended? timed: refresh status and leases
    return None


def _take_over(
    s: Session, row: Run | WorkflowRun, at: datetime, published: list[tuple[str | None, list[int]]]
) -> bool:
    """Free a row whose worker stopped renewing its lease, saying so, for another to take;
    False when a worker has taken it over since this pass read it (nothing to send then).

    The lease is cleared at once, and only if it is still the lapsed one this pass saw — not
    by a plain assignment the session flushes at commit: by then the task sent for the row
    may already have reached a worker that claimed it (or a pass running beside this one
    sent one), and clearing that fresh lease would let a second worker claim the row and
    drive it too (a workflow's step started twice). The row stays locked until this pass
    commits, so a worker claiming meanwhile waits for it and then finds the lease free."""
    if row.worker is None:
        return True
    model = type(row)
    cleared = s.execute(
        update(model)
        .where(model.id == row.id, model.worker == row.worker, model.lease_until < at)
        .values(worker=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if not cleared.rowcount:  # type: ignore[attr-defined]
        return False
    ev = events.record(
        s, "worker-lost", f"worker {row.worker} stopped renewing its lease; resuming", run_id=row.id
    )
    s.flush()
    published.append((row.id, [ev.id]))
    return True


def _workflows(
    s: Session, at: datetime, dispatch: Dispatch, published: list[tuple[str | None, list[int]]]
) -> int:
    """Send every active workflow run that needs a worker now and has none (or a lapsed one)."""
    sent = 0
    for wr in s.scalars(
        select(WorkflowRun).where(
            WorkflowRun.phase.in_([p.value for p in lifecycle.ACTIVE]),
            or_(WorkflowRun.worker.is_(None), WorkflowRun.lease_until < at),
            or_(WorkflowRun.wake_at.is_(None), WorkflowRun.wake_at <= at),
        )
    ):
        fresh = wr.updated_at is not None and wr.updated_at > at - PICKUP_GRACE
        if wr.phase == Phase.PENDING.value and wr.worker is None and fresh:
            continue  # its own task is probably still queued
        if not _take_over(s, wr, at, published):
            continue  # a worker took it over meanwhile
        dispatch(wr.id, WORKFLOW, "workflow")
        sent += 1
    return sent


def mark_offline(runtime: Runtime, s: Session, at: datetime) -> list[int]:
    """Agents not heard from within the timeout go offline (the event ids). An agent's last
    beat is the later of its row and the presence store; a row older than the timeout
    whose agent the store has heard from since is brought up to date here, all such rows in
    one statement: that batch is the only write heartbeats cause (about one per agent per
    timeout, not one per beat)."""
    timeout = runtime.settings.agent_timeout_seconds
    limit = at - timedelta(seconds=timeout)
    stale = s.execute(
        select(Agent.id, Agent.name, Agent.last_heartbeat).where(
            Agent.online.is_(True),
            or_(Agent.last_heartbeat.is_(None), Agent.last_heartbeat < limit),
        )
    ).all()
    if not stale:
        return []
    known = runtime.presence.seen(name for _, name, _ in stale)
    seen, since = known if known is not None else ({}, 0.0)
    refreshed: list[dict[str, Any]] = []
    gone: list[tuple[str, str, datetime | None]] = []
    for agent_id, name, row_seen in stale:
        beat = seen.get(name)
        if beat is not None and beat >= limit.timestamp():
            refreshed.append({"id": agent_id, "last_heartbeat": datetime.fromtimestamp(beat, UTC)})
        elif since < limit.timestamp():  # the store has held beats for longer than the timeout
            last = datetime.fromtimestamp(beat, UTC) if beat is not None else row_seen
            gone.append((agent_id, name, last))
    if refreshed:
        s.execute(update(Agent), refreshed)
    ids = []
    for agent_id, name, last in gone:
        s.execute(
            update(Agent)
            .where(Agent.id == agent_id)
            .values(online=False, **({"last_heartbeat": last} if last else {}))
        )
        ev = events.record(
            s,
            "agent-offline",
            f"no heartbeat for {timeout:.0f}s"
            + (f" (last at {last:%H:%M:%S} UTC)" if last else ""),
            agent=name,
        )
        s.flush()
        ids.append(ev.id)
    return ids


def reconcile(runtime: Runtime, dispatch: Dispatch) -> int:
    """One pass; returns how many runs were sent to a worker."""
    at = datetime.now(UTC)
    sent = 0
    published: list[tuple[str | None, list[int]]] = []
    with runtime.session() as s:
        runs = s.scalars(
            select(Run).where(
                Run.phase.in_([p.value for p in lifecycle.ACTIVE]),
                or_(Run.worker.is_(None), Run.lease_until < at),
            )
        ).all()
        for run in runs:
            reason = _why(run, at)
            if reason is None:
                continue
            if not _take_over(s, run, at, published):
                continue  # a worker took it over meanwhile
            dispatch(run.id, run.adapter, reason)
            sent += 1

        sent += _workflows(s, at, dispatch, published)
        published.extend((None, [i]) for i in mark_offline(runtime, s, at))
    for run_id, ids in published:
        runtime.publish_events(ids, run_id)
    return sent
