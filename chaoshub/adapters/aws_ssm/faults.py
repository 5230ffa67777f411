"""The faults of the ``aws-ssm`` adapter: which document runs each, and its parameters.

Each fault's parameter schema lives in its catalog entry (``chaoshub/catalog/aws-ssm/<fault>.yaml``)
and mirrors the parameters of the AWS-published ``AWSFIS-Run-*`` document: same names,
same defaults, the documents' own limits as JSON Schema bounds and patterns. This module
turns validated params into SendCommand ``Parameters`` (a map of lists of strings);
``DurationSeconds`` comes from the run's duration, never from params.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from chaoshub.catalog import FaultType
from chaoshub.errors import InvalidInput

#: the AWSFIS-Run-* documents refuse a DurationSeconds outside 1..43200
MAX_DURATION_SECONDS = 43200


@dataclass(frozen=True)
class FaultSpec:
    document: str
    #: a tc/iptables fault: one a document may leave in place after it returned
    network: bool = False
    #: the document takes DurationSeconds (every one but Kill-Process)
    timed: bool = True


FAULTS: Mapping[str, FaultSpec] = {
    "cpu-stress": FaultSpec("AWSFIS-Run-CPU-Stress"),
    "memory-stress": FaultSpec("AWSFIS-Run-Memory-Stress"),
    "io-stress": FaultSpec("AWSFIS-Run-IO-Stress"),
    "disk-fill": FaultSpec("AWSFIS-Run-Disk-Fill"),
    "kill-process": FaultSpec("AWSFIS-Run-Kill-Process", timed=False),
    "network-latency": FaultSpec("AWSFIS-Run-Network-Latency", network=True),
    "network-latency-sources": FaultSpec("AWSFIS-Run-Network-Latency-Sources", network=True),
    "network-packet-loss": FaultSpec("AWSFIS-Run-Network-Packet-Loss", network=True),
    "network-packet-loss-sources": FaultSpec(
        "AWSFIS-Run-Network-Packet-Loss-Sources", network=True
    ),
    "network-blackhole-port": FaultSpec("AWSFIS-Run-Network-Blackhole-Port", network=True),
}


@functools.cache
def catalog_entries() -> dict[str, FaultType]:
    """This adapter's catalog entries, read from the package data (no I/O beyond that)."""
    folder = resources.files("chaoshub.catalog").joinpath("aws-ssm")
    entries = {}
    for item in folder.iterdir():
        if item.name.endswith(".yaml"):
            entry = FaultType.from_dict(yaml.safe_load(item.read_text(encoding="utf-8")))
            entries[entry.name] = entry
    return entries


def spec(fault: str) -> FaultSpec:
    try:
        return FAULTS[fault]
    except KeyError:
        raise InvalidInput(f"aws-ssm has no fault {fault!r}", field=["fault"]) from None


def duration_parameter(fault: str, duration_seconds: float | None) -> str | None:
    """``DurationSeconds`` for the document, from the run's duration."""
    if not spec(fault).timed:
        return None
    if duration_seconds is None:
        raise InvalidInput(f"{fault} needs the run's duration", field=["duration_seconds"])
    seconds = math.ceil(duration_seconds)
    if not 1 <= seconds <= MAX_DURATION_SECONDS:
        raise InvalidInput(
            f"duration must be 1..{MAX_DURATION_SECONDS} seconds for the AWSFIS-Run-* documents",
            field=["duration_seconds"],
        )
    return str(seconds)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


@dataclass(frozen=True)
class DocumentParameters:
    """SendCommand ``Parameters``, plus which of them only repeat a schema default."""

    values: Mapping[str, list[str]]
    defaults: frozenset[str]


def document_parameters(
    fault: str, params: Mapping[str, Any], duration_seconds: float | None
) -> DocumentParameters:
    """Validate ``params`` against the fault's schema and shape them for SendCommand."""
    spec(fault)
    entry = catalog_entries()[fault]
    checked = entry.validate_params(params)
    schema_props = entry.params.get("properties", {})
    values = {name: [_as_string(value)] for name, value in checked.items()}
    defaults = frozenset(
        name
        for name, value in checked.items()
        if "default" in schema_props.get(name, {}) and schema_props[name]["default"] == value
    )
    duration = duration_parameter(fault, duration_seconds)
    if duration is not None:
        values["DurationSeconds"] = [duration]
    return DocumentParameters(values, defaults)
