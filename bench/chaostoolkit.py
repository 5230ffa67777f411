"""The most natural alternative on this machine: Chaos Toolkit (``chaostoolkit`` from PyPI,
``pip install -e '.[bench]'``) running an equivalent process-pause experiment from its CLI.

The experiment's method sends SIGSTOP to a ``sleep`` process (a ``process`` provider
running ``kill -STOP``) and holds it for a minute; its rollback sends SIGCONT. Each run:

- ``inject``: ``chaos run`` started → the process seen stopped (``T`` in ``/proc``);
- ``recover``: SIGUSR1 to ``chaos`` (Chaos Toolkit's "stop now, still roll back"), sent
  one second after the process stopped (a signal during the action itself fails the action
  and the method then sits out its whole pause) → the process seen running again; then the
  command's exit is awaited (``exit``).

Printed beside the hub's native process-pause figures from
``bench/results/inject_recover.json`` when that file exists (hub: ``startRun`` sent →
stopped, ``abortRun`` sent → running). ``bench.inject_recover`` runs the same measurement
in its own invocation, right after the hub's, and prints the ratio.

    python -m bench.chaostoolkit --runs 50
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import ms, percentiles, wait_until
from bench.subjects import sleeper
from tests.native.native_peers import proc_state

CHAOS = Path(sys.executable).parent / "chaos"
SETTLE_SECONDS = 1.0


def experiment(pid: int) -> dict[str, Any]:
    return {
        "title": "Pause a process",
        "description": "SIGSTOP a process for a minute; the rollback sends SIGCONT.",
        "method": [
            {
                "type": "action",
                "name": "stop-process",
                "provider": {"type": "process", "path": "kill", "arguments": f"-STOP {pid}"},
                "pauses": {"after": 60},
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "resume-process",
                "provider": {"type": "process", "path": "kill", "arguments": f"-CONT {pid}"},
            }
        ],
    }


def one_run(pid: int, path: Path, workdir: Path, samples: dict[str, list[float]]) -> str:
    argv = [
        str(CHAOS),
        "--no-version-check",
        "--no-log-file",
        "run",
        "--rollback-strategy",
        "always",
        "--journal-path",
        str(workdir / "journal.json"),
        str(path),
    ]
    sent = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen = wait_until(lambda: proc_state(pid) == "T", 60, what="the process stopped")
        samples["inject"].append(ms(seen - sent))
        # a signal that lands while the action itself runs fails the action and leaves the
        # method to finish its pause: let the action return first
        time.sleep(SETTLE_SECONDS)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGUSR1)
        seen = wait_until(lambda: proc_state(pid) != "T", 60, what="the process running again")
        samples["recover"].append(ms(seen - sent))
        proc.wait(timeout=60)
        samples["exit"].append(ms(time.perf_counter() - sent))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.kill(pid, signal.SIGCONT)
    return str(json.loads((workdir / "journal.json").read_text()).get("status"))


def hub_figures() -> list[list[Any]]:
    path = common.RESULTS / "inject_recover.json"
    if not path.exists():
        return []
    rows = []
    for r in json.loads(path.read_text())["results"]:
        if r["adapter"] == "native":
            s = r["ms"]
            rows.append(
                [
                    f"hub {r['config']} (native)",
                    s["inject"]["p50"],
                    s["inject"]["p99"],
                    s["recover"]["p50"],
                    s["recover"]["p99"],
                ]
            )
    return rows


def available() -> bool:
    return CHAOS.exists() or shutil.which("chaos") is not None


def measure(runs: int) -> dict[str, Any]:
    """``runs`` timed ``chaos run`` invocations (after one untimed) on a ``sleep`` of its own."""
    samples: dict[str, list[float]] = {"inject": [], "recover": [], "exit": []}
    statuses: dict[str, int] = {}
    with sleeper() as proc, tempfile.TemporaryDirectory(prefix="chaoshub-bench-ctk-") as d:
        workdir = Path(d)
        path = workdir / "experiment.json"
        path.write_text(json.dumps(experiment(proc.pid)))
        one_run(proc.pid, path, workdir, {k: [] for k in samples})  # warm the page cache
        for i in range(runs):
            status = one_run(proc.pid, path, workdir, samples)
            statuses[status] = statuses.get(status, 0) + 1
            if (i + 1) % 10 == 0:
                print(f"  chaostoolkit: {i + 1}/{runs}", file=sys.stderr, flush=True)
    version = subprocess.run(
        [str(CHAOS), "--version"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "chaostoolkit": version,
        "runs": runs,
        "journal_statuses": statuses,
        "ms": {k: percentiles(v) for k, v in samples.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaostoolkit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if not available():
        print("chaostoolkit is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    results = measure(args.runs)
    out = common.save("chaostoolkit", vars(args), results, out=Path(args.out) if args.out else None)
    s = results["ms"]
    rows = [
        [
            f"chaos run ({results['chaostoolkit']})",
            s["inject"]["p50"],
            s["inject"]["p99"],
            s["recover"]["p50"],
            s["recover"]["p99"],
        ],
        *hub_figures(),
    ]
    print(
        common.table(
            ["process pause (ms)", "inject p50", "inject p99", "recover p50", "recover p99"], rows
        )
    )
    print(f"journal statuses: {results['journal_statuses']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
