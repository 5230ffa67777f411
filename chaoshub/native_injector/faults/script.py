"""``host-script``: run an operator's inject script, later its recover script.

Scripts come only from the directory given with ``--scripts-dir`` (a plain file name,
resolved and checked to stay inside it, executable); arguments are passed as argv,
never through a shell. The execution id and the phase are in the environment
(``CHAOSHUB_EXECUTION_ID``, ``CHAOSHUB_PHASE``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context, Fault
from chaoshub.native_injector.problems import InvalidRequest, Rejected
from chaoshub.native_injector.state import Record

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # fullmatch: "ok.sh\n" is not a name


def resolve(ctx: Context, name: Any, field: str | Sequence[str | int]) -> Path:
    """The script ``name`` names: a regular, executable file directly inside the scripts
    directory, also once symlinks are followed; anything else is refused, naming ``field``
    (a param's name, or a whole field path such as ``["argv", 0]``)."""
    if ctx.scripts_dir is None:
        raise Rejected("this injector was started without --scripts-dir")
    where: list[str | int] = ["params", field] if isinstance(field, str) else list(field)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest("a script is a plain file name in the scripts directory", field=where)
    root = ctx.scripts_dir.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise InvalidRequest(f"script {name!r} leads out of the scripts directory", field=where)
    if not path.is_file():
        raise InvalidRequest(f"no script {name!r} in the scripts directory", field=where)
    if not os.access(path, os.X_OK):
        raise InvalidRequest(f"script {name!r} is not executable", field=where)
    return path


def _run(path: Path, args: list[str], record: Record, phase: str, timeout: float) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        system.MARKER_ENV: record.execution_id,
        "CHAOSHUB_PHASE": phase,
    }
    try:
        proc = subprocess.run(
            [str(path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=path.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Rejected(f"{path.name} did not finish within {timeout:g}s") from None
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()[-500:]
        raise Rejected(f"{path.name} exited {proc.returncode}: {said}")
    return proc.stdout.strip()[-500:]


class HostScript(Fault):
    name = "host-script"
    requires = ("scripts-dir",)
    observable = False

    def check_params(self, params: dict[str, Any], ctx: Context) -> None:
        resolve(ctx, params.get("script"), "script")
        if params.get("recover_script"):
            resolve(ctx, params["recover_script"], "recover_script")

    def apply(self, record: Record, ctx: Context) -> None:
        params: dict[str, Any] = record.params
        self.check_params(params, ctx)
        inject = resolve(ctx, params["script"], "script")
        # saved before the script starts: a crash while it runs still runs the recover script
        record.applied = {"started": inject.name}
        ctx.save(record)
        out = _run(inject, list(params["args"]), record, "inject", float(params["timeout_seconds"]))
        record.applied = {"ran": inject.name}
        record.metrics = {"scripts_run": 1.0}
        record.native = out or f"{inject.name} exited 0"

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        # a script's effect cannot be seen from here; it holds until its recover script runs
        return True, record.native

    def revert(self, record: Record, ctx: Context) -> None:
        name = record.params.get("recover_script")
        if not name or not record.applied:
            return  # nothing to run, or the inject script never started
        path = resolve(ctx, name, "recover_script")
        _run(
            path,
            list(record.params.get("recover_args") or []),
            record,
            "recover",
            float(record.params["timeout_seconds"]),
        )
