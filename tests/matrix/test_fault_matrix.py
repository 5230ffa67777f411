"""The fault matrix: for each fault (native process-pause and network-loss, toxiproxy
latency, docker container-pause and network-loss-iptables) the hub is broken at one point
of the run's life — its worker SIGKILLed while injecting, while running, while recovering;
its API killed; its Redis restarted; the tools (injector, Toxiproxy, Docker API) killed,
runs aborted while they are away (recovery impossible meanwhile), then restarted; the
whole hub down past its run lease; the whole hub down past the injector's fault lease (the
injector must revert alone) — then brought back. Every run must reach the terminal
phase that fits (or stay visibly ``recovering`` when recovery is impossible), and no fault
may remain on any target, looked at from outside the hub.

The five faults go through each point together (five runs in flight at once, as in
production); each (point, fault) pair is its own test case.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from matrix_world import (
    ABORT,
    FAULTS,
    LEASE_SECONDS,
    REPORT,
    RUN,
    START_RUN,
    TERMINAL,
    Targets,
    World,
    redis_up,
    wait_all,
    world,
)

pytestmark = [pytest.mark.slow, pytest.mark.matrix, pytest.mark.timeout(900)]

RECOVERY_TIMEOUT = 90.0
#: the fault lease the hub gives the injector in the case where it must lapse
FAULT_LEASE_SECONDS = 8.0
NATIVE = tuple(f for f in FAULTS if f.startswith("native/"))
#: long enough for five runs to start and be seen on a loaded 2-core machine
DURATION = 15.0


@dataclass
class Outcome:
    expected: str
    phase: str = ""
    leftover: str = ""
    #: left beside the target by a tool, not a fault (a Docker network helper container)
    artifacts: str = ""
    detail: str = ""
    #: what the case measured, printed under the table whatever the outcome
    note: str = ""


@pytest.fixture(scope="module")
def w(request: pytest.FixtureRequest) -> Iterator[World]:
    # a folder of its own (not pytest's rotating one): the processes' logs stay there
    # when a case fails, and go when every case passed
    workdir = Path(tempfile.mkdtemp(prefix="chaoshub-matrix-"))
    failed_before = request.session.testsfailed
    with world(workdir) as w:
        yield w
    if request.session.testsfailed == failed_before:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"fault matrix logs kept in {workdir}")


# -- driving runs ------------------------------------------------------------------------------


def start_runs(w: World, targets: Targets, duration: float) -> dict[str, str]:
    ids = {}
    for fault in FAULTS:
        started = w.client()(START_RUN, input=targets.run_input(fault, duration))["startRun"]
        assert started["__typename"] == "Run", (fault, started)
        ids[fault] = started["id"]
    return ids


def phases(w: World, ids: dict[str, str]) -> dict[str, str]:
    return {f: w.client()(RUN, id=i)["run"]["phase"] for f, i in ids.items()}


def wait_phase(w: World, ids: dict[str, str], *wanted: str, timeout: float = 30) -> None:
    wait_all(
        lambda: all(p in wanted for p in phases(w, ids).values()),
        timeout,
        what=f"every run in {wanted}",
    )


def wait_injected(w: World, targets: Targets, ids: dict[str, str]) -> None:
    wait_phase(w, ids, "running")
    deadline = time.monotonic() + 20
    while missing := [f for f in FAULTS if not targets.injected(f)]:
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen on their targets: {missing}; phases {phases(w, ids)}")
        time.sleep(0.2)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def abort_all(w: World, ids: dict[str, str]) -> dict[str, bool]:
    accepted = {}
    for fault, run_id in ids.items():
        try:
            accepted[fault] = w.client()(ABORT, id=run_id)["abortRun"]["__typename"] == "Run"
        except Exception:
            accepted[fault] = False
    return accepted


def conclude(
    w: World, targets: Targets, ids: dict[str, str], expected: dict[str, str]
) -> dict[str, Outcome]:
    """Wait for every run to end (or stay recovering), then look at every target."""
    w.ensure_hub()
    wait_all(w.agent_online, 30, what="the agent online again")
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    runs: dict[str, Any] = {}
    while time.monotonic() < deadline:
        runs = {f: w.client()(RUN, id=i)["run"] for f, i in ids.items()}
        if all(r["phase"] in TERMINAL for r in runs.values()):
            break
        time.sleep(0.5)
    outcomes = {}
    for fault in FAULTS:
        run = runs[fault]
        o = Outcome(
            expected=expected[fault],
            phase=run["phase"],
            leftover=targets.leftover(fault),
            artifacts=targets.artifacts(fault),
        )
        moves = (
            " → ".join(
                [run["events"][0]["fromPhase"] or "?"]
                + [e["toPhase"] for e in run["events"] if e["kind"] == "phase"]
            )
            if run["events"]
            else ""
        )
        o.detail = f"phase {o.phase} (expected {o.expected}); moves {moves}; error {run['error']!r}"
        if o.leftover:
            o.detail = f"LEFT BEHIND: {o.leftover}; " + o.detail
        if o.artifacts:
            o.detail = f"artifact: {o.artifacts}; " + o.detail
        outcomes[fault] = o
    return outcomes


def everyone(phase: str) -> dict[str, str]:
    return dict.fromkeys(FAULTS, phase)


# -- the points ---------------------------------------------------------------------------------


def worker_killed_while_injecting(w: World, t: Targets) -> dict[str, Outcome]:
    # the worker is frozen while the runs are queued, the tools are frozen before it thaws:
    # it takes the runs, asks the tools, and dies while they have not answered; the tools
    # then carry out requests whose sender is gone
    worker = w.workers[-1].popen.pid
    os.killpg(worker, signal.SIGSTOP)
    ids = start_runs(w, t, duration=6)
    w.freeze_tools()
    try:
        os.killpg(worker, signal.SIGCONT)
        wait_all(lambda: "pending" not in phases(w, ids).values(), 20, what="every run picked up")
        time.sleep(1.0)
        w.kill_workers()
    finally:
        w.thaw_tools()
    w.start_worker()
    return conclude(w, t, ids, everyone("completed"))


def worker_killed_while_running(w: World, t: Targets) -> dict[str, Outcome]:
    ids = start_runs(w, t, duration=120)
    wait_injected(w, t, ids)
    w.kill_workers()
    time.sleep(LEASE_SECONDS + 1)
    w.start_worker()
    abort_all(w, ids)
    return conclude(w, t, ids, everyone("aborted"))


def worker_killed_while_recovering(w: World, t: Targets) -> dict[str, Outcome]:
    ids = start_runs(w, t, duration=120)
    wait_injected(w, t, ids)
    w.freeze_tools()
    try:
        abort_all(w, ids)
        # a run whose status poll is stuck in a frozen tool holds its lease and moves to
        # recovering only when that call returns: the worker dies with it in that call
        with contextlib.suppress(AssertionError):
            wait_phase(w, ids, "recovering", timeout=6)
        time.sleep(1.0)
        w.kill_workers()
    finally:
        w.thaw_tools()
    w.start_worker()
    return conclude(w, t, ids, everyone("aborted"))


def api_killed(w: World, t: Targets) -> dict[str, Outcome]:
    began = time.monotonic()
    ids = start_runs(w, t, duration=DURATION)
    wait_injected(w, t, ids)
    assert w.api is not None
    w.api.kill()
    # the deadlines pass with no API (and the agent's heartbeats failing meanwhile)
    sleep_until(max(time.monotonic() + 6, began + DURATION + 2))
    w.start_api()
    return conclude(w, t, ids, everyone("completed"))


def redis_restarted(w: World, t: Targets) -> dict[str, Outcome]:
    ids = start_runs(w, t, duration=120)
    wait_injected(w, t, ids)
    w.redis.kill()
    accepted = abort_all(w, ids)  # stored in the database; the broker cannot carry them now
    time.sleep(2)
    w.redis.start()
    wait_all(lambda: redis_up(w.redis_url), 20, what="redis back")
    expected = {f: "aborted" if ok else "completed" for f, ok in accepted.items()}
    return conclude(w, t, ids, expected)


def tools_killed_then_restarted(w: World, t: Targets) -> dict[str, Outcome]:
    # the injector, the Toxiproxy server and the Docker API service killed; the runs are
    # aborted while they are away, when recovery is impossible: the runs must say so (stay
    # recovering with the error shown, not end), then end aborted once the tools are back
    # (the injector re-adopting from its state folder what it held)
    ids = start_runs(w, t, duration=120)
    wait_injected(w, t, ids)
    w.kill_tools()
    abort_all(w, ids)
    time.sleep(8)
    during = {f: w.client()(RUN, id=i)["run"] for f, i in ids.items()}
    w.start_tools()
    outcomes = conclude(w, t, ids, everyone("aborted"))
    for fault, run in during.items():
        visible = run["phase"] == "recovering" and bool(run["error"])
        if not visible:
            o = outcomes[fault]
            o.expected = "recovering with its error shown while the tools were gone, then aborted"
            o.phase = f"{run['phase']} (error {run['error']!r}) while gone, then {o.phase}"
            o.detail = f"while the tools were gone: {o.phase}; " + o.detail
    return outcomes


def hub_down_past_the_lease(w: World, t: Targets) -> dict[str, Outcome]:
    began = time.monotonic()
    ids = start_runs(w, t, duration=DURATION)
    wait_injected(w, t, ids)
    w.kill_hub()
    # the run lease and the runs' deadlines both pass while nothing of the hub runs
    sleep_until(max(time.monotonic() + LEASE_SECONDS + 2, began + DURATION + 2))
    w.start_hub()
    return conclude(w, t, ids, everyone("completed"))


def hub_down_past_the_fault_lease(w: World, t: Targets) -> dict[str, Outcome]:
    # the injector's dead-man's switch: the hub (restarted with a short fault lease) goes away
    # while the faults are held; the injector must revert its faults by itself, seen from
    # outside while nothing of the hub runs. Toxiproxy and Docker have no such switch: their
    # faults stay until the hub is back and ends the runs. Back, the hub finds the native
    # faults gone and ends those runs failed, saying why; the others are aborted.
    w.kill_hub()
    w.stack.extra_env["CHAOSHUB_FAULT_LEASE_SECONDS"] = str(FAULT_LEASE_SECONDS)
    try:
        w.start_hub()
        wait_all(w.agent_online, 30, what="the agent online")
        ids = start_runs(w, t, duration=120)
        wait_injected(w, t, ids)
        w.kill_hub()
    finally:
        del w.stack.extra_env["CHAOSHUB_FAULT_LEASE_SECONDS"]
    down = time.monotonic()
    deadline = down + FAULT_LEASE_SECONDS + 20
    while any(t.leftover(f) for f in NATIVE) and time.monotonic() < deadline:
        time.sleep(0.2)
    reverted_alone = {f: not t.leftover(f) for f in NATIVE}
    seen_after = time.monotonic() - down
    held_meanwhile = {f: t.injected(f) for f in FAULTS if f not in NATIVE}
    w.start_hub()
    wait_all(w.agent_online, 30, what="the agent online again")
    with contextlib.suppress(AssertionError):
        wait_phase(w, {f: ids[f] for f in NATIVE}, *TERMINAL, timeout=30)
    abort_all(w, {f: i for f, i in ids.items() if f not in NATIVE})
    expected = {f: "failed" if f in NATIVE else "aborted" for f in FAULTS}
    outcomes = conclude(w, t, ids, expected)
    for fault in NATIVE:
        o = outcomes[fault]
        if not reverted_alone[fault]:
            o.expected = "reverted by the injector while the hub was down"
            o.phase = f"still on the target {seen_after:.0f}s after the hub went; then {o.phase}"
        o.note = (
            f"reverted by the injector alone {seen_after:.1f}s after the hub went "
            f"(fault lease {FAULT_LEASE_SECONDS:g}s); the run then ended {o.phase}"
        )
        o.detail = o.note + "; " + o.detail
    for fault, held in held_meanwhile.items():
        outcomes[fault].note = (
            f"{'still held' if held else 'gone'} while the hub was down (no dead-man's switch); "
            f"removed by the hub once back, the run ended {outcomes[fault].phase}"
        )
    return outcomes


POINTS: dict[str, Callable[[World, Targets], dict[str, Outcome]]] = {
    "worker-killed-injecting": worker_killed_while_injecting,
    "worker-killed-running": worker_killed_while_running,
    "worker-killed-recovering": worker_killed_while_recovering,
    "api-killed": api_killed,
    "redis-restarted": redis_restarted,
    "tools-killed-restarted": tools_killed_then_restarted,
    "hub-down-past-lease": hub_down_past_the_lease,
    "hub-down-past-fault-lease": hub_down_past_the_fault_lease,
}

_seen: dict[str, dict[str, Outcome] | BaseException] = {}


def outcomes(w: World, point: str) -> dict[str, Outcome]:
    if point not in _seen:
        w.ensure_hub()
        wait_all(w.agent_online, 30, what="the agent online")
        try:
            with Targets(w) as targets:
                result = POINTS[point](w, targets)
        except BaseException as exc:
            _seen[point] = exc
            print(w.logs())
            raise
        finally:
            w.ensure_hub()
        _seen[point] = result
        for fault, o in result.items():
            if o.leftover:
                cell = "LEFT"
            elif o.phase != o.expected:
                cell = o.phase
            else:
                cell = "clean+helper" if o.artifacts else "clean"
            REPORT[(point, fault)] = {
                "clean": not o.leftover,
                "phase_ok": o.phase == o.expected,
                "artifacts": o.artifacts,
                "cell": cell,
                "detail": o.detail,
                "note": o.note,
            }
    seen = _seen[point]
    if isinstance(seen, BaseException):
        pytest.fail(f"the {point} scenario itself failed: {seen!r}")
    return seen


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("point", list(POINTS))
def test_no_fault_is_left_behind_and_the_run_ends_right(w: World, point: str, fault: str) -> None:
    o = outcomes(w, point)[fault]
    assert not o.leftover, o.detail
    assert o.phase == o.expected, o.detail
