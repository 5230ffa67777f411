"""What this host can do, probed for real rather than assumed.

Network features are tried in a throw-away network namespace (add a qdisc, add an
iptables rule with the matches the faults use), so the probe changes nothing the host
uses. Each fault is then available or not, with the first missing probe as the reason.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chaoshub.native_injector import system
from chaoshub.native_injector.faults import FAULTS

log = logging.getLogger("chaoshub.injector.capabilities")

_CAP_NET_ADMIN = 12


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def _cap_net_admin() -> Check:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("CapEff:") and int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1:
                return Check(True, "CAP_NET_ADMIN is effective")
    return Check(False, "the injector lacks CAP_NET_ADMIN (run it as root or grant the capability)")


def _writable(path: Path | None, what: str) -> Check:
    if path is None:
        return Check(False, f"no {what} configured")
    if not path.is_dir():
        return Check(False, f"{what} {path} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        return Check(False, f"{what} {path} is not writable: {exc.strerror}")
    return Check(True, f"{what} {path} is writable")


def _readable_dir(path: Path | None) -> Check:
    if path is None:
        return Check(False, "host-script needs --scripts-dir (the allow-listed script directory)")
    if not path.is_dir():
        return Check(False, f"scripts directory {path} does not exist")
    return Check(True, f"scripts from {path}")


def _tool(name: str) -> Check:
    found = shutil.which(name)
    return Check(True, found) if found else Check(False, f"{name} is not installed")


def _network_probes(checks: dict[str, Check]) -> None:
    """Try qdiscs and iptables matches inside a namespace made for the purpose."""
    ns = f"chaoshub-probe-{os.getpid()}-{threading.get_ident() % 10000}"
    try:
        system.run(["ip", "netns", "add", ns])
    except system.CommandFailed as exc:
        reason = f"cannot create a probe network namespace: {exc.stderr}"
        for key in ("sch_tbf", "sch_htb", "sch_netem", "ifb", "iptables-statistic"):
            checks.setdefault(key, Check(False, reason))
        return
    try:
        system.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for kind, args in (
            ("sch_tbf", ["tbf", "rate", "1mbit", "burst", "32kb", "latency", "50ms"]),
            ("sch_htb", ["htb", "default", "1"]),
            ("sch_netem", ["netem", "delay", "1ms"]),
        ):
            try:
                system.run(["tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", *args])
                system.run(["tc", "-n", ns, "qdisc", "del", "dev", "lo", "root"])
                checks[kind] = Check(True, f"{kind} works")
            except system.CommandFailed as exc:
                checks[kind] = Check(False, f"this kernel lacks {kind}: tc said {exc.stderr!r}")
        try:
            system.run(["ip", "-n", ns, "link", "add", "chprobeifb", "type", "ifb"])
            checks["ifb"] = Check(True, "ifb devices work (ingress shaping)")
        except system.CommandFailed as exc:
            checks["ifb"] = Check(False, f"no ifb devices (ingress shaping): {exc.stderr}")
        if checks["iptables"].ok:
            try:
                system.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "iptables",
                        "-w",
                        "5",
                        "-A",
                        "OUTPUT",
                        "-m",
                        "statistic",
                        "--mode",
                        "random",
                        "--probability",
                        "0.5",
                        "-m",
                        "comment",
                        "--comment",
                        "chaoshub:probe",
                        "-j",
                        "ACCEPT",
                    ]
                )
                checks["iptables-statistic"] = Check(True, "statistic and comment matches work")
            except system.CommandFailed as exc:
                checks["iptables-statistic"] = Check(
                    False, f"iptables statistic/comment match unusable: {exc.stderr}"
                )
        else:
            checks["iptables-statistic"] = checks["iptables"]
    finally:
        try:
            system.run(["ip", "netns", "del", ns])
        except system.CommandFailed as exc:
            log.error("could not delete probe namespace %s: %s", ns, exc)


def probe(state_dir: Path, scripts_dir: Path | None) -> dict[str, Check]:
    checks: dict[str, Check] = {
        "stress-ng": _tool("stress-ng"),
        "tc": _tool("tc"),
        "cap-net-admin": _cap_net_admin(),
        "state-dir": _writable(state_dir, "state directory"),
        "scripts-dir": _readable_dir(scripts_dir),
    }
    try:
        system.run(["iptables", "-w", "5", "-S", "OUTPUT"])
        checks["iptables"] = Check(True, "iptables is usable")
    except system.CommandFailed as exc:
        checks["iptables"] = Check(False, f"iptables is not usable: {exc.stderr}")
    if checks["tc"].ok and checks["cap-net-admin"].ok:
        _network_probes(checks)
    else:
        why = checks["tc"] if not checks["tc"].ok else checks["cap-net-admin"]
        for key in ("sch_tbf", "sch_htb", "sch_netem", "ifb", "iptables-statistic"):
            checks[key] = why
    return checks


def faults(checks: Mapping[str, Check]) -> dict[str, Check]:
    """Each fault: available, or not with the first failed probe as the reason."""
    out = {}
    for name, fault in sorted(FAULTS.items()):
        missing = [checks[r] for r in fault.requires if not checks[r].ok]
        out[name] = Check(False, missing[0].detail) if missing else Check(True, "")
    return out


class Prober:
    """Probes at start and again when asked, at most every ``ttl`` seconds."""

    def __init__(self, state_dir: Path, scripts_dir: Path | None, ttl: float = 60.0) -> None:
        self.state_dir = state_dir
        self.scripts_dir = scripts_dir
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._checks: dict[str, Check] = {}

    def checks(self, *, fresh: bool = False) -> dict[str, Check]:
        with self._lock:
            if fresh or not self._checks or time.monotonic() - self._at > self.ttl:
                self._checks = probe(self.state_dir, self.scripts_dir)
                self._at = time.monotonic()
            return dict(self._checks)

    def faults(self, *, fresh: bool = False) -> dict[str, Check]:
        return faults(self.checks(fresh=fresh))
