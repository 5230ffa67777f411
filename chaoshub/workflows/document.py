"""The workflow document: its shape, and every check that needs no tool.

```yaml
kind: Workflow
name: api-survives-a-paused-dependency
deadlineSeconds: 3600            # the whole workflow; default 3600
steadyState: [<probe>...]        # before anything is injected, and after everything is recovered
stopConditions: [<probe>...]     # while any fault is held; a breach stops everything
steps:
  - id: pause-cache
    after: [settle]              # none: starts with the workflow
    when: api-during.passed      # optional: runs only on that outcome of a probe or approval
    deadlineSeconds: 60          # default per kind (see step_deadline)
    fault: {faultType, backend, selector, params, durationSeconds}   # or probe / wait / approval
```

**When a step runs.** A step starts once every step in its ``after`` has ended. It runs only
if each of them *passed* — except a step named in its ``when``, whose outcome must be the one
``when`` says. Otherwise it is ``skipped``, with the reason, and so, by the same rule, is every
step that needs it passed. Each step's condition is its own: two steps may both carry
``when: check.failed`` and both run; nothing picks "the" branch (Chaos Mesh's conditional
branches spawn every true branch; here that is simply what the document says, step by step).

A refusal is an :class:`~chaoshub.errors.InvalidInput` naming the field path, e.g.
``steps[2].fault.params.percent`` is ``["steps", "2", "fault", "params", "percent"]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from chaoshub.errors import HubError, InvalidInput
from chaoshub.probes import ProbeDefinition, parse_probe
from chaoshub.probes.base import Spec, parse_spec, spec_refusals

STEP_KINDS = ("fault", "probe", "wait", "approval")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
WHEN = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62})\.(passed|failed)$")

DEFAULT_DEADLINE_SECONDS = 3600.0
MAX_DEADLINE_SECONDS = 7 * 24 * 3600.0
#: time a fault step gets beyond its duration to be injected and recovered
FAULT_MARGIN_SECONDS = 300.0
#: time any other step gets beyond what it needs
STEP_MARGIN_SECONDS = 30.0


class WorkflowSpec(Spec):
    kind: Literal["Workflow"] = "Workflow"
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/][^/]*$")
    description: str = Field(default="", max_length=4000)
    deadlineSeconds: float = Field(default=DEFAULT_DEADLINE_SECONDS, gt=0, le=MAX_DEADLINE_SECONDS)
    steadyState: list[Any] = Field(default_factory=list, max_length=20)
    stopConditions: list[Any] = Field(default_factory=list, max_length=20)
    steps: list[Any] = Field(min_length=1, max_length=200)


class StepSpec(Spec):
    id: str = Field(min_length=1, max_length=63)
    after: list[str] = Field(default_factory=list, max_length=200)
    when: str | None = None
    deadlineSeconds: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_SECONDS)
    fault: Any = None
    probe: Any = None
    wait: Any = None
    approval: Any = None


class FaultSpec(Spec):
    faultType: str = Field(min_length=3, max_length=200)
    backend: str = Field(min_length=1, max_length=200)
    selector: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    durationSeconds: float | None = None


class WaitSpec(Spec):
    seconds: float = Field(gt=0, le=86400)


class ApprovalSpec(Spec):
    message: str = Field(default="", max_length=2000)
    timeoutSeconds: float = Field(default=3600, gt=0, le=MAX_DEADLINE_SECONDS)
    onTimeout: Literal["reject", "approve"] = "reject"


@dataclass
class Step:
    """A validated step: its place in the DAG and its kind's validated block."""

    index: int
    id: str
    kind: str
    after: list[str]
    when: tuple[str, str] | None
    deadline_seconds: float
    #: whether the document set the deadline (a default one is cut to the workflow's)
    explicit_deadline: bool = False
    fault: FaultSpec | None = None
    probe: ProbeDefinition | None = None
    wait: WaitSpec | None = None
    approval: ApprovalSpec | None = None

    @property
    def path(self) -> list[str]:
        return ["steps", str(self.index)]

    def expected_seconds(self) -> float:
        """The least time the step takes when all goes well (for the workflow's deadline)."""
        if self.fault is not None:
            return self.fault.durationSeconds or 0.0
        if self.wait is not None:
            return self.wait.seconds
        if self.probe is not None:
            return self.probe.timing.initialDelaySeconds + (self.probe.timing.forSeconds or 0.0)
        return 0.0


@dataclass
class Workflow:
    """A validated workflow document (the checks that need a tool come later)."""

    name: str
    description: str
    deadline_seconds: float
    steady_state: list[ProbeDefinition]
    stop_conditions: list[ProbeDefinition]
    steps: list[Step]
    document: dict[str, Any] = field(default_factory=dict)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


class Issues:
    """Refusals collected across a document, so a person sees them all at once."""

    def __init__(self) -> None:
        self.items: list[HubError] = []

    def add(self, exc: HubError) -> None:
        self.items.append(exc)

    def raise_first(self) -> None:
        if self.items:
            raise self.items[0]


def probe_deadline(probe: ProbeDefinition) -> float:
    """What a probe needs at most to reach its outcome, plus the margin."""
    t = probe.timing
    if t.forSeconds is not None:
        need = t.forSeconds + probe.probe.timeout
    else:
        need = (t.intervalSeconds + probe.probe.timeout) * max(
            t.successThreshold, t.failureThreshold
        )
    return t.initialDelaySeconds + need + STEP_MARGIN_SECONDS


def step_deadline(step: Step) -> float:
    """The default deadline of a step of each kind."""
    if step.fault is not None:
        return (step.fault.durationSeconds or 0.0) + FAULT_MARGIN_SECONDS
    if step.wait is not None:
        return step.wait.seconds + STEP_MARGIN_SECONDS
    if step.approval is not None:
        return step.approval.timeoutSeconds + STEP_MARGIN_SECONDS
    assert step.probe is not None
    return probe_deadline(step.probe)


def _path(*parts: str | int) -> list[str]:
    return [str(p) for p in parts]


def _probes(data: list[Any], key: str, issues: Issues, *, window: bool) -> list[ProbeDefinition]:
    out: list[ProbeDefinition] = []
    seen: set[str] = set()
    for i, doc in enumerate(data):
        try:
            probe = parse_probe(doc, _path(key, i), default_name=f"{key}-{i}")
        except InvalidInput as exc:
            issues.add(exc)
            continue
        if probe.name in seen:
            issues.add(
                InvalidInput(f"two probes named {probe.name!r}", field=_path(key, i, "name"))
            )
        if not window and probe.timing.forSeconds is not None:
            issues.add(
                InvalidInput(
                    "a stop condition is watched while any fault is held; it has no forSeconds",
                    field=_path(key, i, "forSeconds"),
                )
            )
        seen.add(probe.name)
        out.append(probe)
    return out


def _step(index: int, raw: Any, issues: Issues) -> Step | None:
    where = _path("steps", index)
    try:
        spec: StepSpec = parse_spec(StepSpec, raw, list(where))
    except InvalidInput as exc:
        issues.add(exc)
        return None
    if not STEP_ID.match(spec.id):
        issues.add(
            InvalidInput(
                "a step id is lower-case letters, digits, '-' and '_' (at most 63)",
                field=[*where, "id"],
            )
        )
        return None
    kinds = [k for k in STEP_KINDS if getattr(spec, k) is not None]
    if len(kinds) != 1:
        issues.add(
            InvalidInput(
                f"a step has exactly one of {', '.join(STEP_KINDS)}; found {len(kinds)}",
                field=where,
            )
        )
        return None
    kind = kinds[0]
    when = None
    if spec.when is not None:
        match = WHEN.match(spec.when)
        if match is None:
            issues.add(
                InvalidInput(
                    "when is '<step id>.passed' or '<step id>.failed'", field=[*where, "when"]
                )
            )
            return None
        when = (match.group(1), match.group(2))
    step = Step(index, spec.id, kind, list(spec.after), when, 0.0)
    block = getattr(spec, kind)
    try:
        if kind == "fault":
            step.fault = parse_spec(FaultSpec, block, [*where, "fault"])
        elif kind == "wait":
            step.wait = parse_spec(WaitSpec, block, [*where, "wait"])
        elif kind == "approval":
            step.approval = parse_spec(ApprovalSpec, block, [*where, "approval"])
        else:
            step.probe = parse_probe(block, [*where, "probe"], default_name=spec.id)
    except InvalidInput as exc:
        issues.add(exc)
        return None
    needed = step_deadline(step)
    if spec.deadlineSeconds is not None:
        least = needed - (FAULT_MARGIN_SECONDS if kind == "fault" else STEP_MARGIN_SECONDS)
        if spec.deadlineSeconds < least:
            issues.add(
                InvalidInput(
                    f"the step needs at least {least:g} s; its deadline is {spec.deadlineSeconds:g} s",
                    field=[*where, "deadlineSeconds"],
                )
            )
        step.deadline_seconds = spec.deadlineSeconds
        step.explicit_deadline = True
    else:
        step.deadline_seconds = needed
    return step


def _check_graph(steps: list[Step], issues: Issues) -> None:
    ids: dict[str, Step] = {}
    for step in steps:
        if step.id in ids:
            issues.add(
                InvalidInput(
                    f"step id {step.id!r} is used twice (also steps[{ids[step.id].index}])",
                    field=[*step.path, "id"],
                )
            )
        ids.setdefault(step.id, step)
    for step in steps:
        for j, dep in enumerate(step.after):
            if dep == step.id:
                issues.add(
                    InvalidInput(
                        "a step cannot come after itself", field=[*step.path, "after", str(j)]
                    )
                )
            elif dep not in ids:
                issues.add(
                    InvalidInput(f"no step with id {dep!r}", field=[*step.path, "after", str(j)])
                )
        if len(set(step.after)) != len(step.after):
            issues.add(InvalidInput("a step is listed twice", field=[*step.path, "after"]))
        if step.when is not None:
            target, _outcome = step.when
            other = ids.get(target)
            if target not in step.after:
                issues.add(
                    InvalidInput(
                        f"when names {target!r}, which must also be in after",
                        field=[*step.path, "when"],
                    )
                )
            elif other is not None and other.kind not in ("probe", "approval"):
                issues.add(
                    InvalidInput(
                        f"when follows a probe or an approval; {target!r} is a {other.kind} step",
                        field=[*step.path, "when"],
                    )
                )
    cycle = _find_cycle(steps, ids)
    if cycle:
        first = ids[cycle[0]]
        issues.add(
            InvalidInput(
                "the steps form a cycle: " + " → ".join([*cycle, cycle[0]]),
                field=[*first.path, "after"],
            )
        )


def _find_cycle(steps: list[Step], ids: Mapping[str, Step]) -> list[str]:
    """A cycle of step ids along ``after``, or [] (depth-first, three colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = 1
        stack.append(node)
        for dep in ids[node].after:
            if dep not in ids:
                continue
            if colour.get(dep) == 1:
                return stack[stack.index(dep) :]
            if colour.get(dep) is None and (found := visit(dep)):
                return found
        stack.pop()
        colour[node] = 2
        return []

    for step in steps:
        if colour.get(step.id) is None and (found := visit(step.id)):
            return list(reversed(found))
    return []


def longest_path_seconds(steps: list[Step]) -> tuple[float, list[str]]:
    """The least time the DAG needs (its longest chain of expected step times), and that chain."""
    ids = {s.id: s for s in steps}
    memo: dict[str, tuple[float, list[str]]] = {}

    def best(step_id: str) -> tuple[float, list[str]]:
        if step_id not in memo:
            step = ids[step_id]
            before = max((best(d) for d in step.after if d in ids), default=(0.0, []))
            memo[step_id] = (before[0] + step.expected_seconds(), [*before[1], step_id])
        return memo[step_id]

    return max((best(s.id) for s in steps), default=(0.0, []))


def parse_workflow(document: Any, issues: Issues | None = None) -> Workflow | None:
    """Validate ``document`` without any I/O.

    With ``issues`` every refusal is collected there and None is returned when there was any;
    without, the first refusal is raised.
    """
    collect = issues if issues is not None else Issues()
    workflow = _parse(document, collect)
    if issues is None:
        collect.raise_first()
    return workflow if not collect.items else None


def _parse(document: Any, issues: Issues) -> Workflow | None:
    if not isinstance(document, Mapping):
        issues.add(InvalidInput("a workflow document is an object", field=["document"]))
        return None
    refused = spec_refusals(WorkflowSpec, document, [])
    if refused:
        for exc in refused:
            issues.add(exc)
        steps = document.get("steps")
        if isinstance(steps, list) and not any(e.field[:1] == ["steps"] for e in refused):
            for i, raw in enumerate(steps):  # their refusals too, at once
                _step(i, raw, issues)
        return None
    spec: WorkflowSpec = parse_spec(WorkflowSpec, document, [])
    steady = _probes(spec.steadyState, "steadyState", issues, window=True)
    stops = _probes(spec.stopConditions, "stopConditions", issues, window=False)
    steps = [s for i, raw in enumerate(spec.steps) if (s := _step(i, raw, issues)) is not None]
    if len(steps) != len(spec.steps):
        return None
    _check_graph(steps, issues)
    if issues.items:
        return None
    for step in steps:
        if not step.explicit_deadline:
            step.deadline_seconds = min(step.deadline_seconds, spec.deadlineSeconds)
        elif step.deadline_seconds > spec.deadlineSeconds:
            issues.add(
                InvalidInput(
                    f"the step's deadline ({step.deadline_seconds:g} s) is beyond the workflow's "
                    f"({spec.deadlineSeconds:g} s)",
                    field=[*step.path, "deadlineSeconds"],
                )
            )
    need, chain = longest_path_seconds(steps)
    if need > spec.deadlineSeconds:
        issues.add(
            InvalidInput(
                f"the steps need at least {need:g} s ({' → '.join(chain)}); the workflow's "
                f"deadline is {spec.deadlineSeconds:g} s",
                field=["deadlineSeconds"],
            )
        )
    return Workflow(
        name=spec.name,
        description=spec.description,
        deadline_seconds=spec.deadlineSeconds,
        steady_state=steady,
        stop_conditions=stops,
        steps=steps,
        document=dict(document),
    )
