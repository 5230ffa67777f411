"""Pausing a workflow pauses its active faults and stops its clocks; resuming re-applies.

While paused, a paused process runs again (seen from ``/proc``), and the waits, probe
windows and deadlines of the workflow stand still, so its total time grows by the pause.
A workflow whose active fault cannot be paused refuses to pause, naming the step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from tests.support import queries as Q
from tests.support.stack import wait_for
from tests.workflows.hub import ABORT, PAUSE, RESUME, Hub, seconds_between, step, unique
from tests.workflows.processes import StateWatch, idle_process, proc_state

pytestmark = pytest.mark.slow

PAUSED_FOR = 1.5


@pytest.fixture
def target() -> Iterator[tuple[str, int]]:
    name = unique("paused")
    with idle_process(name) as proc:
        yield name, proc.pid


def test_pausing_a_workflow_pauses_its_fault_and_its_clocks_and_resuming_reapplies(
    hub: Hub, target: tuple[str, int]
) -> None:
    name, pid = target
    doc = {
        "kind": "Workflow",
        "name": unique("pausable"),
        "steps": [
            {
                "id": "pause-target",
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": name},
                    "durationSeconds": 3,
                },
            },
            {"id": "hold", "wait": {"seconds": 3}},
            {
                "id": "watch",
                "probe": {
                    "http": {"url": f"{hub.url}/healthz", "timeoutSeconds": 1},
                    "forSeconds": 3,
                },
            },
        ],
    }
    run_id = hub.start(doc)["id"]
    wait_for(lambda: proc_state(pid) == "T", 10, interval=0.02, what="the target stopped")
    assert hub.steer(RESUME, id=run_id)["__typename"] == "IllegalTransitionError"  # not paused

    assert hub.steer(PAUSE, id=run_id)["__typename"] == "WorkflowRun"
    hub.wait(run_id, lambda r: r["phase"] == "paused", what="the workflow paused")
    wait_for(lambda: proc_state(pid) != "T", 10, interval=0.02, what="the target running again")
    time.sleep(PAUSED_FOR)
    paused = hub.run(run_id)
    assert paused["phase"] == "paused"
    assert proc_state(pid) != "T"
    assert step(paused, "pause-target")["run"]["phase"] == "paused"
    assert step(paused, "hold")["state"] == "running"  # its 3 s are not over: the clock stood
    assert step(paused, "watch")["state"] == "running"

    assert hub.steer(RESUME, id=run_id)["__typename"] == "WorkflowRun"
    wait_for(lambda: proc_state(pid) == "T", 10, interval=0.02, what="the pause re-applied")
    run = hub.wait_ended(run_id)

    assert (run["phase"], run["verdict"]) == ("completed", "pass")
    assert proc_state(pid) != "T"
    hold = step(run, "hold")
    assert hold["state"] == "passed"
    assert seconds_between(hold["startedAt"], hold["endedAt"]) >= 3 + PAUSED_FOR
    # the probe's window moved by the pause too: no check was taken while paused, and it
    # still took its checks of one a second for 3 s
    watch = step(run, "watch")
    assert watch["state"] == "passed"
    at = [s["at"] for s in watch["probe"]["samples"]]
    assert len(at) >= 3
    assert max(seconds_between(a, b) for a, b in pairwise(at)) >= 1 + PAUSED_FOR
    assert seconds_between(run["startedAt"], run["endedAt"]) >= 3 + PAUSED_FOR
    assert step(run, "pause-target")["run"]["phase"] == "completed"


def test_pausing_a_workflow_whose_fault_cannot_be_paused_is_refused_naming_the_step(
    hub: Hub,
) -> None:
    backend = unique("jobs")
    created = hub.gql(Q.CREATE_BACKEND, input={"name": backend, "adapter": "memory", "config": {}})
    assert created["createBackend"]["__typename"] == "Backend"
    doc = {
        "kind": "Workflow",
        "name": unique("unpausable"),
        "steps": [
            {
                "id": "job",
                "fault": {  # a job the tool runs to its own end: nothing to take back
                    "faultType": "memory/job",
                    "backend": backend,
                    "selector": {"names": ["alpha"]},
                    "durationSeconds": 2,
                },
            }
        ],
    }
    run_id = hub.start(doc)["id"]
    hub.wait(run_id, lambda r: (step(r, "job")["run"] or {}).get("phase") == "running")

    refused = hub.steer(PAUSE, id=run_id)

    assert refused["__typename"] == "IllegalTransitionError", refused
    assert refused["message"].startswith("step job runs memory/job, which cannot be paused")
    assert refused["field"] == ["id"]
    run = hub.wait_ended(run_id)
    assert (run["phase"], run["verdict"], run["desiredState"]) == ("completed", "pass", "run")


def test_aborting_a_paused_workflow_ends_it_without_applying_its_fault_again(
    hub: Hub, target: tuple[str, int]
) -> None:
    name, pid = target
    doc = {
        "kind": "Workflow",
        "name": unique("paused-then-aborted"),
        "steps": [
            {
                "id": "pause-target",
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": name},
                    "durationSeconds": 30,
                },
            },
            {"id": "after", "after": ["pause-target"], "wait": {"seconds": 1}},
        ],
    }
    run_id = hub.start(doc)["id"]
    wait_for(lambda: proc_state(pid) == "T", 10, interval=0.02, what="the target stopped")
    hub.steer(PAUSE, id=run_id)
    hub.wait(run_id, lambda r: r["phase"] == "paused", what="the workflow paused")
    wait_for(lambda: proc_state(pid) != "T", 10, interval=0.02, what="the target running again")

    with StateWatch(pid) as watch:
        assert hub.steer(ABORT, id=run_id)["__typename"] == "WorkflowRun"
        run = hub.wait_ended(run_id)

    assert run["phase"] == "aborted"
    assert step(run, "pause-target")["state"] == "aborted"
    assert step(run, "pause-target")["run"]["phase"] == "aborted"
    assert step(run, "after")["state"] == "skipped"
    assert not watch.ever_stopped
    assert proc_state(pid) != "T"
