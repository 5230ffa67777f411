"""``chaoshub validate FILE``: check a workflow or single-fault file without running it.

The YAML and the kind are checked here (:mod:`chaoshub.cli_documents`); the rest is asked
of the hub's ``validateWorkflow``, which runs every check ``startWorkflow`` would, stores
nothing and starts nothing. A single fault is checked as the one fault step of a workflow:
a fault step's checks are exactly ``startRun``'s (fault type, backend, params, selector,
duration), and the issues' paths are given back relative to the file. A file naming a
saved experiment (``experimentId``) is checked as that experiment's fault.

Each issue is one line, ``field.path: message``. Exit status 0: valid; 1: not valid;
2: the file could not be read or the hub could not be asked (one line on stderr)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from chaoshub.cli_documents import WORKFLOW, Document, field_path, read_document
from chaoshub.cli_hub import Hub
from chaoshub.cli_run import hub_options

VALIDATE = """query($document: JSON!) { validateWorkflow(document: $document) {
  field message code } }"""
VALIDATE_SEARCH = """query($document: JSON!) { validateThresholdSearch(document: $document) {
  field message code } }"""
EXPERIMENT = """query($id: ID!) { experiment(id: $id) {
  faultType backend params selector durationSeconds } }"""
#: the path of the fault inside the one-step workflow a single fault is checked as
FAULT_STEP = ["steps", "0", "fault"]
FAULT_KEYS = ("faultType", "backend", "params", "selector", "durationSeconds")


def as_workflow(fault: dict[str, Any]) -> dict[str, Any]:
    """A single fault as the one step of a workflow, for the hub's checks."""
    return {
        "kind": WORKFLOW,
        "name": "validate",
        "steps": [{"id": "fault", "fault": {k: fault[k] for k in FAULT_KEYS if k in fault}}],
    }


def relative(issue: dict[str, Any]) -> dict[str, Any]:
    """An issue about the wrapped fault, with its path as in the single-fault file."""
    path = [str(p) for p in issue.get("field") or []]
    if path[: len(FAULT_STEP)] == FAULT_STEP:
        path = path[len(FAULT_STEP) :]
    return {**issue, "field": path}


def issues_of(hub: Hub, document: Document) -> list[dict[str, Any]]:
    """What is wrong with ``document`` (empty: nothing)."""
    if document.is_workflow:
        return list(hub.call(VALIDATE, {"document": document.body})["validateWorkflow"])
    if document.is_search:
        return list(
            hub.call(VALIDATE_SEARCH, {"document": document.body})["validateThresholdSearch"]
        )
    fault = document.body
    if "experimentId" in fault:
        found = hub.call(EXPERIMENT, {"id": str(fault["experimentId"])})["experiment"]
        if found is None:
            return [
                {
                    "field": ["experimentId"],
                    "message": f"no experiment {fault['experimentId']!r}",
                    "code": "NOT_FOUND",
                }
            ]
        fault = {k: v for k, v in found.items() if v is not None}
    issues = hub.call(VALIDATE, {"document": as_workflow(fault)})["validateWorkflow"]
    return [relative(issue) for issue in issues]


def issue_line(issue: dict[str, Any]) -> str:
    where = field_path(issue.get("field"))
    return f"{where}: {issue.get('message')}" if where else str(issue.get("message"))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@hub_options
def validate(file: Path, url: str, token: str) -> None:
    """Check a workflow (kind: Workflow), threshold search (kind: ThresholdSearch) or
    single-fault file without running it: each issue as `field.path: message`. Exit status
    0 valid, 1 not valid, 2 the file could not be read or the hub not asked."""
    document = read_document(file)
    with Hub(url, token) as hub:
        issues = issues_of(hub, document)
    for issue in issues:
        click.echo(issue_line(issue))
    if not issues:
        what = (
            "workflow"
            if document.is_workflow
            else "threshold search"
            if document.is_search
            else "single fault"
        )
        click.echo(f"{file}: a valid {what}")
    sys.exit(1 if issues else 0)
