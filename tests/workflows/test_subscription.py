"""``workflowRunUpdates(id)`` over graphql-transport-ws: the run now, then again on every
change (its own, or a child run's), until it ends — then the server completes the stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflows.hub import Hub, unique
from tests.workflows.processes import idle_process

pytestmark = pytest.mark.slow

UPDATES = """subscription($id: ID!) { workflowRunUpdates(id: $id) {
  id phase verdict steps { stepId role state runId run { phase } probe { checks } } } }"""

ORDER = ["pending", "injecting", "running", "recovering", "completed"]


@pytest.fixture
def target() -> Iterator[str]:
    name = unique("sub")
    with idle_process(name):
        yield name


def test_workflow_run_updates_delivers_the_run_until_it_ends(hub: Hub, target: str) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("followed"),
        "steps": [
            {"id": "settle", "wait": {"seconds": 1}},
            {
                "id": "pause",
                "after": ["settle"],
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": target},
                    "durationSeconds": 1,
                },
            },
            {
                "id": "check",
                "after": ["settle"],
                "probe": {
                    "http": {"url": f"{hub.url}/healthz", "timeoutSeconds": 1},
                    "intervalSeconds": 0.3,
                    "forSeconds": 1,
                },
            },
        ],
    }
    run_id = hub.start(doc)["id"]

    seen, completed = hub.subscribe(UPDATES, {"id": run_id})

    assert completed  # the server ended the stream once the run ended
    runs = [payload["workflowRunUpdates"] for payload in seen]
    assert {r["id"] for r in runs} == {run_id}
    phases = [r["phase"] for r in runs]
    assert phases[-1] == "completed"
    assert [p for p in phases if p != "completed"] != []  # not only the end
    assert phases == sorted(phases, key=ORDER.index)  # never backwards
    assert runs[-1]["verdict"] == "pass"
    # a child run's moves arrive too, and so do a probe's checks
    child_phases = [
        s["run"]["phase"] for r in runs for s in r["steps"] if s["stepId"] == "pause" and s["run"]
    ]
    assert "running" in child_phases and child_phases[-1] == "completed"
    checks = [s["probe"]["checks"] for r in runs for s in r["steps"] if s["stepId"] == "check"]
    assert len(set(checks)) > 2
    # the last delivery is the run as stored
    stored = UPDATES.replace("subscription", "query").replace("workflowRunUpdates", "workflowRun")
    assert runs[-1] == hub.gql(stored, id=run_id)["workflowRun"]
