"""What ``chaoshub run --wait`` prints while it follows, and the exit status it ends with.

Pure functions of the states the hub sends (``WorkflowRun`` / ``Run`` as GraphQL answers
them, camelCase dicts), so what a pipeline log shows is tested without a hub:

- :func:`workflow_changes` compares two successive states and gives one line per step that
  moved (time, step id, kind, state, reason) and one when the workflow's phase changed; a
  state repeated (a subscription and a poll may both send it) prints nothing;
- :func:`workflow_summary` is the verdict, its reasons, the score and each probe's score;
- :func:`workflow_exit` / :func:`run_exit`: 0 passed, 1 ended without a pass.

A step is known by its role and id together: a steady-state probe is checked before the
faults and again after them under one id, and each check is a line of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: the phases after which nothing changes (DESIGN.md section 4)
TERMINAL = frozenset({"completed", "aborted", "failed"})
#: step states after which a step does not change
STEP_ENDED = frozenset({"passed", "failed", "skipped", "aborted"})


def ended(state: dict[str, Any]) -> bool:
    """Whether a run or workflow run is over."""
    return state.get("phase") in TERMINAL


def parse_time(value: Any) -> datetime | None:
    """A GraphQL DateTime (ISO 8601), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def clock(moment: datetime) -> str:
    """``HH:MM:SS`` in the local time zone, as a terminal or CI log is read."""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M:%S")


def step_label(step: dict[str, Any]) -> str:
    """A step's name in a line: its id, and its role when it is not an ordinary step."""
    role = step.get("role") or "step"
    return step["stepId"] if role == "step" else f"{role} {step['stepId']}"


def _key(step: dict[str, Any]) -> tuple[str, str]:
    return (step.get("role") or "step", step["stepId"])


def _step_time(step: dict[str, Any], now: datetime) -> datetime:
    field = "endedAt" if step.get("state") in STEP_ENDED else "startedAt"
    return parse_time(step.get(field)) or now


def workflow_changes(
    before: dict[str, Any] | None, after: dict[str, Any], now: datetime
) -> list[str]:
    """The lines that tell how ``after`` differs from ``before`` (None: nothing seen yet).

    A step seen for the first time still ``waiting`` is not a change: it has not moved."""
    lines: list[str] = []
    if before is None or before.get("phase") != after.get("phase"):
        lines.append(f"{clock(now)}  workflow run {after['id']} is {after['phase']}")
    seen = {_key(s): s for s in (before or {}).get("steps") or []}
    for step in after.get("steps") or []:
        prev = seen.get(_key(step))
        if prev is None and step.get("state") == "waiting" and not step.get("reason"):
            continue
        if prev is not None and (prev.get("state"), prev.get("reason")) == (
            step.get("state"),
            step.get("reason"),
        ):
            continue
        reason = f"  {step['reason']}" if step.get("reason") else ""
        lines.append(
            f"{clock(_step_time(step, now))}  {step_label(step):<32} {step.get('kind', ''):<8} "
            f"{step.get('state', ''):<8}{reason}".rstrip()
        )
    return lines


def score(value: Any) -> str:
    """A score as printed: two decimals, or ``-`` when nothing was checked."""
    return "-" if value is None else f"{float(value):.2f}"


def workflow_summary(run: dict[str, Any]) -> list[str]:
    """The end of a workflow run: verdict and score, then why, then each probe's checks."""
    lines = [
        f"workflow run {run['id']} {run.get('phase')}: verdict {run.get('verdict')}, "
        f"score {score(run.get('score'))}"
    ]
    lines += [f"  reason: {reason}" for reason in run.get("reasons") or []]
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    for step in run.get("steps") or []:
        probe = step.get("probe")
        if not probe:
            continue
        if not probe.get("checks"):
            lines.append(f"  probe {step_label(step)}: not checked")
            continue
        lines.append(
            f"  probe {step_label(step)}: {probe['passed']}/{probe['checks']} "
            f"checks held, score {score(probe.get('score'))}"
        )
    return lines


def workflow_exit(run: dict[str, Any]) -> int:
    """0 when the workflow completed with the verdict ``pass``; 1 otherwise."""
    return 0 if run.get("phase") == "completed" and run.get("verdict") == "pass" else 1


def run_line(run: dict[str, Any]) -> str:
    """A single-fault run's state in one line (printed each time it changes)."""
    return (
        f"run {run['id']}: {run['phase']} "
        f"(desired {run.get('desiredState')}, verdict {run.get('verdict')})"
    )


def run_summary(run: dict[str, Any]) -> list[str]:
    """The end of a single-fault run: each target, then the run's error if any."""
    lines = [
        f"  {t['label']}: {t['phase']}{' - ' + t['error'] if t.get('error') else ''}"
        for t in run.get("targets") or []
    ]
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    return lines


def run_exit(run: dict[str, Any]) -> int:
    """0 when the run completed with a passing or no verdict (a fault alone has no
    question to answer); 1 otherwise."""
    return 0 if run.get("phase") == "completed" and run.get("verdict") in ("pass", "none") else 1
