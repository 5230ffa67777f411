"""End to end: GraphQL → Celery on the real Redis → real worker processes → the in-memory
adapter, whose state file lets the tests see what the "tool" really holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chaoshub.testing.memory import MemoryAdapter
from tests.support import queries as Q
from tests.support.stack import REDIS_TEST_URL, GraphQL, Stack, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    workdir = tmp_path_factory.mktemp("stack")
    s = Stack(workdir=workdir, database_url=f"sqlite:///{workdir / 'hub.db'}")
    with s.running("w1"):
        yield s


@pytest.fixture
def gql(stack: Stack) -> Iterator[GraphQL]:
    client = GraphQL(stack.url)
    yield client
    # leave nothing running for the next test
    client(Q.HALT_ALL)
    client.close()


class Tool:
    """A memory backend of this test and a view of the tool's state from outside the hub."""

    def __init__(self, gql: GraphQL, tmp_path: Path, **config: Any) -> None:
        self.name = f"mem-{uuid.uuid4().hex[:8]}"
        self.state_path = tmp_path / f"{self.name}.json"
        self.config = {"state_path": str(self.state_path), **config}
        result = gql(
            Q.CREATE_BACKEND, input={"name": self.name, "adapter": "memory", "config": self.config}
        )
        assert result["createBackend"]["__typename"] == "Backend", result
        self.adapter = MemoryAdapter(self.config, backend=self.name)

    def active(self) -> dict[str, Any]:
        return self.adapter.snapshot()["active"]  # type: ignore[no-any-return]

    def applied(self) -> dict[str, int]:
        return self.adapter.snapshot()["applied"]  # type: ignore[no-any-return]


def start(
    gql: GraphQL,
    tool: Tool,
    *,
    fault: str = "memory/latency",
    names: list[str] | None = None,
    duration: float | None = 30,
    params: dict[str, Any] | None = None,
) -> str:
    result = gql(
        Q.START_RUN,
        input={
            "faultType": fault,
            "backend": tool.name,
            "params": params or {},
            "selector": {"names": names or ["alpha"]},
            "durationSeconds": duration,
        },
    )["startRun"]
    assert result["__typename"] == "Run", result
    return str(result["id"])


def run_of(gql: GraphQL, run_id: str) -> dict[str, Any]:
    return gql(Q.RUN, id=run_id)["run"]  # type: ignore[no-any-return]


def wait_phase(gql: GraphQL, run_id: str, *phases: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(
        lambda: (r := run_of(gql, run_id))["phase"] in phases and r,
        timeout,
        what=f"{run_id} in {phases}",
    )


def moves(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["fromPhase"], e["toPhase"]) for e in run["events"] if e["kind"] == "phase"]


def test_a_timed_run_completes_on_its_deadline(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, names=["alpha", "beta"], duration=2, params={"latency_ms": 300})
    running = wait_phase(gql, run_id, "running")
    assert {t["phase"] for t in running["targets"]} == {"injected"}
    assert running["targets"][0]["metrics"] == {"latency_ms": 300.0}
    assert len(tool.active()) == 2

    done = wait_phase(gql, run_id, "completed", timeout=20)
    assert moves(done) == [
        ("pending", "injecting"),
        ("injecting", "running"),
        ("running", "recovering"),
        ("recovering", "completed"),
    ]
    assert [e["reason"] for e in done["events"] if e["toPhase"] == "recovering"] == [
        "duration elapsed"
    ]
    assert {t["phase"] for t in done["targets"]} == {"recovered"}
    assert not any(t["mayCarryFault"] for t in done["targets"])
    assert tool.active() == {}


def test_a_run_aborted_while_running_recovers_and_ends_aborted(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, duration=300)
    wait_phase(gql, run_id, "running")
    assert gql(Q.ABORT, id=run_id)["abortRun"]["desiredState"] == "stop"
    done = wait_phase(gql, run_id, "aborted")
    assert ("running", "recovering") in moves(done)
    assert tool.active() == {}


def test_a_paused_run_reverts_the_fault_and_resume_applies_it_again(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, duration=300)
    wait_phase(gql, run_id, "running")
    assert gql(Q.PAUSE, id=run_id)["pauseRun"]["desiredState"] == "pause"
    wait_phase(gql, run_id, "paused")
    assert tool.active() == {}, "pause reverts the fault on the target"

    assert gql(Q.RESUME, id=run_id)["resumeRun"]["desiredState"] == "run"
    wait_phase(gql, run_id, "running")
    assert len(tool.active()) == 1
    gql(Q.ABORT, id=run_id)
    done = wait_phase(gql, run_id, "aborted")
    assert moves(done)[:5] == [
        ("pending", "injecting"),
        ("injecting", "running"),
        ("running", "paused"),
        ("paused", "injecting"),
        ("injecting", "running"),
    ]
    assert tool.active() == {}


def test_an_instant_fault_completes_without_a_duration(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, fault="memory/kill", duration=None)
    done = wait_phase(gql, run_id, "completed")
    assert done["targets"][0]["phase"] == "injected"
    assert not done["targets"][0]["mayCarryFault"]


def test_an_external_fault_ends_when_the_tool_says_so_with_its_verdict(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, fault="memory/job", duration=1, params={"verdict": "fail"})
    done = wait_phase(gql, run_id, "completed", timeout=20)
    assert done["verdict"] == "fail"


def test_a_recovery_that_fails_twice_stays_recovering_then_completes(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path, fail_recover=2)
    run_id = start(gql, tool, duration=1)
    stuck = wait_phase(gql, run_id, "recovering")
    stuck = wait_for(
        lambda: (r := run_of(gql, run_id))["recoverAttempts"] >= 1 and r,
        20,
        what="a failed recovery",
    )
    assert stuck["phase"] == "recovering" and stuck["stuck"]
    assert "E_STUCK" in stuck["error"]
    assert stuck["targets"][0]["mayCarryFault"]

    done = wait_phase(gql, run_id, "completed", timeout=30)
    assert [e["kind"] for e in done["events"]].count("recover-failed") == 2
    assert tool.active() == {}


def test_a_recovery_that_never_succeeds_can_be_force_released(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path, fail_recover=-1)
    run_id = start(gql, tool, duration=1)
    wait_for(lambda: run_of(gql, run_id)["recoverAttempts"] >= 2, 30, what="two failed recoveries")
    assert run_of(gql, run_id)["phase"] == "recovering", (
        "a run never claims to be over while a fault may remain"
    )
    listed = gql("{ runs(filter: {stuck: true}) { totalCount edges { node { id stuck } } } }")[
        "runs"
    ]
    assert run_id in [e["node"]["id"] for e in listed["edges"]]
    assert all(e["node"]["stuck"] for e in listed["edges"])
    others = gql("{ runs(filter: {stuck: false}, first: 500) { edges { node { id } } } }")
    assert run_id not in [e["node"]["id"] for e in others["runs"]["edges"]]

    refused = gql(Q.FORCE_RELEASE, id=run_id, reason=" ")["forceReleaseRun"]
    assert refused["__typename"] == "InvalidInputError" and refused["field"] == ["reason"]
    released = gql(Q.FORCE_RELEASE, id=run_id, reason="removed the fault by hand")[
        "forceReleaseRun"
    ]
    assert released == {"__typename": "Run", "id": run_id, "phase": "completed"}
    run = run_of(gql, run_id)
    assert "force-released" in [e["kind"] for e in run["events"]]
    assert "released by" in run["targets"][0]["error"]
    audit = gql('{ auditLog(action: "forceReleaseRun") { actor result input } }')["auditLog"]
    assert audit[0]["result"] == "ok" and audit[0]["input"]["id"] == run_id


def test_halt_all_stops_every_active_run(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path)
    ids = [start(gql, tool, names=[name], duration=300) for name in ("alpha", "beta", "gamma")]
    for run_id in ids:
        wait_phase(gql, run_id, "running")
    halted = gql(Q.HALT_ALL)["haltAll"]
    assert halted["count"] == 3 and {r["id"] for r in halted["runs"]} == set(ids)
    for run_id in ids:
        wait_phase(gql, run_id, "aborted")
    assert tool.active() == {}


def test_an_ended_run_can_be_archived_and_leaves_default_lists(
    gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, fault="memory/kill", duration=None)
    wait_phase(gql, run_id, "completed")
    assert gql(Q.ARCHIVE, id=run_id)["archiveRun"] == {
        "__typename": "Run",
        "id": run_id,
        "archived": True,
    }
    listed = gql("{ runs(first: 500) { edges { node { id } } } }")["runs"]["edges"]
    assert run_id not in {e["node"]["id"] for e in listed}


def test_abort_of_an_ended_run_is_a_typed_error(gql: GraphQL, tmp_path: Path) -> None:
    tool = Tool(gql, tmp_path)
    run_id = start(gql, tool, fault="memory/kill", duration=None)
    wait_phase(gql, run_id, "completed")
    result = gql(Q.ABORT, id=run_id)["abortRun"]
    assert result["__typename"] == "IllegalTransitionError" and result["field"] == ["id"]


def test_a_worker_killed_while_injecting_is_replaced_and_nothing_is_injected_twice(
    stack: Stack, gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path, inject_delay=4)
    w2 = stack.start_worker("w2")
    try:
        victim = stack.procs[1]  # w1
        run_id = start(gql, tool, names=["alpha", "beta"], duration=3)
        wait_phase(gql, run_id, "injecting")
        wait_for(
            lambda: all(t["mayCarryFault"] for t in run_of(gql, run_id)["targets"]),
            10,
            what="injection under way",
        )
        # which worker holds it? kill whichever it is: both are ours
        killed = [p for p in (victim, w2) if f"{run_id}" in p.log.read_text(errors="replace")] or [
            victim
        ]
        for p in killed:
            p.kill()
        done = wait_phase(gql, run_id, "completed", timeout=60)
        assert "worker-lost" in [e["kind"] for e in done["events"]]
        assert all(count == 1 for count in tool.applied().values()), tool.applied()
        assert len(tool.applied()) == 2
        assert tool.active() == {}
    finally:
        restart_workers(stack)


def test_a_worker_killed_while_recovering_is_replaced_and_the_run_ends_clean(
    stack: Stack, gql: GraphQL, tmp_path: Path
) -> None:
    tool = Tool(gql, tmp_path, recover_delay=4)
    w2 = stack.start_worker("w3")
    try:
        run_id = start(gql, tool, duration=1)
        wait_phase(gql, run_id, "recovering")
        for p in [p for p in stack.procs if p.name.startswith("worker") and p.popen.poll() is None]:
            if p is not w2 and run_id in p.log.read_text(errors="replace"):
                p.kill()
        if all(p.popen.poll() is None for p in stack.procs if p.name.startswith("worker")):
            next(p for p in stack.procs if p.name.startswith("worker") and p is not w2).kill()
        done = wait_phase(gql, run_id, "completed", timeout=60)
        assert done["targets"][0]["phase"] == "recovered"
        assert tool.applied() == {f"{run_id}-0": 1}
        assert tool.active() == {}
    finally:
        restart_workers(stack)


def restart_workers(stack: Stack) -> None:
    """Leave exactly one live worker for the next test."""
    workers = [p for p in stack.procs if p.name.startswith("worker")]
    live = [p for p in workers if p.popen.poll() is None]
    for p in live[1:]:
        p.stop()
    if not live:
        stack.start_worker(f"w{uuid.uuid4().hex[:4]}")
