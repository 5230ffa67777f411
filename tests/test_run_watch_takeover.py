"""A killed worker's held runs (held by its watch, leases renewed in batches) are taken
over by another worker from what is stored, and end clean with nothing injected twice.

Its own module: the stack uses a reconciler every 0.5 s and must not share the test Redis
with the slow-reconciler stack of ``test_run_watch.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import queries as Q
from tests.support.stack import GraphQL, wait_for
from tests.test_run_watch import Tool, holders, make_stack, phase, start, wait_phase

pytestmark = pytest.mark.slow


def test_a_killed_workers_held_runs_are_taken_over_and_end_clean(tmp_path: Path) -> None:
    s = make_stack(tmp_path, CHAOSHUB_RECONCILE_SECONDS="0.5")
    try:
        s.start_api()
        first = s.start_worker("w1")
        s.start_beat()
        gql = GraphQL(s.url)
        tool = Tool(gql, tmp_path)
        ids = [start(gql, tool, f"t{i}", 300) for i in range(4)]
        for run_id in ids:
            wait_phase(gql, run_id, "running")
        before = set(wait_for(lambda: (h := holders(s, ids)) and all(h.values()) and h).values())
        first.kill()
        s.start_worker("w2")
        wait_for(
            lambda: (
                (h := holders(s, ids))
                and all((w or "").endswith(":watch") and w not in before for w in h.values())
            ),
            60,
            what="the runs held by the new worker's watch",
        )
        assert {phase(gql, r) for r in ids} == {"running"}
        for run_id in ids:
            gql(Q.ABORT, id=run_id)
        for run_id in ids:
            wait_phase(gql, run_id, "aborted", timeout=30)
        state = tool.state()
        assert state["active"] == {}
        assert set(state["applied"].values()) == {1}, "nothing was injected twice"
        gql.close()
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()
