"""Deadlines: every step and the whole workflow have one, and a workflow never hangs.

A step that outlives its deadline is stopped and its fault recovered; when the workflow's
own deadline passes, every running step is stopped, every fault recovered, and the workflow
ends ``failed`` with the reason. (The document check refuses a fault step whose deadline is
shorter than its duration, so these faults are slow to inject, or start late.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import queries as Q
from tests.workflows.hub import Hub, step, unique
from tests.workflows.processes import StateWatch, proc_state
from tests.workflows.services import Services, api_with_cache

pytestmark = pytest.mark.slow

SLOW_BACKEND = "slow-to-inject"


@pytest.fixture(scope="module")
def slow_backend(module_hub: Hub) -> str:
    """An in-memory tool whose every injection takes 3 s."""
    created = module_hub.gql(
        Q.CREATE_BACKEND,
        input={"name": SLOW_BACKEND, "adapter": "memory", "config": {"inject_delay": 3}},
    )["createBackend"]
    assert created["__typename"] == "Backend", created
    return SLOW_BACKEND


@pytest.fixture
def svc() -> Iterator[Services]:
    with api_with_cache(unique("dl-cache")) as services:
        yield services


def test_a_fault_step_that_outlives_its_deadline_is_stopped_and_recovered(
    hub: Hub, slow_backend: str
) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("step-deadline"),
        "steps": [
            {
                "id": "slow",
                "deadlineSeconds": 1.5,
                "fault": {
                    "faultType": "memory/latency",
                    "backend": slow_backend,
                    "selector": {"names": ["alpha"]},
                    "durationSeconds": 1,
                },
            },
            {"id": "next", "after": ["slow"], "wait": {"seconds": 0.2}},
        ],
    }

    run = hub.wait_ended(hub.start(doc)["id"])

    slow = step(run, "slow")
    child = slow["run"]
    assert slow["state"] == "failed"
    assert slow["reason"] == f"outlived its deadline; run {child['id']} aborted"
    assert child["phase"] == "aborted"  # stopped, not left to end by itself
    assert [t["phase"] for t in child["targets"]] == ["recovered"]
    assert step(run, "next")["state"] == "skipped"
    assert (run["phase"], run["verdict"]) == ("failed", "fail")
    assert any(r.startswith("step slow outlived its deadline (1.5 s)") for r in run["reasons"]), (
        run["reasons"]
    )


def test_the_workflow_deadline_stops_every_running_step_and_recovers_its_fault(
    hub: Hub, svc: Services
) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("workflow-deadline"),
        "deadlineSeconds": 3,
        # checked 1.5 s in, so the steps start late and cannot end within the 3 s
        "steadyState": [
            {"name": "api-up", "http": {"url": svc.health_url}, "initialDelaySeconds": 1.5}
        ],
        "steps": [
            {
                "id": "pause-cache",
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": svc.cache_name},
                    "durationSeconds": 3,
                },
            },
            {
                "id": "watch",
                "probe": {
                    "http": {"url": f"{hub.url}/healthz", "timeoutSeconds": 1},
                    "forSeconds": 3,
                },
            },
        ],
    }

    with StateWatch(svc.cache.pid) as cache:
        run = hub.wait_ended(hub.start(doc)["id"])
        after = proc_state(svc.cache.pid)

    assert (run["phase"], run["verdict"]) == ("failed", "fail")
    assert "the workflow's deadline of 3 s passed" in run["reasons"]
    paused = step(run, "pause-cache")
    assert paused["state"] == "aborted"
    assert paused["run"]["phase"] == "aborted"  # recovered before its 3 s were over
    assert cache.ever_stopped and after != "T"
    watched = step(run, "watch")
    assert watched["state"] == "aborted"
    assert watched["reason"] == "stopped: the workflow's deadline of 3 s passed"
    assert step(run, "api-up", "steadyState-after")["state"] == "skipped"
