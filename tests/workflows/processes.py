"""Watching target processes from outside the hub: an idle process to aim a fault at, and a
watcher that records every state ``/proc`` shows for a process, so a test can say "it was
never stopped" rather than "it was not stopped when I looked"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def proc_state(pid: int) -> str:
    """The process's state letter from /proc (``T`` while stopped)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@contextmanager
def idle_process(name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A process that does nothing, its argv[0] ``name`` (a process selector's ``name``);
    killed on the way out, paused or not."""
    proc = subprocess.Popen(
        [name, "-c", "import time\nwhile True: time.sleep(1)"],
        executable=sys.executable,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


class StateWatch:
    """Samples a process's state every few milliseconds in a thread, keeping each letter seen."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.pid = pid
        self.every = every
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.seen.add(proc_state(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            self._stop.wait(self.every)

    @property
    def ever_stopped(self) -> bool:
        return "T" in self.seen

    def __enter__(self) -> StateWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
