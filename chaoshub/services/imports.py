"""Importing another tool's document into the hub: mapped (:mod:`chaoshub.formats`), checked
as ``startRun`` / ``createWorkflow`` / ``createSchedule`` would check it, and, on request,
stored. A Schedule document stores what it starts first (its experiment or workflow), then
the schedule; a refusal anywhere stores nothing (one transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chaoshub import formats
from chaoshub.formats import checks
from chaoshub.runtime import Runtime
from chaoshub.services import experiments, schedules, workflows
from chaoshub.services.auth import Actor


@dataclass
class ImportOutcome:
    imported: formats.Imported
    #: what was stored: ``{"kind": id}`` for each object made (none without ``create``)
    created: dict[str, str]


def _experiment(rt: Runtime, s: Session, actor: Actor, doc: dict[str, Any]) -> str:
    row = experiments.create(
        rt,
        s,
        experiments.ExperimentInput(
            name=str(doc["name"]),
            fault_type=doc["faultType"],
            backend=doc["backend"],
            params=dict(doc.get("params") or {}),
            selector=dict(doc.get("selector") or {}),
            duration_seconds=doc.get("durationSeconds"),
            description=str(doc.get("description") or ""),
        ),
        actor=actor,
    )
    return str(row.id)


def create(rt: Runtime, s: Session, actor: Actor, imported: formats.Imported) -> dict[str, str]:
    doc = imported.document
    if imported.kind == "Experiment":
        return {"Experiment": _experiment(rt, s, actor, doc)}
    if imported.kind == "Workflow":
        return {"Workflow": str(workflows.create(rt, s, actor, doc).id)}
    made: dict[str, str] = {}
    if "workflow" in doc:
        made["Workflow"] = str(workflows.create(rt, s, actor, doc["workflow"]).id)
    else:
        made["Experiment"] = _experiment(rt, s, actor, doc["experiment"])
    row = schedules.create(
        s,
        actor,
        schedules.ScheduleInput(
            name=str(doc["name"]),
            description=str(doc.get("description") or ""),
            workflow_id=made.get("Workflow"),
            experiment_id=made.get("Experiment"),
            cron=doc["cron"],
            time_zone=doc.get("timeZone") or "UTC",
            concurrency_policy=doc.get("concurrencyPolicy") or "forbid",
            starting_deadline_seconds=doc.get("startingDeadlineSeconds"),
            blackouts=doc.get("blackouts"),
        ),
    )
    made["Schedule"] = str(row.id)
    return made


def run(
    rt: Runtime,
    s: Session,
    actor: Actor,
    text: str,
    fmt: str = "auto",
    options: formats.Options | None = None,
    *,
    store: bool = False,
) -> ImportOutcome:
    """Map ``text``, check it against this hub (backends, agents, catalog), store it if asked."""
    imported = formats.import_text(text, fmt, options)
    checks.with_hub(rt, s, actor, imported.kind, imported.document)
    return ImportOutcome(imported, create(rt, s, actor, imported) if store else {})
