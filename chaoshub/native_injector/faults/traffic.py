"""tc faults: ``network-bandwidth`` (tbf, or htb toward given peers) and the netem family
(``network-delay``, ``network-jitter``, ``network-duplicate``, ``network-corrupt``).

Each fault installs one root qdisc whose handle is derived from the execution id and
stored before it is added; recovery deletes the root qdisc only when it still carries
that handle, so a qdisc someone else put there is never removed. An interface whose root
qdisc is not the kernel's default is refused rather than overwritten. Bandwidth can shape
ingress too, on an ifb device; netem shapes egress only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context
from chaoshub.native_injector.faults.netif import (
    InterfaceFault,
    namespace_gone,
    networks,
    parse_target,
)
from chaoshub.native_injector.problems import Rejected
from chaoshub.native_injector.state import Record


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
        if namespace_gone(netns):
            return False, f"network namespace {netns} is gone, and its qdiscs with it"
        try:
            current = root_qdisc(netns, interface)
        except system.CommandFailed:
            return False, f"{interface} is gone"
        ours = current.get("handle") == f"{handle_for(record.execution_id)}:"
        return ours, f"root qdisc on {interface}: {current.get('kind')} {current.get('handle')}"

    def revert(self, record: Record, ctx: Context) -> None:
        interface, netns = parse_target(record.target)
        if namespace_gone(netns):
            return
        try:
            current = root_qdisc(netns, interface)
        except system.CommandFailed:
            return  # the interface is gone, and its qdiscs with it
        if current.get("handle") == f"{handle_for(record.execution_id)}:":
            _tc(netns, "qdisc", "del", "dev", interface, "root")


def _ip(netns: str | None, *args: str) -> str:
    return system.run(["ip", *(["-n", netns] if netns else []), *args])


def ifb_for(handle: str) -> str:
    """The ifb device ingress shaping redirects an interface's incoming traffic to."""
    return f"chifb{handle}"


def has_ingress(netns: str | None, interface: str) -> bool:
    qdiscs = json.loads(_tc(netns, "-j", "qdisc", "show", "dev", interface) or "[]")
    return any(q.get("kind") == "ingress" for q in qdiscs)


def link_exists(netns: str | None, name: str) -> bool:
    try:
        _ip(netns, "link", "show", "dev", name)
    except system.CommandFailed:
        return False
    return True


class NetworkBandwidth(_QdiscFault):
    """Egress is shaped on the interface itself; ingress on an ifb device the interface's
    incoming traffic is redirected to (``ingress`` qdisc + ``mirred``)."""

    name = "network-bandwidth"
    requires: ClassVar[tuple[str, ...]] = ("tc", "sch_tbf", "sch_htb", "cap-net-admin")

    def commands(
        self, params: dict[str, Any], interface: str, handle: str
    ) -> tuple[list[list[str]], dict[str, float]]:
        rate = f"{int(params['rate_kbit'])}kbit"
        burst = str(int(params["burst_bytes"]))
        peers = networks(list(params.get("peers") or []), "peers")
        ports = [str(int(p)) for p in params.get("ports") or []]
        egress = params.get("direction", "egress") == "egress"
        metrics = {"rate_kbit": float(params["rate_kbit"]), "peers": float(len(peers))}
        dev = ["dev", interface]
        root = ["qdisc", "add", *dev, "root", "handle", f"{handle}:"]
        if not peers and not ports:
            latency = f"{int(params['latency_ms'])}ms"
            return [[*root, "tbf", "rate", rate, "burst", burst, "latency", latency]], metrics
        # htb: class 1 is the unshaped default, class 2 the limited one matching traffic goes to
        parent = ["dev", interface, "parent", f"{handle}:"]
        cmds = [
            [*root, "htb", "default", "1"],
            ["class", "add", *parent, "classid", f"{handle}:1", "htb", "rate", "100gbit"],
            [
                "class",
                "add",
                *parent,
                "classid",
                f"{handle}:2",
                "htb",
                *("rate", rate),
                *("ceil", rate),
                *("burst", burst),
            ],
        ]
        peer_key, port_key = ("dst", "dport") if egress else ("src", "sport")
        peer_matches = [["match", "ip", peer_key, p] for p in peers] or [[]]
        port_matches = [["match", "ip", port_key, p, "0xffff"] for p in ports] or [[]]
        for peer in peer_matches:
            for port in port_matches:
                cmds.append(
                    [
                        "filter",
                        "add",
                        *parent,
                        "protocol",
                        "ip",
                        "prio",
                        "1",
                        "u32",
                        *peer,
                        *port,
                        "flowid",
                        f"{handle}:2",
                    ]
                )
        return cmds, metrics

    def apply(self, record: Record, ctx: Context) -> None:
        if record.params.get("direction", "egress") == "egress":
            super().apply(record, ctx)
            return
        interface, netns = parse_target(record.target)
        handle = handle_for(record.execution_id)
        ifb = ifb_for(handle)
        if has_ingress(netns, interface):
            raise Rejected(
                f"{interface} already has an ingress qdisc; refusing to replace it",
                field=["target", "id"],
            )
        commands, metrics = self.commands(record.params, ifb, handle)
        record.applied = {"netns": netns, "interface": interface, "handle": handle, "ifb": ifb}
        ctx.save(record)
        _ip(netns, "link", "add", ifb, "type", "ifb")
        _ip(netns, "link", "set", ifb, "up")
        for argv in commands:
            _tc(netns, *argv)
        _tc(netns, "qdisc", "add", "dev", interface, "handle", "ffff:", "ingress")
        _tc(
            netns,
            "filter",
            "add",
            "dev",
            interface,
            "parent",
            "ffff:",
            "protocol",
            "all",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "action",
            "mirred",
            "egress",
            "redirect",
            "dev",
            ifb,
        )
        record.metrics = metrics
        record.native = f"ingress of {interface} redirected to {ifb}, shaped by {handle}:"

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        ifb = record.applied.get("ifb")
        if record.params.get("direction", "egress") == "egress" or not ifb:
            return super().present(record, ctx)
        interface, netns = parse_target(record.target)
        if namespace_gone(netns) or not link_exists(netns, ifb):
            return False, f"{ifb} is gone"
        shaped = root_qdisc(netns, ifb).get("handle") == f"{handle_for(record.execution_id)}:"
        redirected = link_exists(netns, interface) and has_ingress(netns, interface)
        return shaped and redirected, f"{interface} ingress via {ifb}: shaped={shaped}"

    def revert(self, record: Record, ctx: Context) -> None:
        ifb = record.applied.get("ifb")
        if record.params.get("direction", "egress") == "egress" or not ifb:
            super().revert(record, ctx)
            return
        interface, netns = parse_target(record.target)
        if namespace_gone(netns):
            return
        if link_exists(netns, interface) and has_ingress(netns, interface):
            _tc(netns, "qdisc", "del", "dev", interface, "ingress")
        if link_exists(netns, ifb):
            _ip(netns, "link", "del", ifb)


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
