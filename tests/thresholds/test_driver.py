"""The beat's pass over searches: a search a live worker holds is left to it; one whose
worker stopped renewing its lease (killed) is taken over from what is stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chaoshub.runtime import Runtime
from chaoshub.store import db
from chaoshub.store.models import ThresholdSearch
from chaoshub.thresholds.driver import advance_all
from tests.support.stack import in_process_runtime
from tests.thresholds.documents import search_document


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = in_process_runtime(tmp_path, admin="admin-token-for-the-driver-test")
    try:
        yield rt
    finally:
        db.dispose_all()


def stored(rt: Runtime, worker: str, lease: timedelta) -> str:
    with rt.session() as s:
        row = ThresholdSearch(
            name="checkout",
            document=search_document(),
            phase="running",
            trials=[{"magnitude": 0, "outcome": "held", "workflowRunId": "w0"}],
            reasons=[],
            worker=worker,
            lease_until=datetime.now(UTC) + lease,
        )
        s.add(row)
        s.flush()
        return row.id


def test_a_search_held_by_a_live_worker_is_left_alone_and_a_dead_workers_is_taken_over(
    runtime: Runtime,
) -> None:
    sent: list[Any] = []
    alive = stored(runtime, "worker-alive", timedelta(seconds=60))
    dead = stored(runtime, "worker-killed", timedelta(seconds=-1))

    assert advance_all(runtime, lambda *a: sent.append(a)) == 1

    with runtime.session() as s:
        untouched = s.get(ThresholdSearch, alive)
        taken = s.get(ThresholdSearch, dead)
        assert untouched is not None and taken is not None
        assert (untouched.phase, untouched.worker) == ("running", "worker-alive")
        # the taken-over search went on from its stored trials: the next magnitude (to=2000)
        # was asked of the tools, which have no backend "toxiproxy" here, so it ended saying so
        assert taken.phase == "failed" and taken.worker is None
        assert "latency=2000 could not start" in taken.reasons[0], taken.reasons
        assert "backend" in taken.reasons[0]
        assert taken.result is not None and taken.result["trials"] == 1
    assert sent == []  # no trial was started, so no workflow run was sent


def gone(rt: Runtime, trials: list[dict[str, Any]]) -> str:
    """A search whose current trial, at 2000, lost its workflow run (inconclusive)."""
    with rt.session() as s:
        row = ThresholdSearch(
            name="checkout",
            document=search_document(),
            phase="running",
            trials=trials,
            reasons=[],
            current_workflow_run_id="no-such-workflow-run",
            current_magnitude=2000,
        )
        s.add(row)
        s.flush()
        return row.id


def test_an_inconclusive_trial_is_run_again_and_twice_in_a_row_fails_the_search(
    runtime: Runtime,
) -> None:
    held = {"magnitude": 0, "outcome": "held", "workflowRunId": "w0"}
    once = gone(runtime, [held])
    twice = gone(
        runtime,
        [held, {"magnitude": 2000, "outcome": "inconclusive", "workflowRunId": "w1"}],
    )
    assert advance_all(runtime, lambda *a: None) == 2
    with runtime.session() as s:
        first, second = s.get(ThresholdSearch, once), s.get(ThresholdSearch, twice)
        assert first is not None and second is not None
        assert [t["outcome"] for t in first.trials] == ["held", "inconclusive"]
        # the same magnitude was asked for again (the tools here have no toxiproxy backend)
        assert "latency=2000 could not start" in first.reasons[0], first.reasons
        assert second.phase == "failed"
        assert "inconclusive 2 times in a row" in second.reasons[0], second.reasons


def test_a_search_paused_between_trials_starts_none_until_resumed(runtime: Runtime) -> None:
    from chaoshub.services import thresholds as svc
    from chaoshub.services.auth import Actor

    sent: list[Any] = []
    search_id = stored(runtime, "worker-gone", timedelta(seconds=-1))
    actor = Actor(name="someone", role="operator")
    with runtime.session() as s:
        row, woken = svc.pause(runtime, s, actor, search_id)
        assert (row.phase, row.desired_state, woken) == ("paused", "pause", None)
    for _ in range(2):
        advance_all(runtime, lambda *a: sent.append(a))
    with runtime.session() as s:
        row = s.get(ThresholdSearch, search_id)
        assert row is not None
        assert (row.phase, row.current_workflow_run_id, len(row.trials)) == ("paused", None, 1)
        svc.resume(s, actor, search_id)
    assert sent == []
    advance_all(runtime, lambda *a: sent.append(a))
    with runtime.session() as s:
        row = s.get(ThresholdSearch, search_id)
        assert row is not None
        # resumed: the next magnitude was asked of the tools (no toxiproxy backend here)
        assert row.phase == "failed" and "latency=2000 could not start" in row.reasons[0]
