"""What each hub fault becomes on Toxiproxy, and how a toxic reads back as an observation.

Every fault but ``down`` is one toxic (:data:`TOXICS`); ``down`` disables the proxy. Toxics
are named after the execution (:func:`toxic_name`) so a retry or a recovery finds them again.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaoshub.contract import Observation, Observed
from chaoshub.errors import InvalidInput

DOWN = "down"
#: Toxiproxy decodes every attribute into a Go int64 and answers 400 beyond it
INT64_MAX = 2**63 - 1
STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class ToxicKind:
    """How one hub fault maps onto a Toxiproxy toxic type."""

    type: str
    #: attribute name -> unit, as Toxiproxy reads it (used for metric names)
    units: Mapping[str, str]


TOXICS: dict[str, ToxicKind] = {
    "latency": ToxicKind("latency", {"latency": "ms", "jitter": "ms"}),
    "bandwidth": ToxicKind("bandwidth", {"rate": "kb_per_s"}),
    "slow-close": ToxicKind("slow_close", {"delay": "ms"}),
    "timeout": ToxicKind("timeout", {"timeout": "ms"}),
    "reset-peer": ToxicKind("reset_peer", {"timeout": "ms"}),
    "slicer": ToxicKind(
        "slicer", {"average_size": "bytes", "size_variation": "bytes", "delay": "us"}
    ),
    "limit-data": ToxicKind("limit_data", {"bytes": "bytes"}),
}


@dataclass(frozen=True)
class ToxicParams:
    """A fault's params as the toxic's body needs them, each checked and named if wrong."""

    attributes: dict[str, int]
    stream: str
    toxicity: float


def toxic_params(kind: ToxicKind, params: Mapping[str, Any]) -> ToxicParams:
    """Check ``params`` the way Toxiproxy will decode them; :class:`InvalidInput` naming the
    field otherwise (a string, a fraction or a value beyond int64 is never sent)."""
    attributes = {}
    for name in kind.units:
        if name not in params:
            continue
        value = params[name]
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            raise InvalidInput(
                f"{name} must be a whole number (Toxiproxy reads an integer), not {value!r}",
                field=["params", name],
            )
        if not 0 <= value <= INT64_MAX:
            raise InvalidInput(
                f"{name} must be between 0 and {INT64_MAX}, not {value!r}",
                field=["params", name],
            )
        attributes[name] = int(value)
    stream = params.get("stream", "downstream")
    if not isinstance(stream, str) or stream.lower() not in STREAMS:
        raise InvalidInput(
            f"stream must be upstream or downstream, not {stream!r}", field=["params", "stream"]
        )
    toxicity = params.get("toxicity", 1.0)
    if (
        isinstance(toxicity, bool)
        or not isinstance(toxicity, int | float)
        or not math.isfinite(toxicity)
        or not 0 <= toxicity <= 1
    ):
        raise InvalidInput(
            f"toxicity must be a number from 0 to 1, not {toxicity!r}",
            field=["params", "toxicity"],
        )
    return ToxicParams(attributes, stream.lower(), float(toxicity))


def toxic_name(execution_id: str, role: str = "") -> str:
    """The toxic name for one execution: readable, URL-safe and stable across retries."""
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", execution_id).strip("-")[:40]
    return "-".join(p for p in ("chaoshub", slug, digest, role) if p)


# -- what the adapter reports -------------------------------------------------------------------


def toxic_metrics(kind: ToxicKind, toxic: Mapping[str, Any]) -> dict[str, float]:
    attributes = toxic.get("attributes") or {}
    out: dict[str, float] = {}
    for attribute, unit in kind.units.items():
        if isinstance(attributes.get(attribute), int | float):
            key = attribute if attribute == unit else f"{attribute}_{unit}"
            out[key] = float(attributes[attribute])
    if isinstance(toxic.get("toxicity"), int | float):
        out["toxicity"] = float(toxic["toxicity"])
    return out


def describe_toxic(proxy: Mapping[str, Any], toxic: Mapping[str, Any]) -> str:
    attributes = [f"{k}={v}" for k, v in sorted((toxic.get("attributes") or {}).items())]
    state = "enabled" if proxy.get("enabled", True) else "disabled"
    return " ".join(
        [
            f"toxic {toxic.get('name')} ({toxic.get('type')}, {toxic.get('stream')},",
            f"toxicity {toxic.get('toxicity')})",
            *attributes,
            f"on proxy {proxy.get('name')}",
            f"[{proxy.get('listen')} -> {proxy.get('upstream')}, {state}]",
        ]
    )


def proxy_messages(proxy: Mapping[str, Any]) -> tuple[str, ...]:
    if proxy.get("enabled", True):
        return ()
    return (f"proxy {proxy.get('name')} is disabled: no traffic passes",)


def down_observation(proxy: Mapping[str, Any], *, adopted: bool) -> Observation:
    native = (
        f"proxy {proxy.get('name')} disabled [{proxy.get('listen')} -> {proxy.get('upstream')}]"
    )
    return Observation(
        Observed.INJECTED,
        native=f"adopted {native}" if adopted else native,
        metrics={"enabled": 0.0},
    )
