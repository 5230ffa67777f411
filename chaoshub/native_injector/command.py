"""Probe commands: run an allow-listed script once and report how it ended.

This is the injector's half of the hub's ``command`` probe (``POST /v1/probe/command``).
The command is an argv list whose ``argv[0]`` must be a script ``host-script`` would accept
(a regular executable directly inside ``--scripts-dir``, also once symlinks are followed);
the rest are passed as arguments, never through a shell, so ``$(id)`` is a literal.

The command runs in a session of its own, stdin closed, in the scripts directory, with
only ``PATH`` and ``CHAOSHUB_PHASE=probe`` in its environment. When it exits, or when its
timeout passes, its whole process group is killed: a probe leaves nothing running (a
process that made a session of its own has left the group and is out of reach). Only the
last :data:`STDOUT_TAIL` bytes of stdout and :data:`STDERR_TAIL` of stderr are kept, so a
command that writes without end costs bounded memory.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoshub.native_injector.faults.base import Context
from chaoshub.native_injector.faults.script import resolve
from chaoshub.native_injector.problems import InvalidRequest, Rejected, Unavailable

STDOUT_TAIL = 16 * 1024
STDERR_TAIL = 4 * 1024
#: probe commands running at once; one more is refused as ``unavailable`` (try later)
MAX_RUNNING = 8
#: how long output is still read once the group is killed (a pipe held by an escaped process)
DRAIN_SECONDS = 0.5

_slots = threading.BoundedSemaphore(MAX_RUNNING)


def check(ctx: Context, argv: Sequence[str]) -> Path:
    """The script ``argv[0]`` names, or the refusal naming the field; runs nothing."""
    for i, arg in enumerate(argv):
        if "\x00" in arg:
            raise InvalidRequest("an argument cannot hold a NUL character", field=["argv", i])
    return resolve(ctx, argv[0], ["argv", 0])


class _Tail:
    """The last ``limit`` bytes written to a pipe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.truncated = True

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


def _exited(pid: int) -> bool:
    """Has ``pid`` exited? Asked without reaping it, so its process group id stays ours
    until the group is killed."""
    found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return found is not None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(ctx: Context, argv: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run ``argv`` (checked first) for at most ``timeout`` seconds; how it ended."""
    path = check(ctx, argv)
    if not _slots.acquire(blocking=False):
        raise Unavailable(f"{MAX_RUNNING} probe commands are running already; try again")
    try:
        return _run(path, list(argv[1:]), timeout)
    finally:
        _slots.release()


def _run(path: Path, args: list[str], timeout: float) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CHAOSHUB_PHASE": "probe",
    }
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [str(path), *args],
            cwd=path.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:  # e.g. a script without a #! line: "Exec format error"
        raise Rejected(f"{path.name} could not be started: {exc.strerror or exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Tail(STDOUT_TAIL), _Tail(STDERR_TAIL)
    tails = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for fd in tails:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        try:
            deadline = started + timeout
            while not _exited(proc.pid):
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                _read(selector, tails, min(left, 0.05))
        finally:
            _kill_group(proc.pid)  # on exit too: what it left in the background goes with it
            proc.wait()
        drain_until = time.monotonic() + DRAIN_SECONDS
        while selector.get_map() and time.monotonic() < drain_until:
            _read(selector, tails, drain_until - time.monotonic())
    proc.stdout.close()
    proc.stderr.close()
    return {
        "exit_code": None if timed_out else proc.returncode,
        "timed_out": timed_out,
        "stdout": out.text(),
        "stdout_truncated": out.truncated,
        "stderr": err.text(),
        "stderr_truncated": err.truncated,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
    }


def _read(selector: selectors.BaseSelector, tails: dict[int, _Tail], wait: float) -> None:
    for key, _ in selector.select(max(wait, 0)):
        fd = int(key.fd)
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if chunk:
            tails[fd].add(chunk)
        else:
            selector.unregister(fd)
