"""A probe's stored progress: the window of a probe step is sampled for all of forSeconds, on
a cadence that late checks do not push back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chaoshub.probes import Sample, parse_probe
from chaoshub.store.models import WorkflowStep
from chaoshub.workflows import probing

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Rows:
    """Stands in for the session: keeps what record() adds."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def row() -> WorkflowStep:
    return WorkflowStep(
        id=1,
        workflow_run_id="r",
        step_id="p",
        checks=0,
        passed=0,
        consecutive_ok=0,
        consecutive_failed=0,
        data={},
    )


def sample_until_decided(
    document: dict[str, Any], ok: bool, lateness: float = 0.0
) -> tuple[list[float], tuple[str, str]]:
    probe = parse_probe(document)
    step, rows = row(), Rows()
    probing.start(step, probe, T0)
    taken = []
    while True:
        assert step.next_check_at is not None
        at = step.next_check_at + timedelta(seconds=lateness)
        taken.append((at - T0).total_seconds())
        decided = probing.record(rows, step, probe, Sample(at=0, ok=ok), at)  # type: ignore[arg-type]
        if decided is not None:
            assert len(rows.added) == len(taken)
            return taken, decided


def test_a_window_is_checked_from_its_start_to_its_end_even_when_checks_run_late() -> None:
    document = {"tcp": {"host": "h", "port": 1}, "intervalSeconds": 1, "forSeconds": 8}
    taken, decided = sample_until_decided(document, ok=True, lateness=0.1)
    assert [round(t, 1) for t in taken] == [0.1, 1.1, 2.1, 3.1, 4.1, 5.1, 6.1, 7.1, 8.1]
    assert decided[0] == "passed"
    on_time, _ = sample_until_decided(document, ok=True)
    assert on_time == [0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_a_window_breaches_at_its_failure_threshold() -> None:
    document = {"tcp": {"host": "h", "port": 1}, "forSeconds": 8, "failureThreshold": 3}
    taken, decided = sample_until_decided(document, ok=False)
    assert taken == [0, 1, 2]
    assert decided[0] == "failed" and "3 consecutive failed checks" in decided[1]


def test_a_check_without_window_stops_once_it_held() -> None:
    document = {"tcp": {"host": "h", "port": 1}, "successThreshold": 2}
    taken, decided = sample_until_decided(document, ok=True)
    assert taken == [0, 1]
    assert decided == ("passed", "2 consecutive checks held")
