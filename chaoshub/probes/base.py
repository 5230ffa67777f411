"""What every probe kind shares: the sample it returns, the common timing fields, and the
interface a kind implements (one module per kind, registered in :mod:`chaoshub.probes`).

A probe *checks once* (:meth:`Probe.check`) and returns a :class:`Sample`; a kind that needs
the hub (an agent) gets it from :meth:`Probe.bind`, and says what only a peer can refuse in
:meth:`Probe.check_remote`. How often it is asked and when its outcome is decided
(consecutive thresholds, a duration) is the job of :class:`chaoshub.probes.tracker.ProbeTracker`,
the same for every kind.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chaoshub.errors import InvalidInput

if TYPE_CHECKING:
    from chaoshub.runtime import Runtime

#: the longest text kept of an observed value or an error in one sample
MAX_SAMPLE_TEXT = 512


@dataclass(frozen=True)
class Sample:
    """One check: when, what was seen, whether it held the expectation, and why not."""

    at: float
    ok: bool
    value: float | str | None = None
    error: str | None = None
    latency_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clip(text: str) -> str:
    return text if len(text) <= MAX_SAMPLE_TEXT else text[: MAX_SAMPLE_TEXT - 1] + "…"


class Spec(BaseModel):
    """Base of every kind's own fields: unknown fields are refused by name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Timing(Spec):
    """The fields every probe has, whatever its kind (units in the names)."""

    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="how results and reasons name it"
    )
    intervalSeconds: float = Field(
        default=1.0, ge=0.1, le=3600, description="time between two checks"
    )
    timeoutSeconds: float | None = Field(
        default=None, gt=0, le=300, description="one check's timeout (or on the kind's block)"
    )
    initialDelaySeconds: float = Field(
        default=0.0, ge=0, le=3600, description="wait this long before the first check"
    )
    successThreshold: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="consecutive passing checks that decide held (a steady state, a check)",
    )
    failureThreshold: int = Field(
        default=1, ge=1, le=1000, description="consecutive failing checks that decide breached"
    )
    forSeconds: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="check for this long (a probe step, a stop condition's window); "
        "none: until decided",
    )


class Probe(ABC):
    """One kind of check. Subclasses set ``kind`` and ``Spec`` and implement :meth:`check`."""

    #: the key that names this kind in a document (``http:``, ``tcp:``...)
    kind: ClassVar[str]
    #: the kind's own fields, a pydantic model refusing unknown ones
    spec_model: ClassVar[type[Spec]]
    #: default per-check timeout when neither the kind's block nor the probe sets one
    default_timeout: ClassVar[float] = 5.0

    def __init__(self, spec: Spec, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    def bind(self, runtime: Runtime) -> None:  # noqa: B027 - a no-op unless a kind needs it
        """Called once by the engine before the first :meth:`check`, with the hub's runtime:
        a kind that reaches the system through the hub (a ``command`` probe's agent) looks up
        what it needs here. Parsing stays free of I/O; most kinds need nothing."""

    def check_remote(self, runtime: Runtime) -> None:  # noqa: B027 - a no-op unless a kind needs it
        """What only the hub's peers can tell about this probe, asked when a workflow is
        validated, saved or started (a ``command`` probe's script is in its agent's allow-list).
        Raises :class:`InvalidInput` whose ``field`` is relative to the probe block (e.g.
        ``["command", "argv", "0"]``); runs nothing. Most kinds have nothing to ask."""

    @abstractmethod
    def check(self) -> Sample:
        """Check once, within ``self.timeout``; never raise for what the system under
        test does (a refused connection is a failing sample, not an exception)."""

    @staticmethod
    def now() -> float:
        return time.time()


def parse_spec(model: type[Spec], data: Any, field: list[str | int]) -> Any:
    """``data`` as ``model``, or :class:`InvalidInput` naming the first wrong field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("must be an object", field=field)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _refusals(exc, field)[0] from None


def spec_refusals(model: type[Spec], data: Any, field: list[str | int]) -> list[InvalidInput]:
    """Every refusal of ``data`` as ``model`` (none when it is valid)."""
    if not isinstance(data, Mapping):
        return [InvalidInput("must be an object", field=field)]
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        return _refusals(exc, field)
    return []


def _refusals(exc: ValidationError, field: list[str | int]) -> list[InvalidInput]:
    out = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown field {error['loc'][-1]!r}"
        out.append(InvalidInput(message, field=[*field, *error["loc"]]))
    return out
