"""The threshold-search document: its shape, and every check that needs no tool.

```yaml
kind: ThresholdSearch
name: checkout-latency-tolerance
fault: {faultType: toxiproxy/latency, backend: toxiproxy, selector: {names: [payments]},
        params: {jitter: 0}}
vary: {param: latency, from: 0, to: 2000, resolution: 25, strategy: bisect}  # or linear + step
trialSeconds: 15          # how long each magnitude is held (and the SLO probes sampled)
coolDownSeconds: 5        # a wait after each trial's recovery
repeats: 1                # trials per magnitude; a magnitude holds only if every one held
slo:
  - name: checkout-p95
    http: {url: "http://127.0.0.1:8081/checkout", timeoutSeconds: 5}
    intervalSeconds: 0.5
    objective: {latencyMsP95: {"<": 800}, successRatio: {">=": 0.99}}
stopConditions: []        # as in workflows: a breach ends the whole search
```

``vary.param`` must be a numeric parameter (``integer`` or ``number``) of the fault type's
catalog schema; ``from`` and ``to`` must be within its bounds (the tools check both ends
too, see :mod:`chaoshub.thresholds.checks`). A refusal is an
:class:`~chaoshub.errors.InvalidInput` naming the field path, e.g. ``["vary", "param"]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from chaoshub import catalog
from chaoshub.errors import HubError, InvalidInput
from chaoshub.probes import ProbeDefinition, parse_probe
from chaoshub.probes.base import Spec, parse_spec, spec_refusals
from chaoshub.probes.comparators import NUMERIC, Expectation, parse_expectation
from chaoshub.workflows.document import FaultSpec, Issues

#: what an objective may be stated on, computed over one trial's samples (see .objectives)
METRICS = (
    "latencyMsP50",
    "latencyMsP90",
    "latencyMsP95",
    "latencyMsP99",
    "latencyMsMax",
    "latencyMsMean",
    "successRatio",
    "valueMean",
)
MAX_TRIALS = 200


class VarySpec(Spec):
    param: str = Field(min_length=1, max_length=100)
    from_: float = Field(alias="from")
    to: float
    resolution: float = Field(gt=0)
    strategy: Literal["bisect", "linear"] = "bisect"
    step: float | None = Field(default=None, gt=0)


class SearchSpec(Spec):
    kind: Literal["ThresholdSearch"]
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/][^/]*$")
    description: str = Field(default="", max_length=4000)
    fault: Any
    vary: Any
    trialSeconds: float = Field(gt=0, le=3600)
    coolDownSeconds: float = Field(default=0, ge=0, le=3600)
    repeats: int = Field(default=1, ge=1, le=10)
    slo: list[Any] = Field(min_length=1, max_length=20)
    stopConditions: list[Any] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True)
class Objective:
    """One SLO probe's objective on one metric: ``metric`` ``op`` ``operand``."""

    probe: str
    metric: str
    expectation: Expectation

    def describe(self) -> str:
        return f"{self.metric} {self.expectation.op} {self.expectation.operand:g}"


@dataclass
class Slo:
    probe: ProbeDefinition
    #: the probe's document without ``objective`` (what the trial's workflow samples)
    document: dict[str, Any]
    objectives: list[Objective]


@dataclass
class ThresholdSearch:
    """A validated threshold-search document (the tools' checks come later)."""

    name: str
    description: str
    fault: FaultSpec
    param: str
    #: the param is an integer: every magnitude tried is rounded to one
    integer: bool
    low: float
    high: float
    resolution: float
    strategy: str
    step: float | None
    trial_seconds: float
    cool_down_seconds: float
    repeats: int
    slo: list[Slo]
    stop_conditions: list[dict[str, Any]]
    document: dict[str, Any] = field(default_factory=dict)


def _numeric_param(fault: FaultSpec, param: str, issues: Issues) -> tuple[bool, dict[str, Any]]:
    """Whether the fault type's ``param`` is an integer, and its schema; refusals name
    ``vary.param``. An unknown fault type is left to the tools' checks (they name it)."""
    try:
        entry = catalog.load().get(fault.faultType)
    except HubError:
        return False, {}
    props = entry.params.get("properties") or {}
    schema = props.get(param)
    numeric = sorted(
        k
        for k, v in props.items()
        if isinstance(v, Mapping) and v.get("type") in ("integer", "number")
    )
    if not isinstance(schema, Mapping) or schema.get("type") not in ("integer", "number"):
        listed = ", ".join(numeric) or "none"
        issues.add(
            InvalidInput(
                f"{param!r} is not a numeric parameter of {fault.faultType}; its numeric "
                f"parameters are: {listed}",
                field=["vary", "param"],
            )
        )
        return False, {}
    return schema.get("type") == "integer", dict(schema)


def _vary(raw: Any, fault: FaultSpec | None, issues: Issues) -> tuple[VarySpec, bool] | None:
    try:
        vary: VarySpec = parse_spec(VarySpec, raw, ["vary"])
    except InvalidInput as exc:
        issues.add(exc)
        return None
    before = len(issues.items)
    for key, value in (("from", vary.from_), ("to", vary.to), ("resolution", vary.resolution)):
        if not math.isfinite(value):
            issues.add(InvalidInput("must be a finite number", field=["vary", key]))
    if vary.to <= vary.from_:
        issues.add(InvalidInput("to must be greater than from", field=["vary", "to"]))
    elif vary.resolution >= vary.to - vary.from_:
        issues.add(
            InvalidInput(
                f"the resolution must be smaller than the range ({vary.to - vary.from_:g})",
                field=["vary", "resolution"],
            )
        )
    if vary.strategy == "linear":
        if vary.step is None:
            issues.add(InvalidInput("a linear search needs a step", field=["vary", "step"]))
        elif (vary.to - vary.from_) / vary.step + 1 > MAX_TRIALS:
            issues.add(
                InvalidInput(
                    f"the step makes more than {MAX_TRIALS} trials", field=["vary", "step"]
                )
            )
    elif vary.step is not None:
        issues.add(InvalidInput("step is for strategy: linear", field=["vary", "step"]))
    if fault is None or len(issues.items) > before:
        return None
    integer, schema = _numeric_param(fault, vary.param, issues)
    if len(issues.items) > before:
        return None
    for key, value in (("from", vary.from_), ("to", vary.to)):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            issues.add(
                InvalidInput(
                    f"{vary.param} of {fault.faultType} is between {lo} and {hi}; {value:g} is not",
                    field=["vary", key],
                )
            )
    if integer and vary.resolution < 1:
        issues.add(
            InvalidInput(
                f"{vary.param} is an integer: the resolution is at least 1",
                field=["vary", "resolution"],
            )
        )
    if vary.param in fault.params:
        issues.add(
            InvalidInput(
                f"{vary.param} is what the search varies; it is not set in the fault's params",
                field=["fault", "params", vary.param],
            )
        )
    return (vary, integer) if len(issues.items) == before else None


def _slo(index: int, raw: Any, issues: Issues) -> Slo | None:
    where = ["slo", str(index)]
    if not isinstance(raw, Mapping):
        issues.add(InvalidInput("an SLO is a probe with an objective", field=where))
        return None
    objective = raw.get("objective")
    body = {k: v for k, v in raw.items() if k != "objective"}
    try:
        probe = parse_probe(body, where, default_name=f"slo-{index}")
    except InvalidInput as exc:
        issues.add(exc)
        return None
    if probe.timing.forSeconds is not None:
        issues.add(
            InvalidInput(
                "an SLO probe is sampled for trialSeconds; it has no forSeconds",
                field=[*where, "forSeconds"],
            )
        )
    if not isinstance(objective, Mapping) or not objective:
        issues.add(
            InvalidInput(
                "an SLO has an objective: {metric: {comparator: value}}, metrics "
                + ", ".join(METRICS),
                field=[*where, "objective"],
            )
        )
        return None
    objectives = []
    for metric, spec in objective.items():
        at = [*where, "objective", str(metric)]
        if metric not in METRICS:
            issues.add(InvalidInput(f"unknown metric; one of {', '.join(METRICS)}", field=at))
            continue
        try:
            expectation = parse_expectation(spec, at)
        except InvalidInput as exc:
            issues.add(exc)
            continue
        if expectation.op not in NUMERIC or isinstance(expectation.operand, str):
            issues.add(
                InvalidInput(
                    f"an objective compares numbers: one of {', '.join(NUMERIC)}", field=at
                )
            )
            continue
        objectives.append(Objective(probe.name, metric, expectation))
    return Slo(probe, {**body, "name": probe.name}, objectives)


def parse_search(document: Any, issues: Issues | None = None) -> ThresholdSearch | None:
    """Validate ``document`` without asking any tool.

    With ``issues`` every refusal is collected there and None is returned when there was
    any; without, the first refusal is raised."""
    collect = issues if issues is not None else Issues()
    search = _parse(document, collect)
    if issues is None:
        collect.raise_first()
    return search if not collect.items else None


def _parse(document: Any, issues: Issues) -> ThresholdSearch | None:
    if not isinstance(document, Mapping):
        issues.add(InvalidInput("a threshold search is an object", field=["document"]))
        return None
    refused = spec_refusals(SearchSpec, document, [])
    if refused:
        for exc in refused:
            issues.add(exc)
        return None
    spec: SearchSpec = parse_spec(SearchSpec, document, [])
    fault: FaultSpec | None = None
    try:
        fault = parse_spec(FaultSpec, spec.fault, ["fault"])
    except InvalidInput as exc:
        issues.add(exc)
    if fault is not None and fault.durationSeconds is not None:
        issues.add(
            InvalidInput(
                "each trial holds the fault for trialSeconds; no durationSeconds",
                field=["fault", "durationSeconds"],
            )
        )
    varied = _vary(spec.vary, fault, issues)
    slos = [s for i, raw in enumerate(spec.slo) if (s := _slo(i, raw, issues)) is not None]
    names = [s.probe.name for s in slos]
    for i, name in enumerate(names):
        if name in names[:i]:
            issues.add(
                InvalidInput(f"two SLO probes named {name!r}", field=["slo", str(i), "name"])
            )
    stops: list[dict[str, Any]] = []
    for i, raw in enumerate(spec.stopConditions):
        try:
            probe = parse_probe(raw, ["stopConditions", str(i)], default_name=f"stop-{i}")
        except InvalidInput as exc:
            issues.add(exc)
            continue
        stops.append({**raw, "name": probe.name})
    if issues.items or fault is None or varied is None:
        return None
    vary, integer = varied
    return ThresholdSearch(
        name=spec.name,
        description=spec.description,
        fault=fault,
        param=vary.param,
        integer=integer,
        low=vary.from_,
        high=vary.to,
        resolution=vary.resolution,
        strategy=vary.strategy,
        step=vary.step,
        trial_seconds=spec.trialSeconds,
        cool_down_seconds=spec.coolDownSeconds,
        repeats=spec.repeats,
        slo=slos,
        stop_conditions=stops,
        document=dict(document),
    )
