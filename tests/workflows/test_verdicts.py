"""Verdicts: a workflow says whether the system survived, and why.

- The steady state is checked before anything is injected: when it does not hold, the
  workflow ends ``failed`` with verdict ``fail``, the reason says the system was not steady,
  and nothing is injected (no child run exists; the target process was never stopped).
- A probe step that fails while the fault is held fails the verdict, and its samples (time,
  outcome, value, error) are readable through the API.
- A workflow whose every check held ends ``completed`` / ``pass`` with a score of 1.0, and
  its child run links back to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflows.hub import Hub, step, unique
from tests.workflows.processes import StateWatch, idle_process
from tests.workflows.services import Services, api_with_cache

pytestmark = pytest.mark.slow

RUNS = """query($id: ID!) { workflowRuns(filter: {workflowId: $id, verdict: ["pass"]}) {
  totalCount edges { node { id verdict } } } }"""


@pytest.fixture
def svc() -> Iterator[Services]:
    with api_with_cache(unique("vd-cache")) as services:
        yield services


def pause(name: str, seconds: float = 2) -> dict[str, Any]:
    return {
        "id": "pause",
        "fault": {
            "faultType": "native/process-pause",
            "backend": "native",
            "selector": {"agents": ["local"], "name": name},
            "durationSeconds": seconds,
        },
    }


def api_up(svc: Services) -> dict[str, Any]:
    return {"name": "api-up", "http": {"url": svc.health_url, "timeoutSeconds": 1}}


def during(svc: Services) -> dict[str, Any]:
    """Check the API twice a second while the fault is held."""
    return {
        "id": "during",
        "probe": {
            "http": {"url": svc.health_url, "timeoutSeconds": 1},
            "initialDelaySeconds": 0.3,
            "intervalSeconds": 0.5,
            "forSeconds": 1.5,
            "failureThreshold": 2,
        },
    }


def test_a_system_not_steady_up_front_fails_and_nothing_is_injected(
    hub: Hub, svc: Services
) -> None:
    svc.api.kill()  # the API is down before the experiment starts
    svc.api.wait()
    runs_before = hub.counts()[2]
    doc = {
        "kind": "Workflow",
        "name": unique("not-steady"),
        "steadyState": [api_up(svc)],
        "steps": [pause(svc.cache_name), during(svc)],
    }

    with StateWatch(svc.cache.pid) as cache:
        run = hub.wait_ended(hub.start(doc)["id"])

    assert (run["phase"], run["verdict"]) == ("failed", "fail")
    assert (
        "the system was not steady before injection, so nothing was injected" in (run["reasons"][0])
    )
    assert "api-up" in run["reasons"][0]
    before = step(run, "api-up", "steadyState-before")
    assert before["state"] == "failed"
    assert before["probe"]["samples"][0]["ok"] is False
    assert before["probe"]["samples"][0]["error"]
    assert all(s["runId"] is None for s in run["steps"])
    assert step(run, "pause")["state"] == step(run, "during")["state"] == "skipped"
    assert hub.counts()[2] == runs_before  # no child run exists
    assert not cache.ever_stopped


def test_a_probe_failing_while_the_fault_is_held_fails_the_verdict_with_its_samples(
    hub: Hub, svc: Services
) -> None:
    doc = {
        "kind": "Workflow",
        "name": unique("api-fails"),
        "steadyState": [api_up(svc)],
        "steps": [pause(svc.cache_name), during(svc)],
    }

    run = hub.wait_ended(hub.start(doc)["id"])

    assert (run["phase"], run["verdict"]) == ("completed", "fail")
    probe = step(run, "during")
    assert probe["state"] == "failed"
    assert probe["reason"].startswith("2 consecutive failed checks: status 503")
    assert any(r.startswith("probe step during failed: ") for r in run["reasons"])
    samples = probe["probe"]["samples"]
    assert [s["ok"] for s in samples[-2:]] == [False, False]
    assert [s["value"] for s in samples[-2:]] == [503, 503]
    assert all("503" in s["error"] for s in samples[-2:])
    assert all(s["at"] for s in samples)
    assert probe["probe"]["outcome"] == "failed"
    assert probe["probe"]["checks"] == len(samples)
    # the steady state held before and after; the probe step did not: a partial score
    assert step(run, "api-up", "steadyState-after")["state"] == "passed"
    assert 0 < run["score"] < 1
    assert svc.cache_state() != "T"


def test_a_workflow_whose_every_check_held_passes_and_its_child_run_links_back(
    hub: Hub, svc: Services
) -> None:
    spare = unique("spare")  # a process the API does not depend on
    with idle_process(spare) as proc, StateWatch(proc.pid) as spared:
        doc = {
            "kind": "Workflow",
            "name": unique("api-holds"),
            "steadyState": [api_up(svc)],
            "steps": [pause(spare), during(svc)],
        }
        run = hub.wait_ended(hub.start(doc)["id"])

    assert (run["phase"], run["verdict"], run["score"]) == ("completed", "pass", 1.0)
    assert "every steady-state check, stop condition and probe step held" in run["reasons"]
    assert {s["state"] for s in run["steps"]} == {"passed"}
    assert spared.ever_stopped
    child = hub.child_run(step(run, "pause")["runId"])
    assert child["workflowRunId"] == run["id"]
    assert child["workflowStepId"] == "pause"
    assert child["phase"] == "completed"
    listed = hub.gql(RUNS, id=run["workflowId"])["workflowRuns"]
    assert [e["node"]["id"] for e in listed["edges"]] == [run["id"]]
