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
