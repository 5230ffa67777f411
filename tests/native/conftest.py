"""Fixtures for the native injector tests: a real injector process, real processes to hit,
network namespaces, a scripts directory and a small tmpfs to fill."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from native_peers import Injector, NetPair, run

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(
        reason="the native injector tests need root (iptables, tc, network namespaces, "
        "signals to other processes): run them as root, as CI does"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


INJECT_SCRIPT = """#!/bin/sh
# writes its arguments, one per line, to the file named by the first
out="$1"; shift
for a in "$@"; do printf '%s\\n' "$a"; done > "$out"
echo "wrote $out"
"""
RECOVER_SCRIPT = """#!/bin/sh
rm -f "$1"
"""
FAILING_SCRIPT = """#!/bin/sh
echo "cannot do it" >&2
exit 3
"""


@pytest.fixture(scope="session")
def scripts_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-scripts-") as d:
        root = Path(d)
        for name, text in (
            ("mark.sh", INJECT_SCRIPT),
            ("unmark.sh", RECOVER_SCRIPT),
            ("fail.sh", FAILING_SCRIPT),
        ):
            (root / name).write_text(text)
            (root / name).chmod(0o755)
        yield root


@pytest.fixture(scope="session")
def injector(scripts_dir: Path) -> Iterator[Injector]:
    """One injector process shared by the tests that do not restart it."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-injector-") as d:
        inj = Injector(Path(d), scripts_dir).start()
        try:
            yield inj
        finally:
            inj.stop()  # a clean stop recovers whatever a failed test left active


@pytest.fixture
def api(injector: Injector) -> Iterator[httpx.Client]:
    with injector.client() as client:
        yield client


@pytest.fixture
def fresh_injector(scripts_dir: Path, tmp_path: Path) -> Iterator[Injector]:
    """An injector of the test's own, to kill and restart."""
    inj = Injector(tmp_path / "state", scripts_dir)
    inj.state_dir.mkdir()
    try:
        yield inj
    finally:
        inj.stop()


@pytest.fixture
def netpair() -> Iterator[NetPair]:
    pair = NetPair.create()
    try:
        yield pair
    finally:
        pair.delete()  # the namespaces take their rules and qdiscs with them


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    # a duration no other process on the machine has, so a pattern can name this one only
    proc = subprocess.Popen(["sleep", f"600.{secrets.randbelow(10**6):06d}"])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, so a disk fill never touches a filesystem anything else uses."""
    mount = tmp_path / "fs"
    mount.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount))
    try:
        yield mount
    finally:
        run("umount", "-l", str(mount), check=False)
