"""The checks of a threshold search that ask the tools: its fault gets every check a
workflow's fault step gets (:func:`chaoshub.workflows.checks.check_fault`) at both ends of
the range, ``from`` and ``to``; its probes the checks only their peers can make."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoshub.errors import HubError
from chaoshub.runtime import Runtime
from chaoshub.services.auth import Actor
from chaoshub.thresholds.document import ThresholdSearch, parse_search
from chaoshub.thresholds.trials import magnitude_value
from chaoshub.workflows.checks import check_fault, check_probe
from chaoshub.workflows.document import FaultSpec, Issues


def validate(
    rt: Runtime, s: Session, actor: Actor, document: Any, issues: Issues | None = None
) -> ThresholdSearch | None:
    """The whole document, the tools' checks included. With ``issues`` every refusal is
    collected (None returned if any); without, the first is raised."""
    collect = issues if issues is not None else Issues()
    search = parse_search(document, collect)
    if search is not None:
        for end, key in ((search.low, "from"), (search.high, "to")):
            fault = FaultSpec(
                faultType=search.fault.faultType,
                backend=search.fault.backend,
                selector=dict(search.fault.selector),
                params={**search.fault.params, search.param: magnitude_value(search, end)},
                durationSeconds=search.trial_seconds,
            )
            try:
                check_fault(rt, s, actor, fault, ["fault"])
            except HubError as exc:
                if exc.field[:2] == ["fault", "params"] and exc.field[2:3] == [search.param]:
                    exc.field = ["vary", key]
                collect.add(exc)
                break  # the other end would say the same about the fault
        for i, slo in enumerate(search.slo):
            try:
                check_probe(rt, slo.probe, ["slo", str(i)])
            except HubError as exc:
                collect.add(exc)
    if issues is None:
        collect.raise_first()
    return search if not collect.items else None
