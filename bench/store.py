"""Store scale: GraphQL ``runs`` and ``run(id)`` latency with 100,000 runs (one target each)
and 1,000,000 events stored, and the API process's memory.

The rows are written straight into a migrated database with SQLAlchemy Core bulk inserts
(the hub's own tables, ``chaoshub.store.models``), then one ``chaoshub api`` process serves
them. Timed one at a time, ``--reads`` each:

- ``runs(first: 20)``: the newest page, with ``totalCount`` (which counts every row);
- ``runs(first: 20), no totalCount``: the same page without the count (a client paging on
  ``hasNextPage``);
- ``runs(first: 20, filter: {phase: ["running"]})``: active runs only;
- ``runs(first: 20, after: <cursor>)``: a page deep in the list (10 pages in);
- ``run(id)``: one run, chosen at random, with its target and its 10 events;
- ``events(first: 50)``: the newest events.

    python -m bench.store
    python -m bench.store --db sqlite --runs 100000 --events-per-run 10
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench import common, hubs
from bench.common import ms, percentiles
from chaoshub.store import db, models
from tests.support.stack import GraphQL, Stack

BATCH = 10_000
PHASES = ["completed"] * 90 + ["aborted"] * 6 + ["failed"] * 3 + ["running"]
QUERIES = {
    "runs(first: 20)": (
        "{ runs(first: 20) { totalCount edges { cursor node { id phase "
        "targets { label phase } } } } }",
        None,
    ),
    "runs(first: 20), no totalCount": (
        "{ runs(first: 20) { edges { cursor node { id phase targets { label phase } } } } }",
        None,
    ),
    "runs(phase: running)": (
        '{ runs(first: 20, filter: {phase: ["running"]}) { totalCount '
        "edges { node { id phase } } } }",
        None,
    ),
    "runs(after: page 10)": (
        "query($after: String) { runs(first: 20, after: $after) { edges { node { id phase } } } }",
        "after",
    ),
    "run(id)": (
        "query($id: ID!) { run(id: $id) { id phase targets { label phase } "
        "events { kind fromPhase toPhase reason } } }",
        "id",
    ),
    "events(first: 50)": ("{ events(first: 50) { edges { node { id kind reason } } } }", None),
}


def fill(url: str, runs: int, events_per_run: int) -> tuple[list[str], float]:
    """Write the rows; (the run ids, seconds taken)."""
    db.upgrade(url)
    engine = db.engine_for(url)
    began = time.monotonic()
    now = datetime.now(UTC)
    ids: list[str] = []
    with engine.begin() as conn:
        for start in range(0, runs, BATCH):
            run_rows: list[dict[str, Any]] = []
            target_rows: list[dict[str, Any]] = []
            event_rows: list[dict[str, Any]] = []
            for i in range(start, min(runs, start + BATCH)):
                rid = f"{i:08d}{random.getrandbits(96):024x}"
                ids.append(rid)
                created = now - timedelta(seconds=(runs - i) * 25)
                phase = PHASES[i % len(PHASES)]
                run_rows.append(
                    {
                        "id": rid,
                        "fault_type": "native/process-pause",
                        "adapter": "native",
                        "time_control": "timed",
                        "reversible": True,
                        "backend_name": "native",
                        "params": {},
                        "selector": {"agents": ["bench"], "pid": 1000 + i % 5000},
                        "duration_seconds": 60.0,
                        "phase": phase,
                        "desired_state": "run",
                        "verdict": "none",
                        "round": 0,
                        "archived": False,
                        "created_by": "bench",
                        "created_at": created,
                        "updated_at": created,
                        "started_at": created,
                        "ended_at": None if phase == "running" else created + timedelta(seconds=61),
                        "recover_attempts": 0,
                    }
                )
                target_rows.append(
                    {
                        "run_id": rid,
                        "index": 0,
                        "target_id": f"bench/{1000 + i % 5000}",
                        "label": f"pid {1000 + i % 5000} on bench",
                        "attributes": {},
                        "phase": "injected" if phase == "running" else "recovered",
                        "may_carry_fault": phase == "running",
                        "native_status": "stopped",
                        "metrics": {},
                    }
                )
                for k in range(events_per_run):
                    event_rows.append(
                        {
                            "at": created + timedelta(milliseconds=100 * k),
                            "run_id": rid,
                            "kind": "phase" if k % 2 == 0 else "injected",
                            "from_phase": "pending" if k % 2 == 0 else None,
                            "to_phase": "injecting" if k % 2 == 0 else None,
                            "reason": f"step {k} of the bench run",
                            "data": {},
                        }
                    )
            conn.execute(insert(models.Run), run_rows)
            conn.execute(insert(models.RunTarget), target_rows)
            conn.execute(insert(models.Event), event_rows)
            print(f"  {min(runs, start + BATCH)} runs written", file=sys.stderr, flush=True)
    db.dispose_all()
    return ids, time.monotonic() - began


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'hub.db'}"
    else:
        with hubs.postgres_database() as url:
            yield url


def time_queries(gql: GraphQL, ids: list[str], reads: int) -> dict[str, Any]:
    cursor = None
    after = None
    for _ in range(10):
        page = gql(
            "query($after: String) { runs(first: 20, after: $after) { edges { cursor } } }",
            after=after,
        )["runs"]["edges"]
        cursor = page[-1]["cursor"]
        after = cursor
    out = {}
    for name, (query, var) in QUERIES.items():
        samples = []
        for _ in range(reads):
            kwargs = (
                {"id": random.choice(ids)} if var == "id" else ({"after": cursor} if var else {})
            )
            began = time.perf_counter()
            gql(query, **kwargs)
            samples.append(ms(time.perf_counter() - began))
        out[name] = percentiles(samples)
    return out


def measure(kind: str, runs: int, events_per_run: int, reads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-bench-store-") as d:
        workdir = Path(d)
        with database(kind, workdir) as url:
            print(
                f"{kind}: writing {runs} runs and {runs * events_per_run} events", file=sys.stderr
            )
            ids, fill_seconds = fill(url, runs, events_per_run)
            s = Stack(workdir=workdir, database_url=url, broker_url=hubs.BENCH_REDIS)
            s.extra_env.update(hubs.DEFAULTS)
            try:
                api = s.start_api()
                rss_idle = common.rss_kib(api.popen.pid)
                gql = GraphQL(s.url)
                try:
                    latencies = time_queries(gql, ids, reads)
                finally:
                    gql.close()
                rss = common.rss_kib(api.popen.pid)
            finally:
                s.stop()
    return {
        "db": kind,
        "runs": runs,
        "events": runs * events_per_run,
        "fill_seconds": round(fill_seconds, 1),
        "reads_ms": latencies,
        "api_rss_kib_started": rss_idle,
        "api_rss_kib_after_reads": rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeatable; default both"
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events-per-run", type=int, default=10)
    parser.add_argument("--reads", type=int, default=200, help="timed reads per query")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    results = [
        measure(kind, args.runs, args.events_per_run, args.reads)
        for kind in args.db or ["sqlite", "postgresql"]
    ]
    path = common.save("store", vars(args), results, out=Path(args.out) if args.out else None)
    rows = []
    for r in results:
        for name, st in r["reads_ms"].items():
            rows.append([f"{r['db']} {name}", st["p50"], st["p95"], st["p99"]])
    print(common.table(["query (ms)", "p50", "p95", "p99"], rows))
    for r in results:
        print(
            f"{r['db']}: {r['runs']} runs, {r['events']} events written in {r['fill_seconds']} s; "
            f"API RSS {r['api_rss_kib_started'] // 1024} MiB at start, "
            f"{r['api_rss_kib_after_reads'] // 1024} MiB after the reads"
        )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
