"""Real peers of the ``command`` probe tests: a scripts directory of small shell scripts, a
script outside it that leaves a mark if anything ever runs it, a native injector process
serving that directory, and an in-process hub that knows the injector as an agent."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chaoshub.runtime import Runtime
from chaoshub.store.models import Agent
from tests.native.native_peers import Injector
from tests.support.stack import in_process_runtime

SCRIPTS = {
    "pong.sh": "echo PONG\n",
    "cache-down.sh": 'echo "cache down" >&2\nexit 3\n',
    "echo-args.sh": 'for a in "$@"; do printf "%s\\n" "$a"; done\n',
    "say.sh": 'printf "%s\\n" "$1"\n',
    # writes its own pid and its background child's to $1, then waits for ever
    "hang.sh": 'sleep 300 &\necho $! > "$1"\necho $$ >> "$1"\nwait\n',
    # leaves a background child behind and exits at once
    "leave-child.sh": 'sleep 300 &\necho $! > "$1"\nexit 0\n',
    "flood.sh": 'head -c 1048576 /dev/zero | tr "\\0" x\nprintf END\n',
    "mark.sh": 'touch "$1"\n',
}


@dataclass
class ScriptsDir:
    path: Path
    #: a file the script outside the directory creates when it runs: it must never exist
    outside_mark: Path


@contextmanager
def scripts_dir() -> Iterator[ScriptsDir]:
    """The allow-listed directory, plus what must be refused: a script outside it (also
    reached by a symlink inside it) and a script inside it that is not executable."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-command-probe-") as tmp:
        root = Path(tmp) / "scripts"
        root.mkdir()
        for name, body in SCRIPTS.items():
            (root / name).write_text("#!/bin/sh\n" + body)
            (root / name).chmod(0o755)
        (root / "not-executable.sh").write_text("#!/bin/sh\necho should not run\n")
        (root / "not-executable.sh").chmod(0o644)
        mark = Path(tmp) / "outside-ran"
        outside = Path(tmp) / "outside.sh"
        outside.write_text(f"#!/bin/sh\ntouch {mark}\n")
        outside.chmod(0o755)
        (root / "escape.sh").symlink_to(outside)
        yield ScriptsDir(root, mark)


@contextmanager
def injector(scripts: Path | None) -> Iterator[Injector]:
    """A real ``chaoshub-injector`` process serving ``scripts``."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-command-agent-") as state:
        agent = Injector(Path(state), scripts).start()
        try:
            yield agent
        finally:
            agent.stop()


@contextmanager
def hub() -> Iterator[Runtime]:
    """The hub's runtime on SQLite in a temporary directory (no API, no worker)."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-command-hub-") as data:
        yield in_process_runtime(Path(data), admin="test-admin-" + uuid.uuid4().hex)


def add_agent(runtime: Runtime, name: str, url: str, token: str, *, online: bool = True) -> None:
    """An agent as registration leaves it in the store."""
    with runtime.session() as s:
        s.add(Agent(name=name, url=url, api_token=token, online=online))


def gone(pid: int) -> bool:
    """``pid`` no longer runs (exited and reaped, or a zombie waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []
