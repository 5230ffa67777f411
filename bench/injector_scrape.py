"""What one scrape of an agent's ``/metrics`` costs: a real injector process on loopback,
scraped ``--scrapes`` times one after the other; the round trip and the injector's own CPU
time per scrape (from ``/proc/<pid>/stat``), host metrics and fault gauges included.

    python -m bench.injector_scrape --scrapes 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import cpu_seconds, ms, percentiles
from tests.native.native_peers import Injector


def measure(scrapes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-bench-scrape-") as d:
        injector = Injector(Path(d)).start()
        try:
            assert injector.proc is not None
            with injector.client() as c:
                for _ in range(20):  # warm up
                    c.get("/metrics")
                size = len(c.get("/metrics").content)
                cpu_before = cpu_seconds(injector.proc.pid)
                latencies = []
                for _ in range(scrapes):
                    began = time.perf_counter()
                    answer = c.get("/metrics")
                    latencies.append(ms(time.perf_counter() - began))
                    assert answer.status_code == 200, answer.text
                cpu = cpu_seconds(injector.proc.pid) - cpu_before
        finally:
            injector.stop()
    return {
        "scrapes": scrapes,
        "bytes": size,
        "round_trip_ms": percentiles(latencies),
        "injector_cpu_ms_per_scrape": round(1000 * cpu / scrapes, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.injector_scrape", description=__doc__)
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    result = measure(args.scrapes)
    path = common.save(
        "injector_scrape", vars(args), [result], out=Path(args.out) if args.out else None
    )
    rt = result["round_trip_ms"]
    print(
        f"{args.scrapes} scrapes of {result['bytes']} bytes: round trip p50 {rt['p50']} ms, "
        f"p99 {rt['p99']} ms; injector CPU {result['injector_cpu_ms_per_scrape']} ms per scrape"
    )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
