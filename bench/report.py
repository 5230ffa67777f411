"""Markdown tables of the latest results (``bench/results/*.json``), for ``bench/README.md``.

python -m bench.report
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench import agents as agents_bench
from bench import inject_recover as inject_recover_bench
from bench import throughput as throughput_bench
from bench import workflows as workflows_bench
from bench.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _md(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _when(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    load = ", ".join(str(x) for x in m["loadavg_at_start"])
    return f"_{doc['measured_at']}, commit {doc['commit']}, load average (1, 5, 15 min) when written {load}_"


def inject_recover(doc: dict[str, Any]) -> str:
    return _md(inject_recover_bench.HEADERS, inject_recover_bench.rows(doc["results"]))


def chaostoolkit(doc: dict[str, Any]) -> str:
    r = doc["results"]
    s = r["ms"]
    return _md(
        [
            "tool",
            "runs",
            "inject p50",
            "inject p95",
            "inject p99",
            "recover p50",
            "recover p95",
            "recover p99",
        ],
        [
            [
                r["chaostoolkit"],
                r["runs"],
                s["inject"]["p50"],
                s["inject"]["p95"],
                s["inject"]["p99"],
                s["recover"]["p50"],
                s["recover"]["p95"],
                s["recover"]["p99"],
            ]
        ],
    )


def store(doc: dict[str, Any]) -> str:
    rows = []
    for r in doc["results"]:
        for name, s in r["reads_ms"].items():
            rows.append([r["db"], name, s["p50"], s["p95"], s["p99"]])
    out = _md(["db", "query", "p50 ms", "p95 ms", "p99 ms"], rows)
    out += "\n\n" + _md(
        ["db", "runs", "events", "written in s", "API RSS at start MiB", "API RSS after reads MiB"],
        [
            [
                r["db"],
                r["runs"],
                r["events"],
                r["fill_seconds"],
                r["api_rss_kib_started"] // 1024,
                r["api_rss_kib_after_reads"] // 1024,
            ]
            for r in doc["results"]
        ],
    )
    return out


def agents(doc: dict[str, Any]) -> str:
    out = _md(agents_bench.HEADERS, agents_bench.level_rows(doc["results"]))
    out += "\n\n" + _md(
        ["db", "most agents absorbed", "silent agent shown offline after (s)"],
        [
            [r["db"], r["most_agents_absorbed"], r["offline_noticed_after_seconds"]]
            for r in doc["results"]
        ],
    )
    return out


def throughput(doc: dict[str, Any]) -> str:
    r = doc["results"]
    s = r["start"]
    out = _md(
        ["runs", "callers", "accepted/s", "reached running/s"],
        [[s["runs"], s["clients"], s["accepted_per_second"], s["running_per_second"]]],
    )
    out += "\n\n" + _md(throughput_bench.LEVEL_HEADERS, throughput_bench.level_rows(r["levels"]))
    held = r.get("most_active_runs_held", r.get("most_active_runs_under_100ms_p99"))
    out += (
        "\n\nMost active runs held (GraphQL reads under 100 ms p99, each run refreshed at "
        f"most {throughput_bench.WATCH_LATE_BUDGET_S:g} s late at p99): **{held}**"
    )
    return out


def workflows(doc: dict[str, Any]) -> str:
    r = doc["results"]
    parts = []
    if r.get("stop"):
        parts.append(_md(workflows_bench.STOP_HEADERS, workflows_bench.stop_rows(r["stop"])))
    if r.get("fault"):
        parts.append(_md(workflows_bench.FAULT_HEADERS, workflows_bench.fault_rows(r["fault"])))
    return "\n\n".join(parts)


SECTIONS = {
    "inject_recover": inject_recover,
    "chaostoolkit": chaostoolkit,
    "throughput": throughput,
    "agents": agents,
    "store": store,
    "workflows": workflows,
}


def main() -> int:
    for name, render in SECTIONS.items():
        doc = _load(name)
        if doc is None:
            continue
        print(f"### {name}\n\n{_when(doc)}\n\n{render(doc)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
