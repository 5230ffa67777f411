"""Where a hub process spends its time during a benchmark: py-spy samples it from outside
(no change to the process, no restart), and the samples are summed per function.

``py-spy`` is a separate tool (``pip install py-spy``; it needs to be allowed to read the
process's memory: root, or ``ptrace_scope`` 0). Without it the benchmarks say so and go on.

Three views of the same samples: *self* (the function was the one running: where CPU
goes), *total* (the function was anywhere on the stack: what a call costs with everything
under it) and *hub* (total, for the hub's own functions only: which of its steps cost).
Idle threads (waiting on a socket, a lock, a queue) are not sampled, so the
shares are of the time the process was doing something.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any


def available() -> bool:
    return shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


def _py_spy() -> str:
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def start(pid: int, seconds: float) -> tuple[subprocess.Popen[bytes], Path] | None:
    """Begin sampling ``pid`` for ``seconds`` in the background (None without py-spy)."""
    if not available():
        return None
    out = Path(tempfile.mkstemp(prefix="chaoshub-profile-", suffix=".txt")[1])
    proc = subprocess.Popen(
        [
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "50",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, out


def finish(
    started: tuple[subprocess.Popen[bytes], Path] | None, top: int = 15, *, now: bool = False
) -> dict[str, Any]:
    """Wait for the sampling to end (``now``: end it at once, as Ctrl-C does, keeping what
    was sampled); the top functions by self and by total share."""
    if started is None:
        return {"error": "py-spy is not installed"}
    proc, out = started
    try:
        if now and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)
        return summarize(out.read_text(errors="replace"), top)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        out.unlink(missing_ok=True)


def finish_all(
    started: list[tuple[subprocess.Popen[bytes], Path] | None], top: int = 15, *, now: bool = False
) -> dict[str, Any]:
    """:func:`finish` for several processes of one kind (the workers), their samples summed."""
    if not started or any(s is None for s in started):
        return {"error": "py-spy is not installed"}
    text = []
    for proc, out in [s for s in started if s is not None]:
        try:
            if now and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.wait(timeout=600)
            text.append(out.read_text(errors="replace"))
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            out.unlink(missing_ok=True)
    return summarize("\n".join(text), top)


def _frame(text: str) -> str:
    """``fn (path/to/module.py:12)`` -> ``fn (module.py)``: lines apart are one function."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def _ours(frame: str) -> bool:
    """A frame of the hub's own code (py-spy names files relative to ``sys.path``)."""
    where = frame.partition(" (")[2]
    ours = where.startswith("chaoshub/") or "/chaoshub/" in where
    # the command line's frames are under everything: they say nothing
    return ours and "site-packages" not in where and "chaoshub/cli.py" not in where


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Sum py-spy's collapsed stacks (``frame;frame;frame count`` per line)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    hub: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        raw = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not raw:
            continue
        frames = [_frame(f) for f in raw]
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            anywhere[f] += n
        for f in {_frame(f) for f in raw if _ours(f)}:
            hub[f] += n

    def share(c: Counter[str]) -> list[list[Any]]:
        return [[f, round(100 * n / total, 1)] for f, n in c.most_common(top)]

    return {"samples": total, "self": share(own), "total": share(anywhere), "hub": share(hub)}


def table(profile: dict[str, Any], what: str) -> str:
    if "error" in profile:
        return f"{what}: no profile ({profile['error']})"
    lines = [f"{what}: {profile['samples']} samples (busy threads only)"]
    lines.append("  self %  function")
    lines += [f"  {pct:6.1f}  {f}" for f, pct in profile["self"][:10]]
    lines.append("  total % function")
    lines += [f"  {pct:6.1f}  {f}" for f, pct in profile["total"][:10]]
    if profile.get("hub"):
        lines.append("  total % the hub's own functions (what a call costs with all under it)")
        lines += [f"  {pct:6.1f}  {f}" for f, pct in profile["hub"][:12]]
    return "\n".join(lines)
