"""The fault matrix for workflows: a workflow's worker SIGKILLed at each point of its life.

The workflow is the issue's example, made to run against small real services
(``tests/workflows/services.py``: an API whose ``/health`` asks a cache process): a steady
state, a stop condition, a wait, a native ``process-pause`` of the cache process, and a
probe step beside it. The API answers 503 while its cache is paused, so the hypothesis the
probes hold it to is "the API keeps answering" (200 or 503, fast).

Some probes reach the API through a *gate* of the test's own (an HTTP hop that forwards to
the API and can hold one request), so the test knows the moment a probe's sample is in
flight and kills the worker right then.

The points (each a case of its own, one after the other, on one production-shaped hub):

- ``steady-state-sampling``: the worker dies while a steady-state sample is in flight;
- ``during-wait``: the worker dies between steps, while the wait runs;
- ``fault-and-probe``: the worker dies while the fault step's child run holds the pause and
  the probe step's sample is in flight;
- ``stop-condition-abort``: the API itself is frozen, the stop condition breaches, and the
  worker dies the moment its driver moves the workflow to ``recovering``;
- ``api-killed``: the API dies while the fault is held, and comes back after the workflow
  has ended.

After a new worker starts, each workflow run must reach the phase and verdict that fit, no
step may have run twice — looked at from outside the hub: one child run per fault step and
one execution of it on the injector, the cache process stopped in one stretch only, each
step started once — and nothing may stay injected (the cache process running again, no
live execution on the injector).
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from matrix_world import TERMINAL, WORKFLOW_REPORT, World, wait_all, world

from tests.native.native_peers import proc_state
from tests.workflows.services import Services, api_with_cache

pytestmark = [pytest.mark.slow, pytest.mark.matrix, pytest.mark.timeout(600)]

#: how long a workflow may take to end once its new worker runs
END_TIMEOUT = 90.0
FAULT_STEP = "pause-cache"

START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  __typename ... on WorkflowRun { id } ... on Error { code message field } } }"""
WORKFLOW_RUN = """query($id: ID!) { workflowRun(id: $id) {
  id phase verdict reasons ending
  steps { stepId kind role state reason startedAt endedAt runId
          run { id phase } probe { checks passed samples { at ok } } } } }"""
CHILD_RUNS = """{ runs(filter: {faultType: "native/process-pause"}, first: 200) {
  edges { node { id phase workflowRunId workflowStepId } } } }"""
EVENTS = """query($id: String!, $kind: String!) { events(filter: {runId: $id, kind: $kind},
  first: 500) { edges { node { at reason data } } } }"""


# -- the gate: an HTTP hop in front of the API that can hold one request -----------------------


class Gate:
    """Forwards ``GET /<anything>`` to the API's ``/health`` and answers with its status.

    ``hold(path, skip)`` makes the request to ``path`` after the first ``skip`` wait (a
    probe's sample is then in flight, and ``arrived`` says so) until :meth:`release`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.counts: Counter[str] = Counter()
        self.arrived = threading.Event()
        self._release = threading.Event()
        self._hold: tuple[str, int] | None = None
        self._lock = threading.Lock()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate._held(self.path)
                try:
                    answer = httpx.get(gate.upstream, timeout=3)
                    status, body = answer.status_code, answer.content
                except httpx.HTTPError as exc:
                    status, body = 502, str(exc).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _held(self, path: str) -> None:
        with self._lock:
            self.counts[path] += 1
            hold = self._hold is not None and self._hold == (path, self.counts[path])
            if hold:
                self._hold = None
        if hold:
            self.arrived.set()
            self._release.wait(60)

    def hold(self, path: str, skip: int = 0) -> None:
        with self._lock:
            self.arrived.clear()
            self._release.clear()
            self._hold = (path, self.counts[path] + skip + 1)

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


# -- the cache process, watched from outside ---------------------------------------------------


class StopWatch:
    """Samples ``/proc/<pid>/stat`` every 20 ms: how many separate stretches the process was
    stopped (state ``T``). One fault step run once stops it in one stretch."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stretches = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        stopped = False
        while not self._done.wait(0.02):
            try:
                now_stopped = proc_state(self.pid) == "T"
            except (FileNotFoundError, ProcessLookupError):
                return
            if now_stopped and not stopped:
                self.stretches += 1
            stopped = now_stopped

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


# -- the workflow ------------------------------------------------------------------------------


def document(
    w: World,
    svc: Services,
    gate: Gate,
    *,
    wait: float = 2.0,
    duration: float = 10.0,
    during: float = 6.0,
) -> dict[str, Any]:
    """The issue's example against the test's services: the steady state must hold for
    three checks in a row (through the gate), the API must keep answering while the cache
    is paused (the stop condition, straight to the API; the probe step, through the gate)."""
    answers = {"status": [200, 503], "latencyMs": {"<": 1500}}
    return {
        "kind": "Workflow",
        "name": f"matrix-{uuid.uuid4().hex[:8]}",
        "description": "the API keeps answering while its cache process is paused",
        "steadyState": [
            {
                "name": "api-healthy",
                "http": {"url": f"{gate.url}/steady", "expect": {"status": [200]}},
                "timeoutSeconds": 5,
                "intervalSeconds": 0.5,
                "successThreshold": 3,
            }
        ],
        "stopConditions": [
            {
                "name": "api-answers",
                "http": {"url": svc.health_url, "expect": answers},
                "timeoutSeconds": 1,
                "intervalSeconds": 1,
                "failureThreshold": 3,
            }
        ],
        "steps": [
            {"id": "settle", "wait": {"seconds": wait}},
            {
                "id": FAULT_STEP,
                "after": ["settle"],
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": w.backends["native"],
                    "selector": {"agents": [w.agent], "name": svc.cache_name},
                    "durationSeconds": duration,
                },
            },
            {
                "id": "api-during",
                "after": ["settle"],
                "probe": {
                    "http": {"url": f"{gate.url}/during", "expect": answers},
                    "timeoutSeconds": 3,
                    "intervalSeconds": 1,
                    "forSeconds": during,
                },
            },
        ],
    }


@dataclass
class Case:
    """One workflow run of a case, and what the test saw around the kill."""

    w: World
    svc: Services
    gate: Gate
    watch: StopWatch
    id: str = ""
    killed_at: datetime | None = None
    #: (role, step id) -> the step's state as stored right after the kill
    at_kill: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def start(self, **shape: float) -> None:
        started = self.w.client()(
            START, input={"document": document(self.w, self.svc, self.gate, **shape)}
        )["startWorkflow"]
        assert started["__typename"] == "WorkflowRun", started
        self.id = started["id"]

    def run(self) -> dict[str, Any]:
        return self.w.client()(WORKFLOW_RUN, id=self.id)["workflowRun"]  # type: ignore[no-any-return]

    def wait(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 40
    ) -> None:
        wait_all(lambda: predicate(self.run()), timeout, what=what)

    def kill_worker(self) -> None:
        self.w.kill_workers()
        self.killed_at = datetime.now(UTC)
        run = self.run()
        self.at_kill = {(s["role"], s["stepId"]): s["state"] for s in run["steps"]}
        child = next(s for s in run["steps"] if s["stepId"] == FAULT_STEP)["run"]
        self.notes.append(
            f"killed with the workflow run {run['phase']}, its child run "
            f"{child['phase'] if child else 'not started'}"
        )

    def fault_held(self, run: dict[str, Any]) -> bool:
        step = next(s for s in run["steps"] if s["stepId"] == FAULT_STEP)
        return (
            step["run"] is not None
            and step["run"]["phase"] == "running"
            and proc_state(self.svc.cache.pid) == "T"
        )


def state_of(run: dict[str, Any], step_id: str, role: str = "step") -> str:
    return str(
        next(s for s in run["steps"] if s["stepId"] == step_id and s["role"] == role)["state"]
    )


# -- the points --------------------------------------------------------------------------------


def steady_state_sampling(c: Case) -> tuple[str, str]:
    # the second of the three steady-state checks is held in the gate and the worker dies
    # with it in flight; the new worker takes that check again and carries on from the
    # first one, which was stored
    c.gate.hold("/steady", skip=1)
    c.start()
    assert c.gate.arrived.wait(40), "the second steady-state check never came"
    c.kill_worker()
    c.gate.release()
    c.w.start_worker()
    return "completed", "pass"


def during_wait(c: Case) -> tuple[str, str]:
    # a wait shorter than the time a driver stays on a run when its next need is near
    # (engine.RESIDENT_SECONDS): the worker holds the workflow run's lease while the wait
    # runs, and the wait ends while no worker runs; nothing may start before it has ended
    c.start(wait=2.8)
    c.wait("the wait running", lambda r: state_of(r, "settle") == "running", timeout=40)
    time.sleep(0.5)
    c.kill_worker()
    c.w.start_worker()
    return "completed", "pass"


def fault_and_probe(c: Case) -> tuple[str, str]:
    # the child run loses its worker too: both are taken over from what is stored
    c.start(duration=14.0, during=8.0)
    c.wait("the cache paused by the fault step's run", c.fault_held)
    c.gate.hold("/during")
    assert c.gate.arrived.wait(20), "the probe step's next check never came"
    c.kill_worker()
    c.gate.release()
    c.w.start_worker()
    return "completed", "pass"


def stop_condition_abort(c: Case) -> tuple[str, str]:
    # the API frozen: the stop condition's checks time out, the third breaches it, and the
    # worker is killed the moment its log says the workflow moves to recovering (the abort
    # of the child run half done, or not yet sent); the API thaws once the abort goes on,
    # so the steady state checked after recovery holds again
    c.start(duration=30.0, during=25.0)
    c.wait(
        "the cache paused and the stop condition watching",
        lambda r: c.fault_held(r) and state_of(r, "api-answers", "stopCondition") == "running",
    )
    worker_log = c.w.workers[-1].log
    seen = len(worker_log.read_bytes())
    os.kill(c.svc.api.pid, signal.SIGSTOP)  # the API stops answering: the breach
    try:
        moved = f"workflow run {c.id}: running -> recovering"
        deadline = time.monotonic() + 30
        while moved not in worker_log.read_bytes()[seen:].decode(errors="replace"):
            assert time.monotonic() < deadline, "the stop condition never stopped the workflow"
            time.sleep(0.005)
        c.kill_worker()
        c.w.start_worker()
        c.wait("the abort carried on", lambda r: r["phase"] != "running")
    finally:
        os.kill(c.svc.api.pid, signal.SIGCONT)
    return "aborted", "fail"


def api_killed(c: Case) -> tuple[str, str]:
    c.start(duration=6.0, during=4.0)
    c.wait("the cache paused by the fault step's run", c.fault_held)
    assert c.w.api is not None
    c.w.api.kill()
    c.killed_at = datetime.now(UTC)
    # the workflow goes on without the API; back, the API shows how it ended
    time.sleep(9)  # within the agent timeout (12 s): the agent stays online
    c.w.start_api()
    c.notes.append("the API was down 9 s while the fault was held")
    return "completed", "pass"


POINTS: dict[str, Callable[[Case], tuple[str, str]]] = {
    "steady-state-sampling": steady_state_sampling,
    "during-wait": during_wait,
    "fault-and-probe": fault_and_probe,
    "stop-condition-abort": stop_condition_abort,
    "api-killed": api_killed,
}

#: the step each point kills the worker in, and its states there that show the kill came at
#: that point; the step must have started before the kill, and only once
KILLED_IN = {
    "steady-state-sampling": ("steadyState-before", "api-healthy", ("running",)),
    "during-wait": ("step", "settle", ("running",)),
    "fault-and-probe": ("step", "api-during", ("running",)),
    # breached: stored failed, or (killed before that commit) still running
    "stop-condition-abort": ("stopCondition", "api-answers", ("failed", "running")),
}


# -- looking from outside ----------------------------------------------------------------------


@dataclass
class Seen:
    run: dict[str, Any]
    children: list[dict[str, Any]]
    started: Counter[tuple[str, str]]
    executions: list[dict[str, Any]]
    live: list[dict[str, Any]]
    cache_state: str
    stretches: int
    #: the reconciler's "worker-lost" events on the workflow run
    takeovers: int
    seconds: float


def executions_of(w: World, pid: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The injector's executions that hit ``pid`` (ended ones), and every live one."""
    with w.injector.client() as client:
        found = client.get("/v1/executions").raise_for_status().json()
    mine = [e for e in found["recent"] + found["executions"] if str(pid) in str(e["target"])]
    return mine, found["executions"]


def look(c: Case, began: float) -> Seen:
    c.w.ensure_hub()
    wait_all(lambda: c.run()["phase"] in TERMINAL, END_TIMEOUT, what="the workflow run ended")
    seconds = time.monotonic() - began
    run = c.run()
    children = [
        e["node"]
        for e in c.w.client()(CHILD_RUNS)["runs"]["edges"]
        if e["node"]["workflowRunId"] == c.id
    ]
    started: Counter[tuple[str, str]] = Counter()
    for e in c.w.client()(EVENTS, id=c.id, kind="step")["events"]["edges"]:
        data = e["node"]["data"] or {}
        if data.get("state") == "running":
            started[(data["role"], data["step"])] += 1
    takeovers = len(c.w.client()(EVENTS, id=c.id, kind="worker-lost")["events"]["edges"])
    # the injector ends a recovered execution a moment after the run does
    wait_all(lambda: not executions_of(c.w, c.svc.cache.pid)[1], 20, what="no live execution")
    executions, live = executions_of(c.w, c.svc.cache.pid)
    c.watch.close()
    return Seen(
        run=run,
        children=children,
        started=started,
        executions=executions,
        live=live,
        cache_state=proc_state(c.svc.cache.pid),
        stretches=c.watch.stretches,
        takeovers=takeovers,
        seconds=seconds,
    )


def problems(point: str, c: Case, seen: Seen, phase: str, verdict: str) -> list[str]:
    """Everything that does not fit (empty when the case is clean)."""
    found = []
    run = seen.run
    if (run["phase"], run["verdict"]) != (phase, verdict):
        found.append(
            f"ended {run['phase']}/{run['verdict']}, expected {phase}/{verdict} "
            f"(reasons {run['reasons']})"
        )
    if seen.cache_state == "T":
        found.append(f"LEFT BEHIND: the cache process {c.svc.cache.pid} is still stopped")
    if seen.live:
        found.append(f"LEFT BEHIND: live executions on the injector {seen.live}")
    if len(seen.children) != 1:
        found.append(f"{len(seen.children)} child runs for the fault step (one expected)")
    else:
        child = seen.children[0]
        step = next(s for s in run["steps"] if s["stepId"] == FAULT_STEP)
        if child["workflowStepId"] != FAULT_STEP or step["runId"] != child["id"]:
            found.append(f"the child run {child} is not the fault step's ({step['runId']})")
        if child["phase"] not in TERMINAL:
            found.append(f"the child run is still {child['phase']}")
    if len(seen.executions) != 1:
        found.append(f"{len(seen.executions)} executions on the injector (one expected)")
    if seen.stretches != 1:
        found.append(f"the cache was stopped in {seen.stretches} stretches (one expected)")
    twice = {k: n for k, n in seen.started.items() if n > 1}
    if twice:
        found.append(f"steps started more than once: {twice}")
    for s in run["steps"]:
        probe = s["probe"]
        if probe is not None and probe["checks"] != len(probe["samples"]):
            found.append(
                f"{s['role']} {s['stepId']}: {probe['checks']} checks counted, "
                f"{len(probe['samples'])} samples stored"
            )
    if point in KILLED_IN and c.killed_at is not None:
        role, step_id, states = KILLED_IN[point]
        s = next(x for x in run["steps"] if x["stepId"] == step_id and x["role"] == role)
        began = datetime.fromisoformat(s["startedAt"]) if s["startedAt"] else None
        if began is None or began > c.killed_at:
            found.append(f"{role} {step_id} started at {s['startedAt']}, after the kill")
        if c.at_kill.get((role, step_id)) not in states:
            found.append(
                f"the kill missed its point: {role} {step_id} was "
                f"{c.at_kill.get((role, step_id))} (expected one of {states})"
            )
    return found


@pytest.fixture(scope="module")
def w(request: pytest.FixtureRequest) -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="chaoshub-wf-matrix-"))
    failed_before = request.session.testsfailed
    with world(workdir, tools=False) as w:
        yield w
    if request.session.testsfailed == failed_before:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"workflow matrix logs kept in {workdir}")


@pytest.mark.parametrize("point", list(POINTS))
def test_a_killed_workflow_ends_right_runs_each_step_once_and_leaves_nothing(
    w: World, point: str
) -> None:
    w.ensure_hub()
    wait_all(w.agent_online, 30, what="the agent online")
    with api_with_cache(f"wf-cache-{uuid.uuid4().hex[:6]}") as svc:
        gate = Gate(svc.health_url)
        watch = StopWatch(svc.cache.pid)
        c = Case(w, svc, gate, watch)
        try:
            began = time.monotonic()
            phase, verdict = POINTS[point](c)
            seen = look(c, began)
        except BaseException:
            print(w.logs())
            raise
        finally:
            watch.close()
            gate.close()
            w.ensure_hub()
        found = problems(point, c, seen, phase, verdict)
        WORKFLOW_REPORT[point] = {
            "clean": not any(f.startswith("LEFT BEHIND") for f in found),
            "right": not found,
            "cell": f"{seen.run['phase']}/{seen.run['verdict']}",
            "detail": "; ".join(found + c.notes),
            "children": len(seen.children),
            "executions": len(seen.executions),
            "stretches": seen.stretches,
            "takeovers": seen.takeovers,
            "seconds": seen.seconds,
        }
        assert not found, "; ".join(found) + f"\nworkflow run: {seen.run}"
