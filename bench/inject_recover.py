"""Time to inject and time to recover, through the hub and directly against the tool.

For each adapter (native process-pause, toxiproxy latency, docker container-pause) and each
shape of the hub (production: API + 2 workers + beat on Redis and PostgreSQL; embedded:
``chaoshub up``), ``--runs`` times in a row:

1. ``startRun`` → the fault seen from outside (``inject``: from sending the request, the
   moment a user's clock starts; ``inject_answer``: from the accepted answer);
2. ``abortRun`` → the target clean again (``recover``, ``recover_answer`` likewise), then
   wait for the run's terminal phase (``terminal``: abort sent → ``aborted`` seen);
3. the same action done directly against the tool, one call each way, timed from sending
   it to the same outside observation (``direct_inject``, ``direct_recover``).

The ratio column is hub p50 / direct p50 (the hub's overhead as a factor), both timed from
sending; the "from answer" column shows how much of the hub's time comes after it answers.

    python -m bench.inject_recover --runs 200
    python -m bench.inject_recover --adapter native --config embedded --runs 50
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench import common, hubs, subjects
from bench.common import ms, percentiles, wait_until
from bench.hubs import Hub
from bench.subjects import Subject

START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message field } } }"""
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "bench") {
  __typename ... on Run { id } ... on Error { code message } } }"""
PHASE = """query($id: ID!) { run(id: $id) { phase error } }"""

METRICS = (
    "inject",
    "inject_answer",
    "recover",
    "recover_answer",
    "terminal",
    "direct_inject",
    "direct_recover",
)
TIMEOUT = 60.0


class Rejected(Exception):
    """``startRun`` answered an error (on a busy shared host: discovery racing other tests)."""


def one_round(hub: Hub, subject: Subject, backend: str, samples: dict[str, list[float]]) -> None:
    sent = time.perf_counter()
    started = hub.gql(
        START,
        input={
            "faultType": subject.fault_type,
            "backend": backend,
            "params": subject.params,
            "selector": subject.selector(hub),
            "durationSeconds": 600,
        },
    )["startRun"]
    accepted = time.perf_counter()
    if started["__typename"] != "Run":
        raise Rejected(str(started))
    run_id = started["id"]
    seen = wait_until(subject.injected, TIMEOUT, what=f"{subject.fault_type} injected")
    samples["inject"].append(ms(seen - sent))
    samples["inject_answer"].append(ms(seen - accepted))

    sent = time.perf_counter()
    aborted = hub.gql(ABORT, id=run_id)["abortRun"]
    accepted = time.perf_counter()
    assert aborted["__typename"] == "Run", aborted
    seen = wait_until(subject.clean, TIMEOUT, what=f"{subject.fault_type} recovered")
    samples["recover"].append(ms(seen - sent))
    samples["recover_answer"].append(ms(seen - accepted))
    ended = wait_until(
        lambda: hub.gql(PHASE, id=run_id)["run"]["phase"] in ("aborted", "completed", "failed"),
        TIMEOUT,
        interval=0.005,
        what="the run's end",
    )
    samples["terminal"].append(ms(ended - sent))
    phase = hub.gql(PHASE, id=run_id)["run"]
    assert phase["phase"] == "aborted", phase

    sent = time.perf_counter()
    subject.direct_inject()
    samples["direct_inject"].append(ms(wait_until(subject.injected, TIMEOUT) - sent))
    sent = time.perf_counter()
    subject.direct_recover()
    samples["direct_recover"].append(ms(wait_until(subject.clean, TIMEOUT) - sent))


def measure(config: str, adapter: str, runs: int, warmup: int) -> dict[str, Any]:
    with subjects.SUBJECTS[adapter]() as subject, hubs.start(config) as hub:
        backend = subject.backend(hub)
        samples: dict[str, list[float]] = {m: [] for m in METRICS}
        for _ in range(warmup):
            one_round(hub, subject, backend, {m: [] for m in METRICS})
        began = time.monotonic()
        rejected: list[str] = []
        done = 0
        while done < runs:
            try:
                one_round(hub, subject, backend, samples)
            except Rejected as exc:
                # counted and shown, not timed; too many means something is really wrong
                rejected.append(str(exc)[:300])
                if len(rejected) > max(10, runs // 10):
                    raise
                continue
            done += 1
            if done % 50 == 0:
                print(f"  {config}/{adapter}: {done}/{runs}", file=sys.stderr, flush=True)
        stats = {m: percentiles(v) for m, v in samples.items()}
        return {
            "config": config,
            "adapter": adapter,
            "fault_type": subject.fault_type,
            "runs": runs,
            "seconds": round(time.monotonic() - began, 1),
            "rejected_starts": rejected,
            "ms": stats,
            "overhead_ratio_p50": {
                "inject": _ratio(stats["inject"]["p50"], stats["direct_inject"]["p50"]),
                "recover": _ratio(stats["recover"]["p50"], stats["direct_recover"]["p50"]),
            },
        }


def _ratio(hub: Any, direct: Any) -> float | None:
    return round(hub / direct, 1) if hub is not None and direct else None


HEADERS = [
    "hub",
    "adapter (fault)",
    "",
    "runs",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "from answer p50 ms",
    "direct p50 ms",
    "direct p99 ms",
    "ratio p50",
]


def rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """The table's rows: inject and recover of each case, beside the direct call."""
    out = []
    for r in results:
        s = dict(r["ms"])
        for kind in ("inject", "recover"):
            if f"{kind}_call" in s:  # written before 8a858e8: the plain name was from the answer
                s[f"{kind}_answer"], s[kind] = s[kind], s.pop(f"{kind}_call")
            out.append(
                [
                    r["config"],
                    f"{r['adapter']} ({r['fault_type']})",
                    kind,
                    s[kind]["n"],
                    s[kind]["p50"],
                    s[kind]["p95"],
                    s[kind]["p99"],
                    s[f"{kind}_answer"]["p50"],
                    s[f"direct_{kind}"]["p50"],
                    s[f"direct_{kind}"]["p99"],
                    r["overhead_ratio_p50"][kind],
                ]
            )
    return out


def render(results: list[dict[str, Any]]) -> str:
    return common.table(HEADERS, rows(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inject_recover",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per case (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument(
        "--adapter",
        action="append",
        choices=sorted(subjects.SUBJECTS),
        help="repeatable; default: all three",
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=["production", "embedded"],
        help="repeatable; default: both",
    )
    parser.add_argument("--out", help="results file (default bench/results/inject_recover.json)")
    args = parser.parse_args(argv)
    adapters = args.adapter or ["native", "toxiproxy", "docker"]
    configs = args.config or ["production", "embedded"]
    results = []
    for config in configs:
        for adapter in adapters:
            print(f"{config}/{adapter}: {args.runs} runs", file=sys.stderr, flush=True)
            results.append(measure(config, adapter, args.runs, args.warmup))
            # written after every case, so a late failure keeps what was measured
            path = common.save(
                "inject_recover",
                {"runs": args.runs, "adapters": adapters, "configs": configs},
                results,
                out=common.Path(args.out) if args.out else None,
            )
    print(render(results))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
