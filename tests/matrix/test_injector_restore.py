"""A native injector killed while it holds faults, restarted after one of its targets went
away: it must still start, and still let every other fault it holds be recovered.

Found by the fault matrix: a network namespace that disappeared while the injector was
down (a container or pod gone, an ``ip netns del``) is something a host does every day.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.native.native_peers import Injector, NetPair, inject, observe, proc_state

pytestmark = pytest.mark.matrix


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", f"600.{uuid.uuid4().int % 10**6:06d}"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_restarted_injector_whose_namespace_went_away_still_recovers_the_rest(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    injector = Injector(state).start()
    pair = NetPair.create()
    try:
        with injector.client() as api:
            inject(api, "restore-pause", "process-pause", {"pid": sleeper.pid}, lease=300)
            inject(api, "restore-loss", "network-loss", pair.selector, {"percent": 50}, lease=300)
        assert proc_state(sleeper.pid) == "T"
        injector.kill9()
        pair.delete()  # the namespace goes while the injector is down

        injector.start()  # raises when the injector exits at start-up
        with injector.client() as api:
            observe(api, "recover", "restore-pause")
            observe(api, "recover", "restore-loss")
        assert proc_state(sleeper.pid) != "T", "the paused process was left stopped"
    finally:
        pair.delete()
        injector.stop()
        subprocess.run(["kill", "-CONT", str(sleeper.pid)], check=False)
