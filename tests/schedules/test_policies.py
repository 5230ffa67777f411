"""Concurrency policies and haltAll on a real hub (``chaoshub up``: its own beat fires the
schedules), with real workflow runs of one ``wait`` step."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from tests.schedules.api import history, scheduled
from tests.support.stack import wait_for
from tests.workflows.hub import HALT_ALL, Hub

SCHEDULE = """query($id: ID!) { schedule(id: $id) { enabled pausedReason } }"""


def fired(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["outcome"] == "fired"]


def test_forbid_skips_ticks_while_the_previous_run_is_active_and_fires_after(hub: Hub) -> None:
    with scheduled(hub, 4, cron="@every 2s") as sched:
        entries = wait_for(
            lambda: h if len(fired(h := history(hub, sched["id"]))) >= 2 else None,
            40,
            what="a second start after the first ended",
        )
        skipped = [e for e in entries if e["outcome"] == "skipped"]
        assert skipped, entries
        assert all("concurrencyPolicy forbid" in e["reason"] for e in skipped)
        first, second = fired(entries)[:2]
        ended = hub.run(first["workflowRunId"])
        assert ended["phase"] == "completed"
        # the second started only after the first had ended: never two at once
        started = hub.run(second["workflowRunId"])["createdAt"]
        assert datetime.fromisoformat(started) >= datetime.fromisoformat(ended["endedAt"])


def test_allow_runs_starts_side_by_side(hub: Hub) -> None:
    with scheduled(hub, 30, cron="@every 2s", concurrencyPolicy="allow") as sched:
        entries = wait_for(
            lambda: h if len(fired(h := history(hub, sched["id"]))) >= 2 else None,
            30,
            what="two starts",
        )
        phases = [hub.run(e["workflowRunId"])["phase"] for e in fired(entries)[:2]]
        # both active at once (the second may still be starting on a loaded machine)
        assert all(p in ("pending", "injecting", "running") for p in phases), phases


def test_replace_aborts_the_previous_run_and_starts_the_new_one(hub: Hub) -> None:
    with scheduled(hub, 60, cron="@every 3s", concurrencyPolicy="replace") as sched:
        entries = wait_for(
            lambda: h if len(fired(h := history(hub, sched["id"]))) >= 2 else None,
            30,
            what="a replacing start",
        )
        first, second = fired(entries)[:2]
        assert second["reason"] == f"replaced workflow run {first['workflowRunId']}"
        old = hub.wait_ended(first["workflowRunId"])
        assert old["phase"] == "aborted"
        assert any("replaced by schedule" in r for r in old["reasons"]), old["reasons"]


def test_halt_all_pauses_every_schedule_and_says_so(hub: Hub) -> None:
    with scheduled(hub, 30, cron="@every 2s", concurrencyPolicy="allow") as sched:
        wait_for(lambda: fired(history(hub, sched["id"])), 20, what="a first start")
        halted = hub.gql(HALT_ALL)["haltAll"]
        assert halted["__typename"] == "HaltAllResult", halted
        assert halted["scheduleCount"] >= 1 and halted["workflowRunCount"] >= 1
        state = hub.gql(SCHEDULE, id=sched["id"])["schedule"]
        assert not state["enabled"]
        assert state["pausedReason"] == "paused by halt-all (bootstrap-admin): test cleanup"
        seen = len(history(hub, sched["id"]))
        time.sleep(5)  # two and a half intervals: a live schedule would have fired again
        assert len(history(hub, sched["id"])) == seen, "a paused schedule fired"
