"""One trial of a threshold search: the workflow it runs, and what its samples say.

**The workflow.** A trial at magnitude ``m`` is a generated workflow (a real workflow run,
with its promise: nothing is left injected when it ends, however it ends):

- ``steadyState``: the SLO probes as written, with no fault;
- ``stopConditions``: the search's;
- step ``fault``: the fault with ``params[vary.param] = m`` for ``trialSeconds``;
- steps ``slo-<i>``, beside it: each SLO probe sampled at its ``intervalSeconds`` for
  ``trialSeconds`` + :data:`INJECT_MARGIN_SECONDS` (so the whole time the fault is held is
  covered, whatever its injection takes); their failures never end the step early;
- step ``cool-down``, after the fault was recovered: a wait of ``coolDownSeconds``.

**The objectives.** Only the samples of a ``slo-<i>`` step taken while the fault was in
place count: from the child run's ``running_since`` until its ``recovering_since`` (or its
end). Over them:

- ``successRatio`` = samples that passed the probe's own checks / samples;
- ``latencyMsP50|P90|P95|P99`` = the nearest-rank percentile of the samples' ``latency_ms``
  (the ``ceil(q * n)``-th smallest; samples with no latency, e.g. a refused connection, count
  in the success ratio only); ``latencyMsMax``, ``latencyMsMean`` likewise;
- ``valueMean`` = the mean of the samples' numeric values (a PromQL result, a command's
  number).

A metric with no sample to compute it from breaks its objective. The trial *held* when
every objective of every SLO held, *broke* otherwise; it is *inconclusive* when the fault
was never in place or no sample fell inside the window (never counted: the driver runs the
magnitude again), and *stopped* when a stop condition breached.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.store.models import ProbeSample, Run, WorkflowRun
from chaoshub.thresholds.document import ThresholdSearch
from chaoshub.thresholds.search import BROKE, HELD
from chaoshub.workflows.document import FAULT_MARGIN_SECONDS

INJECT_MARGIN_SECONDS = 2.0
INCONCLUSIVE = "inconclusive"
STOPPED = "stopped"
#: a trial a pause of the search cut short: kept, never counted, re-run on resume
INTERRUPTED = "interrupted"


def magnitude_value(search: ThresholdSearch, m: float) -> int | float:
    return int(m) if search.integer else m


def workflow_document(search: ThresholdSearch, m: float, search_id: str) -> dict[str, Any]:
    """The workflow one trial at ``m`` runs."""
    value = magnitude_value(search, m)
    fault = {
        "faultType": search.fault.faultType,
        "backend": search.fault.backend,
        "selector": dict(search.fault.selector),
        "params": {**search.fault.params, search.param: value},
        "durationSeconds": search.trial_seconds,
    }
    window = search.trial_seconds + INJECT_MARGIN_SECONDS
    steps: list[dict[str, Any]] = [{"id": "fault", "fault": fault}]
    for i, slo in enumerate(search.slo):
        # a check's timeout must fit in the window (a probe's rule)
        span = max(window, slo.probe.probe.timeout)
        probe = {**slo.document, "forSeconds": span, "failureThreshold": 1000}
        steps.append({"id": f"slo-{i}", "probe": probe})
    if search.cool_down_seconds > 0:
        steps.append(
            {"id": "cool-down", "after": ["fault"], "wait": {"seconds": search.cool_down_seconds}}
        )
    return {
        "kind": "Workflow",
        "name": f"{search.name[:120]} trial {search.param}={value:g}",
        "description": f"a trial of threshold search {search_id}",
        # what the steps need, plus a fault step's margin to be injected and recovered
        "deadlineSeconds": window + search.cool_down_seconds + FAULT_MARGIN_SECONDS,
        "steadyState": [dict(slo.document) for slo in search.slo],
        "stopConditions": [dict(p) for p in search.stop_conditions],
        "steps": steps,
    }


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile: the ceil(q * n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def metrics(samples: list[ProbeSample]) -> dict[str, float | None]:
    latencies = [s.latency_ms for s in samples if s.latency_ms is not None]
    numbers = [
        float(s.value)
        for s in samples
        if isinstance(s.value, int | float) and not isinstance(s.value, bool)
    ]
    return {
        "latencyMsP50": percentile(latencies, 0.50),
        "latencyMsP90": percentile(latencies, 0.90),
        "latencyMsP95": percentile(latencies, 0.95),
        "latencyMsP99": percentile(latencies, 0.99),
        "latencyMsMax": max(latencies) if latencies else None,
        "latencyMsMean": sum(latencies) / len(latencies) if latencies else None,
        "successRatio": sum(1 for s in samples if s.ok) / len(samples) if samples else None,
        "valueMean": sum(numbers) / len(numbers) if numbers else None,
    }


def evaluate(s: Session, search: ThresholdSearch, wr: WorkflowRun | None) -> dict[str, Any]:
    """What a trial's ended workflow run says: its outcome, its objectives' values, its
    sample counts and why (see the module's docstring for how each value is computed)."""
    if wr is None:
        return {"outcome": INCONCLUSIVE, "reason": "its workflow run no longer exists"}
    rows = {(r.role, r.step_id): r for r in wr.steps}
    breached = [r for r in wr.steps if r.role == "stopCondition" and r.state == "failed"]
    if breached:
        why = "; ".join(f"stop condition {r.step_id} breached: {r.reason}" for r in breached)
        return {"outcome": STOPPED, "reason": why}
    fault = rows.get(("step", "fault"))
    child = s.get(Run, fault.run_id) if fault is not None and fault.run_id else None
    if child is None or child.running_since is None:
        why = "; ".join(wr.reasons or []) or f"the workflow run {wr.phase}"
        return {"outcome": INCONCLUSIVE, "reason": f"the fault was never in place: {why}"}
    start = child.running_since
    end = child.recovering_since or child.ended_at or datetime.now(UTC)
    slos: list[dict[str, Any]] = []
    held = True
    sampled = 0
    for i, slo in enumerate(search.slo):
        row = rows.get(("step", f"slo-{i}"))
        samples = (
            list(
                s.scalars(
                    select(ProbeSample)
                    .where(
                        ProbeSample.step_pk == row.id,
                        ProbeSample.at >= start,
                        ProbeSample.at <= end,
                    )
                    .order_by(ProbeSample.id)
                )
            )
            if row is not None
            else []
        )
        sampled += len(samples)
        values = metrics(samples)
        objectives = []
        for objective in slo.objectives:
            value = values[objective.metric]
            ok = value is not None and objective.expectation.holds(value)
            held = held and ok
            objectives.append(
                {
                    "metric": objective.metric,
                    "comparator": objective.expectation.op,
                    "target": objective.expectation.operand,
                    "value": value,
                    "held": ok,
                }
            )
        slos.append(
            {
                "probe": slo.probe.name,
                "samples": len(samples),
                "passed": sum(1 for x in samples if x.ok),
                "objectives": objectives,
            }
        )
    window = (end - start).total_seconds()
    if not sampled:
        return {
            "outcome": INCONCLUSIVE,
            "reason": f"no SLO sample was taken in the {window:.1f} s the fault was held",
            "slo": slos,
        }
    broken = [
        f"{slo['probe']} {o['metric']} = {_show(o['value'])} (objective {o['comparator']} "
        f"{o['target']:g})"
        for slo in slos
        for o in slo["objectives"]
        if not o["held"]
    ]
    return {
        "outcome": HELD if held else BROKE,
        "reason": "every objective held" if held else "broke: " + "; ".join(broken),
        "windowSeconds": round(window, 3),
        "slo": slos,
    }


def _show(value: float | None) -> str:
    return "no sample" if value is None else f"{value:.4g}"
