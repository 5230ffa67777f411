"""Throughput: how fast the hub starts runs, and how many active runs it holds while its
GraphQL reads stay under 100 ms at p99.

Production shape (API + two workers + beat, Redis, PostgreSQL). The runs use the in-memory
test tool with its state in Redis (``chaoshub.testing.shared_memory``), so that what is
measured is the hub (API, broker, workers, database, reconciler), not a tool, and both
worker processes share the runs as they would share a real tool.

1. ``--runs`` runs (duration one hour) are started by ``--clients`` concurrent callers:
   runs accepted per second, and runs reaching ``running`` per second;
2. then, once they are all halted and ended, the active runs are raised level by level
   from none (``--levels``); at each level, once
   every run is ``running``, ``--reads`` GraphQL reads are timed (``runs(first: 20)`` and
   ``run(id)``, alternately, one at a time) and the refresh's lateness sampled: the
   highest level whose read p99 stays under 100 ms and whose refreshes are at most 5 s
   late at p99 is the figure.

Where the time goes: py-spy samples the API while runs are started and the first worker
while each level is measured (:mod:`bench.profiles`; skipped without py-spy).

    python -m bench.throughput
    python -m bench.throughput --runs 500 --levels 0,1000,2500,5000
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import callers, common, hubs, profiles
from bench.common import ms, percentiles
from bench.hubs import Hub
from tests.support.stack import GraphQL

MEMORY = "memory=chaoshub.testing.shared_memory:SharedMemoryAdapter"
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


def start_input(backend: str, i: int) -> dict[str, Any]:
    return {
        "faultType": "memory/latency",
        "backend": backend,
        "params": {"latency_ms": 10},
        "selector": {"names": [f"t{i % 50}"]},
        "durationSeconds": 3600,
    }


def _started(status: int, answer: dict[str, Any]) -> str:
    assert status == 200 and not answer.get("errors"), (status, answer)
    started = answer["data"]["startRun"]
    assert started["__typename"] == "Run", started
    return str(started["id"])


def start_runs(
    hub: Hub, backend: str, count: int, clients: int, how: str = "async"
) -> tuple[float, list[str]]:
    """Start ``count`` runs from ``clients`` concurrent callers; (seconds taken, run ids).

    ``async``: keep-alive connections on one event loop (:mod:`bench.callers`), cheap for
    this process; ``threads``: an httpx client per thread, as before (about a millisecond of
    this process's CPU per call)."""
    if how == "async":
        token = hub.gql.client.headers["authorization"].split(" ", 1)[1]
        began = time.perf_counter()
        ids = callers.call_all(
            hub.url,
            token,
            count,
            clients,
            lambda i: {"query": START, "variables": {"input": start_input(backend, i)}},
            _started,
        )
        return time.perf_counter() - began, ids
    gqls = [GraphQL(hub.url) for _ in range(clients)]

    def one(i: int) -> str:
        answer = gqls[i % clients].raw(START, input=start_input(backend, i))
        return _started(answer.status_code, answer.json())

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        ids = list(pool.map(one, range(count)))
    took = time.perf_counter() - began
    for gql in gqls:
        gql.close()
    return took, ids


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far (``/proc/stat``)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def database_cpu_seconds(hub: Hub) -> float:
    """CPU time used so far by the PostgreSQL backends serving the hub's own database (their
    process title names it; the server is shared with whatever else runs here)."""
    name = hub.stack.database_url.rsplit("/", 1)[-1] if hub.stack else ""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {name} ".encode() in title:
            total += common.cpu_seconds(int(proc.name))
    return total


def hub_cpu_seconds(hub: Hub) -> dict[str, float]:
    """CPU time so far of each hub process, and of its database's backends."""
    out = {p.name: common.cpu_seconds(p.popen.pid) for p in hub.procs}
    out["postgres"] = database_cpu_seconds(hub)
    return out


def group_commits(hub: Hub) -> tuple[float, float]:
    """(transactions, writes) of the API's group commit so far, from its ``/metrics``."""
    text = hub.gql.client.get("/metrics").text
    found = {}
    for line in text.splitlines():
        for name in ("chaoshub_api_group_commits_total", "chaoshub_api_group_commit_writes_total"):
            if line.startswith(name + " "):
                found[name] = float(line.split()[1])
    return (
        found.get("chaoshub_api_group_commits_total", 0.0),
        found.get("chaoshub_api_group_commit_writes_total", 0.0),
    )


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


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
        default="0,500,1000,2000,3500,5000",
        help="active-run levels to hold, comma-separated",
    )
    parser.add_argument(
        "--reads", type=int, default=200, help="reads timed per level (default 200)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=10.0,
        help="how long py-spy samples the API at the start and a worker at each level (0: no)",
    )
    parser.add_argument(
        "--starts-only",
        action="store_true",
        help="measure the start rate only (no held-runs levels)",
    )
    parser.add_argument(
        "--callers",
        choices=["async", "threads"],
        default="async",
        help="how the callers are made: keep-alive connections on one event loop (default), "
        "or an httpx client per thread",
    )
    parser.add_argument(
        "--warmup", type=int, default=16, help="runs started (and not counted) first"
    )
    parser.add_argument(
        "--hold-workers",
        action="store_true",
        help="stop the worker processes (SIGSTOP) while runs are started, so the API's own "
        "capacity is measured; they pick the runs up after (SIGCONT)",
    )
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in args.levels.split(","))
    results: dict[str, Any] = {"load_at_start": common.load_average()}
    with hubs.production(
        env={"CHAOSHUB_EXTRA_ADAPTERS": MEMORY},
        with_agent=False,
        workers=args.workers,
        worker_threads=8,
    ) as hub:
        made = hub.gql(
            CREATE_BACKEND,
            input={
                "name": "bench-memory",
                "adapter": "memory",
                "config": {
                    "targets": [f"t{i}" for i in range(50)],
                    "redis_url": hubs.BENCH_REDIS,
                },
            },
        )
        assert made["createBackend"]["__typename"] == "Backend", made

        # 1. the start rate, on an empty hub; then every run is halted and let end
        if args.warmup:  # the API's first requests load code and fill its pools
            start_runs(hub, "bench-memory", args.warmup, args.clients, args.callers)
            wait_running(hub, args.warmup, timeout=120)
            hub.gql(HALT_ALL)
            wait_active(hub, 0, timeout=120)
        print(f"starting {args.runs} runs from {args.clients} callers", file=sys.stderr)
        sampling = (
            profiles.start(hub.api_pid, args.profile_seconds) if args.profile_seconds else None
        )
        workers = [p for p in hub.procs if p.name.startswith("worker")]
        if args.hold_workers:  # the API's own capacity: nothing else of the hub runs
            for p in workers:
                os.kill(p.popen.pid, signal.SIGSTOP)
        commits = group_commits(hub)
        api_cpu = common.cpu_seconds(hub.api_pid)
        procs_cpu = hub_cpu_seconds(hub)
        own_cpu = own_cpu_seconds()
        busy = busy_jiffies()
        load = common.load_average()
        try:
            took, ids = start_runs(hub, "bench-memory", args.runs, args.clients, args.callers)
            api_cpu = common.cpu_seconds(hub.api_pid) - api_cpu
            procs_cpu = {k: v - procs_cpu.get(k, 0.0) for k, v in hub_cpu_seconds(hub).items()}
            own_cpu = own_cpu_seconds() - own_cpu
            busy_now = busy_jiffies()
        finally:
            if args.hold_workers:
                for p in workers:
                    os.kill(p.popen.pid, signal.SIGCONT)
        commits_now = group_commits(hub)
        transactions = commits_now[0] - commits[0]
        machine_busy = (busy_now[0] - busy[0]) / max(1, busy_now[1] - busy[1])
        to_running = wait_running(hub, len(ids), timeout=600) + took
        results["start"] = {
            "runs": len(ids),
            "clients": args.clients,
            "callers": args.callers,
            "accepted_per_second": round(len(ids) / took, 1),
            "running_per_second": round(len(ids) / to_running, 1),
            "seconds_to_accept": round(took, 2),
            "seconds_to_all_running": round(to_running, 2),
            "workers_held": args.hold_workers,
            "api_cpu_percent": round(100 * api_cpu / took),
            "starts_per_transaction": (
                round((commits_now[1] - commits[1]) / transactions, 1) if transactions else None
            ),
            "callers_cpu_percent": round(100 * own_cpu / took),
            # what one accepted start costs each process (the workers inject meanwhile)
            "cpu_ms_per_start": {k: round(1000 * v / len(ids), 2) for k, v in procs_cpu.items()},
            "machine_busy_percent": round(100 * machine_busy),
            "load_before": load,
            "load_after": common.load_average(),
            "api_profile": profiles.finish(sampling) if sampling else None,
        }
        print(
            f"  {results['start']['accepted_per_second']} runs accepted/s "
            f"(API {results['start']['api_cpu_percent']}% CPU, callers "
            f"{results['start']['callers_cpu_percent']}%, machine "
            f"{results['start']['machine_busy_percent']}% busy, load {load}); CPU ms per "
            f"start: {results['start']['cpu_ms_per_start']}; starts per transaction: "
            f"{results['start']['starts_per_transaction']}",
            file=sys.stderr,
        )
        hub.gql(HALT_ALL)
        wait_active(hub, 0, timeout=600)
        if args.starts_only:
            levels = []

        # 2. active runs raised level by level, reads timed at each
        results["levels"] = []
        held = 0
        ids = []
        for level in levels:
            if level > len(ids):
                _, more = start_runs(
                    hub, "bench-memory", level - len(ids), args.clients, args.callers
                )
                ids += more
                try:
                    wait_running(hub, len(ids), timeout=LEVEL_TIMEOUT_S)
                except TimeoutError as exc:
                    results["levels"].append({"active_runs": len(ids), "not_reached": str(exc)})
                    print(f"  {len(ids)} active runs: not reached ({exc})", file=sys.stderr)
                    break
            worker_pid = hub.procs[1].popen.pid  # api, w1, ...
            sampling = (
                profiles.start(worker_pid, args.profile_seconds)
                if args.profile_seconds and ids
                else None
            )
            began = time.perf_counter()
            cpu = {p.name: common.cpu_seconds(p.popen.pid) for p in hub.procs}
            reads = time_reads(hub, ids or ["none"], args.reads)
            late = watch_lateness(hub, ids) if ids else {"p50": 0.0, "p99": 0.0}
            if sampling:
                time.sleep(max(0.0, args.profile_seconds - (time.perf_counter() - began)))
            elapsed = time.perf_counter() - began
            cpu = {
                name: round(100 * (common.cpu_seconds(p.popen.pid) - cpu[name]) / elapsed)
                for p in hub.procs
                if (name := p.name) in cpu
            }
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
                    "cpu_percent": cpu,
                    "load": common.load_average(),
                    "worker_profile": profiles.finish(sampling) if sampling else None,
                }
            )
            print(
                f"  {len(ids)} active runs: read p99 {reads['p99']} ms, "
                f"refresh late p99 {late['p99']} s",
                file=sys.stderr,
            )
            if not watch_ok:
                break  # the workers no longer keep up: more runs would only be later
            if reads_ok:
                held = len(ids)
        if results["levels"]:
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
    if results["levels"]:
        print()
        print(common.table(LEVEL_HEADERS, level_rows(results["levels"])))
    if s.get("api_profile"):
        print()
        print(
            profiles.table(
                s["api_profile"],
                f"API while starting runs ({s['api_cpu_percent']}% CPU; callers "
                f"{s['callers_cpu_percent']}%, machine {s['machine_busy_percent']}% busy)",
            )
        )
    measured = [lv for lv in results["levels"] if lv.get("worker_profile")]
    if measured:
        lv = measured[-1]
        print()
        print(
            profiles.table(
                lv["worker_profile"],
                f"worker w1 at {lv['active_runs']} active runs (CPU % {lv['cpu_percent']})",
            )
        )
    if not results["levels"]:
        print(f"written to {path}")
        return 0
    print(
        f"\nmost active runs held (reads under 100 ms p99, refresh at most "
        f"{WATCH_LATE_BUDGET_S:g} s late at p99): {held}"
    )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
