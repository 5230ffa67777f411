"""``disk-fill``: one file, allocated in a directory, removed on recovery.

The file's name comes from the execution id, so recovery (and the restart sweep) removes
exactly that file and can do so from the execution id and the directory alone.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any

from chaoshub.native_injector.faults.base import Context, Fault, writable_directory
from chaoshub.native_injector.problems import InvalidRequest, Rejected
from chaoshub.native_injector.state import Record

_CHUNK = 1 << 20


def fill_path(directory: str, execution_id: str) -> Path:
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:16]
    return Path(directory) / f".chaoshub-fill-{digest}"


def _used_percent(directory: str) -> float:
    st = os.statvfs(directory)
    total = st.f_blocks * st.f_frsize
    return 100.0 * (total - st.f_bfree * st.f_frsize) / total if total else 0.0


class DiskFill(Fault):
    name = "disk-fill"

    def check_params(self, params: dict[str, Any], ctx: Context) -> None:
        writable_directory(params.get("path"), "path")

    def apply(self, record: Record, ctx: Context) -> None:
        params = record.params
        directory = str(writable_directory(params.get("path"), "path"))
        if (params.get("bytes") is None) == (params.get("percent") is None):
            raise InvalidRequest("give exactly one of bytes and percent", field=["params", "bytes"])
        st = os.statvfs(directory)
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        wanted = params.get("bytes") or int(total * float(params["percent"]) / 100)
        size = min(int(wanted), free)
        path = fill_path(directory, record.execution_id)
        record.applied = {"path": str(path), "bytes": size}
        ctx.save(record)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if size:
                self._allocate(fd, size)
        finally:
            os.close(fd)
        record.metrics = {
            "bytes": float(size),
            "requested_bytes": float(wanted),
            "filesystem_used_percent": round(_used_percent(directory), 2),
        }
        record.native = f"{path} holds {size} bytes"

    @staticmethod
    def _allocate(fd: int, size: int) -> None:
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise Rejected(f"could not allocate {size} bytes: {exc.strerror}") from exc
        zeros = bytes(_CHUNK)  # a filesystem without fallocate gets real writes
        written = 0
        while written < size:
            written += os.write(fd, zeros[: min(_CHUNK, size - written)])
        os.fsync(fd)

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        path = record.applied.get("path")
        if path is None or not os.path.exists(path):
            return False, "the fill file is gone"
        return True, f"{path} holds {os.path.getsize(path)} bytes"

    def revert(self, record: Record, ctx: Context) -> None:
        path = record.applied.get("path") or fill_path(
            str(record.params["path"]), record.execution_id
        )
        try:
            Path(path).unlink(missing_ok=True)
        except NotADirectoryError:
            pass  # the path was never a directory, so no file was made in it
