"""Approvals: a manual gate holds the workflow until an operator approves or rejects it, or
until its timeout decides as ``onTimeout`` says.

Approved, the steps after it run. Rejected, the workflow ends ``aborted`` — unless a step
with ``when: <gate>.failed`` handles the rejection, which then runs. Deciding a step that is
not waiting for a decision is an illegal transition, and every decision is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflows.hub import APPROVE, REJECT, Hub, step, unique
from tests.workflows.processes import StateWatch, idle_process

pytestmark = pytest.mark.slow

AUDIT = """query($action: String!) { auditLog(action: $action, first: 5) {
  actor role action subject input result } }"""

WAITING = "waiting for an operator's approval"


@pytest.fixture
def target() -> Iterator[tuple[str, StateWatch]]:
    """A process a step after the gate would pause, watched from outside."""
    name = unique("gated")
    with idle_process(name) as proc, StateWatch(proc.pid) as watch:
        yield name, watch


def gate(**approval: Any) -> dict[str, Any]:
    return {"id": "gate", "approval": {"message": "go ahead?", **approval}}


def pause(name: str, **more: Any) -> dict[str, Any]:
    return {
        "fault": {
            "faultType": "native/process-pause",
            "backend": "native",
            "selector": {"agents": ["local"], "name": name},
            "durationSeconds": 1,
        },
        **more,
    }


def wait(**more: Any) -> dict[str, Any]:
    return {"wait": {"seconds": 0.2}, **more}


def viewer(hub: Hub) -> str:
    return hub.gql("{ viewer { name } }")["viewer"]["name"]  # type: ignore[no-any-return]


def test_an_approved_gate_lets_the_step_after_it_run(
    hub: Hub, target: tuple[str, StateWatch]
) -> None:
    name, watch = target
    doc = {
        "kind": "Workflow",
        "name": unique("approved"),
        "steps": [gate(), pause(name, id="pause", after=["gate"])],
    }
    run_id = hub.start(doc)["id"]
    held = hub.wait_step(run_id, "gate", "running")
    assert step(held, "gate")["reason"] == WAITING
    assert step(held, "pause")["state"] == "waiting"

    answer = hub.steer(APPROVE, run=run_id, step="gate", comment="change window open")
    assert answer["__typename"] == "WorkflowRun", answer
    run = hub.wait_ended(run_id)

    decided = step(run, "gate")
    assert decided["state"] == "passed"
    assert decided["decidedBy"] == viewer(hub)
    assert decided["reason"] == f"approved by {viewer(hub)}: change window open"
    assert step(run, "pause")["state"] == "passed"
    assert watch.ever_stopped  # the step after the gate really ran
    assert (run["phase"], run["verdict"]) == ("completed", "pass")
    audited = hub.gql(AUDIT, action="approveStep")["auditLog"][0]
    assert audited["input"] == {"runId": run_id, "stepId": "gate", "comment": "change window open"}
    assert (audited["subject"], audited["result"], audited["role"]) == (run_id, "ok", "admin")


def test_a_rejected_gate_ends_the_workflow_aborted_and_nothing_after_it_runs(
    hub: Hub, target: tuple[str, StateWatch]
) -> None:
    name, watch = target
    doc = {
        "kind": "Workflow",
        "name": unique("rejected"),
        "steps": [gate(), pause(name, id="pause", after=["gate"])],
    }
    run_id = hub.start(doc)["id"]
    hub.wait_step(run_id, "gate", "running")

    answer = hub.steer(REJECT, run=run_id, step="gate", comment="not today")
    assert answer["__typename"] == "WorkflowRun", answer
    run = hub.wait_ended(run_id)

    assert run["phase"] == "aborted"
    assert step(run, "gate")["state"] == "failed"
    assert step(run, "gate")["reason"] == f"rejected by {viewer(hub)}: not today"
    assert step(run, "pause")["state"] == "skipped"
    assert step(run, "pause")["runId"] is None
    assert any("approval gate rejected" in r for r in run["reasons"]), run["reasons"]
    assert not watch.ever_stopped
    audited = hub.gql(AUDIT, action="rejectStep")["auditLog"][0]
    assert audited["input"] == {"runId": run_id, "stepId": "gate", "comment": "not today"}
    assert (audited["subject"], audited["result"]) == (run_id, "ok")


def test_a_rejected_gate_runs_the_branch_that_handles_its_failure(hub: Hub) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("handled"),
        "steps": [
            gate(),
            wait(id="proceed", after=["gate"]),
            wait(id="fallback", after=["gate"], when="gate.failed"),
        ],
    }
    run_id = hub.start(doc)["id"]
    hub.wait_step(run_id, "gate", "running")

    hub.steer(REJECT, run=run_id, step="gate")
    run = hub.wait_ended(run_id)

    assert step(run, "gate")["state"] == "failed"
    assert step(run, "fallback")["state"] == "passed"
    assert step(run, "proceed")["state"] == "skipped"
    assert step(run, "proceed")["reason"] == "needs gate passed; it failed"
    assert run["phase"] == "completed"


def test_an_approval_that_times_out_does_what_its_on_timeout_says(hub: Hub) -> None:
    def timing_out(on_timeout: str) -> dict[str, Any]:
        return {
            "kind": "Workflow",
            "name": unique(f"timeout-{on_timeout}"),
            "steps": [
                gate(timeoutSeconds=1, onTimeout=on_timeout),
                wait(id="proceed", after=["gate"]),
            ],
        }

    rejecting = hub.start(timing_out("reject"))["id"]
    approving = hub.start(timing_out("approve"))["id"]
    rejected, approved = hub.wait_ended(rejecting), hub.wait_ended(approving)

    assert rejected["phase"] == "aborted"
    assert step(rejected, "gate")["state"] == "failed"
    assert step(rejected, "gate")["reason"] == "timed out after 1 s (reject)"
    assert step(rejected, "gate")["decidedBy"] == "timeout"
    assert step(rejected, "proceed")["state"] == "skipped"

    assert (approved["phase"], approved["verdict"]) == ("completed", "pass")
    assert step(approved, "gate")["state"] == "passed"
    assert step(approved, "gate")["reason"] == "timed out after 1 s (approve)"
    assert step(approved, "gate")["decidedBy"] == "timeout"
    assert step(approved, "proceed")["state"] == "passed"


def test_deciding_a_step_that_is_not_waiting_for_a_decision_is_refused(hub: Hub) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("not-waiting"),
        "steps": [
            gate(),
            {"id": "hold", "wait": {"seconds": 60}},
            {"id": "later", "after": ["hold"], "approval": {}},
        ],
    }
    run_id = hub.start(doc)["id"]
    hub.wait_step(run_id, "gate", "running")
    assert hub.steer(APPROVE, run=run_id, step="gate")["__typename"] == "WorkflowRun"

    def refusal(mutation: str, step_id: str) -> tuple[str, list[str]]:
        answer = hub.steer(mutation, run=run_id, step=step_id)
        return answer["__typename"], answer["field"]

    assert refusal(APPROVE, "gate") == ("IllegalTransitionError", ["stepId"])  # decided
    assert refusal(REJECT, "gate") == ("IllegalTransitionError", ["stepId"])
    assert refusal(APPROVE, "later") == ("IllegalTransitionError", ["stepId"])  # not started
    assert refusal(APPROVE, "hold") == ("InvalidInputError", ["stepId"])  # not an approval
    assert refusal(APPROVE, "nope") == ("NotFoundError", ["stepId"])

    hub.quiet()
    assert refusal(APPROVE, "later")[0] == "IllegalTransitionError"  # the run has ended
    run = hub.run(run_id)
    assert step(run, "gate")["reason"] == f"approved by {viewer(hub)}"
    assert step(run, "later")["state"] == "skipped"
    refused = hub.gql(AUDIT, action="approveStep")["auditLog"][0]
    assert refused["result"] == "ILLEGAL_TRANSITION"
