"""``haltAll`` reaches into workflows: a workflow running when it is called ends
``aborted``, its child run is recovered (the paused process runs again), the steady state is
not checked again afterwards, and haltAll's answer counts the workflow run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import wait_for
from tests.workflows.hub import Hub, step, unique
from tests.workflows.services import Services, api_with_cache

pytestmark = pytest.mark.slow

HALT_ALL = """mutation { haltAll(reason: "game day over") {
  __typename ... on HaltAllResult { count workflowRunCount runs { id workflowRunId } }
  ... on Error { code message } } }"""


@pytest.fixture
def svc() -> Iterator[Services]:
    with api_with_cache(unique("halt-cache")) as services:
        yield services


def test_halt_all_aborts_a_running_workflow_and_recovers_its_fault(hub: Hub, svc: Services) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("halted"),
        "steadyState": [{"name": "api-up", "http": {"url": svc.health_url}}],
        "steps": [
            {
                "id": "pause-cache",
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": svc.cache_name},
                    "durationSeconds": 30,
                },
            },
            {"id": "after", "after": ["pause-cache"], "wait": {"seconds": 1}},
        ],
    }
    run_id = hub.start(doc)["id"]
    wait_for(lambda: svc.cache_state() == "T", 10, interval=0.02, what="the cache stopped")

    halted = hub.gql(HALT_ALL)["haltAll"]
    run = hub.wait_ended(run_id)

    assert halted["__typename"] == "HaltAllResult", halted
    assert halted["workflowRunCount"] == 1
    child = step(run, "pause-cache")["run"]
    assert halted["runs"] == [{"id": child["id"], "workflowRunId": run_id}]
    assert halted["count"] == 1
    assert run["phase"] == "aborted"
    assert run["verdict"] != "pass"
    assert any(r.startswith("halt-all by") and "game day over" in r for r in run["reasons"])
    assert child["phase"] == "aborted"
    assert [t["phase"] for t in child["targets"]] == ["recovered"]
    assert svc.cache_state() != "T"
    assert step(run, "pause-cache")["state"] == "aborted"
    assert step(run, "after")["state"] == "skipped"
    checked_after = step(run, "api-up", "steadyState-after")
    assert checked_after["state"] == "skipped"
    assert checked_after["reason"].startswith("not checked")
    assert checked_after["probe"]["checks"] == 0
