"""The orphan sweep against a real injector process: faults the injector holds that no run
of the hub may carry are recovered (a paused process runs again, read from ``/proc``) and
recorded; a run's current injection, ids the hub did not make and injections younger than
the grace period are left alone; an agent or backend that cannot be reached is skipped.

The hub side is a store of its own (SQLite) with rows written directly: the sweep reads
runs and targets, and these tests say exactly which ones it finds.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from native_peers import Injector, inject, proc_state
from prometheus_client import REGISTRY
from sqlalchemy import select

from chaoshub.config import Settings
from chaoshub.execution.celery_app import HUB_QUEUE, beat_schedule
from chaoshub.execution.sweeper import sweep_orphans
from chaoshub.runtime import Runtime
from chaoshub.services import agents
from chaoshub.store.models import Agent, Backend, Event, Run, RunTarget

AGENT = "sweep-agent"
DEAD_URL = "http://127.0.0.1:9"

# recovery fails while the file named by the first argument exists; else removes the second
FLAKY_RECOVER = """#!/bin/sh
if [ -e "$1" ]; then echo "blocked by $1" >&2; exit 3; fi
rm -f "$2"
"""
MARK = """#!/bin/sh
echo marked > "$1"
"""


@pytest.fixture(scope="module")
def agent() -> Iterator[Injector]:
    """An injector of this module's own, so the sweep sees no other test's injections."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-sweep-") as d:
        root = Path(d)
        scripts = root / "scripts"
        scripts.mkdir()
        for name, text in (("mark.sh", MARK), ("flaky.sh", FLAKY_RECOVER)):
            (scripts / name).write_text(text)
            (scripts / name).chmod(0o755)
        (root / "state").mkdir()
        inj = Injector(root / "state", scripts).start()
        try:
            yield inj
        finally:
            inj.stop()  # a clean stop recovers whatever a failed test left active


@pytest.fixture
def agent_api(agent: Injector) -> Iterator[httpx.Client]:
    with agent.client() as client:
        yield client


@pytest.fixture
def hold(agent_api: httpx.Client) -> Iterator[Callable[..., str]]:
    """Inject straight into the injector, as a crashed or forgetful hub would have left it;
    whatever is still held is recovered at the end, whether the test passed or not."""
    held: list[str] = []

    def hold(execution_id: str, selector: dict[str, Any], **kw: Any) -> str:
        held.append(execution_id)
        inject(agent_api, execution_id, kw.pop("fault", "process-pause"), selector, lease=600, **kw)
        return execution_id

    yield hold
    for execution_id in held:
        agent_api.post("/v1/recover", json={"execution_id": execution_id})


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    rt = Runtime(
        Settings.from_env(
            data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}", bus_url="local"
        )
    )
    rt.migrate()
    return rt


@pytest.fixture
def hub(runtime: Runtime, agent: Injector) -> Runtime:
    """A hub that knows the injector as a registered, online agent."""
    add_agent(runtime, AGENT, agent.url, agent.token)
    return runtime


def add_agent(rt: Runtime, name: str, url: str, token: str) -> None:
    with rt.session() as s:
        agents.ensure_fleet_backend(s)
        s.add(
            Agent(
                name=name, url=url, api_token=token, online=True, last_heartbeat=datetime.now(UTC)
            )
        )


def add_http_backend(rt: Runtime, name: str, url: str, token: str) -> None:
    with rt.session() as s:
        s.add(Backend(name=name, adapter="http", config={"url": url, "token": token}))


def stored_run(rt: Runtime, phase: str, *, round_: int = 0, carrying: bool = False) -> str:
    """A run of one process-pause target, as the store holds it."""
    with rt.session() as s:
        run = Run(
            fault_type="native/process-pause",
            adapter="native",
            time_control="timed",
            backend_name="native",
            phase=phase,
            round=round_,
        )
        run.targets = [
            RunTarget(index=0, target_id=f"{AGENT}/p", label="sleeper", may_carry_fault=carrying)
        ]
        s.add(run)
        s.flush()
        return run.id


def set_carrying(rt: Runtime, run_id: str, carrying: bool) -> None:
    with rt.session() as s:
        s.get_one(Run, run_id).targets[0].may_carry_fault = carrying


def events(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    with rt.session() as s:
        rows = s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id))
        return [{"run_id": e.run_id, "agent": e.agent, "reason": e.reason, **e.data} for e in rows]


def held_ids(api: httpx.Client) -> set[str]:
    return {e["execution_id"] for e in api.get("/v1/executions").json()["executions"]}


def recoveries(outcome: str, adapter: str = "native") -> float:
    labels = {"adapter": adapter, "outcome": outcome}
    return REGISTRY.get_sample_value("chaoshub_orphan_recoveries_total", labels) or 0.0


def unknown_run_id() -> str:
    return uuid.uuid4().hex


# -- orphans are recovered ---------------------------------------------------------------------


def test_a_fault_of_a_run_the_hub_does_not_have_is_recovered_and_recorded(hub, hold, sleeper):
    eid = hold(f"{unknown_run_id()}-0", {"pid": sleeper.pid})
    assert proc_state(sleeper.pid) == "T"
    counted = recoveries("ok")

    (orphan,) = sweep_orphans(hub, grace_seconds=0)

    assert proc_state(sleeper.pid) in ("S", "R")
    assert (orphan.agent, orphan.execution_id, orphan.error) == (AGENT, eid, None)
    (event,) = events(hub, "orphan-recovered")
    assert (event["agent"], event["execution_id"], event["backend"]) == (AGENT, eid, "native")
    assert event["run_id"] is None and "no such run" in event["reason"]
    assert recoveries("ok") == counted + 1


def test_a_fault_of_a_terminal_run_is_recovered_and_the_event_names_the_run(hub, hold, sleeper):
    run_id = stored_run(hub, "aborted")
    eid = hold(f"{run_id}-0", {"pid": sleeper.pid})

    sweep_orphans(hub, grace_seconds=0)

    assert proc_state(sleeper.pid) in ("S", "R")
    (event,) = events(hub, "orphan-recovered")
    assert (event["run_id"], event["execution_id"]) == (run_id, eid)
    assert "the run is aborted" in event["reason"]


def test_an_earlier_rounds_fault_is_recovered_once_its_target_carries_no_fault(
    hub, agent_api, hold, sleeper
):
    run_id = stored_run(hub, "running", round_=1, carrying=True)
    eid = hold(f"{run_id}-0", {"pid": sleeper.pid})  # round 0's, left after pause and resume

    # while the target carries round 1's fault, recovering round 0 could lift that one too
    assert sweep_orphans(hub, grace_seconds=0) == []
    assert proc_state(sleeper.pid) == "T" and eid in held_ids(agent_api)

    set_carrying(hub, run_id, False)
    (orphan,) = sweep_orphans(hub, grace_seconds=0)

    assert proc_state(sleeper.pid) in ("S", "R")
    assert orphan.execution_id == eid and "round 0" in orphan.why


# -- what is left alone --------------------------------------------------------------------------


def test_the_current_execution_of_an_active_run_is_not_touched(hub, agent_api, hold, sleeper):
    run_id = stored_run(hub, "running", round_=2, carrying=True)
    eid = hold(f"{run_id}-0-r2", {"pid": sleeper.pid})

    assert sweep_orphans(hub, grace_seconds=0) == []

    assert proc_state(sleeper.pid) == "T" and eid in held_ids(agent_api)
    assert events(hub, "orphan-recovered") == []


def test_ids_the_hub_did_not_make_are_left_alone(hub, agent_api, hold, sleeper):
    eid = hold(f"someone-else-{uuid.uuid4().hex[:8]}", {"pid": sleeper.pid})

    assert sweep_orphans(hub, grace_seconds=0) == []

    assert proc_state(sleeper.pid) == "T" and eid in held_ids(agent_api)


def test_an_injection_younger_than_the_grace_period_is_left_for_a_later_sweep(
    hub, agent_api, hold, sleeper
):
    eid = hold(f"{unknown_run_id()}-0", {"pid": sleeper.pid})

    assert sweep_orphans(hub, grace_seconds=3600) == []

    assert proc_state(sleeper.pid) == "T" and eid in held_ids(agent_api)


# -- failures ------------------------------------------------------------------------------------


def test_an_unreachable_agent_or_backend_does_not_stop_the_sweep(hub, hold, sleeper):
    add_agent(hub, "a-gone-agent", DEAD_URL, "x")  # sorts before the live one
    add_http_backend(hub, "a-gone-backend", DEAD_URL, "x")
    eid = hold(f"{unknown_run_id()}-0", {"pid": sleeper.pid})

    (orphan,) = sweep_orphans(hub, grace_seconds=0)

    assert (orphan.agent, orphan.execution_id) == (AGENT, eid)
    assert proc_state(sleeper.pid) in ("S", "R")


def test_a_failed_recovery_is_recorded_and_tried_again_on_the_next_sweep(
    hub, agent_api, hold, tmp_path
):
    block, mark = tmp_path / "block", tmp_path / "mark"
    block.touch()
    try:
        eid = hold(
            f"{unknown_run_id()}-0",
            {},
            fault="host-script",
            params={
                "script": "mark.sh",
                "args": [str(mark)],
                "recover_script": "flaky.sh",
                "recover_args": [str(block), str(mark)],
            },
        )
        assert mark.exists()
        counted = recoveries("failed")

        (failed,) = sweep_orphans(hub, grace_seconds=0)
        assert recoveries("failed") == counted + 1
        assert failed.error and "blocked by" in failed.error
        (event,) = events(hub, "orphan-recover-failed")
        assert event["execution_id"] == eid and "blocked by" in event["error"]
        assert mark.exists() and eid in held_ids(agent_api)
    finally:
        block.unlink(missing_ok=True)  # so the cleanup's recovery can succeed

    (orphan,) = sweep_orphans(hub, grace_seconds=0)
    assert orphan.error is None and not mark.exists()
    assert [e["execution_id"] for e in events(hub, "orphan-recovered")] == [eid]


# -- http backends and the schedule ----------------------------------------------------------------


def test_an_http_backends_orphans_are_recovered_and_recorded_by_backend(
    runtime, agent, hold, sleeper
):
    add_http_backend(runtime, "inj-http", agent.url, agent.token)
    eid = hold(f"{unknown_run_id()}-0", {"pid": sleeper.pid})

    (orphan,) = sweep_orphans(runtime, grace_seconds=0)

    assert proc_state(sleeper.pid) in ("S", "R")
    assert (orphan.backend, orphan.agent) == ("inj-http", None)
    (event,) = events(runtime, "orphan-recovered")
    assert (event["backend"], event["adapter"], event["execution_id"]) == ("inj-http", "http", eid)


def test_the_sweep_is_its_own_beat_task_on_the_hub_queue_and_zero_turns_it_off(tmp_path):
    settings = Settings.from_env(data_dir=tmp_path, orphan_sweep_seconds=30.0)
    entry = beat_schedule(settings)["sweep-orphans"]
    assert entry["task"] == "chaoshub.sweep_orphans" and entry["schedule"] == 30.0
    assert entry["options"]["queue"] == HUB_QUEUE

    off = beat_schedule(Settings.from_env(data_dir=tmp_path, orphan_sweep_seconds=0.0))
    assert "sweep-orphans" not in off and "reconcile" in off
