"""When a probe's outcome is decided, the same for every kind.

Consecutive thresholds as Chaos Mesh's StatusCheck has them, without its surprises:

- a check *held* once ``successThreshold`` consecutive samples passed;
- it *breached* once ``failureThreshold`` consecutive samples failed (a pass in between
  resets the count, so one slow answer in a healthy stream is not a breach);
- with ``forSeconds`` (a probe step, a stop condition's window) it samples for that long and
  passes unless it breached — it does not stop at the first pass;
- without it (a steady-state check) it stops as soon as it held or breached, and a check
  still undecided at its deadline fails, saying so (never "passed because nothing failed").

Every sample is kept (the newest ``keep`` of them) with the counts a resilience score needs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from chaoshub.probes.base import Probe, Sample, Timing

#: samples kept per probe (older ones are dropped; the counts still include them)
KEEP_SAMPLES = 500


class Outcome(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"


class Counts(Protocol):
    """What a probe's outcome is decided from (kept in memory here, on a row in a workflow)."""

    checks: int
    passed: int
    consecutive_ok: int
    consecutive_failed: int


def tally(counts: Counts, ok: bool) -> None:
    """Count one check: a pass resets the failures in a row, a failure the passes."""
    counts.checks += 1
    if ok:
        counts.passed += 1
        counts.consecutive_ok += 1
        counts.consecutive_failed = 0
    else:
        counts.consecutive_failed += 1
        counts.consecutive_ok = 0


@dataclass
class ProbeTracker:
    timing: Timing
    keep: int = KEEP_SAMPLES
    samples: deque[Sample] = field(init=False)
    checks: int = 0
    passed: int = 0
    consecutive_ok: int = 0
    consecutive_failed: int = 0

    def __post_init__(self) -> None:
        self.samples = deque(maxlen=self.keep)

    def record(self, sample: Sample) -> None:
        self.samples.append(sample)
        tally(self, sample.ok)

    @property
    def held(self) -> bool:
        return self.consecutive_ok >= self.timing.successThreshold

    @property
    def breached(self) -> bool:
        return self.consecutive_failed >= self.timing.failureThreshold

    @property
    def score(self) -> float | None:
        """The share of checks that held, or None before the first."""
        return self.passed / self.checks if self.checks else None

    def last_error(self) -> str | None:
        for sample in reversed(self.samples):
            if not sample.ok:
                return sample.error
        return None


@dataclass
class CheckResult:
    outcome: Outcome
    reason: str
    tracker: ProbeTracker


def run_check(
    probe: Probe,
    timing: Timing,
    *,
    stop: Callable[[], bool] = lambda: False,
    on_sample: Callable[[Sample], None] = lambda _s: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Sample ``probe`` until its outcome is decided (see the module docstring).

    ``stop`` is looked at between samples (and during waits, every 0.1 s): when it says so
    the check ends ``aborted``. ``on_sample`` sees every sample as it is taken (to store it).
    """
    tracker = ProbeTracker(timing)
    started = clock()
    if _wait(timing.initialDelaySeconds, stop, clock, sleep):
        return CheckResult(Outcome.ABORTED, "stopped before the first check", tracker)
    if timing.forSeconds is not None:
        deadline = clock() + timing.forSeconds
    else:
        # enough for the longer threshold to be reached, each check taking its whole timeout
        per_check = timing.intervalSeconds + probe.timeout
        deadline = clock() + per_check * max(timing.successThreshold, timing.failureThreshold) + 1
    while True:
        sample = probe.check()
        tracker.record(sample)
        on_sample(sample)
        if tracker.breached:
            return CheckResult(
                Outcome.FAILED,
                f"{tracker.consecutive_failed} consecutive failed checks: {sample.error}",
                tracker,
            )
        if timing.forSeconds is None and tracker.held:
            return CheckResult(
                Outcome.PASSED, f"{tracker.consecutive_ok} consecutive checks held", tracker
            )
        if clock() + timing.intervalSeconds > deadline:
            break
        if _wait(timing.intervalSeconds, stop, clock, sleep):
            return CheckResult(Outcome.ABORTED, "stopped", tracker)
    elapsed = clock() - started
    if timing.forSeconds is not None:
        return CheckResult(
            Outcome.PASSED,
            f"held for {elapsed:.1f} s ({tracker.passed}/{tracker.checks} checks passed)",
            tracker,
        )
    return CheckResult(
        Outcome.FAILED,
        f"undecided after {elapsed:.1f} s: {tracker.consecutive_ok} of {timing.successThreshold} "
        f"consecutive passes needed (last error: {tracker.last_error()})",
        tracker,
    )


def _wait(
    seconds: float,
    stop: Callable[[], bool],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> bool:
    """Wait ``seconds``; True when ``stop`` said so meanwhile."""
    end = clock() + seconds
    while True:
        if stop():
            return True
        left = end - clock()
        if left <= 0:
            return False
        sleep(min(0.1, left))
