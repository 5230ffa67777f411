"""The beat task fires each due tick once: a start missed by more than the deadline is
recorded, never made up in a burst; a blackout tick is skipped; a refused start is recorded
with its reason and not retried; the concurrency policy decides about a run still active.

The clock is given to each pass, as a beat late by that much would see it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaoshub.services import backends
from chaoshub.store.models import Run, WorkflowRun
from tests.schedules.world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as it:
        yield it


def outcomes(w: World, schedule_id: str) -> list[str]:
    return [f.outcome for f in w.history(schedule_id)]


def test_a_due_tick_starts_the_workflow_once_as_the_schedules_creator(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 30s")
    tick = w.fire_after_next(sid, 0.5)
    w.fire(tick + timedelta(seconds=1))  # a second pass for the same tick finds it taken

    [fire] = w.history(sid)
    assert (fire.outcome, fire.scheduled_for) == ("fired", tick)
    [run] = w.workflow_runs(flow)
    assert fire.workflow_run_id == run.id
    assert run.created_by == "scheduler-tester"
    assert w.sent.tasks == [(run.id, "workflow", "workflow")]
    assert w.row(sid).next_fire_at == tick + timedelta(seconds=30)


def test_a_start_missed_past_the_deadline_is_recorded_and_not_fired_late(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 10s", starting_deadline_seconds=5)
    # the hub was down for a while: 7 ticks passed, the latest 7 s ago (past the 5 s deadline)
    first = w.fire_after_next(sid, 67)

    [missed] = w.history(sid)
    assert (missed.outcome, missed.scheduled_for) == ("missed", first)
    assert "startingDeadlineSeconds (5s)" in missed.reason, missed.reason
    assert w.workflow_runs(flow) == [], "a missed start was made up"
    assert w.row(sid).next_fire_at == first + timedelta(seconds=70)


def test_after_an_outage_only_the_latest_tick_within_the_deadline_fires(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 10s", starting_deadline_seconds=5)
    first = w.fire_after_next(sid, 62)  # the tick at +60 s is 2 s late: within the deadline

    missed, fired = w.history(sid)
    assert (missed.outcome, missed.scheduled_for) == ("missed", first)
    assert "only the latest tick" in missed.reason
    assert (fired.outcome, fired.scheduled_for) == ("fired", first + timedelta(seconds=60))
    assert len(w.workflow_runs(flow)) == 1, "the missed ticks were fired in a burst"


def test_a_tick_inside_a_blackout_window_is_skipped_and_says_so(w: World) -> None:
    flow = w.workflow()
    every_day = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}]
    sid = w.schedule(workflow_id=flow, cron="@every 30s", blackouts=every_day)
    w.fire_after_next(sid, 0.1)

    [fire] = w.history(sid)
    assert fire.outcome == "skipped"
    assert "blackout window mon,tue,wed,thu,fri,sat,sun" in fire.reason
    assert w.workflow_runs(flow) == []


def test_a_refused_start_is_recorded_with_the_reason_and_not_retried(w: World) -> None:
    experiment, backend_id = w.experiment()
    sid = w.schedule(experiment_id=experiment, cron="@every 30s")
    with w.rt.session() as s:  # the tool no longer has the target the experiment names
        backends.update(s, backend_id, name=None, config={"targets": ["zeta"]})
    tick = w.fire_after_next(sid, 0.1)
    w.fire(tick + timedelta(seconds=2))
    w.fire(tick + timedelta(seconds=3))

    [fire] = w.history(sid)
    assert fire.outcome == "refused"
    assert "no target named 'alpha'" in fire.reason, fire.reason
    assert w.sent.tasks == []
    # the next tick tries afresh, once
    w.fire(tick + timedelta(seconds=30.5))
    assert outcomes(w, sid) == ["refused", "refused"]


def test_an_experiment_schedule_starts_a_run_of_it(w: World) -> None:
    experiment, _ = w.experiment()
    sid = w.schedule(experiment_id=experiment, cron="@every 30s")
    w.fire_after_next(sid, 0.1)

    [fire] = w.history(sid)
    assert fire.outcome == "fired" and fire.run_id
    with w.rt.session() as s:
        run = s.get(Run, fire.run_id)
        assert run is not None and run.experiment_id == experiment
    assert w.sent.tasks == [(fire.run_id, "memory", "inject")]


def test_forbid_skips_a_tick_while_the_previous_start_is_active(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 30s")  # forbid is the default
    first = w.fire_after_next(sid, 0.1)
    w.fire(first + timedelta(seconds=30.1))

    fired, skipped = w.history(sid)
    assert fired.outcome == "fired"
    assert skipped.outcome == "skipped"
    assert f"still active (workflow run {fired.workflow_run_id})" in skipped.reason
    assert "concurrencyPolicy forbid" in skipped.reason
    assert len(w.workflow_runs(flow)) == 1


def test_allow_starts_a_tick_beside_the_active_one(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 30s", concurrency_policy="allow")
    first = w.fire_after_next(sid, 0.1)
    w.fire(first + timedelta(seconds=30.1))

    assert outcomes(w, sid) == ["fired", "fired"]
    assert [r.phase for r in w.workflow_runs(flow)] == ["pending", "pending"]


def test_replace_stops_the_active_one_then_starts_the_new_one(w: World) -> None:
    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 30s", concurrency_policy="replace")
    first = w.fire_after_next(sid, 0.1)
    w.fire(first + timedelta(seconds=30.1))

    old_fire, new_fire = w.history(sid)
    assert new_fire.outcome == "fired"
    assert new_fire.reason == f"replaced workflow run {old_fire.workflow_run_id}"
    with w.rt.session() as s:
        old = s.get(WorkflowRun, old_fire.workflow_run_id)
        assert old is not None and old.desired_state == "stop"
        assert any("replaced by schedule" in r for r in old.reasons)
    assert (old_fire.workflow_run_id, "workflow", "workflow") in w.sent.tasks


def test_a_paused_schedule_fires_nothing_and_resumes_from_now(w: World) -> None:
    from chaoshub.services import schedules as svc
    from tests.schedules.world import OPERATOR

    flow = w.workflow()
    sid = w.schedule(workflow_id=flow, cron="@every 30s")
    with w.rt.session() as s:
        svc.pause(s, OPERATOR, sid, "maintenance")
    tick = w.row(sid).next_fire_at
    assert tick is not None
    w.fire(tick + timedelta(seconds=1))
    assert w.history(sid) == []
    assert w.row(sid).paused_reason == "paused by scheduler-tester: maintenance"
    with w.rt.session() as s:
        svc.resume(s, OPERATOR, sid)
    resumed_at = datetime.now(UTC)
    resumed = w.row(sid)
    assert resumed.enabled and resumed.paused_reason == ""
    # @every counts from the resume: the next tick is a whole interval after it
    assert resumed.next_fire_at is not None
    assert resumed.next_fire_at >= resumed_at + timedelta(seconds=29)
