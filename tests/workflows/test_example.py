"""The example of the documentation, as written (examples/api-survives-a-paused-dependency.yaml),
through GraphQL against a real `chaoshub up`: its local agent really pauses the process named
``cache-server``, and the API on 127.0.0.1:8081 really depends on it.

With an API that survives its cache being paused the workflow completes with verdict pass;
with one that does not, the stop condition aborts it, verdict fail, and the cache runs again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stack import GraphQL, UpProcess, up_process, wait_for
from tests.workflows.services import api_with_cache

EXAMPLE = Path(__file__).parents[2] / "examples" / "api-survives-a-paused-dependency.yaml"

START = """
mutation($in: StartWorkflowInput!) {
  startWorkflow(input: $in) {
    __typename
    ... on WorkflowRun { id phase }
    ... on Error { code message field }
  }
}"""

RUN = """
query($id: ID!) {
  workflowRun(id: $id) {
    id phase verdict reasons score workflowName version
    steps {
      stepId role kind state reason runId startedAt endedAt
      run { id phase workflowRunId workflowStepId targets { label phase } }
      probe { name kind outcome checks passed score samples { at ok value error latencyMs } }
    }
  }
}"""

TERMINAL = ("completed", "aborted", "failed")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UpProcess, GraphQL]]:
    with up_process(tmp_path_factory.mktemp("hub")) as up:
        gql = GraphQL(up.url, up.token)
        wait_for(
            lambda: any(a["online"] for a in gql("{ agents { name online } }")["agents"]),
            30,
            what="the local agent",
        )
        try:
            yield up, gql
        finally:
            gql.close()


def start_example(gql: GraphQL) -> str:
    document = yaml.safe_load(EXAMPLE.read_text())
    started = gql(START, **{"in": {"document": document}})["startWorkflow"]
    assert started["__typename"] == "WorkflowRun", started
    return str(started["id"])


def follow(gql: GraphQL, run_id: str, services: Any, timeout: float = 60) -> dict[str, Any]:
    """The workflow run once terminal; meanwhile, whether the cache was ever seen stopped."""
    deadline = time.monotonic() + timeout
    seen_stopped = False
    while time.monotonic() < deadline:
        run = gql(RUN, id=run_id)["workflowRun"]
        seen_stopped = seen_stopped or services.cache_state() == "T"
        if run["phase"] in TERMINAL:
            run["cacheWasStopped"] = seen_stopped
            return dict(run)
        time.sleep(0.3)
    raise AssertionError(f"workflow run {run_id} did not end in {timeout}s: {run}")


def steps(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["role"], s["stepId"]): s for s in run["steps"]}


def test_the_example_passes_against_an_api_that_survives_its_cache_pausing(
    hub: tuple[UpProcess, GraphQL],
) -> None:
    _up, gql = hub
    with api_with_cache("cache-server", api_port=8081, resilient=True) as services:
        run = follow(gql, start_example(gql), services)
        assert services.cache_state() != "T"
    assert (run["phase"], run["verdict"]) == ("completed", "pass"), run["reasons"]
    assert run["score"] == 1.0
    assert run["cacheWasStopped"]
    by = steps(run)
    assert {k[1]: v["state"] for k, v in by.items()} == {
        "api-healthy": "passed",
        "api-error-budget": "passed",
        "settle": "passed",
        "pause-cache": "passed",
        "api-during": "passed",
    }
    fault = by[("step", "pause-cache")]
    assert fault["run"]["phase"] == "completed"
    assert fault["run"]["workflowRunId"] == run["id"]
    assert fault["run"]["workflowStepId"] == "pause-cache"
    assert fault["run"]["targets"][0]["phase"] == "recovered"
    during = by[("step", "api-during")]["probe"]
    assert during["checks"] >= 6 and during["checks"] == during["passed"]
    assert all(s["ok"] and s["value"] == 200 for s in during["samples"])
    # the steady state was checked before and again after
    assert by[("steadyState-before", "api-healthy")]["state"] == "passed"
    assert by[("steadyState-after", "api-healthy")]["state"] == "passed"
    listed = gql("{ workflows { name version } }")["workflows"]
    assert {"name": "api-survives-a-paused-dependency", "version": 1} in listed


def test_the_example_stops_at_its_stop_condition_when_the_api_fails_without_its_cache(
    hub: tuple[UpProcess, GraphQL],
) -> None:
    _up, gql = hub
    with api_with_cache("cache-server", api_port=8081, resilient=False) as services:
        run = follow(gql, start_example(gql), services)
        assert services.cache_state() != "T", "the cache must run again once the workflow ended"
    assert (run["phase"], run["verdict"]) == ("aborted", "fail")
    assert run["cacheWasStopped"]
    assert any("stop condition api-error-budget breached" in r for r in run["reasons"])
    by = steps(run)
    budget = by[("stopCondition", "api-error-budget")]["probe"]
    assert budget["outcome"] == "failed"
    assert [s["ok"] for s in budget["samples"]][-3:] == [False, False, False]
    assert by[("step", "api-during")]["state"] in ("failed", "aborted")
    fault = by[("step", "pause-cache")]
    assert fault["run"]["phase"] == "aborted"
    assert fault["run"]["targets"][0]["phase"] == "recovered"
    # the same document again: no new version
    listed = gql("{ workflows { name version } }")["workflows"]
    assert {"name": "api-survives-a-paused-dependency", "version": 1} in listed
