"""Saving, starting and steering workflows. A document is validated whole (the tools' checks
included) before anything is stored; a workflow run is stored with every one of its step
records in one commit, and only then handed to a worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from chaoshub import lifecycle
from chaoshub.errors import Conflict, HubError, IllegalTransition, InvalidInput, NotFound
from chaoshub.lifecycle import DesiredState, Phase, TimeControl
from chaoshub.runtime import Runtime
from chaoshub.services import events, halting
from chaoshub.services.auth import Actor
from chaoshub.store.models import Run, Workflow, WorkflowRun, WorkflowStep, WorkflowVersion
from chaoshub.workflows import checks
from chaoshub.workflows.document import Issues
from chaoshub.workflows.document import Workflow as WorkflowDoc


def validate(rt: Runtime, s: Session, actor: Actor, document: Any) -> list[HubError]:
    """Every refusal the document would get, without storing or running anything."""
    issues = Issues()
    checks.validate(rt, s, actor, document, issues)
    return issues.items


def get(s: Session, workflow_id: str | None = None, name: str | None = None) -> Workflow:
    if workflow_id:
        row = s.get(Workflow, workflow_id)
        if row is None:
            raise NotFound(f"no workflow with id {workflow_id!r}", field=["id"])
        return row
    if name:
        found = s.scalars(select(Workflow).where(Workflow.name == name)).one_or_none()
        if found is None:
            raise NotFound(f"no workflow named {name!r}", field=["name"])
        return found
    raise InvalidInput("give the workflow's id or name", field=["id"])


def _version(s: Session, row: Workflow, actor: Actor) -> None:
    s.add(
        WorkflowVersion(
            workflow_id=row.id, version=row.version, document=row.document, created_by=actor.name
        )
    )


def create(rt: Runtime, s: Session, actor: Actor, document: Any) -> Workflow:
    doc = checks.validate(rt, s, actor, document)
    assert doc is not None
    if s.scalars(select(Workflow.id).where(Workflow.name == doc.name)).first():
        raise Conflict(f"a workflow named {doc.name!r} exists already", field=["document", "name"])
    row = Workflow(
        name=doc.name,
        description=doc.description,
        version=1,
        document=doc.document,
        created_by=actor.name,
    )
    s.add(row)
    s.flush()
    _version(s, row, actor)
    return row


def update(rt: Runtime, s: Session, actor: Actor, workflow_id: str, document: Any) -> Workflow:
    row = get(s, workflow_id)
    doc = checks.validate(rt, s, actor, document)
    assert doc is not None
    if (
        doc.name != row.name
        and s.scalars(select(Workflow.id).where(Workflow.name == doc.name)).first()
    ):
        raise Conflict(f"a workflow named {doc.name!r} exists already", field=["document", "name"])
    if doc.document != row.document:
        row.name = doc.name
        row.description = doc.description
        row.document = doc.document
        row.version += 1
        s.flush()
        _version(s, row, actor)
    return row


def save(rt: Runtime, s: Session, actor: Actor, document: Any) -> Workflow:
    """Create the workflow the document names, or give it a new version when it differs."""
    name = document.get("name") if isinstance(document, dict) else None
    existing = (
        s.scalars(select(Workflow).where(Workflow.name == name)).one_or_none()
        if isinstance(name, str)
        else None
    )
    if existing is None:
        return create(rt, s, actor, document)
    return update(rt, s, actor, existing.id, document)


def delete(s: Session, workflow_id: str) -> Workflow:
    row = get(s, workflow_id)
    active = s.scalar(
        select(func.count())
        .select_from(WorkflowRun)
        .where(
            WorkflowRun.workflow_id == row.id,
            WorkflowRun.phase.in_([p.value for p in lifecycle.ACTIVE]),
        )
    )
    if active:
        raise Conflict(
            f"workflow {row.name!r} has {active} active run(s); abort them first", field=["id"]
        )
    s.delete(row)
    return row


def _step_rows(doc: WorkflowDoc) -> list[WorkflowStep]:
    rows: list[WorkflowStep] = []

    def add(step_id: str, kind: str, role: str) -> None:
        rows.append(WorkflowStep(index=len(rows), step_id=step_id, kind=kind, role=role, data={}))

    for probe in doc.steady_state:
        add(probe.name, "probe", "steadyState-before")
    for probe in doc.stop_conditions:
        add(probe.name, "probe", "stopCondition")
    for step in doc.steps:
        add(step.id, step.kind, "step")
    for probe in doc.steady_state:
        add(probe.name, "probe", "steadyState-after")
    return rows


def start(
    rt: Runtime,
    s: Session,
    actor: Actor,
    *,
    workflow_id: str | None = None,
    name: str | None = None,
    document: Any = None,
) -> WorkflowRun:
    """Start a saved workflow (by id or name), or save ``document`` first and start it."""
    if document is not None:
        if workflow_id or name:
            raise InvalidInput("give a document or a saved workflow, not both", field=["document"])
        row = save(rt, s, actor, document)
    else:
        row = get(s, workflow_id, name)
    # checked again as it is now: a backend, an agent or a script may have changed since it was saved
    return _store_run(rt, s, actor, row.document, workflow_id=row.id, version=row.version)


def start_unsaved(rt: Runtime, s: Session, actor: Actor, document: Any) -> WorkflowRun:
    """Start a document without saving it as a workflow (a run the hub generated, such as a
    threshold search's trial: it belongs to what generated it, not to the workflows list)."""
    return _store_run(rt, s, actor, document, workflow_id=None, version=1)


def _store_run(
    rt: Runtime, s: Session, actor: Actor, document: Any, *, workflow_id: str | None, version: int
) -> WorkflowRun:
    doc = checks.validate(rt, s, actor, document)
    assert doc is not None
    run = WorkflowRun(
        workflow_id=workflow_id,
        workflow_name=doc.name,
        version=version,
        document=doc.document,
        created_by=actor.name,
        created_role=actor.role,
        reasons=[],
    )
    run.steps = _step_rows(doc)
    s.add(run)
    s.flush()
    events.record(
        s,
        "created",
        f"workflow {doc.name} v{version} started by {actor.name}: {len(doc.steps)} steps, "
        f"{len(doc.steady_state)} steady-state checks, {len(doc.stop_conditions)} stop conditions",
        run_id=run.id,
    )
    return run


def get_run(s: Session, run_id: str) -> WorkflowRun:
    run = s.scalars(
        select(WorkflowRun).where(WorkflowRun.id == run_id).options(selectinload(WorkflowRun.steps))
    ).one_or_none()
    if run is None:
        raise NotFound(f"no workflow run with id {run_id!r}", field=["id"])
    return run


def _active(run: WorkflowRun, action: str) -> None:
    if Phase(run.phase).terminal:
        raise IllegalTransition(
            f"cannot {action} workflow run {run.id}: it is {run.phase} already", field=["id"]
        )


def _wish(s: Session, run: WorkflowRun, desired: DesiredState, what: str) -> None:
    run.desired_state = desired.value
    run.wake_at = None
    events.record(s, "desired", what, run_id=run.id)


def abort(s: Session, actor: Actor, run_id: str, reason: str = "") -> WorkflowRun:
    run = get_run(s, run_id)
    _active(run, "abort")
    if run.desired_state != DesiredState.STOP.value:
        _stop(s, run, f"abort requested by {actor.name}" + (f": {reason}" if reason else ""))
    return run


def _stop(s: Session, run: WorkflowRun, said: str) -> None:
    _wish(s, run, DesiredState.STOP, said)
    run.reasons = [*(run.reasons or []), said]


def pause(s: Session, actor: Actor, run_id: str) -> WorkflowRun:
    """Pause a running workflow: its active fault runs are paused and its clocks stop. Refused
    when an active fault cannot be paused (naming its step)."""
    run = get_run(s, run_id)
    _active(run, "pause")
    if run.desired_state == DesiredState.STOP.value:
        raise IllegalTransition("the workflow run is being stopped", field=["id"])
    if Phase(run.phase) not in (Phase.RUNNING, Phase.PAUSED):
        raise IllegalTransition(
            f"only a running workflow can be paused; this one is {run.phase}", field=["id"]
        )
    for row in run.steps:
        if row.kind != "fault" or row.state != "running" or not row.run_id:
            continue
        child = s.get(Run, row.run_id)
        if child is None or Phase(child.phase).terminal:
            continue
        if not child.reversible or child.time_control != TimeControl.TIMED.value:
            raise IllegalTransition(
                f"step {row.step_id} runs {child.fault_type}, which cannot be paused "
                "(not a reversible timed fault)",
                field=["id"],
            )
    if run.desired_state != DesiredState.PAUSE.value:
        _wish(s, run, DesiredState.PAUSE, f"pause requested by {actor.name}")
    return run


def resume(s: Session, actor: Actor, run_id: str) -> WorkflowRun:
    run = get_run(s, run_id)
    _active(run, "resume")
    if run.desired_state != DesiredState.PAUSE.value:
        raise IllegalTransition(
            f"workflow run {run.id} is not paused (desired state {run.desired_state})",
            field=["id"],
        )
    _wish(s, run, DesiredState.RUN, f"resume requested by {actor.name}")
    return run


def decide(
    s: Session, actor: Actor, run_id: str, step_id: str, approve: bool, comment: str = ""
) -> WorkflowRun:
    """Approve or reject an approval step that is waiting for a person."""
    run = get_run(s, run_id)
    _active(run, "approve a step of")
    row = next((r for r in run.steps if r.role == "step" and r.step_id == step_id), None)
    if row is None:
        raise NotFound(f"workflow run {run.id} has no step {step_id!r}", field=["stepId"])
    if row.kind != "approval":
        raise InvalidInput(
            f"step {step_id!r} is a {row.kind} step, not an approval", field=["stepId"]
        )
    if row.state != "running" or row.data.get("decision"):
        raise IllegalTransition(
            f"step {step_id!r} is not waiting for a decision (it is {row.state})", field=["stepId"]
        )
    row.data = {**row.data, "decision": "approve" if approve else "reject", "comment": comment}
    row.decided_by = actor.name
    run.wake_at = None
    verb = "approved" if approve else "rejected"
    events.record(
        s,
        "approval",
        f"step {step_id} {verb} by {actor.name}" + (f": {comment}" if comment else ""),
        run_id=run.id,
    )
    return run


def halt_all(s: Session, actor: Actor, reason: str = "") -> list[WorkflowRun]:
    """Stop every active workflow run (halt-all also stops every run: see services.runs)."""
    return halting.stop_every_active(
        s, WorkflowRun, actor, reason, lambda r, said: _stop(s, r, said)
    )
