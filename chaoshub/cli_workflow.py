"""``chaoshub run`` for a workflow file: the hub saves the document (created, or a new
version when it differs from the last) and starts it in one call, ``startWorkflow``; the
CLI then follows the workflow run by its ``workflowRunUpdates`` subscription and reads the
whole run (steps, child runs, probe results and their last samples) once it has ended."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chaoshub.cli_documents import Document, UsageProblem, field_path
from chaoshub.cli_hub import FollowTimeout, Hub
from chaoshub.cli_progress import ended, workflow_changes

#: a probe's samples read into the final state (the JSON output and the JUnit report)
SAMPLES = 50

STEP = "stepId kind role state reason startedAt endedAt"
HEAD = "id workflowId workflowName version phase desiredState verdict reasons score error"
TIMES = "createdAt startedAt endedAt deadline"

START = f"""mutation($document: JSON!) {{ startWorkflow(input: {{document: $document}}) {{
  __typename ... on WorkflowRun {{ {HEAD} }} ... on Error {{ code message field }} }} }}"""
UPDATES = f"""subscription($id: ID!) {{ workflowRunUpdates(id: $id) {{
  {HEAD} {TIMES} steps {{ {STEP} }} }} }}"""
POLL = f"""query($id: ID!) {{ workflowRun(id: $id) {{ {HEAD} {TIMES} steps {{ {STEP} }} }} }}"""
FINAL = f"""query($id: ID!) {{ workflowRun(id: $id) {{ {HEAD} {TIMES} document
  steps {{ {STEP} deadline runId decidedBy
    run {{ id phase verdict error faultType backend }}
    probe {{ name kind outcome checks passed score
      samples(last: {SAMPLES}) {{ at ok value error latencyMs }} }} }} }} }}"""
ABORT = """mutation($id: ID!) { abortWorkflowRun(id: $id, reason: "interrupted by chaoshub run") {
  __typename } }"""


def refusal(result: dict[str, Any]) -> str:
    """A typed error as one line: ``CODE: field.path: message``."""
    where = field_path(result.get("field"))
    return f"{result.get('code')}: {where + ': ' if where else ''}{result.get('message')}"


def start(hub: Hub, document: Document) -> dict[str, Any]:
    """Save and start the workflow; a refusal is a UsageProblem naming the field path."""
    result: dict[str, Any] = hub.call(START, {"document": document.body})["startWorkflow"]
    if result.get("__typename") != "WorkflowRun":
        raise UsageProblem(refusal(result))
    return result


def follow(
    hub: Hub, run_id: str, say: Callable[[str], None], timeout: float | None
) -> tuple[dict[str, Any], bool]:
    """Print each change until the workflow run ends (or ``timeout`` seconds pass); then the
    whole run as it is, and whether it ended. Ctrl-C asks the hub to abort it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    previous: dict[str, Any] | None = None
    finished = True
    try:
        for state in hub.follow(UPDATES, POLL, {"id": run_id}, ended=ended, deadline=deadline):
            for line in workflow_changes(previous, state, datetime.now(UTC)):
                say(line)
            previous = state
    except FollowTimeout:
        finished = False
    except KeyboardInterrupt:
        hub.call(ABORT, {"id": run_id})
        raise
    final: dict[str, Any] = hub.call(FINAL, {"id": run_id})["workflowRun"]
    if final is None:
        raise UsageProblem(f"the hub has no workflow run {run_id} (was it deleted?)")
    return final, finished and ended(final)
