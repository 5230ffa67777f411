"""Throughput: how fast the hub starts runs, and how many active runs it holds while its
GraphQL reads stay under 100 ms at p99.

Production shape (API + a worker + beat, Redis, PostgreSQL). The runs use the in-memory
adapter of ``chaoshub.testing`` so that what is measured is the hub (API, broker, workers,
database, reconciler), not a tool. That tool keeps what it holds in its process's memory,
so the hub runs one worker process (8 threads, as many as two default workers): with two,
each would see the other's faults as gone and end those runs ``failed``.

1. ``--runs`` runs (duration one hour) are started by ``--clients`` concurrent callers:
   runs accepted per second, and runs reaching ``running`` per second;
2. then, once they are all halted and ended, the active runs are raised level by level
   from none (``--levels``); at each level, once
   every run is ``running``, ``--reads`` GraphQL reads are timed (``runs(first: 20)`` and
   ``run(id)``, alternately, one at a time): the highest level whose p99 stays under
   100 ms is the figure.

    python -m bench.throughput
    python -m bench.throughput --runs 500 --levels 100,500,1000,2000,4000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bench import common, hubs
from bench.common import ms, percentiles
from bench.hubs import Hub
from tests.support.stack import GraphQL

MEMORY = "memory=chaoshub.testing.memory:MemoryAdapter"
START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message } } }"""
LIST = "{ runs(first: 20) { totalCount edges { node { id phase } } } }"
ONE = """query($id: ID!) { run(id: $id) { id phase targets { label phase } } }"""
NEXT_WATCH = """query($id: ID!) { run(id: $id) { nextAttemptAt } }"""
#: a held run is refreshed (status asked, leases renewed) every 5 s; a level is held only
#: while the refresh is at most this late at p99 (so within twice its interval)
WATCH_LATE_BUDGET_S = 5.0
#: how long a level may take to bring every new run to running
LEVEL_TIMEOUT_S = 300.0
COUNT_RUNNING = """{ runs(filter: {phase: ["running"]}) { totalCount } }"""
COUNT_FAILED = """{ runs(filter: {phase: ["failed"]}) { totalCount } }"""
COUNT_ACTIVE = """{ runs(filter: {phase: ["pending", "injecting", "running", "recovering"]}) {
  totalCount } }"""
HALT_ALL = """mutation { haltAll(reason: "bench") { __typename } }"""
CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { name } ... on Error { code message } } }"""
READ_BUDGET_MS = 100.0


def start_runs(hub: Hub, backend: str, count: int, clients: int) -> tuple[float, list[str]]:
    """Start ``count`` runs from ``clients`` threads; (seconds taken, run ids)."""
    gqls = [GraphQL(hub.url) for _ in range(clients)]

    def one(i: int) -> str:
        gql = gqls[i % clients]
        started = gql(
            START,
            input={
                "faultType": "memory/latency",
                "backend": backend,
                "params": {"latency_ms": 10},
                "selector": {"names": [f"t{i % 50}"]},
                "durationSeconds": 3600,
            },
        )["startRun"]
        assert started["__typename"] == "Run", started
        return str(started["id"])

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        ids = list(pool.map(one, range(count)))
    took = time.perf_counter() - began
    for gql in gqls:
        gql.close()
    return took, ids


def running(hub: Hub) -> int:
    return int(hub.gql(COUNT_RUNNING)["runs"]["totalCount"])


def wait_running(hub: Hub, target: int, timeout: float) -> float:
    """Seconds until ``target`` runs are running; a run that failed meanwhile stops the
    benchmark (the figure would be about something else)."""
    began = time.perf_counter()
    deadline = began + timeout
    while running(hub) < target:
        failed = int(hub.gql(COUNT_FAILED)["runs"]["totalCount"])
        if failed:
            raise RuntimeError(f"{failed} runs failed; see the worker logs")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {running(hub)} of {target} runs running after {timeout}s")
        time.sleep(0.2)
    return time.perf_counter() - began


def wait_active(hub: Hub, most: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while int(hub.gql(COUNT_ACTIVE)["runs"]["totalCount"]) > most:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"runs still active after {timeout}s")
        time.sleep(0.5)


def time_reads(hub: Hub, ids: list[str], reads: int) -> dict[str, Any]:
    samples = []
    for i in range(reads):
        began = time.perf_counter()
        if i % 2:
            hub.gql(ONE, id=random.choice(ids))
        else:
            hub.gql(LIST)
        samples.append(ms(time.perf_counter() - began))
    return percentiles(samples)


LEVEL_HEADERS = [
    "active runs",
    "read p50 ms",
    "read p99 ms",
    "refresh late p50 s",
    "refresh late p99 s",
    "API RSS MiB",
    "held",
]


def level_rows(levels: list[dict[str, Any]]) -> list[list[Any]]:
    """One table row per level (a level whose runs never all reached running says so)."""
    rows: list[list[Any]] = []
    for lv in levels:
        if "not_reached" in lv:
            rows.append([lv["active_runs"], "-", "-", "-", "-", "-", "not all running"])
            continue
        late = lv.get("refresh_late_s") or {}
        held = lv["under_budget"] and lv.get("refresh_on_time", True)
        rows.append(
            [
                lv["active_runs"],
                lv["reads_ms"]["p50"],
                lv["reads_ms"]["p99"],
                late.get("p50"),
                late.get("p99"),
                round(lv["api_rss_kib"] / 1024),
                "yes" if held else "no",
            ]
        )
    return rows


def watch_lateness(hub: Hub, ids: list[str], sample: int = 100) -> dict[str, Any]:
    """How late the hub is in refreshing held runs: now minus each sampled run's planned
    next refresh (0 when it is not due yet), in seconds."""
    late = []
    for run_id in random.sample(ids, min(sample, len(ids))):
        due = hub.gql(NEXT_WATCH, id=run_id)["run"]["nextAttemptAt"]
        if due:
            at = datetime.fromisoformat(due.replace("Z", "+00:00"))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            late.append(max(0.0, (datetime.now(UTC) - at).total_seconds()))
    return percentiles(late)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--runs", type=int, default=300, help="runs for the start rate (default 300)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent callers (default 8)")
    parser.add_argument(
        "--levels",
        default="0,100,200,400,800,1600,3200",
        help="active-run levels to hold, comma-separated",
    )
    parser.add_argument(
        "--reads", type=int, default=200, help="reads timed per level (default 200)"
    )
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in args.levels.split(","))
    results: dict[str, Any] = {}
    with hubs.production(
        env={"CHAOSHUB_EXTRA_ADAPTERS": MEMORY}, with_agent=False, workers=1, worker_threads=8
    ) as hub:
        made = hub.gql(
            CREATE_BACKEND,
            input={
                "name": "bench-memory",
                "adapter": "memory",
                "config": {"targets": [f"t{i}" for i in range(50)]},
            },
        )
        assert made["createBackend"]["__typename"] == "Backend", made

        # 1. the start rate, on an empty hub; then every run is halted and let end
        print(f"starting {args.runs} runs from {args.clients} callers", file=sys.stderr)
        took, ids = start_runs(hub, "bench-memory", args.runs, args.clients)
        to_running = wait_running(hub, len(ids), timeout=600) + took
        results["start"] = {
            "runs": len(ids),
            "clients": args.clients,
            "accepted_per_second": round(len(ids) / took, 1),
            "running_per_second": round(len(ids) / to_running, 1),
            "seconds_to_accept": round(took, 2),
            "seconds_to_all_running": round(to_running, 2),
        }
        hub.gql(HALT_ALL)
        wait_active(hub, 0, timeout=600)

        # 2. active runs raised level by level, reads timed at each
        results["levels"] = []
        held = 0
        ids = []
        for level in levels:
            if level > len(ids):
                _, more = start_runs(hub, "bench-memory", level - len(ids), args.clients)
                ids += more
                try:
                    wait_running(hub, len(ids), timeout=LEVEL_TIMEOUT_S)
                except TimeoutError as exc:
                    results["levels"].append({"active_runs": len(ids), "not_reached": str(exc)})
                    print(f"  {len(ids)} active runs: not reached ({exc})", file=sys.stderr)
                    break
            reads = time_reads(hub, ids or ["none"], args.reads)
            late = watch_lateness(hub, ids) if ids else {"p50": 0.0, "p99": 0.0}
            reads_ok = reads["p99"] is not None and reads["p99"] < READ_BUDGET_MS
            watch_ok = late["p99"] is None or late["p99"] <= WATCH_LATE_BUDGET_S
            results["levels"].append(
                {
                    "active_runs": len(ids),
                    "reads_ms": reads,
                    "refresh_late_s": late,
                    "under_budget": reads_ok,
                    "refresh_on_time": watch_ok,
                    "api_rss_kib": common.rss_kib(hub.api_pid),
                }
            )
            print(
                f"  {len(ids)} active runs: read p99 {reads['p99']} ms, "
                f"refresh late p99 {late['p99']} s",
                file=sys.stderr,
            )
            if not (reads_ok and watch_ok):
                break
            held = len(ids)
        results["most_active_runs_held"] = held
    path = common.save(
        "throughput", vars(args), results, out=common.Path(args.out) if args.out else None
    )
    s = results["start"]
    print(
        common.table(
            ["start rate", "runs", "accepted/s", "running/s"],
            [
                [
                    "production (memory adapter)",
                    s["runs"],
                    s["accepted_per_second"],
                    s["running_per_second"],
                ]
            ],
        )
    )
    print()
    print(common.table(LEVEL_HEADERS, level_rows(results["levels"])))
    print(
        f"\nmost active runs held (reads under 100 ms p99, refresh at most "
        f"{WATCH_LATE_BUDGET_S:g} s late at p99): {held}"
    )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
