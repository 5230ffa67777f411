"""The `chaoshub` command in its own process, as a pipeline runs it: an environment holding no
``CHAOSHUB_*`` variable of the test's own, one call to completion, or a call followed line by
line until a line the test waits for and then interrupted as a person presses Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Access = tuple[str, str]  # the hub's URL and a token


def clean_env(access: Access | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without its ``CHAOSHUB_*`` variables, plus ``access`` (as
    ``CHAOSHUB_URL`` / ``CHAOSHUB_TOKEN``) and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSHUB_")}
    if access is not None:
        env.update(CHAOSHUB_URL=access[0], CHAOSHUB_TOKEN=access[1])
    return {**env, **extra}


def chaoshub(
    access: Access | None, *args: str, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """``chaoshub ARGS`` run to completion against ``access`` (none: no hub named)."""
    return subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", *args],
        env=clean_env(access, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Followed:
    """A command being followed: the lines it printed up to the awaited one, and, once
    :meth:`interrupt` returned, its exit status and the rest of its output."""

    proc: subprocess.Popen[str]
    seen: list[str] = field(default_factory=list)
    out: str = ""
    err: str = ""

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, then wait for the command to end; its exit status."""
        self.proc.send_signal(signal.SIGINT)
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode


@contextmanager
def following(access: Access, *args: str, until: Callable[[str], bool]) -> Iterator[Followed]:
    """``chaoshub ARGS`` started with unbuffered output and read line by line until ``until``
    holds for a line (or the output ends); the command is killed on leaving if still alive."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoshub.cli", *args],
        env=clean_env(access, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    followed = Followed(proc)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            followed.seen.append(line)
            if until(line):
                break
        yield followed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
