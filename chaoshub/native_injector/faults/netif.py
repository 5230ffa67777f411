"""Network targets: one interface, in the host's namespace or in a named one.

A target id is the interface name (``eth0``) or ``netns/<namespace>/<interface>`` for an
interface inside a named network namespace (``ip netns``), so hosts that run workloads
in their own namespaces can be hit too.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, ClassVar

from pydantic import Field, field_validator

from chaoshub.native_injector import system
from chaoshub.native_injector.faults.base import Context, Fault, Selector
from chaoshub.native_injector.problems import InvalidRequest, Missing
from chaoshub.schemas import ipv4_network

_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # fullmatch: "eth0\n" is not a name


class InterfaceSelector(Selector):
    interface: str = Field(description="the interface name, e.g. eth0")
    netns: str | None = Field(default=None, description="a named network namespace")

    @field_validator("interface", "netns")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.fullmatch(value):
            raise ValueError("not an interface or namespace name")
        return value


def target_id(interface: str, netns: str | None) -> str:
    return f"netns/{netns}/{interface}" if netns else interface


def parse_target(target: dict[str, Any]) -> tuple[str, str | None]:
    """``(interface, netns)`` from a target id, checked to be plain names."""
    tid = str(target.get("id", ""))
    parts = tid.split("/")
    if len(parts) == 3 and parts[0] == "netns":
        netns, interface = parts[1], parts[2]
    elif len(parts) == 1:
        netns, interface = None, parts[0]
    else:
        raise InvalidRequest(
            "an interface target id is <if> or netns/<ns>/<if>", field=["target", "id"]
        )
    for value in (interface, netns):
        if value is not None and not _NAME.fullmatch(value):
            raise InvalidRequest(f"{value!r} is not a valid name", field=["target", "id"])
    return interface, netns


def namespace_gone(netns: str | None) -> bool:
    """A named namespace that no longer exists took its rules and qdiscs with it."""
    return bool(netns) and not os.path.exists(f"/run/netns/{netns}")


def interface_exists(interface: str, netns: str | None) -> bool:
    if namespace_gone(netns):
        return False
    try:
        out = system.run(
            ["ip", *(["-n", netns] if netns else []), "-j", "link", "show", "dev", interface]
        )
    except system.CommandFailed:
        return False
    return bool(json.loads(out or "[]"))


class InterfaceFault(Fault):
    """Base of the network faults: discover and check an interface target."""

    selector_model: ClassVar[type[Selector]] = InterfaceSelector

    def discover(self, selector: Selector, ctx: Context) -> list[dict[str, Any]]:
        assert isinstance(selector, InterfaceSelector)
        if not interface_exists(selector.interface, selector.netns):
            return []
        where = f" in {selector.netns}" if selector.netns else ""
        return [
            {
                "id": target_id(selector.interface, selector.netns),
                "label": f"{selector.interface}{where}",
                "attributes": {
                    "kind": "interface",
                    "interface": selector.interface,
                    "netns": selector.netns,
                },
            }
        ]

    def check_target(self, target: dict[str, Any], ctx: Context) -> None:
        interface, netns = parse_target(target)
        if not interface_exists(interface, netns):
            raise Missing(f"no interface {target['id']}", field=["target", "id"])


def networks(values: list[str], field: str) -> list[str]:
    """Peers as normalised IPv4 networks; anything else is refused (the hub's catalog
    format ``ipv4-network`` refuses the same values first)."""
    out = []
    for i, value in enumerate(values):
        net = ipv4_network(value) if isinstance(value, str) else None
        if net is None:
            raise InvalidRequest(
                f"{value!r} is not an IPv4 address or CIDR", field=["params", field, i]
            )
        out.append(net)
    return out
