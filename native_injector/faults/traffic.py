"""tc faults: ``network-bandwidth`` (tbf, or htb toward given peers) and the netem family
(``network-delay``, ``network-jitter``, ``network-duplicate``, ``network-corrupt``).

Each fault installs one root qdisc whose handle is derived from the execution id and
stored before it is added; recovery deletes the root qdisc only when it still carries
that handle, so a qdisc someone else put there is never removed. An interface whose root
qdisc is not the kernel's default is refused rather than overwritten. Only egress is
shaped (ingress shaping would need an ifb device).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from native_injector import system
from native_injector.faults.base import Context
from native_injector.faults.netif import InterfaceFault, networks, parse_target
from native_injector.problems import Rejected
from native_injector.state import Record


def handle_for(execution_id: str) -> str:
    """A qdisc major handle (hex) in a range the injector keeps for itself."""
    n = int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16)
    return f"{0xC000 + n % 0x3000:x}"


def _tc(netns: str | None, *args: str) -> str:
    return system.run([*system.netns_prefix(netns), "tc", *args])


def root_qdisc(netns: str | None, interface: str) -> dict[str, Any]:
    for qdisc in json.loads(_tc(netns, "-j", "qdisc", "show", "dev", interface) or "[]"):
        if qdisc.get("root"):
            return dict(qdisc)
    return {}


class _QdiscFault(InterfaceFault):
    requires: ClassVar[tuple[str, ...]] = ("tc", "cap-net-admin")

    def commands(
        self, params: dict[str, Any], interface: str, handle: str
    ) -> tuple[list[list[str]], dict[str, float]]:
        """The tc argv lists that install the fault, and the values they apply."""
        raise NotImplementedError

    def apply(self, record: Record, ctx: Context) -> None:
        interface, netns = parse_target(record.target)
        handle = handle_for(record.execution_id)
        current = root_qdisc(netns, interface)
        if current and current.get("handle") not in ("0:", f"{handle}:"):
            raise Rejected(
                f"{interface} already has a root qdisc {current.get('kind')} "
                f"(handle {current.get('handle')}); refusing to replace it",
                field=["target", "id"],
            )
        commands, metrics = self.commands(record.params, interface, handle)
        record.applied = {"netns": netns, "interface": interface, "handle": handle}
        ctx.save(record)
        for argv in commands:
            _tc(netns, *argv)
        record.metrics = metrics
        record.native = f"root qdisc {handle}: on {interface}"

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        interface, netns = parse_target(record.target)
        try:
            current = root_qdisc(netns, interface)
        except system.CommandFailed:
            return False, f"{interface} is gone"
        ours = current.get("handle") == f"{handle_for(record.execution_id)}:"
        return ours, f"root qdisc on {interface}: {current.get('kind')} {current.get('handle')}"

    def revert(self, record: Record, ctx: Context) -> None:
        interface, netns = parse_target(record.target)
        try:
            current = root_qdisc(netns, interface)
        except system.CommandFailed:
            return  # the interface is gone, and its qdiscs with it
        if current.get("handle") == f"{handle_for(record.execution_id)}:":
            _tc(netns, "qdisc", "del", "dev", interface, "root")


class NetworkBandwidth(_QdiscFault):
    name = "network-bandwidth"
    requires: ClassVar[tuple[str, ...]] = ("tc", "sch_tbf", "sch_htb", "cap-net-admin")

    def commands(
        self, params: dict[str, Any], interface: str, handle: str
    ) -> tuple[list[list[str]], dict[str, float]]:
        rate = f"{int(params['rate_kbit'])}kbit"
        burst = str(int(params["burst_bytes"]))
        peers = networks(list(params.get("peers") or []), "peers")
        metrics = {"rate_kbit": float(params["rate_kbit"]), "peers": float(len(peers))}
        dev = ["dev", interface]
        if not peers:
            latency = f"{int(params['latency_ms'])}ms"
            return [
                [
                    "qdisc",
                    "add",
                    *dev,
                    "root",
                    "handle",
                    f"{handle}:",
                    "tbf",
                    "rate",
                    rate,
                    "burst",
                    burst,
                    "latency",
                    latency,
                ]
            ], metrics
        # htb: class 1 is the unshaped default, class 2 the limited one the peers go to
        cmds = [
            ["qdisc", "add", *dev, "root", "handle", f"{handle}:", "htb", "default", "1"],
            [
                "class",
                "add",
                *dev,
                "parent",
                f"{handle}:",
                "classid",
                f"{handle}:1",
                "htb",
                "rate",
                "100gbit",
            ],
            [
                "class",
                "add",
                *dev,
                "parent",
                f"{handle}:",
                "classid",
                f"{handle}:2",
                "htb",
                "rate",
                rate,
                "ceil",
                rate,
                "burst",
                burst,
            ],
        ]
        for peer in peers:
            cmds.append(
                [
                    "filter",
                    "add",
                    *dev,
                    "parent",
                    f"{handle}:",
                    "protocol",
                    "ip",
                    "prio",
                    "1",
                    "u32",
                    "match",
                    "ip",
                    "dst",
                    peer,
                    "flowid",
                    f"{handle}:2",
                ]
            )
        return cmds, metrics


class _Netem(_QdiscFault):
    requires: ClassVar[tuple[str, ...]] = ("tc", "sch_netem", "cap-net-admin")

    def netem(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        raise NotImplementedError

    def commands(
        self, params: dict[str, Any], interface: str, handle: str
    ) -> tuple[list[list[str]], dict[str, float]]:
        args, metrics = self.netem(params)
        return [
            ["qdisc", "add", "dev", interface, "root", "handle", f"{handle}:", "netem", *args]
        ], metrics


class NetworkDelay(_Netem):
    name = "network-delay"

    def netem(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        latency = int(params["latency_ms"])
        return ["delay", f"{latency}ms"], {"latency_ms": float(latency)}


class NetworkJitter(_Netem):
    name = "network-jitter"

    def netem(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        latency, jitter = int(params["latency_ms"]), int(params["jitter_ms"])
        correlation = float(params["correlation_percent"])
        args = ["delay", f"{latency}ms", f"{jitter}ms", f"{correlation:g}%"]
        return args, {"latency_ms": float(latency), "jitter_ms": float(jitter)}


class NetworkDuplicate(_Netem):
    name = "network-duplicate"

    def netem(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        percent = float(params["percent"])
        return ["duplicate", f"{percent:g}%"], {"duplicate_percent": percent}


class NetworkCorrupt(_Netem):
    name = "network-corrupt"

    def netem(self, params: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
        percent = float(params["percent"])
        return ["corrupt", f"{percent:g}%"], {"corrupt_percent": percent}
