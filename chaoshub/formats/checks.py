"""An imported document goes through the hub's own checks before it is handed back.

Without a hub (``chaoshub import`` on a laptop) that is every check that needs no database:
the workflow document's parser (:func:`chaoshub.workflows.document.parse_workflow`, the one
``createWorkflow`` runs first), each fault's catalog schema for params and selector and its
duration rule (what ``startRun`` checks before it asks for the backend), and a schedule's
timetable. With the hub's runtime and a session (the ``importDocument`` mutation) it is the
very checks ``startRun`` and ``createWorkflow`` make, backends included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaoshub import catalog
from chaoshub.errors import HubError, InvalidInput
from chaoshub.formats.hub import ExperimentDocument, ScheduleDocument
from chaoshub.lifecycle import TimeControl
from chaoshub.probes.base import parse_spec
from chaoshub.schedules.timing import Timetable
from chaoshub.workflows.document import parse_workflow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from chaoshub.runtime import Runtime
    from chaoshub.services.auth import Actor


def _prefixed(exc: InvalidInput, prefix: list[str]) -> InvalidInput:
    exc.field = [*prefix, *[str(p) for p in exc.field]]
    return exc


def fault_offline(fault: dict[str, Any], prefix: list[str]) -> None:
    """A fault's catalog checks (params, selector, duration), naming the path under ``prefix``."""
    try:
        entry = catalog.load().get(str(fault.get("faultType")))
    except HubError as exc:
        raise _prefixed(InvalidInput(exc.message, field=["faultType"]), prefix) from None
    try:
        entry.validate_params(fault.get("params") or {})
        entry.validate_selector(fault.get("selector") or {})
    except InvalidInput as exc:
        raise _prefixed(exc, prefix) from None
    if entry.time_control is TimeControl.TIMED and fault.get("durationSeconds") is None:
        raise InvalidInput(
            f"{entry.id} is held for a duration: give durationSeconds",
            field=[*prefix, "durationSeconds"],
        )


def experiment_offline(doc: dict[str, Any], prefix: list[str]) -> None:
    try:
        parse_spec(ExperimentDocument, doc, [])
    except InvalidInput as exc:
        raise _prefixed(exc, prefix) from None
    fault_offline(doc, prefix)


def workflow_offline(doc: dict[str, Any], prefix: list[str]) -> None:
    try:
        workflow = parse_workflow(doc)
    except InvalidInput as exc:
        raise _prefixed(exc, prefix) from None
    assert workflow is not None
    for step in workflow.steps:
        if step.fault is not None:
            fault_offline(step.fault.model_dump(), [*prefix, *step.path, "fault"])


def schedule_offline(doc: dict[str, Any]) -> None:
    parse_spec(ScheduleDocument, doc, [])
    Timetable.parse(str(doc.get("cron")), str(doc.get("timeZone") or "UTC"), doc.get("blackouts"))
    if "workflow" in doc:
        workflow_offline(doc["workflow"], ["workflow"])
    else:
        experiment_offline(doc["experiment"], ["experiment"])


def offline(kind: str, doc: dict[str, Any]) -> None:
    """Every check of ``doc`` that needs no database; the first refusal is raised."""
    if kind == "Workflow":
        workflow_offline(doc, [])
    elif kind == "Schedule":
        schedule_offline(doc)
    else:
        experiment_offline(doc, [])


def with_hub(rt: Runtime, s: Session, actor: Actor, kind: str, doc: dict[str, Any]) -> None:
    """The checks ``startRun`` / ``createWorkflow`` make, backends and agents included."""
    from chaoshub.services import workflows
    from chaoshub.services.runs import RunSpec, validate_spec

    offline(kind, doc)

    def experiment(d: dict[str, Any], prefix: list[str]) -> None:
        spec = RunSpec(
            d["faultType"],
            d["backend"],
            d.get("params") or {},
            d.get("selector") or {},
            d.get("durationSeconds"),
        )
        try:
            validate_spec(rt, s, spec, actor)
        except HubError as exc:  # a missing backend is NotFound: named under the prefix too
            exc.field = [*prefix, *exc.field]
            raise

    def workflow(d: dict[str, Any], prefix: list[str]) -> None:
        issues = workflows.validate(rt, s, actor, d)
        if issues:
            first = issues[0]
            first.field = [*prefix, *[str(p) for p in first.field]]
            raise first

    if kind == "Workflow":
        workflow(doc, [])
    elif kind == "Schedule":
        if "workflow" in doc:
            workflow(doc["workflow"], ["workflow"])
        else:
            experiment(doc["experiment"], ["experiment"])
    else:
        experiment(doc, [])
