"""What every fault family implements, and the selectors that find its targets.

A fault is a small object with six operations: ``discover`` (selector → targets),
``check_params`` (what only the host can tell about the params), ``check_target`` (at
inject: is this target still there and allowed), ``apply``, ``present`` (is the fault
still in effect, looked at from the host) and ``revert`` (idempotent; must also undo a
half-done ``apply`` found after a crash).

``apply`` records what it did in ``record.applied`` and calls ``ctx.save(record)``
*before* each side effect whose undo needs that knowledge, so a crash never loses it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chaoshub.native_injector.problems import InvalidRequest, Missing
from chaoshub.native_injector.state import Record


class Selector(BaseModel):
    """Base of every fault's selector: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(default=None, ge=1, description="at most this many targets")


class HostSelector(Selector):
    """Host-wide faults have one target: this host."""


@dataclass
class Context:
    """What the injector lends a fault."""

    state_dir: Path
    scripts_dir: Path | None
    save: Callable[[Record], None]
    #: pids a fault must never touch unless told (PID 1, the injector, its parent)
    protected_pids: frozenset[int] = field(default_factory=frozenset)


def writable_directory(value: Any, field: str) -> Path:
    """``params[field]`` as the real path of an existing directory this process may write
    in; anything else (a file, a missing path, a relative one) is refused."""
    if not isinstance(value, str) or not os.path.isabs(value) or ".." in Path(value).parts:
        raise InvalidRequest(
            f"{value!r} is not an absolute path without '..'", field=["params", field]
        )
    real = Path(os.path.realpath(value))
    if not real.is_dir():
        what = "does not exist" if not real.exists() else "is not a directory"
        raise InvalidRequest(f"{value} {what} on this host", field=["params", field])
    if not os.access(real, os.W_OK | os.X_OK):
        raise InvalidRequest(f"{value} is not writable by the injector", field=["params", field])
    return real


def host_target() -> dict[str, Any]:
    name = socket.gethostname()
    return {"id": "host", "label": name, "attributes": {"kind": "host", "hostname": name}}


class Fault:
    """Base class of the fault families; subclasses set the class attributes."""

    #: the fault's name in the catalog (``chaoshub/catalog/native/<name>.yaml``)
    name: ClassVar[str] = ""
    #: capability probes that must pass for the fault to be available here
    requires: ClassVar[tuple[str, ...]] = ()
    #: instant faults are done once applied; there is nothing to revert
    instant: ClassVar[bool] = False
    #: whether ``present`` can see the effect from the host (a script's cannot)
    observable: ClassVar[bool] = True
    #: the pydantic model of this fault's selector
    selector_model: ClassVar[type[Selector]] = HostSelector

    def discover(self, selector: Selector, ctx: Context) -> list[dict[str, Any]]:
        return [host_target()]

    def check_params(self, params: dict[str, Any], ctx: Context) -> None:
        """What only this host can tell about ``params`` (does the directory exist, is the
        script inside the scripts dir), checked before anything is recorded or applied:
        a request ``apply`` would refuse must not leave a record whose recovery fails too.
        Raises ``InvalidRequest`` naming the field."""

    def check_target(self, target: dict[str, Any], ctx: Context) -> None:
        if target.get("id") != "host":
            raise Missing(
                f"{self.name} applies to the host: target id must be 'host'", field=["target", "id"]
            )

    def apply(self, record: Record, ctx: Context) -> None:
        raise NotImplementedError

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        """Is the fault in effect now, and the host's own words for it."""
        raise NotImplementedError

    def revert(self, record: Record, ctx: Context) -> None:
        raise NotImplementedError
