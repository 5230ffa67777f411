"""What one heartbeat costs the hub: the API served in this process (uvicorn in a thread,
SQLite, the embedded shape's in-memory broker), one registered agent beating ``--beats``
times one after the other over HTTP; the SQL statements each beat runs and the round trip.
Less sensitive to a shared machine's load than ``bench.agents`` (no fleet, no
concurrency), so a change to the heartbeat path shows here first.

    python -m bench.heartbeat_cost --beats 800
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from bench import common
from bench.common import ms, percentiles
from chaoshub.store import db
from tests.support.api_server import serve


def measure(beats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-bench-hb-") as d, serve(Path(d)) as hub:
        token, _ = hub.token("agent", agent_name="bench")
        assert hub.register(token, "bench").status_code == 200
        statements: collections.Counter[str] = collections.Counter()

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements[statement.split()[0].upper()] += 1

        engine = db.engine_for(hub.runtime.settings.database_url)
        latencies = []
        with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(20):  # warm up (and let the token's last use be recorded)
                c.post("/agents/heartbeat", json={"name": "bench", "active": []})
            event.listen(engine, "before_cursor_execute", count)
            try:
                for _ in range(beats):
                    began = time.perf_counter()
                    answer = c.post("/agents/heartbeat", json={"name": "bench", "active": []})
                    latencies.append(ms(time.perf_counter() - began))
                    assert answer.status_code == 200, answer.text
            finally:
                event.remove(engine, "before_cursor_execute", count)
    return {
        "beats": beats,
        "round_trip_ms": percentiles(latencies),
        "statements_per_beat": {k: round(v / beats, 3) for k, v in sorted(statements.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heartbeat_cost", description=__doc__)
    parser.add_argument("--beats", type=int, default=800)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    result = measure(args.beats)
    path = common.save(
        "heartbeat_cost", vars(args), [result], out=Path(args.out) if args.out else None
    )
    rt = result["round_trip_ms"]
    print(
        f"{args.beats} beats: round trip p50 {rt['p50']} ms, p99 {rt['p99']} ms; "
        f"statements per beat {result['statements_per_beat']}"
    )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
