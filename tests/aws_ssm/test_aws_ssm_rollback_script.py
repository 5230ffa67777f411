"""The network rollback script, run for real in a network namespace of its own.

It is the text the adapter sends with AWS-RunShellScript; here it runs under ``sh`` in a
namespace the test made, with ``CHAOSHUB_SSM_DIR`` pointing at a folder the test fills
the way the AWSFIS-Run-* documents fill ``/var/lib/amazon/ssm``. This kernel has no
``sch_netem``, so the netem branch is not exercised here; the iptables chains the
documents create, the leftover rollback scripts and the "a document still runs" guard are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoshub.adapters.aws_ssm.rollback import SCRIPT

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "iptables", "tc", "bash")),
    reason="needs root with ip, iptables, tc and bash (CI runs as root)",
)


def _in(ns: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def ns() -> Iterator[str]:
    name = f"chs-rb-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        _in(name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _blackhole(ns: str) -> None:
    """What AWSFIS-Run-Network-Blackhole-Port sets up (egress and ingress chains)."""
    for chain, hook in (("fault-in", "INPUT"), ("fault-out", "OUTPUT")):
        assert _in(ns, "iptables", "-N", chain).returncode == 0
        _in(ns, "iptables", "-A", chain, "-p", "tcp", "--dport", "5432", "-j", "DROP")
        _in(ns, "iptables", "-I", hook, "-j", chain)


def _rollback(ns: str, ssm_dir: Path) -> subprocess.CompletedProcess[str]:
    return _in(ns, "sh", "-c", SCRIPT, env={"CHAOSHUB_SSM_DIR": str(ssm_dir)})


def test_removes_the_fault_chains_and_leaves_other_qdiscs(ns: str, tmp_path: Path) -> None:
    _blackhole(ns)
    tbf = ("tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms")
    assert _in(ns, "tc", "qdisc", "add", "dev", "lo", "root", *tbf).returncode == 0
    done = _rollback(ns, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removing iptables chain fault-in" in done.stdout
    assert "no network fault left" in done.stdout
    for chain in ("fault-in", "fault-out"):
        assert _in(ns, "iptables", "-n", "-L", chain).returncode != 0
    assert "fault" not in _in(ns, "iptables", "-n", "-L").stdout
    assert "tbf" in _in(ns, "tc", "qdisc", "show", "dev", "lo").stdout


def test_runs_the_rollback_scripts_the_documents_left(ns: str, tmp_path: Path) -> None:
    marker = tmp_path / "rolled-back"
    leftover = tmp_path / "Run-Network-Latency-abc123-Rollback.sh"
    leftover.write_text(f'#!/bin/bash\ntouch "{marker}"\n')
    done = _rollback(ns, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"running leftover rollback script {leftover}" in done.stdout
    assert marker.exists()


def test_refuses_while_a_network_document_still_runs(ns: str, tmp_path: Path) -> None:
    _blackhole(ns)
    (tmp_path / "Run-Network-Blackhole-Port-abc123.flag").touch()  # refreshed just now
    done = _rollback(ns, tmp_path)
    assert done.returncode == 1
    assert "still running" in done.stdout
    assert _in(ns, "iptables", "-n", "-L", "fault-in").returncode == 0  # left alone


def test_an_old_flag_does_not_block_the_rollback(ns: str, tmp_path: Path) -> None:
    _blackhole(ns)
    flag = tmp_path / "Run-Network-Blackhole-Port-abc123.flag"
    flag.touch()
    os.utime(flag, (flag.stat().st_atime - 60, flag.stat().st_mtime - 60))
    done = _rollback(ns, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _in(ns, "iptables", "-n", "-L", "fault-out").returncode != 0
