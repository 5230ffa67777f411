"""iptables faults: ``network-loss`` (the ``statistic`` match) and ``network-partition``.

Every rule carries ``-m comment --comment chaoshub:<execution id>``. Recovery lists the
filter table and deletes exactly the rules with that comment, so it needs nothing but
the execution id and undoes a half-applied rule set after a crash as well.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context
from chaoshub.native_injector.faults.netif import (
    InterfaceFault,
    namespace_gone,
    networks,
    parse_target,
)
from chaoshub.native_injector.state import Record

COMMENT_PREFIX = "chaoshub:"


def comment(execution_id: str) -> str:
    return f"{COMMENT_PREFIX}{execution_id}"


def _iptables(netns: str | None, *args: str) -> str:
    return system.run([*system.netns_prefix(netns), "iptables", "-w", "5", *args])


def rules(netns: str | None) -> list[tuple[list[str], str]]:
    """Every filter-table rule that carries a chaoshub comment: ``(argv, comment)``."""
    found = []
    for line in _iptables(netns, "-S").splitlines():
        if COMMENT_PREFIX not in line:
            continue
        argv = shlex.split(line)
        if argv[:1] != ["-A"] or "--comment" not in argv:
            continue
        text = argv[argv.index("--comment") + 1]
        if text.startswith(COMMENT_PREFIX):
            found.append((argv, text))
    return found


def delete_rules(netns: str | None, text: str) -> int:
    """Delete every rule whose comment is exactly ``text``; how many were deleted."""
    deleted = 0
    for argv, found in rules(netns):
        if found == text:
            _iptables(netns, "-D", *argv[1:])
            deleted += 1
    return deleted


def rule_specs(
    params: dict[str, Any], interface: str, drop_probability: float | None
) -> list[tuple[str, list[str]]]:
    """``(chain, match arguments)`` for each rule the params ask for."""
    direction = params.get("direction", "egress")
    peers = networks(list(params.get("peers") or []), "peers")
    ports = [str(int(p)) for p in params.get("ports") or []]
    protocol = params.get("protocol", "all")
    protocols = [protocol] if protocol != "all" else (["tcp", "udp"] if ports else ["all"])
    specs = []
    for way in ("egress", "ingress"):
        if direction not in (way, "both"):
            continue
        chain, if_flag, peer_flag, port_flag = (
            ("OUTPUT", "-o", "-d", "--dports")
            if way == "egress"
            else ("INPUT", "-i", "-s", "--sports")
        )
        for proto in protocols:
            spec = [if_flag, interface]
            if peers:
                spec += [peer_flag, ",".join(peers)]
            if proto != "all":
                spec += ["-p", proto]
            if ports:
                spec += ["-m", "multiport", port_flag, ",".join(ports)]
            if drop_probability is not None:
                spec += [
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    f"{drop_probability:.6f}",
                ]
            specs.append((chain, spec))
    return specs


class _DropFault(InterfaceFault):
    requires: ClassVar[tuple[str, ...]] = ("iptables", "cap-net-admin")

    def probability(self, params: dict[str, Any]) -> float | None:
        return None

    def apply(self, record: Record, ctx: Context) -> None:
        interface, netns = parse_target(record.target)
        specs = rule_specs(record.params, interface, self.probability(record.params))
        text = comment(record.execution_id)
        record.applied = {"netns": netns, "interface": interface, "comment": text}
        ctx.save(record)
        for chain, spec in specs:
            _iptables(
                netns, "-I", chain, "1", *spec, "-m", "comment", "--comment", text, "-j", "DROP"
            )
        record.metrics = self.metrics(record.params)
        record.metrics["rules"] = float(len(specs))
        record.native = f"{len(specs)} iptables rule(s) tagged {text}"

    def metrics(self, params: dict[str, Any]) -> dict[str, float]:
        return {}

    def present(self, record: Record, ctx: Context) -> tuple[bool, str]:
        netns = record.applied.get("netns")
        if namespace_gone(netns):
            return False, f"network namespace {netns} is gone, and its rules with it"
        count = sum(1 for _, t in rules(netns) if t == comment(record.execution_id))
        return count > 0, f"{count} iptables rule(s) tagged {comment(record.execution_id)}"

    def revert(self, record: Record, ctx: Context) -> None:
        netns = record.applied.get("netns")
        if "netns" not in record.applied:
            netns = parse_target(record.target)[1]
        if not namespace_gone(netns):
            delete_rules(netns, comment(record.execution_id))


class NetworkLoss(_DropFault):
    name = "network-loss"
    requires: ClassVar[tuple[str, ...]] = ("iptables", "iptables-statistic", "cap-net-admin")

    def probability(self, params: dict[str, Any]) -> float | None:
        return float(params["percent"]) / 100.0

    def metrics(self, params: dict[str, Any]) -> dict[str, float]:
        return {"loss_percent": float(params["percent"])}


class NetworkPartition(_DropFault):
    name = "network-partition"

    def metrics(self, params: dict[str, Any]) -> dict[str, float]:
        return {"peers": float(len(params.get("peers") or []))}
