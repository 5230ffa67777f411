"""The host as the injector sees it: running commands by argv and reading ``/proc``.

Nothing here ever goes through a shell: every command is an argv list, so a value a
caller gave is one argument, never shell syntax.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

log = logging.getLogger("chaoshub.injector.system")

#: the environment variable that marks every process the injector starts for a fault
MARKER_ENV = "CHAOSHUB_EXECUTION_ID"


class CommandFailed(Exception):
    """A host command exited non-zero; ``stderr`` holds its own words."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{argv[0]} exited {returncode}: {self.stderr or '(no output)'}")


def run(argv: Sequence[str], *, timeout: float = 15.0, check: bool = True) -> str:
    """Run ``argv`` (never a shell) and return its stdout."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise CommandFailed(argv, 127, f"{argv[0]}: not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(argv, -1, f"timed out after {timeout:g}s") from exc
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stderr or proc.stdout)
    return proc.stdout


def meminfo() -> dict[str, int]:
    """``/proc/meminfo`` in bytes."""
    out = {}
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            out[key] = int(rest.split()[0]) * 1024
    return out


def netns_prefix(netns: str | None) -> list[str]:
    """The argv prefix that runs a command inside a named network namespace."""
    return ["ip", "netns", "exec", netns] if netns else []


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    session: int
    name: str  # the kernel's short name (``comm``)
    state: str  # one letter: R, S, D, T, Z...
    starttime: int  # clock ticks after boot; with the pid, names one process for good
    cmdline: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(self.cmdline)


def process(pid: int) -> ProcessInfo | None:
    """What ``/proc`` says about ``pid`` now, or ``None`` when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the name may hold spaces and parentheses: it ends at the last ")"
    head, _, rest = stat.rpartition(")")
    name = head.partition("(")[2]
    fields = rest.split()
    cmdline = tuple(p.decode(errors="replace") for p in raw.split(b"\0") if p)
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        session=int(fields[3]),
        name=name,
        state=fields[0],
        starttime=int(fields[19]),
        cmdline=cmdline,
    )


def processes() -> Iterator[ProcessInfo]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = process(int(entry))
            if info is not None:
                yield info


def same_process(pid: int, starttime: int | None) -> ProcessInfo | None:
    """The process ``pid`` if it is still the one that started at ``starttime``."""
    info = process(pid)
    if info is None or info.state in ("Z", "X"):
        return None
    if starttime is not None and info.starttime != starttime:
        return None
    return info


def marked_pids(execution_id: str) -> list[int]:
    """Processes the injector started for ``execution_id`` (found by their environment)."""
    needle = f"{MARKER_ENV}={execution_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def session_members(leader: int) -> list[int]:
    """Processes in the session ``leader`` started (they keep it after the leader exits)."""
    return [p.pid for p in processes() if p.session == leader and p.state not in ("Z", "X")]


def terminate(pids: Sequence[int], *, grace: float = 3.0) -> None:
    """SIGTERM the processes, then SIGKILL whatever is still there after ``grace``."""
    alive = [p for p in pids if _signal(p, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if same_process(p, None) is not None]
    for pid in alive:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True
