"""Chaos Mesh ``PhysicalMachineChaos`` (chaosd's attacks on a host) as hub experiments on the
``native`` agent, where the agent has the same fault.

| chaosd action | hub fault |
|---|---|
| ``network-delay`` | ``native/network-delay`` (``native/network-jitter`` with a jitter) |
| ``network-loss`` / ``-corrupt`` / ``-duplicate`` | ``native/network-loss`` / ``-corrupt`` / ``-duplicate`` |
| ``network-partition`` | ``native/network-partition`` |
| ``network-bandwidth`` | ``native/network-bandwidth`` |
| ``stress-cpu`` / ``stress-mem`` | ``native/cpu-stress`` / ``native/memory-stress`` |
| ``process`` | ``native/process-pause`` (signal 19, SIGSTOP) or ``native/process-kill`` |
| ``disk-fill`` | ``native/disk-fill`` |

Field names are chaosd's own, hyphenated (``ip-address``, ``egress-port``), as in
``pkg/core/network.go``. chaosd's JSON binding ignores a misspelt key — an ``ipaddress``
that silently widens a filter to all traffic — and so refusing unknown keys matters most
here. Hosts are the hub's agents, named by the import's agent (``--agent``), not chaosd's
addresses. Filters the agent's fault lacks (host names, source ports, TCP flags) are refused:
dropping one would hit more traffic than the document says.
"""

from __future__ import annotations

import re
from typing import Any

from chaoshub.formats.base import (
    Bool,
    Int,
    IntOrStr,
    ListOf,
    MapOf,
    Notes,
    Path,
    Str,
    check,
    go_seconds,
    number,
    one_of,
    refuse,
    whole,
)
from chaoshub.formats.chaos_mesh import COMMON, SELECTOR, envelope

ADAPTER = "native"

_NET: dict[str, Any] = {
    "device": Str,
    "ip-address": Str,
    "hostname": Str,
    "ip-protocol": Str,
    "source-port": Str,
    "egress-port": Str,
    "accept-tcp-flags": Str,
    "correlation": Str,
}
ACTIONS: dict[str, dict[str, Any]] = {
    "network-delay": {**_NET, "latency": Str, "jitter": Str},
    "network-loss": {**_NET, "percent": Str},
    "network-corrupt": {**_NET, "percent": Str},
    "network-duplicate": {**_NET, "percent": Str},
    "network-partition": {**_NET, "direction": Str},
    "network-bandwidth": {
        "device": Str,
        "ip-address": Str,
        "hostname": Str,
        "rate": Str,
        "limit": Int,
        "buffer": Int,
        "peakrate": Int,
        "minburst": Int,
    },
    "stress-cpu": {"load": Int, "workers": Int, "options": ListOf(Str)},
    "stress-mem": {"size": Str, "options": ListOf(Str)},
    "process": {"process": Str, "signal": Int, "recoverCmd": Str},
    "disk-fill": {"path": Str, "size": Str, "percent": Str, "fill-by-fallocate": Bool},
}
#: actions PhysicalMachineChaos has that the native agent does not
OTHER_ACTIONS = (
    "network-dns",
    "network-flood",
    "network-down",
    "disk-read-payload",
    "disk-write-payload",
    "clock",
    "jvm-exception",
    "jvm-gc",
    "jvm-latency",
    "jvm-return",
    "jvm-stress",
    "jvm-rule-data",
    "jvm-mysql",
    "redis-expiration",
    "redis-penetration",
    "redis-cacheLimit",
    "redis-restart",
    "redis-stop",
    "kafka-fill",
    "kafka-flood",
    "kafka-io",
    "http-abort",
    "http-delay",
    "http-config",
    "http-request",
    "file-create",
    "file-modify",
    "file-delete",
    "file-rename",
    "file-append",
    "file-replace",
    "vm",
    "user_defined",
)
SPEC: dict[str, Any] = {
    **COMMON,
    "selector": {**SELECTOR, "physicalMachines": MapOf(ListOf(Str))},
    "action": Str,
    "address": ListOf(Str),
    "uid": Str,
    **ACTIONS,
    **{a: MapOf(IntOrStr) for a in OTHER_ACTIONS},
}
SIGNALS = {
    1: "SIGHUP",
    2: "SIGINT",
    3: "SIGQUIT",
    6: "SIGABRT",
    9: "SIGKILL",
    10: "SIGUSR1",
    12: "SIGUSR2",
    15: "SIGTERM",
}
SIGSTOP = 19
_RATE = re.compile(r"^([0-9]+)(bps|kbps|mbps|gbps|tbps)$")
_RATE_KBIT = {"bps": 1 / 1000, "kbps": 1, "mbps": 1000, "gbps": 1_000_000, "tbps": 1_000_000_000}
_SIZE = re.compile(r"^([0-9]+)(c|w|b|kB|K|KB|MB|M|GB|G|TB|T)?$")
_SIZE_BYTES = {
    None: 1,
    "c": 1,
    "w": 2,
    "b": 512,
    "kB": 1000,
    "K": 1024,
    "KB": 1000,
    "MB": 1000**2,
    "M": 1024**2,
    "GB": 1000**3,
    "G": 1024**3,
    "TB": 1000**4,
    "T": 1024**4,
}


def _signals() -> str:
    return ", ".join(f"{n} {name}" for n, name in SIGNALS.items())


def _no(body: dict[str, Any], keys: tuple[str, ...], path: Path, fault: str) -> None:
    for key in keys:
        if body.get(key):
            raise refuse(
                [*path, key],
                f"the agent's {fault} has no {key} filter; leaving it out would hit more "
                "traffic than the document says",
            )


def _peers(body: dict[str, Any]) -> dict[str, Any]:
    if not body.get("ip-address"):
        return {}
    return {"peers": [p.strip() for p in body["ip-address"].split(",") if p.strip()]}


def _size(text: str, path: Path) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise refuse(path, f"a size such as 512M or 1GB, not {text!r}")
    return int(match.group(1)) * _SIZE_BYTES[match.group(2)]


def _fault(
    action: str, body: dict[str, Any], where: list[str | int], notes: Notes
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(fault name, params, selector additions) for one action's block."""
    selector: dict[str, Any] = {}
    if action.startswith("network-"):
        if not body.get("device"):
            raise refuse(
                [*where, "device"], "the agent's network faults act on one device: give it"
            )
        selector["interface"] = body["device"]
        _no(body, ("hostname", "source-port", "accept-tcp-flags"), where, action)
    if action == "network-delay":
        _no(body, ("ip-address", "ip-protocol", "egress-port"), where, action)
        if not body.get("latency"):
            raise refuse([*where, "latency"], "a network-delay needs a latency")
        latency = whole(go_seconds(body["latency"], [*where, "latency"]) * 1000)
        jitter = go_seconds(body["jitter"], [*where, "jitter"]) * 1000 if body.get("jitter") else 0
        if jitter:
            params: dict[str, Any] = {"latency_ms": latency, "jitter_ms": whole(jitter)}
            if body.get("correlation"):
                params["correlation_percent"] = whole(
                    number(body["correlation"], [*where, "correlation"])
                )
            return "network-jitter", params, selector
        if body.get("correlation"):
            notes.add([*where, "correlation"], "a correlation without a jitter changes nothing")
        return "network-delay", {"latency_ms": latency}, selector
    if action in ("network-corrupt", "network-duplicate"):
        _no(body, ("ip-address", "ip-protocol", "egress-port"), where, action)
        if body.get("correlation"):
            notes.add([*where, "correlation"], f"the agent's {action} has no correlation")
        return (
            action,
            {"percent": whole(number(body.get("percent"), [*where, "percent"]))},
            selector,
        )
    if action in ("network-loss", "network-partition"):
        params = _peers(body)
        if body.get("ip-protocol"):
            params["protocol"] = one_of(
                body["ip-protocol"], ("tcp", "udp", "icmp", "all"), [*where, "ip-protocol"]
            )
        if body.get("egress-port"):
            try:
                params["ports"] = [int(p) for p in body["egress-port"].split(",")]
            except ValueError:
                raise refuse(
                    [*where, "egress-port"], "the agent takes single ports, not ranges"
                ) from None
        if action == "network-loss":
            params["percent"] = whole(number(body.get("percent"), [*where, "percent"]))
            params.setdefault("direction", "egress")
            if body.get("correlation"):
                notes.add([*where, "correlation"], "the agent's network-loss has no correlation")
        else:
            direction = one_of(
                body.get("direction", "both"), ("to", "from", "both"), [*where, "direction"]
            )
            params["direction"] = {"to": "egress", "from": "ingress", "both": "both"}[direction]
        return action, params, selector
    if action == "network-bandwidth":
        _no(body, ("ip-address",), where, action)
        match = _RATE.match(str(body.get("rate") or ""))
        if not match:
            raise refuse([*where, "rate"], "a rate such as 10mbps")
        params = {"rate_kbit": max(8, int(int(match.group(1)) * _RATE_KBIT[match.group(2)]))}
        if body.get("buffer"):
            params["burst_bytes"] = body["buffer"]
        for key in ("limit", "peakrate", "minburst"):
            if body.get(key):
                notes.add([*where, key], "the agent's bandwidth fault sets rate and burst only")
        return "network-bandwidth", params, selector
    if action == "stress-cpu":
        if body.get("options"):
            notes.add([*where, "options"], "the agent's cpu-stress takes no stress-ng options")
        params = {
            k2: body[k1]
            for k1, k2 in (("workers", "workers"), ("load", "load_percent"))
            if body.get(k1) is not None
        }
        return "cpu-stress", params, selector
    if action == "stress-mem":
        if body.get("options"):
            notes.add([*where, "options"], "the agent's memory-stress takes no options")
        size = str(body.get("size") or "")
        if size.endswith("%"):
            return (
                "memory-stress",
                {"percent": whole(number(size[:-1], [*where, "size"]))},
                selector,
            )
        return "memory-stress", {"bytes": _size(size, [*where, "size"])}, selector
    if action == "process":
        target = str(body.get("process") or "")
        if not target:
            raise refuse([*where, "process"], "a process attack names a process (pid or name)")
        selector.update({"pid": int(target)} if target.isdigit() else {"name": target})
        if body.get("recoverCmd"):
            raise refuse(
                [*where, "recoverCmd"], "a shell command on recovery has no hub equivalent"
            )
        signal = body.get("signal")
        if signal is None:
            raise refuse(
                [*where, "signal"],
                "give the signal: chaosd's server sends signal 0 without one, which kills nothing",
            )
        if signal == SIGSTOP:
            return "process-pause", {}, selector
        if signal not in SIGNALS:
            raise refuse(
                [*where, "signal"],
                f"signal {signal} is not one the agent sends ({_signals()}, or 19 to pause)",
            )
        return "process-kill", {"signal": SIGNALS[signal]}, selector
    # disk-fill
    if not body.get("path"):
        raise refuse([*where, "path"], "the agent fills a file system at a path: give path")
    params = {"path": body["path"]}
    if body.get("percent"):
        params["percent"] = whole(number(body["percent"], [*where, "percent"]))
    elif body.get("size"):
        params["bytes"] = _size(body["size"], [*where, "size"])
    if "fill-by-fallocate" in body:
        notes.add([*where, "fill-by-fallocate"], "the agent chooses how it fills")
    return "disk-fill", params, selector


def import_physical(
    doc: dict[str, Any], notes: Notes, backend: str | None, agent: str | None
) -> dict[str, Any]:
    envelope(doc, SPEC)
    spec = doc["spec"]
    action = one_of(spec.get("action"), (*ACTIONS, *OTHER_ACTIONS), ["spec", "action"])
    if action in OTHER_ACTIONS:
        raise refuse(["spec", "action"], f"the native agent has no {action} fault")
    body = spec.get(action)
    if not isinstance(body, dict):
        raise refuse(["spec", action], f"action {action} needs its settings under {action}")
    for other in ACTIONS:
        if other != action and spec.get(other):
            notes.add(
                ["spec", other], f"Chaos Mesh ignores it for action {action}; so does the hub"
            )
    name, params, extra = _fault(action, body, ["spec", action], notes)
    chosen_agent = agent or "local"
    if spec.get("address") or (spec.get("selector") or {}).get("physicalMachines"):
        notes.add(
            ["spec", "address" if spec.get("address") else "selector"],
            f"the hub reaches hosts through its agents: the fault runs on agent {chosen_agent!r} "
            "(choose with --agent)",
        )
    elif agent is None:
        notes.add(["spec"], "no agent given: 'local' assumed (choose with --agent)")
    if spec.get("selector", {}).get("labelSelectors"):
        notes.add(["spec", "selector", "labelSelectors"], "agents are chosen by name (--agent)")
    out: dict[str, Any] = {
        "kind": "Experiment",
        "name": (doc.get("metadata") or {}).get("name") or action,
        "description": f"imported from Chaos Mesh PhysicalMachineChaos {action}",
        "faultType": f"{ADAPTER}/{name}",
        "backend": backend or ADAPTER,
        "selector": {"agents": [chosen_agent], **extra},
        "params": params,
    }
    if name == "process-kill":
        return out
    if not spec.get("duration"):
        raise refuse(
            ["spec", "duration"],
            "the hub holds a fault for a duration and then recovers it: give duration",
        )
    out["durationSeconds"] = whole(go_seconds(spec["duration"], ["spec", "duration"]))
    return out


# -- chaosd's own attack bodies (what ``POST /api/attack/<kind>`` takes) ------------------------

#: chaosd's attack kinds and actions, as the PhysicalMachineChaos action of the same attack
ATTACKS: dict[tuple[str, str], str] = {
    **{
        ("network", a): f"network-{a}"
        for a in ("delay", "loss", "corrupt", "duplicate", "partition", "bandwidth")
    },
    ("stress", "cpu"): "stress-cpu",
    ("stress", "mem"): "stress-mem",
    ("process", "kill"): "process",
    ("process", "stop"): "process",
    ("disk", "fill"): "disk-fill",
}
#: the fields chaosd's server adds to every attack (``pkg/core/common.go``)
ATTACK_COMMON: dict[str, Any] = {
    "kind": Str,
    "action": Str,
    "uid": Str,
    "schedule": Str,
    "duration": Str,
}
#: chaosd's own name of a field where PhysicalMachineChaos differs
ATTACK_NAMES = {"fallocate": "fill-by-fallocate"}


def import_attack(
    doc: dict[str, Any], notes: Notes, backend: str | None, agent: str | None
) -> dict[str, Any]:
    """One chaosd attack body (``kind`` as chaosd stores it beside the body: network, stress,
    process, disk), e.g. ``{"kind": "network", "action": "delay", "device": "eth0",
    "latency": "10ms", "duration": "30s"}``, as a hub experiment on the native agent."""
    kind = str(doc.get("kind"))
    action = str(doc.get("action", "kill" if kind == "process" else ""))
    if (kind, action) not in ATTACKS:
        known = ", ".join(sorted({f"{k} {a}" for k, a in ATTACKS}))
        where = ["kind"] if kind not in {k for k, _ in ATTACKS} else ["action"]
        raise refuse(
            where, f"the native agent has no chaosd {kind} {action} attack (it has: {known})"
        )
    physical = ATTACKS[(kind, action)]
    body_shape = {**ATTACK_COMMON, **{k: v for k, v in ACTIONS[physical].items()}}
    if kind == "disk":
        body_shape["fallocate"] = body_shape.pop("fill-by-fallocate")
    if kind == "process" and action == "stop":
        body_shape.pop("signal", None)  # chaosd's stop sends SIGSTOP itself
    check(doc, body_shape)
    if doc.get("schedule"):
        raise refuse(
            ["schedule"], "a repeated attack is a hub Schedule: import it once and schedule it"
        )
    if doc.get("uid"):
        notes.add(["uid"], "the hub names its runs itself")
    body = {ATTACK_NAMES.get(k, k): v for k, v in doc.items() if k not in ATTACK_COMMON}
    if kind == "process" and action == "stop":
        body["signal"] = SIGSTOP
    name, params, extra = _fault(physical, body, [], notes)
    chosen = agent or "local"
    if agent is None:
        notes.add([], "no agent given: 'local' assumed (choose with --agent)")
    out: dict[str, Any] = {
        "kind": "Experiment",
        "name": f"chaosd-{kind}-{action}",
        "description": f"imported from a chaosd {kind} {action} attack",
        "faultType": f"{ADAPTER}/{name}",
        "backend": backend or ADAPTER,
        "selector": {"agents": [chosen], **extra},
        "params": params,
    }
    if name == "process-kill":
        return out
    if not doc.get("duration"):
        raise refuse(
            ["duration"],
            "the hub holds a fault for a duration and then recovers it: give duration (chaosd "
            "ignores it without a schedule and holds the attack until it is recovered)",
        )
    out["durationSeconds"] = whole(go_seconds(doc["duration"], ["duration"]))
    return out
