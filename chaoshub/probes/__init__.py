"""Probes: checks of the system under test, one module per kind behind one interface.

A probe in a document is its common timing fields (:class:`~chaoshub.probes.base.Timing`)
plus exactly one kind's block::

    name: api-healthy
    intervalSeconds: 1
    failureThreshold: 3
    http: {url: "http://127.0.0.1:8081/health", expect: {status: [200]}, timeoutSeconds: 2}

:func:`parse_probe` validates a whole probe without any I/O (unknown fields, URLs, operands,
patterns — each refusal names the field path) and returns what
:func:`~chaoshub.probes.tracker.run_check` samples. A kind that reaches the system through
the hub (``command``, via an agent) is given the runtime by
:meth:`~chaoshub.probes.base.Probe.bind` before its first check, and asked what only a peer
can refuse by :meth:`~chaoshub.probes.base.Probe.check_remote`. Adding a kind is one module with a
:class:`~chaoshub.probes.base.Probe` subclass, listed in :data:`KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaoshub.errors import InvalidInput
from chaoshub.probes.base import Probe, Sample, Timing, parse_spec
from chaoshub.probes.command import CommandProbe
from chaoshub.probes.http import HttpProbe
from chaoshub.probes.prometheus import PrometheusProbe
from chaoshub.probes.tcp import TcpProbe
from chaoshub.probes.tracker import CheckResult, Outcome, ProbeTracker, run_check

#: every probe kind, by the key that names it in a document
KINDS: dict[str, type[Probe]] = {
    cls.kind: cls for cls in (HttpProbe, TcpProbe, PrometheusProbe, CommandProbe)
}

__all__ = [
    "KINDS",
    "CheckResult",
    "Outcome",
    "Probe",
    "ProbeDefinition",
    "ProbeTracker",
    "Sample",
    "Timing",
    "parse_probe",
    "run_check",
]


@dataclass(frozen=True)
class ProbeDefinition:
    """A validated probe: its name, kind, timing and the object that checks."""

    name: str
    kind: str
    timing: Timing
    probe: Probe
    document: dict[str, Any]


def parse_probe(
    document: Any, field: Sequence[str | int] = (), *, default_name: str | None = None
) -> ProbeDefinition:
    """The probe ``document`` describes, or :class:`InvalidInput` naming the field path."""
    where = list(field)
    if not isinstance(document, Mapping):
        raise InvalidInput("a probe is an object with one of: " + ", ".join(KINDS), field=where)
    kinds = [key for key in document if key in KINDS]
    if len(kinds) != 1:
        raise InvalidInput(
            f"a probe has exactly one kind ({', '.join(KINDS)}); found {len(kinds)}", field=where
        )
    kind = kinds[0]
    common = {k: v for k, v in document.items() if k != kind}
    timing: Timing = parse_spec(Timing, common, where)
    cls = KINDS[kind]
    spec = parse_spec(cls.spec_model, document[kind], [*where, kind])
    own_timeout = getattr(spec, "timeoutSeconds", None)
    if own_timeout is not None and timing.timeoutSeconds is not None:
        raise InvalidInput(
            "give timeoutSeconds once, here or on the probe", field=[*where, kind, "timeoutSeconds"]
        )
    timeout = own_timeout or timing.timeoutSeconds or cls.default_timeout
    if timing.forSeconds is not None and timeout > timing.forSeconds:
        raise InvalidInput(
            "a check's timeout must fit in forSeconds", field=[*where, kind, "timeoutSeconds"]
        )
    try:
        probe = cls(spec, timeout)
    except InvalidInput as exc:
        exc.field = [*(str(p) for p in where), *exc.field]
        raise
    name = timing.name or default_name or kind
    return ProbeDefinition(
        name=name, kind=kind, timing=timing, probe=probe, document=dict(document)
    )
