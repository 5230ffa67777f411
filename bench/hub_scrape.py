"""What one scrape of the hub's ``/metrics`` costs when the store is large: the store's
figures (runs by phase, agents, every fault in effect with its values, stuck recoveries,
workflow verdicts and scores) are read at scrape time. ``--runs`` runs (1 % of them
running, one target each, holding its fault with two values), ``--workflow-runs`` ended
workflow runs over 50 workflows; the collector is timed ``--scrapes`` times in this process.

    python -m bench.hub_scrape --db sqlite --runs 100000 --workflow-runs 20000
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import insert, update

from bench import common
from bench.common import ms, percentiles
from bench.store import database, fill
from chaoshub.metrics import StoreCollector
from chaoshub.store import db, models


def add_workflow_runs(url: str, count: int) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        ended = now - timedelta(seconds=(count - i) * 30)
        rows.append(
            {
                "id": f"w{i:07d}{random.getrandbits(96):024x}",
                "workflow_name": f"workflow-{i % 50}",
                "phase": "completed",
                "verdict": "pass" if i % 7 else "fail",
                "score": 1.0 if i % 7 else 0.5,
                "created_at": ended - timedelta(seconds=20),
                "updated_at": ended,
                "started_at": ended - timedelta(seconds=20),
                "ended_at": ended,
            }
        )
    engine = db.engine_for(url)
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(models.WorkflowRun), rows)
        conn.execute(
            update(models.RunTarget)
            .where(models.RunTarget.may_carry_fault.is_(True))
            .values(metrics={"loss_percent": 25.0, "rules": 1.0})
        )


def measure(kind: str, runs: int, workflow_runs: int, scrapes: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="chaoshub-bench-scrape-") as d,
        database(kind, Path(d)) as url,
    ):
        fill(url, runs, 1)
        add_workflow_runs(url, workflow_runs)

        @contextlib.contextmanager
        def session() -> Any:
            with db.session_scope(url) as s:
                yield s

        registry = CollectorRegistry()
        registry.register(StoreCollector(session))
        size = len(generate_latest(registry))
        latencies = []
        for _ in range(scrapes):
            began = time.perf_counter()
            generate_latest(registry)
            latencies.append(ms(time.perf_counter() - began))
        db.dispose_all()
    return {
        "db": kind,
        "runs": runs,
        "workflow_runs": workflow_runs,
        "bytes": size,
        "scrape_ms": percentiles(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_scrape", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--workflow-runs", type=int, default=20_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    result = measure(args.db, args.runs, args.workflow_runs, args.scrapes)
    path = common.save(
        f"hub_scrape-{args.db}", vars(args), [result], out=Path(args.out) if args.out else None
    )
    s = result["scrape_ms"]
    print(
        f"{args.db}, {args.runs} runs, {args.workflow_runs} workflow runs: one scrape of "
        f"{result['bytes']} bytes takes p50 {s['p50']} ms, p99 {s['p99']} ms"
    )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
