"""Runs end on time: from a timed run's deadline (``running`` + its duration, as stored) to
its ``running → recovering`` move ("duration elapsed") and to its terminal phase.

The in-memory test tool with its state in Redis (``chaoshub.testing.shared_memory``), so
what is measured is the hub's own scheduling: the fault's recovery itself is one Redis
call. ``--runs`` runs of ``--duration`` seconds each are started one after the other with a
random pause (up to 1 s) between starts, so their deadlines fall anywhere in the hub's
reconcile and watch intervals. Timestamps are the hub's own (the run's ``deadline``, its
events' ``at``, ``endedAt``), all written on this machine.

    python -m bench.run_end
    python -m bench.run_end --config embedded --runs 50
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime
from typing import Any

from bench import common, hubs
from bench.common import ms, percentiles
from tests.support.stack import wait_for

MEMORY = "memory=chaoshub.testing.shared_memory:SharedMemoryAdapter"
CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { name } ... on Error { code message } } }"""
START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message } } }"""
RUN = """query($id: ID!) { run(id: $id) { phase deadline endedAt
  events { at kind fromPhase toPhase reason } } }"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_end",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", choices=["production", "embedded"], default="production")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    load = common.load_average()
    env = {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY}
    ctx = (
        hubs.production(env=env, with_agent=False)
        if args.config == "production"
        else hubs.embedded(env)
    )
    to_recovering: list[float] = []
    to_terminal: list[float] = []
    with ctx as hub:
        made = hub.gql(
            CREATE_BACKEND,
            input={
                "name": "bench-end",
                "adapter": "memory",
                "config": {"targets": ["t0"], "redis_url": hubs.BENCH_REDIS},
            },
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        ids = []
        for _ in range(args.runs):
            started = hub.gql(
                START,
                input={
                    "faultType": "memory/latency",
                    "backend": "bench-end",
                    "params": {"latency_ms": 1},
                    "selector": {"names": ["t0"]},
                    "durationSeconds": args.duration,
                },
            )["startRun"]
            assert started["__typename"] == "Run", started
            ids.append(started["id"])
            time.sleep(random.uniform(0, 1))
        for run_id in ids:
            run = wait_for(
                lambda i=run_id: (r := hub.gql(RUN, id=i)["run"])["phase"] == "completed" and r,
                60,
                what=f"run {run_id} completed",
            )
            deadline = _at(run["deadline"])
            move = next(e for e in run["events"] if e.get("toPhase") == "recovering")
            to_recovering.append(ms((_at(move["at"]) - deadline).total_seconds()))
            to_terminal.append(ms((_at(run["endedAt"]) - deadline).total_seconds()))
    results = {
        "config": args.config,
        "runs": args.runs,
        "duration_seconds": args.duration,
        "load_at_start": load,
        "load_at_end": common.load_average(),
        "deadline_to_recovering_ms": percentiles(to_recovering),
        "deadline_to_terminal_ms": percentiles(to_terminal),
    }
    path = common.save(
        "run_end", vars(args), results, out=common.Path(args.out) if args.out else None
    )
    rows: list[list[Any]] = []
    for what, key in (
        ("deadline → recovering", "deadline_to_recovering_ms"),
        ("deadline → completed", "deadline_to_terminal_ms"),
    ):
        p = results[key]
        rows.append([args.config, what, p["p50"], p["p95"], p["p99"], p["max"]])
    print(common.table(["hub", "", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    print(f"load {load[0]} → {results['load_at_end'][0]}; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
