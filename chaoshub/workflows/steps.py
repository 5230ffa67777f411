"""The steps of a workflow run: when each starts (``after`` and ``when``), how each kind
moves on (wait, approval, probe, fault), and the stop conditions watched while faults are held."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from chaoshub.errors import HubError
from chaoshub.lifecycle import Ending, Phase
from chaoshub.services import runs as runs_svc
from chaoshub.store.models import WorkflowRun, WorkflowStep
from chaoshub.workflows.checks import run_spec
from chaoshub.workflows.document import Step
from chaoshub.workflows.parts import (
    CHILD_POLL,
    ENDED_STEP,
    DriverParts,
    _at,
    _iso,
    _Tick,
    now,
)


class StepRunner(DriverParts):
    """Starts and moves on the steps of the DAG; watches the stop conditions."""

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
