"""The fault matrix: break the hub at each point of a run's life, bring it back, and check
from outside that every fault it injected is gone. ``pytest_terminal_summary`` prints the
matrix as a table (cases tried, cases clean)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from matrix_world import FAULTS, REPORT, WORKFLOW_REPORT

if os.geteuid() != 0:
    pytest.skip(
        "the fault matrix needs root (signals to other processes, network namespaces, "
        "iptables, podman); run it as root, as CI does",
        allow_module_level=True,
    )


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "matrix: the fault matrix (kills and restarts hub processes)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    _fault_table(terminalreporter)
    _workflow_table(terminalreporter)


def _workflow_table(tr: Any) -> None:
    if not WORKFLOW_REPORT:
        return
    tr.section("workflow matrix (a workflow's worker killed; outside checks after it ended)")
    width = max(len(p) for p in WORKFLOW_REPORT)
    tr.write_line(
        f"{'point'.ljust(width)}  {'ended'.ljust(16)}  child runs  executions  "
        "stopped stretches  takeovers  seconds  case"
    )
    for point, r in WORKFLOW_REPORT.items():
        case = "clean" if r["right"] else ("LEFT" if not r["clean"] else "wrong")
        tr.write_line(
            f"{point.ljust(width)}  {r['cell'].ljust(16)}  {r['children']:>10}  "
            f"{r['executions']:>10}  {r['stretches']:>17}  {r['takeovers']:>9}  "
            f"{r['seconds']:>7.1f}  {case}"
        )
    right = sum(1 for r in WORKFLOW_REPORT.values() if r["right"])
    tr.write_line(f"cases tried: {len(WORKFLOW_REPORT)}; clean and ended right: {right}")
    for point, r in WORKFLOW_REPORT.items():
        if r["detail"]:
            tr.write_line(f"  {point}: {r['detail']}")


def _fault_table(terminalreporter: Any) -> None:
    if not REPORT:
        return
    points = list(dict.fromkeys(point for point, _ in REPORT))
    width = max(len(f) for f in FAULTS)
    tr = terminalreporter
    tr.section("fault matrix (outside checks after the hub came back)")
    tr.write_line("  ".join(["fault".ljust(width), *(p.ljust(max(len(p), 9)) for p in points)]))
    for fault in FAULTS:
        cells = []
        for p in points:
            verdict = REPORT.get((p, fault), {}).get("cell", "-")
            cells.append(verdict.ljust(max(len(p), 9)))
        tr.write_line("  ".join([fault.ljust(width), *cells]))
    tried = len(REPORT)
    clean = sum(1 for r in REPORT.values() if r["clean"])
    right = sum(1 for r in REPORT.values() if r["clean"] and r["phase_ok"])
    tr.write_line(
        f"cases tried: {tried}; clean (no fault left on the target): {clean}; "
        f"clean and in the right terminal phase: {right}"
    )
    helpers = sum(1 for r in REPORT.values() if r["artifacts"])
    if helpers:
        tr.write_line(
            f"clean+helper: the fault is gone, but a Docker network helper container the worker "
            f"was using when it died still sits in the target's namespace ({helpers} cases; "
            "see test_docker_helper_leak.py)"
        )
    for (point, fault), r in REPORT.items():
        if not (r["clean"] and r["phase_ok"]) or r["artifacts"]:
            tr.write_line(f"  {point} / {fault}: {r['detail']}")
        elif r.get("note"):
            tr.write_line(f"  {point} / {fault}: {r['note']}")
