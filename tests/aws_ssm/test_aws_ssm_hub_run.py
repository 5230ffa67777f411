"""Runs of aws-ssm faults through the whole hub (`chaoshub up`: API, worker, reconciler)
against the moto server: a network fault runs its course and completes; another is
aborted while held and its rollback command is sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoshub.adapters.aws_ssm.commands import comment_for
from tests.support import queries as Q
from tests.support.stack import GraphQL, embedded_hub, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, moto_url: str, aws_env: None
) -> Iterator[GraphQL]:
    with embedded_hub(tmp_path_factory.mktemp("aws-ssm-hub")) as (url, token):
        gql = GraphQL(url, token)
        yield gql
        gql.close()


@pytest.fixture
def backend(hub: GraphQL, moto_url: str, fis_documents: list[str], team: str) -> str:
    name = f"aws-{team}"
    config = {
        "region": "us-east-1",
        "endpoint_url": moto_url,
        "require_ssm_online": False,
        "poll_seconds": 0.2,
    }
    created = hub(Q.CREATE_BACKEND, input={"name": name, "adapter": "aws-ssm", "config": config})
    assert created["createBackend"]["__typename"] == "Backend", created
    return name


def _start_answer(hub: GraphQL, backend: str, team: str, duration: float | None) -> Any:
    return hub(
        Q.START_RUN,
        input={
            "faultType": "aws-ssm/network-latency",
            "backend": backend,
            "params": {"DelayMilliseconds": 150},
            "selector": {"tags": {"team": team}},
            "durationSeconds": duration,
        },
    )["startRun"]


def _start(hub: GraphQL, backend: str, team: str, duration: float) -> str:
    started = _start_answer(hub, backend, team, duration)
    assert started["__typename"] == "Run", started
    return str(started["id"])


def _phase(hub: GraphQL, run_id: str, phase: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        run: dict[str, Any] = hub(Q.RUN, id=run_id)["run"]
        return run if run["phase"] == phase else None

    return check


def test_a_network_fault_runs_its_course_and_the_run_completes(
    hub: GraphQL, backend: str, launch: Any, team: str
) -> None:
    (instance,) = launch(1, team=team, Name="api-1")
    run_id = _start(hub, backend, team, duration=2)
    done = wait_for(_phase(hub, run_id, "completed"), 60, what="completion")
    (target,) = done["targets"]
    assert (target["label"], target["phase"]) == ("api-1", "recovered")
    assert target["handle"]["instance_id"] == instance
    assert target["nativeStatus"].startswith("Success")


def test_an_aborted_network_fault_is_rolled_back_and_the_run_aborts(
    hub: GraphQL, backend: str, launch: Any, team: str, sent: Any, tmp_path: Path
) -> None:
    (instance,) = launch(1, team=team)
    run_id = _start(hub, backend, team, duration=600)
    running = wait_for(_phase(hub, run_id, "running"), 60, what="running")
    assert running["targets"][0]["nativeStatus"].startswith("Success")  # returned, yet held
    assert hub(Q.ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
    aborted = wait_for(_phase(hub, run_id, "aborted"), 60, what="abort")
    assert "network rollback Success" in aborted["targets"][0]["nativeStatus"]
    execution_id = f"{run_id}-0"
    (rollback,) = sent(instance, comment_for(execution_id, rollback=True))
    assert rollback["DocumentName"] == "AWS-RunShellScript"


@pytest.mark.parametrize(
    ("duration", "says"),
    [(None, "needs durationSeconds"), (43201, "between 1 and 43200")],
)
def test_a_duration_the_document_would_refuse_is_refused_before_any_tool_call(
    hub: GraphQL, backend: str, team: str, duration: float | None, says: str
) -> None:
    before = hub("{ runs { totalCount } }")["runs"]["totalCount"]
    started = _start_answer(hub, backend, team, duration)
    assert started["__typename"] == "InvalidInputError", started
    assert started["field"] == ["durationSeconds"]
    assert says in started["message"]
    assert hub("{ runs { totalCount } }")["runs"]["totalCount"] == before
    fault = hub(
        '{ faultType(id: "aws-ssm/network-latency") '
        "{ durationRequired minDurationSeconds maxDurationSeconds } }"
    )["faultType"]
    assert fault == {"durationRequired": True, "minDurationSeconds": 1, "maxDurationSeconds": 43200}
