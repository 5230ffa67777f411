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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from chaoshub.errors import IllegalTransition
from chaoshub.lifecycle import DesiredState, Ending, Phase, Verdict
from chaoshub.runtime import Runtime
from chaoshub.services import events
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.store.models import WorkflowRun, WorkflowStep
from chaoshub.workflows import probing
from chaoshub.workflows.parts import (
    CHILD_POLL,
    ENDED_STEP,
    ERROR_BACKOFF,
    MAX_PARALLEL_SAMPLES,
    RESIDENT_SECONDS,
    SLICE_SECONDS,
    TICK_SECONDS,
    Dispatch,
    _at,
    _iso,
    _Tick,
    now,
)
from chaoshub.workflows.steps import StepRunner

log = logging.getLogger("chaoshub.workflows")


class WorkflowDriver(StepRunner):
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
