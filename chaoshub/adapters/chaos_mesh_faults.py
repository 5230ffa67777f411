"""The ``chaos-mesh`` adapter's faults: which Chaos Mesh kind and action each one is, and
how its params become the object's spec.

Field names and value formats follow ``chaos-mesh/api/v1alpha1`` at 608b61e
(``podchaos_types.go``, ``networkchaos_types.go``, ``stresschaos_types.go``,
``iochaos_types.go``, ``timechaos_types.go``, ``dnschaos_type.go``,
``httpchaos_types.go``): durations are Go duration strings (``"100ms"``), netem
percentages are strings (``"25"``), stress sizes are strings (``"256MB"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Fault:
    """One hub fault: a Chaos Mesh kind, its action and how params make the spec."""

    kind: str
    plural: str
    action: str | None
    build: Callable[[Params], dict[str, Any]]
    #: Chaos Mesh's one-shot actions (``IsOneShot``): finished once every record is injected
    one_shot: bool = False
    #: the action needs ``containerNames`` in its selector
    needs_containers: bool = False


def ms(value: float) -> str:
    return f"{value:g}ms"


def _pick(params: Params, mapping: Mapping[str, str]) -> dict[str, Any]:
    """Params named in ``mapping`` (hub name -> Chaos Mesh name) that were given."""
    return {cm: params[hub] for hub, cm in mapping.items() if params.get(hub) is not None}


def _pod(params: Params) -> dict[str, Any]:
    return _pick(params, {"grace_period": "gracePeriod"})


def _network_common(params: Params) -> dict[str, Any]:
    spec: dict[str, Any] = {"direction": params.get("direction") or "to"}
    if params.get("external_targets"):
        spec["externalTargets"] = list(params["external_targets"])
    if params.get("device"):
        spec["device"] = params["device"]
    if params.get("target_labels"):
        spec["target"] = {
            "mode": "all",
            "selector": {
                "namespaces": list(params.get("target_namespaces") or []),
                "labelSelectors": dict(params["target_labels"]),
            },
        }
    return spec


def _netem(field: str, percent_param: str) -> Callable[[Params], dict[str, Any]]:
    def build(params: Params) -> dict[str, Any]:
        body = {field: f"{params[percent_param]:g}"}
        if params.get("correlation") is not None:
            body["correlation"] = f"{params['correlation']:g}"
        return {**_network_common(params), field: body}

    return build


def _delay(params: Params) -> dict[str, Any]:
    body: dict[str, Any] = {"latency": ms(params["latency_ms"])}
    if params.get("jitter_ms"):
        body["jitter"] = ms(params["jitter_ms"])
    if params.get("correlation") is not None:
        body["correlation"] = f"{params['correlation']:g}"
    return {**_network_common(params), "delay": body}


def _bandwidth(params: Params) -> dict[str, Any]:
    body = {"rate": params["rate"], "limit": params["limit"], "buffer": params["buffer"]}
    body.update(_pick(params, {"peakrate": "peakrate", "minburst": "minburst"}))
    return {**_network_common(params), "bandwidth": body}


def _stress_cpu(params: Params) -> dict[str, Any]:
    return {"stressors": {"cpu": {"workers": params["workers"], "load": params["load"]}}}


def _stress_memory(params: Params) -> dict[str, Any]:
    return {"stressors": {"memory": {"workers": params["workers"], "size": params["size"]}}}


def _io_common(params: Params) -> dict[str, Any]:
    spec: dict[str, Any] = {"volumePath": params["volume_path"], "percent": params["percent"]}
    spec.update(_pick(params, {"path": "path"}))
    if params.get("methods"):
        spec["methods"] = list(params["methods"])
    return spec


def _io_latency(params: Params) -> dict[str, Any]:
    return {**_io_common(params), "delay": ms(params["delay_ms"])}


def _io_fault(params: Params) -> dict[str, Any]:
    return {**_io_common(params), "errno": params["errno"]}


def _time(params: Params) -> dict[str, Any]:
    spec: dict[str, Any] = {"timeOffset": params["time_offset"]}
    if params.get("clock_ids"):
        spec["clockIds"] = list(params["clock_ids"])
    return spec


def _dns(params: Params) -> dict[str, Any]:
    return {"patterns": list(params.get("patterns") or [])}


def _http_common(params: Params) -> dict[str, Any]:
    spec: dict[str, Any] = {"target": params.get("target") or "Request", "port": params["port"]}
    spec.update(_pick(params, {"path": "path", "method": "method", "code": "code"}))
    return spec


def _http_abort(params: Params) -> dict[str, Any]:
    return {**_http_common(params), "abort": True}


def _http_delay(params: Params) -> dict[str, Any]:
    return {**_http_common(params), "delay": ms(params["delay_ms"])}


FAULTS: dict[str, Fault] = {
    "pod-kill": Fault("PodChaos", "podchaos", "pod-kill", _pod, one_shot=True),
    "pod-failure": Fault("PodChaos", "podchaos", "pod-failure", _pod),
    "container-kill": Fault(
        "PodChaos", "podchaos", "container-kill", _pod, one_shot=True, needs_containers=True
    ),
    "network-delay": Fault("NetworkChaos", "networkchaos", "delay", _delay),
    "network-loss": Fault("NetworkChaos", "networkchaos", "loss", _netem("loss", "loss")),
    "network-duplicate": Fault(
        "NetworkChaos", "networkchaos", "duplicate", _netem("duplicate", "duplicate")
    ),
    "network-corrupt": Fault(
        "NetworkChaos", "networkchaos", "corrupt", _netem("corrupt", "corrupt")
    ),
    "network-partition": Fault("NetworkChaos", "networkchaos", "partition", _network_common),
    "network-bandwidth": Fault("NetworkChaos", "networkchaos", "bandwidth", _bandwidth),
    "stress-cpu": Fault("StressChaos", "stresschaos", None, _stress_cpu),
    "stress-memory": Fault("StressChaos", "stresschaos", None, _stress_memory),
    "io-latency": Fault("IOChaos", "iochaos", "latency", _io_latency),
    "io-fault": Fault("IOChaos", "iochaos", "fault", _io_fault),
    "time-skew": Fault("TimeChaos", "timechaos", None, _time),
    "dns-error": Fault("DNSChaos", "dnschaos", "error", _dns),
    "dns-random": Fault("DNSChaos", "dnschaos", "random", _dns),
    "http-abort": Fault("HTTPChaos", "httpchaos", None, _http_abort),
    "http-delay": Fault("HTTPChaos", "httpchaos", None, _http_delay),
}

#: the kinds, with their plural names (for health: which CRDs are installed)
KINDS: dict[str, str] = {f.kind: f.plural for f in FAULTS.values()}


#: the most one stress-memory worker may take: a share of the container's limit, or bytes
MAX_STRESS_PERCENT = 100
MAX_STRESS_BYTES = 64 << 30
#: the largest clock offset time-skew applies, either way
MAX_TIME_OFFSET_SECONDS = 366 * 24 * 3600

_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


def magnitude_problem(fault: str, params: Params) -> tuple[str, str] | None:
    """The (param, why) of a value-in-a-string over its bound (the schema checks only the
    string's form: ``"99999GB"`` matches it)."""
    if fault == "stress-memory" and isinstance(params.get("size"), str):
        size = params["size"]
        if size.endswith("%"):
            if int(size[:-1]) > MAX_STRESS_PERCENT:
                return "size", f"at most {MAX_STRESS_PERCENT}% per worker"
        else:
            unit = size.lstrip("0123456789")
            if int(size[: -len(unit)]) * _SIZE_UNITS.get(unit, 1) > MAX_STRESS_BYTES:
                return "size", f"at most {MAX_STRESS_BYTES >> 30}GB per worker"
    if fault == "time-skew" and isinstance(params.get("time_offset"), str):
        seconds = sum(
            float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(params["time_offset"])
        )
        if seconds > MAX_TIME_OFFSET_SECONDS:
            return "time_offset", f"at most {MAX_TIME_OFFSET_SECONDS // 3600}h either way"
    return None
