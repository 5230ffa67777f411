"""What a workflow costs in time: how fast a stop condition stops a fault, and what a
workflow adds to a single fault. Seen from outside the hub, on the machine's clock.

**Stop-condition reaction** (``stop``). A service of the benchmark's own answers
``/health`` 200 until the benchmark creates a flag file, 503 after, and notes (monotonic
clock) when it first answered 503. A workflow holds ``native/process-pause`` on a ``sleep``
process and watches a stop condition on that ``/health`` (``intervalSeconds`` I,
``failureThreshold`` K). Once the fault is held and the stop condition has checked twice,
the benchmark waits a random part of I (so the flip falls anywhere between two checks) and
creates the flag. Measured:

- ``flip_to_stopping``: flag created → the workflow run seen ``recovering``/``aborted``
  (``workflowRunUpdates``), and ``flip_to_released``: → the paused process running again
  (``/proc/<pid>/stat``). The document promises at most I x K from the service failing to
  the stop decision; ``*_over_bound`` is each minus I x K (negative: inside the bound);
- ``answer_to_stopping`` / ``answer_to_released``: the same from the service's first
  failing answer, the instant the issue names; the K - 1 further checks that must fail
  take (K - 1) x I of it, so ``*_over_floor`` is each minus (K - 1) x I: the hub's own part.

**Single-fault overhead** (``fault``). The same ``native/process-pause`` of D seconds on a
``sleep`` process, alternately as a plain ``startRun`` and as a workflow of one fault step
(no steady state, no stop condition) started with ``startWorkflow(document)``, each round
after a random pause of up to 1 s (the reconciler's 1 s pass is what ends a run whose
duration is over: rounds must not keep one phase against it). Measured for each:
``inject``: mutation sent → process stopped (``T``); ``terminal``: the fault's duration over
(stopped seen + D) → the run / workflow run ``completed`` (``runUpdates`` /
``workflowRunUpdates``); ``released``: duration over → process running.

    python -m bench.workflows                       # embedded hub, both measurements
    python -m bench.workflows --config production --config embedded
    python -m bench.workflows --only stop --stop-runs 10 --interval 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import common, hubs
from bench.common import percentiles
from bench.hubs import Hub
from bench.subjects import sleeper
from bench.watchers import ProcWatch, Subscription
from tests.support.stack import free_port, wait_for

START_RUN = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message field } } }"""
START_WORKFLOW = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  __typename ... on WorkflowRun { id } ... on Error { code message field } } }"""
WORKFLOW_RUN = """query($id: ID!) { workflowRun(id: $id) { phase verdict reasons } }"""
RUN_UPDATES = "subscription($id: ID!) { runUpdates(runId: $id) { phase } }"
WORKFLOW_UPDATES = "subscription($id: ID!) { workflowRunUpdates(id: $id) { phase } }"

TERMINAL = {"completed", "aborted", "failed"}
STOPPING = {"recovering", *TERMINAL}
TIMEOUT = 60.0

# -- the service whose health the stop condition watches ------------------------------------------

SERVICE = textwrap.dedent(
    """
    import http.server, json, os, sys, time
    flag = sys.argv[2]
    state = {"first_failure": None, "answers": 0}
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/stats":
                code, body = 200, json.dumps(state).encode()
            elif self.path == "/reset":
                state.update(first_failure=None, answers=0)
                code, body = 200, b"{}"
            else:
                failing = os.path.exists(flag)
                if failing and state["first_failure"] is None:
                    state["first_failure"] = time.monotonic()
                state["answers"] += 1
                code, body = (503, b"down") if failing else (200, b"up")
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


@dataclass
class Service:
    url: str
    flag: Path
    client: httpx.Client

    @property
    def health(self) -> str:
        return f"{self.url}/health"

    def stats(self) -> dict[str, Any]:
        answer = self.client.get("/stats")
        answer.raise_for_status()
        return dict(answer.json())

    def fail(self) -> float:
        """Make the service fail from now on; the monotonic instant it was told to."""
        at = time.monotonic()
        self.flag.touch()
        return at

    def heal(self) -> None:
        self.flag.unlink(missing_ok=True)
        self.client.get("/reset").raise_for_status()


@contextlib.contextmanager
def flippable_service() -> Iterator[Service]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-bench-svc-") as d:
        port = free_port()
        flag = Path(d) / "failing"
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVICE, str(port), str(flag)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        try:
            service = Service(f"http://127.0.0.1:{port}", flag, client)
            wait_for(lambda: _answers(service), 20, what="the benchmark's service")
            yield service
        finally:
            client.close()
            proc.kill()
            proc.wait()


def _answers(service: Service) -> bool:
    try:
        return service.client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


# -- helpers ----------------------------------------------------------------------------------------


def token_of(hub: Hub) -> str:
    return str(hub.gql.client.headers["Authorization"]).removeprefix("Bearer ")


def fault(hub: Hub, pid: int, duration: float) -> dict[str, Any]:
    return {
        "faultType": "native/process-pause",
        "backend": "native",
        "selector": {"agents": [hub.agent], "pid": pid},
        "params": {},
        "durationSeconds": duration,
    }


#: starts the hub refused and the benchmark tried again (shown in the results, not timed)
REFUSED: list[str] = []
#: more refusals than this in one benchmark means something is really wrong
MAX_REFUSED = 10


def refused(what: str, answer: dict[str, Any]) -> None:
    """Note a refused start (on a busy shared host a selector's discovery has been seen to
    find no target once in a few hundred starts); give up after :data:`MAX_REFUSED`."""
    REFUSED.append(f"{what}: {answer}"[:300])
    print(f"  refused, tried again: {REFUSED[-1]}", file=sys.stderr, flush=True)
    if len(REFUSED) > MAX_REFUSED:
        raise RuntimeError(f"{what} refused {len(REFUSED)} times; last: {answer}")
    time.sleep(0.5)


def start_workflow(hub: Hub, document: dict[str, Any]) -> str:
    while True:
        started = hub.gql(START_WORKFLOW, input={"document": document})["startWorkflow"]
        if started["__typename"] == "WorkflowRun":
            return str(started["id"])
        refused("startWorkflow", started)


def start_run(hub: Hub, spec: dict[str, Any]) -> str:
    while True:
        started = hub.gql(START_RUN, input=spec)["startRun"]
        if started["__typename"] == "Run":
            return str(started["id"])
        refused("startRun", started)


def subscribe(hub: Hub, query: str, run_id: str, key: str, **marks: set[str]) -> Subscription:
    return Subscription(hub.url, token_of(hub), query, {"id": run_id}, [key, "phase"], marks)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(x) for x in fh.read().split()[:3]]


# -- 1. stop-condition reaction ---------------------------------------------------------------------


def stop_document(
    hub: Hub, service: Service, pid: int, interval: float, threshold: int
) -> dict[str, Any]:
    return {
        "kind": "Workflow",
        "name": f"bench-stop-condition-{str(interval).replace('.', '-')}s",
        "description": "a paused process held until the service's health fails",
        "stopConditions": [
            {
                "name": "service-health",
                "http": {"url": service.health, "expect": {"status": [200]}, "timeoutSeconds": 2},
                "intervalSeconds": interval,
                "failureThreshold": threshold,
            }
        ],
        "steps": [{"id": "pause", "fault": fault(hub, pid, 600)}],
    }


def stop_round(
    hub: Hub,
    service: Service,
    watch: ProcWatch,
    document: dict[str, Any],
    interval: float,
    samples: dict[str, list[float]],
) -> None:
    service.heal()
    watch.arm()
    run_id = start_workflow(hub, document)
    sub = subscribe(
        hub, WORKFLOW_UPDATES, run_id, "workflowRunUpdates", stopping=STOPPING, ended=TERMINAL
    )
    try:
        watch.wait_stopped(TIMEOUT)
        # the stop condition runs while the fault is held: let it check twice, then flip
        # at a random point between two checks
        wait_for(lambda: service.stats()["answers"] >= 2, TIMEOUT, what="two checks")
        time.sleep(random.uniform(0, interval))
        flipped = service.fail()
        stopping = sub.wait("stopping", TIMEOUT)
        released = watch.wait_running(TIMEOUT)
        ended = sub.wait("ended", TIMEOUT)
    finally:
        sub.close()
    first = service.stats()["first_failure"]
    assert first is not None, "the service never answered failing"
    run = hub.gql(WORKFLOW_RUN, id=run_id)["workflowRun"]
    assert run["phase"] == "aborted" and run["verdict"] == "fail", run
    samples["flip_to_stopping"].append(ms(stopping - flipped))
    samples["flip_to_released"].append(ms(released - flipped))
    samples["flip_to_aborted"].append(ms(ended - flipped))
    samples["flip_to_first_failing_answer"].append(ms(first - flipped))
    samples["answer_to_stopping"].append(ms(stopping - first))
    samples["answer_to_released"].append(ms(released - first))
    samples["answer_to_aborted"].append(ms(ended - first))
    service.heal()


STOP_METRICS = (
    "flip_to_stopping",
    "flip_to_released",
    "flip_to_aborted",
    "flip_to_first_failing_answer",
    "answer_to_stopping",
    "answer_to_released",
    "answer_to_aborted",
)


def measure_stop(hub: Hub, runs: int, interval: float, threshold: int) -> dict[str, Any]:
    REFUSED.clear()
    with flippable_service() as service, sleeper() as proc, ProcWatch(proc.pid) as watch:
        document = stop_document(hub, service, proc.pid, interval, threshold)
        stop_round(hub, service, watch, document, interval, {m: [] for m in STOP_METRICS})
        samples: dict[str, list[float]] = {m: [] for m in STOP_METRICS}
        load_before = loadavg()
        began = time.monotonic()
        for i in range(runs):
            stop_round(hub, service, watch, document, interval, samples)
            print(
                f"  {hub.config} stop I={interval:g}: {i + 1}/{runs} "
                f"answer→released {samples['answer_to_released'][-1]:.0f} ms",
                file=sys.stderr,
                flush=True,
            )
    bound = interval * threshold * 1000
    floor = interval * (threshold - 1) * 1000
    derived = {
        "flip_to_stopping_over_bound": [v - bound for v in samples["flip_to_stopping"]],
        "flip_to_released_over_bound": [v - bound for v in samples["flip_to_released"]],
        "answer_to_stopping_over_floor": [v - floor for v in samples["answer_to_stopping"]],
        "answer_to_released_over_floor": [v - floor for v in samples["answer_to_released"]],
    }
    return {
        "config": hub.config,
        "interval_seconds": interval,
        "failure_threshold": threshold,
        "bound_ms": bound,
        "floor_ms": floor,
        "runs": runs,
        "seconds": round(time.monotonic() - began, 1),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "refused_starts": list(REFUSED),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": common.git_commit(),
        "ms": {m: percentiles(v) for m, v in {**samples, **derived}.items()},
        "samples_ms": samples,
    }


# -- 2. the overhead a workflow adds to a single fault ------------------------------------------------


def fault_round(
    hub: Hub, watch: ProcWatch, pid: int, duration: float, how: str, samples: dict[str, list[float]]
) -> None:
    spec = fault(hub, pid, duration)
    # a run's duration is ended by the reconciler's pass (every second): a random pause
    # first, so the rounds do not fall at the same point of its cycle
    time.sleep(random.uniform(0, 1))
    watch.arm()
    refusals = len(REFUSED)
    sent = time.monotonic()
    if how == "run":
        query, key, run_id = RUN_UPDATES, "runUpdates", start_run(hub, spec)
    else:
        document = {
            "kind": "Workflow",
            "name": "bench-single-fault",
            "steps": [{"id": "pause", "fault": spec}],
        }
        query, key, run_id = WORKFLOW_UPDATES, "workflowRunUpdates", start_workflow(hub, document)
    stopped = watch.wait_stopped(TIMEOUT)
    # subscribed once the fault is on, so the watching does not load the hub while it injects
    sub = subscribe(hub, query, run_id, key, ended=TERMINAL)
    try:
        released = watch.wait_running(TIMEOUT + duration)
        ended = sub.wait("ended", TIMEOUT + duration)
        phase = sub.values[-1][1]
    finally:
        sub.close()
    assert phase == "completed", f"{how} ended {phase}"
    over = stopped + duration
    if len(REFUSED) == refusals:  # a start tried again is not timed
        samples[f"{how}_inject"].append(ms(stopped - sent))
    samples[f"{how}_released"].append(ms(released - over))
    samples[f"{how}_terminal"].append(ms(ended - over))


FAULT_METRICS = tuple(
    f"{how}_{m}" for how in ("run", "workflow") for m in ("inject", "released", "terminal")
)


def measure_fault(hub: Hub, runs: int, duration: float) -> dict[str, Any]:
    REFUSED.clear()
    with sleeper() as proc, ProcWatch(proc.pid) as watch:
        warm: dict[str, list[float]] = {m: [] for m in FAULT_METRICS}
        for how in ("run", "workflow"):
            fault_round(hub, watch, proc.pid, duration, how, warm)
        samples: dict[str, list[float]] = {m: [] for m in FAULT_METRICS}
        load_before = loadavg()
        began = time.monotonic()
        for i in range(runs):
            # alternately, so both see the same machine
            for how in ("run", "workflow") if i % 2 == 0 else ("workflow", "run"):
                fault_round(hub, watch, proc.pid, duration, how, samples)
            if (i + 1) % 10 == 0:
                print(f"  {hub.config} fault: {i + 1}/{runs}", file=sys.stderr, flush=True)
    return {
        "config": hub.config,
        "duration_seconds": duration,
        "runs": runs,
        "seconds": round(time.monotonic() - began, 1),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "refused_starts": list(REFUSED),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": common.git_commit(),
        "ms": {m: percentiles(v) for m, v in samples.items()},
    }


# -- tables -------------------------------------------------------------------------------------------

STOP_HEADERS = [
    "hub",
    "I s x K",
    "runs",
    "",
    "p50 ms",
    "p95 ms",
    "max ms",
    "over p50",
    "over max",
    "load",
]
FAULT_HEADERS = [
    "hub",
    "runs",
    "",
    "startRun p50",
    "startRun p99",
    "workflow p50",
    "workflow p99",
    "added p50",
    "load",
]


def _load(r: dict[str, Any]) -> str:
    """The 1-minute load average when the case began and when it ended."""
    before, after = r.get("loadavg_before"), r.get("loadavg_after")
    return f"{before[0]:.1f}→{after[0]:.1f}" if before and after else "-"


def stop_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """Per case: the service failing → stop decision / process running again, raw and beyond
    what the document asks for (over I x K from the flip; over (K - 1) x I from the first
    failing answer)."""
    out = []
    for r in results:
        s = r["ms"]
        case = f"{r['interval_seconds']:g} x {r['failure_threshold']}"
        for label, raw, over in (
            ("flip → stopping", "flip_to_stopping", "flip_to_stopping_over_bound"),
            ("flip → released", "flip_to_released", "flip_to_released_over_bound"),
            (
                "1st failing answer → stopping",
                "answer_to_stopping",
                "answer_to_stopping_over_floor",
            ),
            (
                "1st failing answer → released",
                "answer_to_released",
                "answer_to_released_over_floor",
            ),
        ):
            out.append(
                [
                    r["config"],
                    case,
                    s[raw]["n"],
                    label,
                    s[raw]["p50"],
                    s[raw]["p95"],
                    s[raw]["max"],
                    s[over]["p50"],
                    s[over]["max"],
                    _load(r),
                ]
            )
    return out


def fault_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in results:
        s = r["ms"]
        for kind, label in (
            ("inject", "mutation sent → process stopped"),
            ("released", "duration over → process running"),
            ("terminal", "duration over → terminal"),
        ):
            plain, wf = s[f"run_{kind}"], s[f"workflow_{kind}"]
            added = (
                round(wf["p50"] - plain["p50"], 1)
                if wf["p50"] is not None and plain["p50"] is not None
                else None
            )
            out.append(
                [
                    r["config"],
                    plain["n"],
                    label,
                    plain["p50"],
                    plain["p99"],
                    wf["p50"],
                    wf["p99"],
                    added,
                    _load(r),
                ]
            )
    return out


def render(results: dict[str, list[dict[str, Any]]]) -> str:
    parts = []
    if results.get("stop"):
        parts.append(common.table(STOP_HEADERS, stop_rows(results["stop"])))
    if results.get("fault"):
        parts.append(common.table(FAULT_HEADERS, fault_rows(results["fault"])))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workflows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", choices=["stop", "fault"], help="one measurement (default both)")
    parser.add_argument("--stop-runs", type=int, default=20, help="per interval (default 20)")
    parser.add_argument(
        "--interval",
        type=float,
        action="append",
        help="stop condition's intervalSeconds, repeatable (default 0.5 and 1)",
    )
    parser.add_argument("--threshold", type=int, default=3, help="failureThreshold (default 3)")
    parser.add_argument("--fault-runs", type=int, default=100, help="pairs (default 100)")
    parser.add_argument("--duration", type=float, default=1.0, help="fault seconds (default 1)")
    parser.add_argument(
        "--config",
        action="append",
        choices=["production", "embedded"],
        help="repeatable; default: embedded",
    )
    parser.add_argument("--out", help="results file (default bench/results/workflows.json)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the cases of the results file that this run does not measure again",
    )
    args = parser.parse_args(argv)
    intervals = args.interval or [0.5, 1.0]
    configs = args.config or ["embedded"]
    random.seed(secrets.randbits(32))
    results: dict[str, list[dict[str, Any]]] = {"stop": [], "fault": []}
    if args.keep:
        results = kept(Path(args.out) if args.out else common.RESULTS / "workflows.json", args)
    path = None
    for config in configs:
        with hubs.start(config) as hub:
            if args.only in (None, "stop"):
                for interval in intervals:
                    results["stop"].append(
                        measure_stop(hub, args.stop_runs, interval, args.threshold)
                    )
                    results["stop"].sort(key=_case_order)
                    path = _save(args, configs, intervals, results)
            if args.only in (None, "fault"):
                results["fault"].append(measure_fault(hub, args.fault_runs, args.duration))
                results["fault"].sort(key=_case_order)
                path = _save(args, configs, intervals, results)
    print(render(results))
    print(f"\nwritten to {path}")
    return 0


def kept(path: Path, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """The cases of an earlier results file that this run will not measure again."""
    if not path.exists():
        return {"stop": [], "fault": []}
    earlier = json.loads(path.read_text())["results"]
    configs = args.config or ["embedded"]
    intervals = args.interval or [0.5, 1.0]
    stop = [
        r
        for r in earlier.get("stop", [])
        if args.only == "fault"
        or r["config"] not in configs
        or r["interval_seconds"] not in intervals
    ]
    fault = [
        r for r in earlier.get("fault", []) if args.only == "stop" or r["config"] not in configs
    ]
    return {"stop": stop, "fault": fault}


def _case_order(r: dict[str, Any]) -> tuple[int, float]:
    return (0 if r["config"] == "embedded" else 1, r.get("interval_seconds", 0.0))


def _save(
    args: argparse.Namespace,
    configs: list[str],
    intervals: list[float],
    results: dict[str, list[dict[str, Any]]],
) -> Path:
    # written after every case, so a late failure keeps what was measured
    return common.save(
        "workflows",
        {
            "configs": configs,
            "intervals": intervals,
            "threshold": args.threshold,
            "stop_runs": args.stop_runs,
            "fault_runs": args.fault_runs,
            "duration_seconds": args.duration,
        },
        results,
        out=Path(args.out) if args.out else None,
    )


if __name__ == "__main__":
    sys.exit(main())
