"""The GraphQL a person (or the console) speaks to schedules, for the tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.workflows.hub import CREATE, ERROR, Hub

SCHEDULE_FIELDS = """id name workflowId experimentId targetName cron timeZone concurrencyPolicy
  startingDeadlineSeconds blackouts enabled pausedReason nextFireAt createdBy"""
HISTORY = """query($id: ID!) { schedule(id: $id) { history(last: 100) {
  at scheduledFor outcome reason workflowRunId runId } } }"""


def _result(name: str, args: str, call: str) -> str:
    return f"""mutation({args}) {{ {name}({call}) {{
  __typename ... on Schedule {{ {SCHEDULE_FIELDS} }} {ERROR} }} }}"""


CREATE_SCHEDULE = _result("createSchedule", "$in: CreateScheduleInput!", "input: $in")
UPDATE_SCHEDULE = _result("updateSchedule", "$in: UpdateScheduleInput!", "input: $in")
PAUSE_SCHEDULE = _result("pauseSchedule", "$id: ID!, $reason: String", "id: $id, reason: $reason")
RESUME_SCHEDULE = _result("resumeSchedule", "$id: ID!", "id: $id")
DELETE_SCHEDULE = f"""mutation($id: ID!) {{ deleteSchedule(id: $id) {{
  __typename ... on Deleted {{ id }} {ERROR} }} }}"""
DELETE_WORKFLOW = f"""mutation($id: ID!) {{ deleteWorkflow(id: $id) {{
  __typename ... on Deleted {{ id }} {ERROR} }} }}"""


def wait_workflow(hub: Hub, seconds: float) -> str:
    """Save a workflow of one ``wait`` step; its id."""
    document = {
        "kind": "Workflow",
        "name": f"sched-wait-{uuid.uuid4().hex[:6]}",
        "steps": [{"id": "settle", "wait": {"seconds": seconds}}],
    }
    saved = hub.gql(CREATE, **{"in": {"document": document}})["createWorkflow"]
    assert saved["__typename"] == "Workflow", saved
    return str(saved["id"])


def create(hub: Hub, **fields: Any) -> dict[str, Any]:
    """createSchedule's answer as it is: a Schedule or a typed error."""
    fields.setdefault("name", f"sched-{uuid.uuid4().hex[:6]}")
    return hub.gql(CREATE_SCHEDULE, **{"in": fields})["createSchedule"]  # type: ignore[no-any-return]


def history(hub: Hub, schedule_id: str) -> list[dict[str, Any]]:
    return hub.gql(HISTORY, id=schedule_id)["schedule"]["history"]  # type: ignore[no-any-return]


@contextmanager
def scheduled(hub: Hub, workflow_seconds: float, **fields: Any) -> Iterator[dict[str, Any]]:
    """A schedule of a fresh one-wait-step workflow; on the way out the schedule is deleted,
    everything it started stopped, and the workflow deleted."""
    flow = wait_workflow(hub, workflow_seconds)
    schedule: dict[str, Any] | None = None
    try:
        schedule = create(hub, workflowId=flow, **fields)
        assert schedule["__typename"] == "Schedule", schedule
        yield schedule
    finally:
        if schedule is not None and schedule.get("id"):
            hub.gql(DELETE_SCHEDULE, id=schedule["id"])
        hub.quiet()
        hub.gql(DELETE_WORKFLOW, id=flow)
