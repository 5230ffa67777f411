"""What the workflow driver's pieces share: timing constants, one pass's bookkeeping, the
driver's state, and the helpers every piece uses to read and record (see :mod:`.engine`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chaoshub import lifecycle
from chaoshub.execution.driver import worker_name
from chaoshub.execution.lease import Lease
from chaoshub.lifecycle import Ending, Phase
from chaoshub.probes import ProbeDefinition, Sample
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services.auth import Actor
from chaoshub.store.models import Run, WorkflowRun, WorkflowStep
from chaoshub.workflows import probing
from chaoshub.workflows.document import Workflow, parse_workflow

log = logging.getLogger("chaoshub.workflows")


#: stay on a run while its next need is this close
RESIDENT_SECONDS = 3.0
#: hand the run back to the queue after this long, so others get a turn
SLICE_SECONDS = 30.0
#: how often a resident driver looks at the database (wishes, child runs)
TICK_SECONDS = 0.1
#: how often a running fault step's child run is looked at
CHILD_POLL = timedelta(seconds=0.25)
MAX_PARALLEL_SAMPLES = 16
#: after a pass that failed unexpectedly, the next one is this much later
ERROR_BACKOFF = timedelta(seconds=5)

ENDED_STEP = frozenset({"passed", "failed", "skipped", "aborted"})

Dispatch = Callable[[str, str, str], None]


def now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class _Tick:
    """What one pass did: events to publish, work to send after commit, when to come back."""

    published: list[int] = field(default_factory=list)
    #: something subscribers should see (a sample) even without an event
    changed: bool = False
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    wake: datetime | None = None

    def due(self, at: datetime | None) -> None:
        if at is not None and (self.wake is None or at < self.wake):
            self.wake = at


class DriverParts:
    """The driver's state and the helpers its pieces share; probes are sampled here."""

    def __init__(
        self,
        runtime: Runtime,
        workflow_run_id: str,
        dispatch: Dispatch,
        *,
        worker: str | None = None,
        requeue: Callable[[str], None] | None = None,
    ) -> None:
        self.rt = runtime
        self.id = workflow_run_id
        self.dispatch = dispatch
        self.requeue = requeue
        self.worker = worker or worker_name()
        self._workflow: Workflow | None = None
        self._probes: dict[tuple[str, str], ProbeDefinition] = {}
        self._inflight: dict[int, tuple[Future[Sample], datetime]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._current = _Tick()
        self.lease = Lease(runtime, WorkflowRun, workflow_run_id, self.worker)

    # -- one pass ----------------------------------------------------------------------------------

    def _load(self, s: Session) -> WorkflowRun | None:
        return s.scalars(
            select(WorkflowRun)
            .where(WorkflowRun.id == self.id)
            .options(selectinload(WorkflowRun.steps))
        ).one_or_none()

    def workflow(self, wr: WorkflowRun) -> Workflow:
        if self._workflow is None:
            workflow = parse_workflow(wr.document)
            assert workflow is not None
            self._workflow = workflow
            for p in workflow.steady_state:
                self._probes[("steadyState-before", p.name)] = p
                self._probes[("steadyState-after", p.name)] = p
            for p in workflow.stop_conditions:
                self._probes[("stopCondition", p.name)] = p
            for st in workflow.steps:
                if st.probe is not None:
                    self._probes[("step", st.id)] = st.probe
            for p in self._probes.values():
                bind = getattr(p.probe, "bind", None)
                if bind is not None:
                    bind(self.rt)
        return self._workflow

    # -- helpers -----------------------------------------------------------------------------------

    def _event(self, s: Session, wr: WorkflowRun, kind: str, reason: str, **data: Any) -> None:
        ev = events.record(s, kind, reason, run_id=wr.id, data=data or None)
        s.flush()
        self._current.published.append(ev.id)

    def _move(self, s: Session, wr: WorkflowRun, to: Phase, reason: str) -> None:
        carrying = [
            f"{r.step_id} (run {r.run_id})"
            for r in wr.steps
            if r.run_id and not self._child_ended(s, r.run_id)
        ]
        guard: Any = SimpleNamespace(
            phase=wr.phase,
            targets=[SimpleNamespace(label=c, may_carry_fault=True) for c in carrying],
        )
        transition = lifecycle.move(guard, to, reason)
        wr.phase = guard.phase
        ev = events.record_transition(s, wr, transition)
        if to.terminal:
            wr.ended_at = transition.at
        s.flush()
        self._current.published.append(ev.id)
        log.info(
            "workflow run %s: %s -> %s (%s)",
            wr.id,
            transition.from_phase.value,
            to.value,
            reason,
            extra={
                "workflow_run_id": wr.id,
                "from": transition.from_phase.value,
                "to": to.value,
                "phase": to.value,
                "reason": reason,
            },
        )

    def _child(self, s: Session, run_id: str) -> Run | None:
        return s.get(Run, run_id)

    def _child_ended(self, s: Session, run_id: str) -> bool:
        child = self._child(s, run_id)
        return child is None or Phase(child.phase).terminal

    def _set_step(
        self, s: Session, wr: WorkflowRun, row: WorkflowStep, state: str, reason: str
    ) -> None:
        if row.state == state and row.reason == reason:
            return
        row.state = state
        row.reason = reason
        at = now()
        if state == "running" and row.started_at is None:
            row.started_at = at
        if state in ENDED_STEP:
            row.ended_at = at
            row.next_check_at = None
        label = row.step_id if row.role == "step" else f"{row.role} {row.step_id}"
        self._event(
            s,
            wr,
            "step",
            f"{label}: {state}" + (f": {reason}" if reason else ""),
            step=row.step_id,
            role=row.role,
            state=state,
        )

    def _send(self, tick: _Tick, run: Run, reason: str) -> None:
        """After commit: hand a child run to a worker, and tell its subscribers."""
        run_id, adapter = run.id, run.adapter
        tick.after_commit.append(lambda: self.dispatch(run_id, adapter, reason))
        tick.after_commit.append(lambda: self.rt.publish_run(run_id))

    def _add_reason(self, wr: WorkflowRun, reason: str) -> None:
        if reason not in (wr.reasons or []):
            wr.reasons = [*(wr.reasons or []), reason]

    def _system_actor(self, wr: WorkflowRun) -> Actor:
        return Actor(name=wr.created_by or "workflow", role=wr.created_role or "operator")

    # -- probes ------------------------------------------------------------------------------------

    def _probe_of(self, row: WorkflowStep) -> ProbeDefinition:
        return self._probes[(row.role, row.step_id)]

    def _collect_samples(self, s: Session, wr: WorkflowRun, tick: _Tick) -> None:
        rows = {r.id: r for r in wr.steps}
        for pk, (future, at) in list(self._inflight.items()):
            if not future.done():
                continue
            del self._inflight[pk]
            row = rows.get(pk)
            if row is None or row.state != "running":
                continue
            try:
                sample = future.result()
            except Exception as exc:  # a probe must not raise; if it does, it failed
                sample = Sample(at=at.timestamp(), ok=False, error=f"{type(exc).__name__}: {exc}")
            decided = probing.record(s, row, self._probe_of(row), sample, at)
            if decided is not None:
                self._set_step(s, wr, row, decided[0], decided[1])
            tick.changed = True  # a sample is no event, but subscribers see it

    def _sample(self, s: Session, wr: WorkflowRun, row: WorkflowStep, tick: _Tick) -> None:
        """Take the next sample of a running probe when due; note when the next one is."""
        if row.id in self._inflight:
            tick.due(now() + timedelta(seconds=TICK_SECONDS))
            return
        probe = self._probe_of(row)
        at = now()
        if (
            row.window_end is not None
            and row.next_check_at is not None
            and row.next_check_at > row.window_end
        ):
            outcome, reason = probing.timed_out(row, probe)
            self._set_step(s, wr, row, outcome, reason)
            return
        if row.next_check_at is not None and row.next_check_at > at:
            tick.due(row.next_check_at)
            return
        assert self._pool is not None
        self._inflight[row.id] = (self._pool.submit(probe.probe.check), at)
        tick.due(at + timedelta(seconds=TICK_SECONDS))

    def _start_probe(
        self, s: Session, wr: WorkflowRun, row: WorkflowStep, *, window: bool = True
    ) -> None:
        probing.start(row, self._probe_of(row), now(), window=window)
        self._set_step(s, wr, row, "running", "")

    def _probes_pass(self, s: Session, wr: WorkflowRun, role: str, tick: _Tick) -> bool | None:
        """Check every probe of ``role`` (a steady state); True once all passed, False once one
        failed, None while undecided."""
        rows = [r for r in wr.steps if r.role == role]
        for row in rows:
            if row.state == "waiting":
                self._start_probe(s, wr, row)
            if row.state == "running":
                self._sample(s, wr, row, tick)
        if any(r.state == "failed" for r in rows):
            return False
        if all(r.state == "passed" for r in rows):
            return True
        return None

    def _stop(
        self,
        s: Session,
        wr: WorkflowRun,
        ending: Ending,
        reason: str,
        tick: _Tick,
        *,
        check_after: bool = False,
        said: bool = True,
    ) -> None:
        raise NotImplementedError  # the driver's (engine.WorkflowDriver._stop)
