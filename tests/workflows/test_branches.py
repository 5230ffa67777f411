"""Branches: a step with ``when: <probe>.passed | <probe>.failed`` runs only on that outcome.

The branch not taken is ``skipped`` with the reason, and so is every step that needs it
passed. Each step's condition is its own: two steps with the same ``when`` both run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflows.hub import Hub, step, unique
from tests.workflows.services import Services, api_with_cache

pytestmark = pytest.mark.slow


@pytest.fixture
def svc() -> Iterator[Services]:
    with api_with_cache(unique("br-cache")) as services:
        yield services


def wait(seconds: float = 0.2, **more: Any) -> dict[str, Any]:
    return {"wait": {"seconds": seconds}, **more}


def branches(check: dict[str, Any], *before: dict[str, Any]) -> list[dict[str, Any]]:
    """``check``, then a branch for each of its outcomes, then a step after the failed one."""
    return [
        *before,
        {"id": "check", **check},
        {"id": "on-pass", "after": ["check"], "when": "check.passed", **wait()},
        {"id": "on-fail", "after": ["check"], "when": "check.failed", **wait()},
        {"id": "after-pass", "after": ["on-pass"], **wait()},
        {"id": "after-fail", "after": ["on-fail"], **wait()},
    ]


def test_a_probe_that_passes_runs_the_passed_branch_and_skips_the_failed_one(
    hub: Hub, svc: Services
) -> None:
    check = {"probe": {"http": {"url": svc.health_url}}}
    doc = {"kind": "Workflow", "name": "branch-on-pass", "steps": branches(check)}

    run = hub.wait_ended(hub.start(doc)["id"])

    assert step(run, "check")["state"] == "passed"
    assert step(run, "on-pass")["state"] == "passed"
    assert step(run, "after-pass")["state"] == "passed"
    skipped = step(run, "on-fail")
    assert skipped["state"] == "skipped"
    assert skipped["reason"] == "when: check.failed did not hold (check passed)"
    assert skipped["startedAt"] is None
    after = step(run, "after-fail")
    assert after["state"] == "skipped"
    assert after["reason"] == "needs on-fail passed; it skipped"
    assert (run["phase"], run["verdict"]) == ("completed", "pass")


def test_a_probe_that_fails_runs_the_failed_branch_and_skips_the_passed_one(
    hub: Hub, svc: Services
) -> None:
    pause = {
        "id": "pause-cache",
        "fault": {
            "faultType": "native/process-pause",
            "backend": "native",
            "selector": {"agents": ["local"], "name": svc.cache_name},
            "durationSeconds": 6,
        },
    }
    # watched while the cache is stopped: the API answers 503 (a window, so a slow
    # injection on a loaded machine still falls inside it)
    check = {
        "probe": {
            "http": {"url": svc.health_url, "timeoutSeconds": 2},
            "initialDelaySeconds": 0.5,
            "intervalSeconds": 0.5,
            "forSeconds": 4,
        }
    }
    doc = {"kind": "Workflow", "name": "branch-on-fail", "steps": branches(check, pause)}

    run = hub.wait_ended(hub.start(doc)["id"])

    checked = step(run, "check")
    assert checked["state"] == "failed"
    assert checked["probe"]["samples"][-1]["value"] == 503
    assert step(run, "on-fail")["state"] == "passed"
    assert step(run, "after-fail")["state"] == "passed"
    assert step(run, "on-pass")["state"] == "skipped"
    assert step(run, "on-pass")["reason"] == "when: check.passed did not hold (check failed)"
    assert step(run, "after-pass")["state"] == "skipped"
    assert step(run, "after-pass")["reason"] == "needs on-pass passed; it skipped"
    # the branch handled the outcome, but a probe that failed still fails the verdict
    assert (run["phase"], run["verdict"]) == ("completed", "fail")
    assert svc.cache_state() != "T"


def test_two_steps_with_the_same_when_both_run(hub: Hub, svc: Services) -> None:
    doc = {
        "kind": "Workflow",
        "name": "branch-twice",
        "steps": [
            {"id": "check", "probe": {"http": {"url": svc.health_url}}},
            {"id": "notify", "after": ["check"], "when": "check.passed", **wait()},
            {"id": "proceed", "after": ["check"], "when": "check.passed", **wait()},
        ],
    }

    run = hub.wait_ended(hub.start(doc)["id"])

    assert step(run, "notify")["state"] == "passed"
    assert step(run, "proceed")["state"] == "passed"
    assert (run["phase"], run["verdict"]) == ("completed", "pass")
