"""The workflow driver: moves one workflow run along, one stored step at a time.

A workflow run has the phases of a run (DESIGN.md §4), with these meanings:

- ``pending`` — stored; ``injecting`` — the steady state is checked before anything is
  injected (and, after a pause, the children are resumed); ``running`` — the steps run, the
  stop conditions are watched while any fault is held; ``paused`` — every active fault run is
  paused and the workflow's clocks stand still; ``recovering`` — every child run is brought to
  its end and the steady state is checked again; then ``completed | aborted | failed``.

It is never terminal while a child run is not: a child stuck recovering keeps its workflow
``recovering`` too.

Crash safety is a run's: all progress is in the database (a step's state and times, a
probe's counts with each sample, a fault step's child run id stored in the same commit that
creates the child), a worker holds a lease on the workflow run while it drives it, and a
worker that dies is replaced by the reconciler from what is stored. A sample that was in
flight when its worker died is simply taken again; a step never starts twice.

A driver stays on its run while something is due within :data:`RESIDENT_SECONDS` (a probe
sampling, a fault step running) for at most :data:`SLICE_SECONDS`, then hands the run back
to the queue; otherwise it stores when it next needs a worker (``wake_at``) and lets go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chaoshub import lifecycle
from chaoshub.errors import HubError, IllegalTransition
from chaoshub.execution.driver import worker_name
from chaoshub.execution.lease import Lease
from chaoshub.lifecycle import DesiredState, Ending, Phase, Verdict
from chaoshub.probes import ProbeDefinition, Sample
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store.models import Run, WorkflowRun, WorkflowStep
from chaoshub.workflows import probing
from chaoshub.workflows.checks import run_spec
from chaoshub.workflows.document import Step, Workflow, parse_workflow

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


class WorkflowDriver:
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

    # -- entry point -------------------------------------------------------------------------------

    def advance(self, slice_seconds: float = SLICE_SECONDS) -> None:
        """Drive the run while it has something due soon; return when it must wait."""
        if not self.lease.claim():
            log.debug("workflow run %s is driven by another worker", self.id)
            return
        self._pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_SAMPLES)
        started = time.monotonic()
        wake: datetime | None = None
        requeue = False
        try:
            with self.lease.renewed():
                while True:
                    try:
                        wake = self._tick()
                    except Exception:
                        # stored progress is intact; another pass (this worker's or another's)
                        # tries again after a pause, instead of spinning on the same error
                        log.exception("workflow run %s: a pass failed; trying again later", self.id)
                        wake = now() + ERROR_BACKOFF
                        break
                    if wake is None:  # terminal
                        break
                    wait = (wake - now()).total_seconds()
                    if wait > RESIDENT_SECONDS and not self._inflight:
                        break
                    if time.monotonic() - started > slice_seconds:
                        requeue = True
                        break
                    time.sleep(min(max(wait, 0.0), TICK_SECONDS))
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._inflight.clear()
            self.lease.release(wake_at=now() if requeue else wake)
        if requeue and self.requeue is not None:
            self.requeue(self.id)

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

    def _tick(self) -> datetime | None:
        tick = self._current = _Tick()
        with self.rt.session() as s:
            wr = self._load(s)
            if wr is None or Phase(wr.phase).terminal:
                return None
            if wr.worker != self.worker:
                # another worker took the run over (this one stalled past its lease): stop here
                log.warning("workflow run %s: lease lost to %s", self.id, wr.worker)
                return None
            self.workflow(wr)
            self._collect_samples(s, wr, tick)
            handler = {
                Phase.PENDING: self._pending,
                Phase.INJECTING: self._injecting,
                Phase.RUNNING: self._running,
                Phase.PAUSED: self._paused,
                Phase.RECOVERING: self._recovering,
            }[Phase(wr.phase)]
            handler(s, wr, DesiredState(wr.desired_state), tick)
            terminal = Phase(wr.phase).terminal
        for hook in tick.after_commit:
            try:
                hook()
            except Exception as exc:  # stored; the reconciler sends it
                log.warning("workflow run %s: after-commit step failed: %s", self.id, exc)
        if tick.published or tick.changed:
            self.rt.publish_run(self.id, tick.published)
        if terminal:
            return None
        return tick.wake or now() + timedelta(seconds=RESIDENT_SECONDS * 2)

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
            extra={"workflow_run_id": wr.id, "to": to.value, "reason": reason},
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

    # -- per phase ---------------------------------------------------------------------------------

    def _pending(self, s: Session, wr: WorkflowRun, desired: DesiredState, tick: _Tick) -> None:
        if desired is DesiredState.STOP:
            wr.ending = Ending.ABORTED.value
            for row in wr.steps:
                self._set_step(s, wr, row, "skipped", "the workflow was stopped before it started")
            self._move(s, wr, Phase.ABORTED, "stopped before it started")
            return
        workflow = self.workflow(wr)
        wr.started_at = now()
        wr.deadline = wr.started_at + timedelta(seconds=workflow.deadline_seconds)
        what = "checking the steady state" if workflow.steady_state else "no steady state to check"
        self._move(s, wr, Phase.INJECTING, f"worker {self.worker} picked it up; {what}")
        tick.due(now())

    def _over_deadline(self, wr: WorkflowRun) -> bool:
        return wr.deadline is not None and now() >= wr.deadline

    def _injecting(self, s: Session, wr: WorkflowRun, desired: DesiredState, tick: _Tick) -> None:
        if desired is DesiredState.STOP:
            self._stop(
                s, wr, Ending.ABORTED, "aborted before any fault was injected", tick, said=False
            )
            return
        if self._over_deadline(wr):
            self._deadline(s, wr, tick)
            return
        held = self._probes_pass(s, wr, "steadyState-before", tick)
        if held is None:
            return
        if held is False:
            failed = [r for r in wr.steps if r.role == "steadyState-before" and r.state == "failed"]
            why = "; ".join(f"{r.step_id}: {r.reason}" for r in failed)
            self._stop(
                s,
                wr,
                Ending.FAILED,
                f"the system was not steady before injection, so nothing was injected ({why})",
                tick,
            )
            return
        resumed = any(r.started_at is not None for r in wr.steps if r.role == "step")
        self._move(
            s,
            wr,
            Phase.RUNNING,
            "resumed" if resumed else "steady state held; the steps start",
        )
        tick.due(now())

    def _running(self, s: Session, wr: WorkflowRun, desired: DesiredState, tick: _Tick) -> None:
        if desired is DesiredState.STOP:
            self._stop(s, wr, Ending.ABORTED, "aborted on request", tick, said=False)
            return
        if desired is DesiredState.PAUSE:
            self._pause(s, wr, tick)
            return
        if self._over_deadline(wr):
            self._deadline(s, wr, tick)
            return
        if self._watch_stop_conditions(s, wr, tick):
            return
        for row in [r for r in wr.steps if r.role == "step"]:
            if row.state == "waiting":
                self._maybe_start(s, wr, row, tick)
            if row.state == "running":
                if self._progress(s, wr, row, tick):
                    return  # the step stopped the workflow
        steps = [r for r in wr.steps if r.role == "step"]
        if all(r.state in ENDED_STEP for r in steps):
            for row in wr.steps:
                if row.role == "stopCondition" and row.state in ("waiting", "running"):
                    self._finish_stop_condition(s, wr, row)
            wr.ending = Ending.COMPLETED.value
            self._move(s, wr, Phase.RECOVERING, "every step ended")
            tick.due(now())

    def _finish_stop_condition(self, s: Session, wr: WorkflowRun, row: WorkflowStep) -> None:
        if row.checks:
            self._set_step(
                s, wr, row, "passed", f"never breached ({row.passed}/{row.checks} checks held)"
            )
        else:
            self._set_step(s, wr, row, "skipped", "no fault was held while it was watched")

    def _faults_held(self, s: Session, wr: WorkflowRun) -> bool:
        return any(
            r.kind == "fault"
            and r.state == "running"
            and r.run_id
            and not self._child_ended(s, r.run_id)
            for r in wr.steps
            if r.role == "step"
        )

    def _watch_stop_conditions(self, s: Session, wr: WorkflowRun, tick: _Tick) -> bool:
        """Sample the stop conditions while any fault is held; True when one breached (and
        the workflow is being stopped)."""
        rows = [r for r in wr.steps if r.role == "stopCondition"]
        if not rows:
            return False
        held = self._faults_held(s, wr)
        for row in rows:
            if row.state == "failed":
                probe_value = row.reason
                self._stop(
                    s,
                    wr,
                    Ending.ABORTED,
                    f"stop condition {row.step_id} breached: {probe_value}",
                    tick,
                    check_after=True,
                )
                return True
            if not held:
                continue
            if row.state == "waiting":
                self._start_probe(s, wr, row, window=False)
            if row.state == "running":
                self._sample(s, wr, row, tick)
        return False

    # -- DAG steps ---------------------------------------------------------------------------------

    def _maybe_start(self, s: Session, wr: WorkflowRun, row: WorkflowStep, tick: _Tick) -> None:
        step = self.workflow(wr).step(row.step_id)
        states = {r.step_id: r for r in wr.steps if r.role == "step"}
        deps = [states[d] for d in step.after]
        if any(d.state not in ENDED_STEP for d in deps):
            return
        for dep in deps:
            wanted = step.when[1] if step.when and step.when[0] == dep.step_id else "passed"
            if dep.state != wanted:
                why = (
                    f"when: {dep.step_id}.{wanted} did not hold ({dep.step_id} {dep.state})"
                    if wanted != "passed" or (step.when and step.when[0] == dep.step_id)
                    else f"needs {dep.step_id} passed; it {dep.state}"
                )
                self._set_step(s, wr, row, "skipped", why)
                return
        self._start_step(s, wr, row, step, tick)

    def _start_step(
        self, s: Session, wr: WorkflowRun, row: WorkflowStep, step: Step, tick: _Tick
    ) -> None:
        at = now()
        row.deadline = at + timedelta(seconds=step.deadline_seconds)
        if step.wait is not None:
            until = at + timedelta(seconds=step.wait.seconds)
            row.data = {**row.data, "until": _iso(until)}
            self._set_step(s, wr, row, "running", f"waiting {step.wait.seconds:g} s")
            tick.due(until)
        elif step.approval is not None:
            timeout_at = at + timedelta(seconds=step.approval.timeoutSeconds)
            row.data = {**row.data, "timeoutAt": _iso(timeout_at)}
            self._set_step(s, wr, row, "running", "waiting for an operator's approval")
            tick.due(timeout_at)
        elif step.probe is not None:
            self._start_probe(s, wr, row)
            tick.due(row.next_check_at)
        else:
            self._start_fault(s, wr, row, step, tick)

    def _start_fault(
        self, s: Session, wr: WorkflowRun, row: WorkflowStep, step: Step, tick: _Tick
    ) -> None:
        assert step.fault is not None
        try:
            run = runs_svc.start(self.rt, s, self._system_actor(wr), run_spec(step.fault))
        except HubError as exc:  # raised before anything was stored
            reason = f"could not start: {exc}"
            self._set_step(s, wr, row, "failed", reason)
            self._stop(s, wr, Ending.FAILED, f"step {row.step_id} {reason}", tick)
            return
        run.workflow_run_id = wr.id
        run.workflow_step_id = row.step_id
        row.run_id = run.id
        self._set_step(s, wr, row, "running", f"run {run.id} started")
        self._send(tick, run, "inject")
        tick.due(now() + CHILD_POLL)

    def _progress(self, s: Session, wr: WorkflowRun, row: WorkflowStep, tick: _Tick) -> bool:
        """Move a running step on; True when it stopped the whole workflow."""
        at = now()
        if row.kind == "wait":
            until = _at(row.data["until"])
            if at >= until:
                self._set_step(s, wr, row, "passed", "waited")
            else:
                tick.due(until)
            return False
        if row.kind == "approval":
            return self._approval(s, wr, row, tick)
        if row.kind == "probe":
            if row.deadline is not None and at >= row.deadline:
                self._set_step(s, wr, row, "failed", "its deadline passed before it was decided")
                return False
            self._sample(s, wr, row, tick)
            return False
        return self._fault_progress(s, wr, row, tick)

    def _approval(self, s: Session, wr: WorkflowRun, row: WorkflowStep, tick: _Tick) -> bool:
        step = self.workflow(wr).step(row.step_id)
        assert step.approval is not None
        decision = row.data.get("decision")
        if decision is None and now() >= _at(row.data["timeoutAt"]):
            decision = "approve" if step.approval.onTimeout == "approve" else "reject"
            row.data = {**row.data, "decision": decision, "timedOut": True}
            row.decided_by = "timeout"
        if decision is None:
            tick.due(_at(row.data["timeoutAt"]))
            return False
        who = row.decided_by or "?"
        comment = row.data.get("comment") or ""
        how = (
            f"timed out after {step.approval.timeoutSeconds:g} s ({step.approval.onTimeout})"
            if row.data.get("timedOut")
            else f"{'approved' if decision == 'approve' else 'rejected'} by {who}"
        ) + (f": {comment}" if comment else "")
        if decision == "approve":
            self._set_step(s, wr, row, "passed", how)
            return False
        self._set_step(s, wr, row, "failed", how)
        handled = any(st.when == (row.step_id, "failed") for st in self.workflow(wr).steps)
        if not handled:
            self._stop(s, wr, Ending.ABORTED, f"approval {row.step_id} {how}", tick)
            return True
        return False

    def _fault_progress(self, s: Session, wr: WorkflowRun, row: WorkflowStep, tick: _Tick) -> bool:
        child = self._child(s, row.run_id) if row.run_id else None
        if child is None:
            self._set_step(s, wr, row, "failed", "its run no longer exists")
            self._stop(s, wr, Ending.FAILED, f"step {row.step_id}: its run no longer exists", tick)
            return True
        phase = Phase(child.phase)
        if phase is Phase.COMPLETED:
            self._set_step(s, wr, row, "passed", f"run {child.id} completed")
            return False
        if phase is Phase.FAILED:
            why = f"run {child.id} failed: {child.error or 'the tool failed'}"
            self._set_step(s, wr, row, "failed", why)
            self._stop(s, wr, Ending.FAILED, f"step {row.step_id}: {why}", tick)
            return True
        if phase is Phase.ABORTED:
            why = f"run {child.id} was aborted outside the workflow"
            self._set_step(s, wr, row, "aborted", why)
            self._stop(s, wr, Ending.ABORTED, f"step {row.step_id}: {why}", tick)
            return True
        if row.deadline is not None and now() >= row.deadline:
            # the document's figure: the stored times differ from it by the start-up work
            # and by any time the workflow spent paused
            seconds = self.workflow(wr).step(row.step_id).deadline_seconds
            why = f"outlived its deadline ({seconds:g} s); its fault is being recovered"
            row.data = {**row.data, "deadlineExceeded": True}
            self._set_step(s, wr, row, "running", why)
            self._stop(s, wr, Ending.FAILED, f"step {row.step_id} {why}", tick)
            return True
        tick.due(now() + CHILD_POLL)
        return False

    # -- stopping, pausing -------------------------------------------------------------------------

    def _deadline(self, s: Session, wr: WorkflowRun, tick: _Tick) -> None:
        seconds = self.workflow(wr).deadline_seconds
        self._stop(s, wr, Ending.FAILED, f"the workflow's deadline of {seconds:g} s passed", tick)

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
        """Stop everything: skip what has not started, end what runs, have every child run
        recovered; then ``recovering`` until every child has ended.

        The steady state is checked again afterwards only when a stop condition stopped the
        workflow (``check_after``): a person's abort, halt-all or a tool failure stops
        checking too. ``said=False``: the request that asked for the stop already gave the
        workflow its reason."""
        if wr.ending is None or ending is not Ending.COMPLETED:
            wr.ending = ending.value
        if said:
            self._add_reason(wr, reason)
        for row in wr.steps:
            if row.role == "steadyState-after":
                if not check_after and row.state == "waiting":
                    self._set_step(s, wr, row, "skipped", f"not checked: {reason}")
                continue
            if row.state == "waiting":
                self._set_step(s, wr, row, "skipped", f"not run: {reason}")
            elif row.state == "running":
                if row.kind == "fault":
                    self._abort_child(s, wr, row, reason, tick)
                elif row.role == "stopCondition":
                    self._finish_stop_condition(s, wr, row)
                else:
                    self._set_step(s, wr, row, "aborted", f"stopped: {reason}")
        self._inflight.clear()
        if Phase(wr.phase) is Phase.PENDING:
            self._move(s, wr, Phase.ABORTED, reason)
        elif Phase(wr.phase) is not Phase.RECOVERING:
            self._move(s, wr, Phase.RECOVERING, reason)
        tick.due(now())

    def _abort_child(
        self, s: Session, wr: WorkflowRun, row: WorkflowStep, reason: str, tick: _Tick
    ) -> None:
        child = self._child(s, row.run_id) if row.run_id else None
        if child is None or Phase(child.phase).terminal:
            return
        if child.desired_state != DesiredState.STOP.value:
            child.desired_state = DesiredState.STOP.value
            events.record(
                s, "desired", f"abort requested by workflow run {wr.id}: {reason}", run_id=child.id
            )
            self._send(tick, child, "recover")

    def _pause(self, s: Session, wr: WorkflowRun, tick: _Tick) -> None:
        actor = Actor(name=f"workflow run {wr.id}", role="admin")
        for row in wr.steps:
            if row.kind != "fault" or row.state != "running" or not row.run_id:
                continue
            child = self._child(s, row.run_id)
            if child is None or Phase(child.phase).terminal:
                continue
            try:
                runs_svc.pause(self.rt, s, actor, child.id)
            except IllegalTransition as exc:
                self._event(s, wr, "pause-skipped", f"step {row.step_id}: {exc.message}")
                continue
            self._send(tick, child, "recover")
        self._inflight.clear()
        wr.paused_at = now()
        self._move(s, wr, Phase.PAUSED, "paused on request; its clocks stand still")

    def _paused(self, s: Session, wr: WorkflowRun, desired: DesiredState, tick: _Tick) -> None:
        if desired is DesiredState.STOP:
            self._stop(s, wr, Ending.ABORTED, "aborted while paused", tick, said=False)
            return
        if desired is not DesiredState.RUN:
            return
        shift = now() - (wr.paused_at or now())
        wr.paused_at = None
        if wr.deadline is not None:
            wr.deadline += shift
        actor = Actor(name=f"workflow run {wr.id}", role="admin")
        for row in wr.steps:
            if row.state != "running":
                continue
            for attr in ("deadline", "next_check_at", "window_end"):
                value = getattr(row, attr)
                if value is not None:
                    setattr(row, attr, value + shift)
            for key in ("until", "timeoutAt"):
                if key in row.data:
                    row.data = {**row.data, key: _iso(_at(row.data[key]) + shift)}
            if row.kind == "fault" and row.run_id:
                child = self._child(s, row.run_id)
                if child is not None and child.desired_state == DesiredState.PAUSE.value:
                    runs_svc.resume(s, actor, child.id)
                    self._send(tick, child, "inject")
        self._move(s, wr, Phase.INJECTING, f"resumed after {shift.total_seconds():.1f} s paused")
        tick.due(now())

    # -- the end -----------------------------------------------------------------------------------

    def _recovering(self, s: Session, wr: WorkflowRun, desired: DesiredState, tick: _Tick) -> None:
        open_children = False
        stopping = desired is DesiredState.STOP or wr.ending != Ending.COMPLETED.value
        for row in wr.steps:
            if row.kind != "fault" or not row.run_id:
                continue
            child = self._child(s, row.run_id)
            if child is None:
                continue
            phase = Phase(child.phase)
            if not phase.terminal:
                open_children = True
                if stopping:
                    self._abort_child(s, wr, row, "the workflow is stopping", tick)
                continue
            if row.state != "running":
                continue
            if row.data.get("deadlineExceeded"):
                self._set_step(
                    s, wr, row, "failed", f"outlived its deadline; run {child.id} {phase.value}"
                )
            elif phase is Phase.COMPLETED:
                self._set_step(s, wr, row, "passed", f"run {child.id} completed")
            elif phase is Phase.FAILED:
                self._set_step(s, wr, row, "failed", f"run {child.id} failed: {child.error or ''}")
            else:
                self._set_step(s, wr, row, "aborted", f"run {child.id} aborted")
        if open_children:
            tick.due(now() + CHILD_POLL)
            return
        if desired is DesiredState.STOP and wr.ending == Ending.COMPLETED.value:
            wr.ending = Ending.ABORTED.value
            self._add_reason(wr, "aborted on request while the steady state was checked again")
        if desired is DesiredState.STOP:
            for row in wr.steps:
                if row.role == "steadyState-after" and row.state in ("waiting", "running"):
                    self._set_step(
                        s,
                        wr,
                        row,
                        "skipped" if row.state == "waiting" else "aborted",
                        "aborted on request",
                    )
        injected = any(r.kind == "fault" and r.run_id for r in wr.steps)
        after = [r for r in wr.steps if r.role == "steadyState-after"]
        if after and not injected:
            for row in after:
                if row.state == "waiting":
                    self._set_step(s, wr, row, "skipped", "nothing was injected")
        held = (
            self._probes_pass(s, wr, "steadyState-after", tick)
            if any(r.state in ("waiting", "running") for r in after)
            else True
        )
        if held is None:
            return
        if held is False:
            failed = [r for r in after if r.state == "failed"]
            self._add_reason(
                wr,
                "the system did not return to its steady state after recovery ("
                + "; ".join(f"{r.step_id}: {r.reason}" for r in failed)
                + ")",
            )
        self._finish(s, wr)

    def _finish(self, s: Session, wr: WorkflowRun) -> None:
        probe_rows = [r for r in wr.steps if r.kind == "probe"]
        wr.score = probing.score(probe_rows)
        failed_checks = [r for r in probe_rows if r.state == "failed"]
        failed_steps = [
            r for r in wr.steps if r.role == "step" and r.kind == "fault" and r.state == "failed"
        ]
        for r in failed_checks:
            if r.role == "step":
                self._add_reason(wr, f"probe step {r.step_id} failed: {r.reason}")
        ending = Ending(wr.ending or Ending.COMPLETED.value)
        if failed_checks or failed_steps or ending is Ending.FAILED:
            wr.verdict = Verdict.FAIL.value
        elif ending is Ending.COMPLETED:
            wr.verdict = Verdict.PASS.value
            self._add_reason(wr, "every steady-state check, stop condition and probe step held")
        else:
            wr.verdict = Verdict.NONE.value
        score = f"; resilience {wr.score:.0%}" if wr.score is not None else ""
        self._move(s, wr, ending.phase, f"verdict {wr.verdict}{score}")


def advance(
    runtime: Runtime,
    workflow_run_id: str,
    dispatch: Dispatch,
    requeue: Callable[[str], None] | None = None,
) -> None:
    WorkflowDriver(runtime, workflow_run_id, dispatch, requeue=requeue).advance()
