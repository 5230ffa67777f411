"""The checks of a workflow that ask the tools: each fault step gets every check ``startRun``
makes (fault type, backend, params and selector schemas, duration bounds, admin-only
overrides, the selector's targets, availability on each target, host limits, what only the
host can tell), and each probe the checks only its peer can make (a command probe's script
on its agent). Refusals name the field path inside the document."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from chaoshub.errors import HubError
from chaoshub.probes import ProbeDefinition
from chaoshub.runtime import Runtime
from chaoshub.services import runs as runs_svc
from chaoshub.services.auth import Actor
from chaoshub.workflows.document import FaultSpec, Issues, Workflow, parse_workflow


def run_spec(fault: FaultSpec) -> runs_svc.RunSpec:
    return runs_svc.RunSpec(
        fault_type=fault.faultType,
        backend=fault.backend,
        params=dict(fault.params),
        selector=dict(fault.selector),
        duration_seconds=fault.durationSeconds,
    )


def _under(exc: HubError, prefix: Sequence[str]) -> HubError:
    exc.field = [*prefix, *exc.field] if exc.field else list(prefix)
    return exc


def check_fault(rt: Runtime, s: Session, actor: Actor, fault: FaultSpec, where: list[str]) -> None:
    """Everything ``startRun`` checks before storing a run, without storing one."""
    try:
        checked = runs_svc.validate_spec(rt, s, run_spec(fault), actor)
    except HubError as exc:
        raise _under(exc, where) from None
    try:
        targets = runs_svc.discover(checked)
        runs_svc.check_available(checked, targets)
        runs_svc.check_limits(checked, targets)
        runs_svc.check_params(checked, targets)
    except HubError as exc:
        raise _under(exc, where) from None
    finally:
        checked.adapter.close()


def check_probe(rt: Runtime, probe: ProbeDefinition, where: list[str]) -> None:
    remote: Callable[[Runtime], None] | None = getattr(probe.probe, "check_remote", None)
    if remote is None:
        return
    try:
        remote(rt)
    except HubError as exc:
        raise _under(exc, where) from None


def validate(
    rt: Runtime, s: Session, actor: Actor, document: Any, issues: Issues | None = None
) -> Workflow | None:
    """The whole document, the tools' checks included. With ``issues``, every refusal is
    collected (and None returned if any); without, the first is raised."""
    collect = issues if issues is not None else Issues()
    workflow = parse_workflow(document, collect)
    if workflow is not None:
        for step in workflow.steps:
            try:
                if step.fault is not None:
                    check_fault(rt, s, actor, step.fault, [*step.path, "fault"])
                elif step.probe is not None:
                    check_probe(rt, step.probe, [*step.path, "probe"])
            except HubError as exc:
                if issues is None:
                    raise
                collect.add(exc)  # with its own code: NOT_FOUND, FORBIDDEN, ...
        for key, probes in (
            ("steadyState", workflow.steady_state),
            ("stopConditions", workflow.stop_conditions),
        ):
            for i, probe in enumerate(probes):
                try:
                    check_probe(rt, probe, [key, str(i)])
                except HubError as exc:
                    if issues is None:
                        raise
                    collect.add(exc)
    if issues is None:
        collect.raise_first()
    return workflow if not collect.items else None
