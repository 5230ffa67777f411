"""The one lifecycle every tool's states map into (DESIGN.md §4).

This module owns the phase table and :func:`move`, the only function that changes a
run's phase. It knows nothing of databases or adapters: it works on any object with a
``phase`` attribute and, for the terminal rule, a ``targets`` sequence whose items say
whether they may still carry the fault.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from chaoshub.errors import IllegalTransition


class Phase(enum.StrEnum):
    """Where a run is. Exactly one at a time."""

    PENDING = "pending"
    INJECTING = "injecting"
    RUNNING = "running"
    PAUSED = "paused"
    RECOVERING = "recovering"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Phase.COMPLETED, Phase.ABORTED, Phase.FAILED})
ACTIVE = frozenset(Phase) - TERMINAL

#: The legal moves. Nothing leaves a terminal phase.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.INJECTING, Phase.ABORTED}),
    Phase.INJECTING: frozenset({Phase.RUNNING, Phase.RECOVERING}),
    Phase.RUNNING: frozenset({Phase.PAUSED, Phase.RECOVERING}),
    Phase.PAUSED: frozenset({Phase.INJECTING, Phase.RECOVERING}),
    Phase.RECOVERING: frozenset({Phase.COMPLETED, Phase.ABORTED, Phase.FAILED}),
    Phase.COMPLETED: frozenset(),
    Phase.ABORTED: frozenset(),
    Phase.FAILED: frozenset(),
}


class DesiredState(enum.StrEnum):
    """What people and safety rules want; workers move the observed phase toward it."""

    RUN = "run"
    PAUSE = "pause"
    STOP = "stop"


class TargetPhase(enum.StrEnum):
    """A per-target record's phase: ``selected → injected → recovered``, or ``failed``."""

    SELECTED = "selected"
    INJECTED = "injected"
    RECOVERED = "recovered"
    FAILED = "failed"


class Verdict(enum.StrEnum):
    """The hypothesis' outcome, separate from the phase."""

    NONE = "none"
    PASS = "pass"
    FAIL = "fail"


class TimeControl(enum.StrEnum):
    """Who decides when a fault ends (Steadybit's term)."""

    INSTANT = "instant"  # inject, done, nothing to recover (a kill)
    TIMED = "timed"  # the hub holds the fault for the duration, then recovers
    EXTERNAL = "external"  # the tool runs to its own end; the hub polls and may abort


class Ending(enum.StrEnum):
    """Why a run is recovering: decides the terminal phase it reaches once clean."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def phase(self) -> Phase:
        return Phase(self.value)


class TargetLike(Protocol):
    label: str
    may_carry_fault: bool


class RunLike(Protocol):
    phase: str

    @property
    def targets(self) -> Iterable[TargetLike]: ...


@dataclass(frozen=True)
class Transition:
    """One move, recorded as an event ``{from, to, reason, at}``."""

    from_phase: Phase
    to_phase: Phase
    reason: str
    at: datetime


def is_legal(from_phase: Phase | str, to_phase: Phase | str) -> bool:
    return Phase(to_phase) in TRANSITIONS[Phase(from_phase)]


def targets_carrying_fault(run: RunLike) -> list[str]:
    """Labels of the targets that may still carry the fault."""
    return [t.label for t in run.targets if t.may_carry_fault]


def move(run: RunLike, to: Phase | str, reason: str, *, now: datetime | None = None) -> Transition:
    """Change ``run.phase`` to ``to``, or raise :class:`IllegalTransition`.

    A terminal phase is refused while any target may still carry the fault: such a run
    stays ``recovering`` until its recovery is confirmed or a person force-releases it
    (which first marks the targets released, see ``chaoshub.services.runs``).
    """
    current = Phase(run.phase)
    target = Phase(to)
    if not is_legal(current, target):
        raise IllegalTransition(
            f"a run cannot move from {current.value} to {target.value}", field=["phase"]
        )
    if target.terminal:
        carrying = targets_carrying_fault(run)
        if carrying:
            raise IllegalTransition(
                f"cannot become {target.value}: targets may still carry the fault: "
                + ", ".join(carrying),
                field=["phase"],
            )
    run.phase = target.value
    return Transition(current, target, reason, now or datetime.now(UTC))


def next_phase_for_desired(phase: Phase, desired: DesiredState) -> Phase | None:
    """The move a worker makes when the desired state differs from the phase, if any.

    ``None`` means the phase already agrees with the desired state (or only time,
    the tool or recovery can move it on).
    """
    if phase.terminal:
        return None
    if desired is DesiredState.STOP:
        if phase is Phase.RECOVERING:
            return None
        return Phase.ABORTED if phase is Phase.PENDING else Phase.RECOVERING
    if desired is DesiredState.PAUSE:
        return Phase.PAUSED if phase is Phase.RUNNING else None
    # desired RUN
    if phase is Phase.PENDING or phase is Phase.PAUSED:
        return Phase.INJECTING
    return None
