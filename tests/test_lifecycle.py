"""The lifecycle table, exhaustively: every legal move allowed, every other refused."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from chaoshub import lifecycle
from chaoshub.errors import IllegalTransition
from chaoshub.lifecycle import DesiredState, Phase

LEGAL = {
    (Phase.PENDING, Phase.INJECTING),
    (Phase.PENDING, Phase.ABORTED),
    (Phase.INJECTING, Phase.RUNNING),
    (Phase.INJECTING, Phase.RECOVERING),
    (Phase.RUNNING, Phase.PAUSED),
    (Phase.RUNNING, Phase.RECOVERING),
    (Phase.PAUSED, Phase.INJECTING),
    (Phase.PAUSED, Phase.RECOVERING),
    (Phase.RECOVERING, Phase.COMPLETED),
    (Phase.RECOVERING, Phase.ABORTED),
    (Phase.RECOVERING, Phase.FAILED),
}


@dataclass
class FakeTarget:
    label: str
    may_carry_fault: bool = False


@dataclass
class FakeRun:
    phase: str
    targets: list[FakeTarget] = field(default_factory=list)


ALL_PAIRS = list(itertools.product(Phase, Phase))


@pytest.mark.parametrize(("src", "dst"), sorted(LEGAL))
def test_every_legal_move_is_allowed_and_recorded(src: Phase, dst: Phase) -> None:
    run = FakeRun(src.value, [FakeTarget("a")])
    transition = lifecycle.move(run, dst, "because")
    assert run.phase == dst.value
    assert (transition.from_phase, transition.to_phase, transition.reason) == (src, dst, "because")
    assert transition.at.tzinfo is not None


@pytest.mark.parametrize(("src", "dst"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_every_other_move_is_refused_and_changes_nothing(src: Phase, dst: Phase) -> None:
    run = FakeRun(src.value)
    with pytest.raises(IllegalTransition):
        lifecycle.move(run, dst, "because")
    assert run.phase == src.value


def test_the_table_is_exactly_the_designed_one() -> None:
    table = {(a, b) for a, targets in lifecycle.TRANSITIONS.items() for b in targets}
    assert table == LEGAL


@pytest.mark.parametrize("terminal", sorted(lifecycle.TERMINAL))
def test_nothing_leaves_a_terminal_phase(terminal: Phase) -> None:
    assert not lifecycle.TRANSITIONS[terminal]
    assert terminal.terminal


@pytest.mark.parametrize("terminal", [Phase.COMPLETED, Phase.ABORTED, Phase.FAILED])
def test_a_run_never_becomes_terminal_while_a_target_may_carry_the_fault(terminal: Phase) -> None:
    run = FakeRun("recovering", [FakeTarget("clean"), FakeTarget("dirty", may_carry_fault=True)])
    with pytest.raises(IllegalTransition, match="dirty"):
        lifecycle.move(run, terminal, "done")
    assert run.phase == "recovering"
    run.targets[1].may_carry_fault = False
    lifecycle.move(run, terminal, "done")
    assert run.phase == terminal.value


def test_pending_run_aborts_without_targets_carrying() -> None:
    run = FakeRun("pending", [FakeTarget("a")])
    lifecycle.move(run, Phase.ABORTED, "stopped before injection")
    assert run.phase == "aborted"


@pytest.mark.parametrize(
    ("phase", "desired", "expected"),
    [
        (Phase.PENDING, DesiredState.RUN, Phase.INJECTING),
        (Phase.PENDING, DesiredState.STOP, Phase.ABORTED),
        (Phase.INJECTING, DesiredState.STOP, Phase.RECOVERING),
        (Phase.RUNNING, DesiredState.STOP, Phase.RECOVERING),
        (Phase.RUNNING, DesiredState.PAUSE, Phase.PAUSED),
        (Phase.PAUSED, DesiredState.RUN, Phase.INJECTING),
        (Phase.PAUSED, DesiredState.STOP, Phase.RECOVERING),
        (Phase.RECOVERING, DesiredState.STOP, None),
        (Phase.RUNNING, DesiredState.RUN, None),
        (Phase.COMPLETED, DesiredState.STOP, None),
    ],
)
def test_desired_state_names_the_next_legal_move(
    phase: Phase, desired: DesiredState, expected: Phase | None
) -> None:
    move = lifecycle.next_phase_for_desired(phase, desired)
    assert move == expected
    if move is not None:
        assert lifecycle.is_legal(phase, move)
