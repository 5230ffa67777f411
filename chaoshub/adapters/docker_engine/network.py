"""Network faults in a container's network namespace: tc qdiscs and iptables rules.

What was added is recognisable without any stored state, so recovery deletes exactly it:

- a qdisc is added as the interface's root with a handle derived from the execution id;
  recovery deletes the root qdisc only when it has that handle and kind. A root qdisc
  someone else added is left alone and the injection refused.
- every iptables rule carries ``-m comment --comment chaoshub:<execution id>``; recovery
  lists the chains and deletes exactly the rules with that comment.

netem faults (delay, loss, duplicate, corrupt) need the kernel's ``sch_netem``; the rate
fault uses ``tbf`` instead, and ``network-loss-iptables`` only netfilter's ``statistic``
match, so both work on kernels built without netem.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from chaoshub.adapters.docker_engine import netns
from chaoshub.adapters.docker_engine.driver import Driver, Engine
from chaoshub.adapters.docker_engine.netns import Shell
from chaoshub.contract import Execution, Observation, Observed
from chaoshub.errors import InvalidInput, RejectedByTool

IPT = ("iptables", "-w", "5")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,200}$")


def qdisc_handle(execution_id: str) -> str:
    """A root qdisc handle (hex major number) this execution's qdisc is known by."""
    number = int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16)
    return f"{0x1000 + number % 0xE000:x}"


def rule_comment(execution_id: str) -> str:
    if _SAFE_ID.fullmatch(execution_id):
        return f"chaoshub:{execution_id}"
    return "chaoshub:h-" + hashlib.sha256(execution_id.encode()).hexdigest()[:40]


def _root_qdisc(shell: Shell, interface: str) -> tuple[str, str, str]:
    """(kind, handle without colon, the line) of the interface's root qdisc."""
    out = shell.check(["tc", "qdisc", "show", "dev", interface]).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "qdisc" and "root" in parts:
            return parts[1], parts[2].rstrip(":"), line.strip()
    return "", "0", ""


def _gone(engine: Engine, execution: Execution) -> Observation | None:
    """When the container no longer has a network namespace, nothing of the fault is left."""
    attrs = engine.inspect(execution.target.id)
    if attrs is None:
        return Observation(
            Observed.RECOVERED, native="container is gone", messages=("the container vanished",)
        )
    if not (attrs.get("State") or {}).get("Running"):
        return Observation(
            Observed.RECOVERED,
            native=str((attrs.get("State") or {}).get("Status")),
            messages=("the container stopped; its network namespace went with the fault",),
        )
    return None


def _own_namespace(engine: Engine, execution: Execution) -> None:
    """Refuse a container that uses the host's network namespace: the fault would hit the host."""
    attrs = engine.inspect_or_raise(execution.target.id)
    mode = str((attrs.get("HostConfig") or {}).get("NetworkMode") or "")
    if mode == "host":
        raise RejectedByTool(
            "the container uses the host's network namespace (network mode host); "
            "a network fault there would hit every process on the host",
            native_code=409,
        )


class _Qdisc(Driver):
    kind: ClassVar[str] = ""

    def qdisc_args(self, params: Mapping[str, Any]) -> list[str]:
        raise NotImplementedError

    def metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {}

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        interface = str(execution.params.get("interface", "eth0"))
        handle = qdisc_handle(execution.id)
        data = {"container": execution.target.id, "interface": interface, "qdisc": f"{handle}:"}
        _own_namespace(engine, execution)
        with engine.netns(execution.target.id, execution.id) as shell:
            kind, current, line = _root_qdisc(shell, interface)
            if current == handle and kind == self.kind:
                return data, Observation(
                    Observed.INJECTED,
                    native=f"{line} (adopted)",
                    metrics=self.metrics(execution.params),
                )
            if current not in ("0", ""):
                raise RejectedByTool(
                    f"{interface} already has a root qdisc that this execution did not add: {line}",
                    native_code=409,
                )
            argv = [
                "tc",
                "qdisc",
                "add",
                "dev",
                interface,
                "root",
                "handle",
                f"{handle}:",
                self.kind,
            ]
            shell.check([*argv, *self.qdisc_args(execution.params)])
            _, _, line = _root_qdisc(shell, interface)
        return data, Observation(
            Observed.INJECTED, native=line, metrics=self.metrics(execution.params)
        )

    def status(self, engine: Engine, execution: Execution) -> Observation:
        gone = _gone(engine, execution)
        if gone is not None:
            return gone
        interface = str(execution.params.get("interface", "eth0"))
        with engine.netns(execution.target.id, execution.id) as shell:
            kind, current, line = _root_qdisc(shell, interface)
        if kind == self.kind and current == qdisc_handle(execution.id):
            return Observation(
                Observed.INJECTED, native=line, metrics=self.metrics(execution.params)
            )
        return Observation(Observed.RECOVERED, native=line or "no root qdisc")

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        netns.sweep(engine.client, execution_id=execution.id)
        gone = _gone(engine, execution)
        if gone is not None:
            return gone
        interface = str(execution.params.get("interface", "eth0"))
        handle = qdisc_handle(execution.id)
        with engine.netns(execution.target.id, execution.id) as shell:
            kind, current, _ = _root_qdisc(shell, interface)
            if kind == self.kind and current == handle:
                shell.check(
                    ["tc", "qdisc", "del", "dev", interface, "root", "handle", f"{handle}:"]
                )
            _, _, line = _root_qdisc(shell, interface)
        return Observation(Observed.RECOVERED, native=line or "no root qdisc")


def _percent(value: Any) -> str:
    return f"{float(value):.2f}%"


class _Netem(_Qdisc):
    kind: ClassVar[str] = "netem"
    needs: ClassVar[str | None] = "netem"
    #: the netem keyword this fault sets
    keyword: ClassVar[str] = ""

    def qdisc_args(self, params: Mapping[str, Any]) -> list[str]:
        args = [self.keyword, _percent(params.get("percent", 0))]
        if float(params.get("correlation_percent", 0)):
            args.append(_percent(params["correlation_percent"]))
        return args

    def metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {f"{self.keyword}_percent": float(params.get("percent", 0))}


class Delay(_Netem):
    name: ClassVar[str] = "network-delay"
    keyword: ClassVar[str] = "delay"

    def validate(self, params: Mapping[str, Any]) -> None:
        if int(params.get("jitter_ms", 0)) > int(params.get("delay_ms", 100)):
            raise InvalidInput("jitter_ms cannot exceed delay_ms", field=["params", "jitter_ms"])

    def qdisc_args(self, params: Mapping[str, Any]) -> list[str]:
        args = ["delay", f"{int(params.get('delay_ms', 100))}ms"]
        jitter = int(params.get("jitter_ms", 0))
        if jitter:
            args.append(f"{jitter}ms")
            if float(params.get("correlation_percent", 0)):
                args.append(_percent(params["correlation_percent"]))
            distribution = str(params.get("distribution", "none"))
            if distribution != "none":
                args += ["distribution", distribution]
        return args

    def metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {
            "delay_ms": float(params.get("delay_ms", 100)),
            "jitter_ms": float(params.get("jitter_ms", 0)),
        }


class Loss(_Netem):
    name: ClassVar[str] = "network-loss"
    keyword: ClassVar[str] = "loss"


class Duplicate(_Netem):
    name: ClassVar[str] = "network-duplicate"
    keyword: ClassVar[str] = "duplicate"


class Corrupt(_Netem):
    name: ClassVar[str] = "network-corrupt"
    keyword: ClassVar[str] = "corrupt"


class Rate(_Qdisc):
    """Bandwidth through a token bucket (``tbf``), which needs no netem."""

    name: ClassVar[str] = "network-rate"
    kind: ClassVar[str] = "tbf"
    needs: ClassVar[str | None] = "tbf"

    def qdisc_args(self, params: Mapping[str, Any]) -> list[str]:
        return [
            "rate", f"{int(params.get('rate_kbit', 1000))}kbit",
            "burst", f"{int(params.get('burst_kbit', 32))}kbit",
            "latency", f"{int(params.get('latency_ms', 400))}ms",
        ]  # fmt: skip

    def metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        return {"rate_kbit": float(params.get("rate_kbit", 1000))}


class IptablesLoss(Driver):
    """Drop a share of packets with netfilter's ``statistic`` match (Pumba's ``iptables loss``)."""

    name: ClassVar[str] = "network-loss-iptables"
    needs: ClassVar[str | None] = "iptables-statistic"

    def validate(self, params: Mapping[str, Any]) -> None:
        for key in ("sources", "destinations"):
            for i, value in enumerate(params.get(key) or []):
                try:
                    ipaddress.ip_network(str(value), strict=False)
                except ValueError as exc:
                    raise InvalidInput(
                        f"not an IP address or CIDR: {exc}", field=["params", key, i]
                    ) from exc
        if (params.get("source_port") or params.get("destination_port")) and params.get(
            "protocol", "any"
        ) not in ("tcp", "udp"):
            raise InvalidInput(
                "port filters need protocol tcp or udp", field=["params", "protocol"]
            )
        if params.get("mode") == "nth" and int(params.get("packet", 0)) >= int(
            params.get("every", 2)
        ):
            raise InvalidInput("packet must be smaller than every", field=["params", "packet"])

    def rules(self, execution: Execution) -> list[list[str]]:
        """The rules to add, as ``[chain, *match]``, each carrying the execution's comment."""
        p = execution.params
        interface = str(p.get("interface", "eth0"))
        chains = {"ingress": [("INPUT", "-i")], "egress": [("OUTPUT", "-o")]}.get(
            str(p.get("direction", "ingress")), [("INPUT", "-i"), ("OUTPUT", "-o")]
        )
        if p.get("mode", "random") == "nth":
            stat = [
                "--mode",
                "nth",
                "--every",
                str(int(p.get("every", 2))),
                "--packet",
                str(int(p.get("packet", 0))),
            ]
        else:
            stat = ["--mode", "random", "--probability", f"{float(p.get('percent', 10)) / 100:.4f}"]
        common: list[str] = []
        if p.get("protocol", "any") != "any":
            common += ["-p", str(p["protocol"])]
        if p.get("source_port"):
            common += ["--sport", str(int(p["source_port"]))]
        if p.get("destination_port"):
            common += ["--dport", str(int(p["destination_port"]))]
        tail = [
            "-m",
            "statistic",
            *stat,
            "-m",
            "comment",
            "--comment",
            rule_comment(execution.id),
            "-j",
            "DROP",
        ]
        rules = []
        for chain, flag in chains:
            for src in p.get("sources") or [None]:
                for dst in p.get("destinations") or [None]:
                    match = [chain, flag, interface, *common]
                    if src:
                        match += ["-s", str(src)]
                    if dst:
                        match += ["-d", str(dst)]
                    rules.append([*match, *tail])
        return rules

    @staticmethod
    def ours(shell: Shell, comment: str) -> list[list[str]]:
        """This execution's rules as listed by ``iptables -S``, without the leading ``-A``."""
        found = []
        for chain in ("INPUT", "OUTPUT"):
            for line in shell.check([*IPT, "-S", chain]).stdout.splitlines():
                tokens = shlex.split(line)
                if tokens[:1] == ["-A"] and _comment(tokens) == comment:
                    found.append(tokens[1:])
        return found

    def metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        if params.get("mode", "random") == "nth":
            return {"loss_percent": 100.0 / max(int(params.get("every", 2)), 1)}
        return {"loss_percent": float(params.get("percent", 10))}

    def inject(self, engine: Engine, execution: Execution) -> tuple[dict[str, Any], Observation]:
        comment = rule_comment(execution.id)
        wanted = self.rules(execution)
        data = {"container": execution.target.id, "comment": comment}
        _own_namespace(engine, execution)
        with engine.netns(execution.target.id, execution.id) as shell:
            present = self.ours(shell, comment)
            if len(present) == len(wanted):
                return data, Observation(
                    Observed.INJECTED,
                    native=f"{len(present)} rule(s) (adopted)",
                    metrics=self.metrics(execution.params),
                )
            _delete(shell, present)  # a partial set from an interrupted attempt
            try:
                for rule in wanted:
                    shell.check([*IPT, "-I", *rule])
            except BaseException:
                _delete(shell, self.ours(shell, comment))
                raise
        return data, Observation(
            Observed.INJECTED,
            native=f"{len(wanted)} rule(s) added",
            metrics=self.metrics(execution.params),
        )

    def status(self, engine: Engine, execution: Execution) -> Observation:
        gone = _gone(engine, execution)
        if gone is not None:
            return gone
        with engine.netns(execution.target.id, execution.id) as shell:
            present = self.ours(shell, rule_comment(execution.id))
        if present:
            return Observation(
                Observed.INJECTED,
                native=f"{len(present)} rule(s)",
                metrics=self.metrics(execution.params),
            )
        return Observation(Observed.RECOVERED, native="no rule of this execution")

    def recover(
        self, engine: Engine, execution: Execution, data: Mapping[str, Any] | None = None
    ) -> Observation:
        netns.sweep(engine.client, execution_id=execution.id)
        gone = _gone(engine, execution)
        if gone is not None:
            return gone
        with engine.netns(execution.target.id, execution.id) as shell:
            present = self.ours(shell, rule_comment(execution.id))
            _delete(shell, present)
        return Observation(Observed.RECOVERED, native=f"{len(present)} rule(s) deleted")


def _comment(tokens: Sequence[str]) -> str | None:
    for i, token in enumerate(tokens[:-1]):
        if token == "--comment":
            return tokens[i + 1]
    return None


def _delete(shell: Shell, rules: list[list[str]]) -> None:
    for rule in rules:
        shell.check([*IPT, "-D", *rule])
