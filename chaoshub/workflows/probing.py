"""A probe's progress inside a workflow run, one stored sample at a time.

The rules are :mod:`chaoshub.probes.tracker`'s (consecutive thresholds, a window with
``forSeconds``, "undecided at the deadline" is a failure), but the counts live on the step's
row and are committed with each sample, so a worker that takes a run over carries on from
the last stored sample instead of starting the check again.

Checks keep to a cadence of ``intervalSeconds`` from the first one (so ``forSeconds: 8`` at
``intervalSeconds: 1`` checks at 0, 1, ... 8 s), never closer than half an interval when
they run late. Samples are kept
per probe, the newest :data:`KEEP_SAMPLES`; the counts (and so the score) include every one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chaoshub.probes import ProbeDefinition, Sample
from chaoshub.probes.tracker import tally
from chaoshub.store.models import ProbeSample, WorkflowStep

KEEP_SAMPLES = 500
#: trimming is done every so many samples, not on each insert
TRIM_EVERY = 50


def start(step: WorkflowStep, probe: ProbeDefinition, at: datetime, *, window: bool = True) -> None:
    """Begin checking: the first check after the initial delay; the window in which the
    outcome must be decided (none for a stop condition: it runs while faults are held)."""
    t = probe.timing
    first = at + timedelta(seconds=t.initialDelaySeconds)
    step.started_at = step.started_at or at
    step.next_check_at = first
    if not window:
        step.window_end = None
    elif t.forSeconds is not None:
        step.window_end = first + timedelta(seconds=t.forSeconds)
    else:
        per_check = t.intervalSeconds + probe.probe.timeout
        need = per_check * max(t.successThreshold, t.failureThreshold) + 1
        step.window_end = first + timedelta(seconds=need)


def record(
    session: Session, step: WorkflowStep, probe: ProbeDefinition, sample: Sample, at: datetime
) -> tuple[str, str] | None:
    """Store ``sample`` taken at ``at``; return ``(outcome, reason)`` once the probe is decided.

    ``outcome`` is ``passed`` or ``failed``; None means keep checking.
    """
    t = probe.timing
    session.add(
        ProbeSample(
            step_pk=step.id,
            workflow_run_id=step.workflow_run_id,
            at=at,
            ok=sample.ok,
            value=_plain(sample.value),
            error=sample.error,
            latency_ms=sample.latency_ms,
        )
    )
    tally(step, sample.ok)
    if step.checks % TRIM_EVERY == 0 and step.checks > KEEP_SAMPLES:
        trim(session, step.id)
    # the cadence keeps to the schedule (a late check does not push the next ones back), but
    # never asks for checks to catch up in a burst
    interval = timedelta(seconds=t.intervalSeconds)
    scheduled = step.next_check_at or at
    step.next_check_at = max(scheduled + interval, at + interval / 2)
    if step.consecutive_failed >= t.failureThreshold:
        seen = f" (value {sample.value!r})" if sample.value is not None else ""
        return "failed", (
            f"{step.consecutive_failed} consecutive failed checks: {sample.error}{seen}"
        )
    if (
        t.forSeconds is None
        and step.window_end is not None
        and step.consecutive_ok >= t.successThreshold
    ):
        return "passed", f"{step.consecutive_ok} consecutive checks held"
    if step.window_end is not None and step.next_check_at > step.window_end:
        return timed_out(step, probe)
    return None


def timed_out(step: WorkflowStep, probe: ProbeDefinition) -> tuple[str, str]:
    """The outcome of a probe whose window closed: a window passes unless it breached;
    a check still undecided at its deadline fails, saying so."""
    t = probe.timing
    if t.forSeconds is not None:
        return "passed", f"held for {t.forSeconds:g} s ({step.passed}/{step.checks} checks passed)"
    return "failed", (
        f"undecided: {step.consecutive_ok} of {t.successThreshold} consecutive passes needed "
        f"after {step.checks} checks"
    )


def trim(session: Session, step_pk: int) -> None:
    cutoff = session.scalar(
        select(ProbeSample.id)
        .where(ProbeSample.step_pk == step_pk)
        .order_by(ProbeSample.id.desc())
        .offset(KEEP_SAMPLES - 1)
        .limit(1)
    )
    if cutoff is not None:
        session.execute(
            delete(ProbeSample).where(ProbeSample.step_pk == step_pk, ProbeSample.id < cutoff)
        )


def score(steps: list[WorkflowStep]) -> float | None:
    """The share of all probe checks of a run that held, or None before any."""
    checks = sum(s.checks for s in steps)
    return sum(s.passed for s in steps) / checks if checks else None


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)
