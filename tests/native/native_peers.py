"""Real peers for the native injector tests: the injector as a process, network namespaces
joined by a veth pair, and measurements taken from outside the injector.

Everything made here is named with a random suffix and removed in ``finally`` blocks or
fixture finalisers, so a failing test leaves nothing behind and parallel runs never meet.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

INJECTOR = Path(sys.executable).parent / "chaoshub-injector"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=timeout)


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- the injector as a process -------------------------------------------------------------------


@dataclass
class Injector:
    state_dir: Path
    scripts_dir: Path | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Injector:
        argv = [
            str(INJECTOR),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--api-token",
            self.token,
            "--state-dir",
            str(self.state_dir),
            *self.extra,
        ]
        if self.scripts_dir is not None:
            argv += ["--scripts-dir", str(self.scripts_dir)]
        log = open(self.state_dir / "injector.log", "ab")  # noqa: SIM115 (kept by the child)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        log.close()
        alive = wait_for(self._alive, timeout=20)
        if not alive:
            self.stop()
            raise RuntimeError("injector did not start:\n" + self.log()[-3000:])
        return self

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("injector exited:\n" + self.log()[-3000:])
        try:
            return httpx.get(f"{self.url}/livez", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        path = self.state_dir / "injector.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=30,
            headers={"Authorization": f"Bearer {token or self.token}"},
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def inject(
    api: httpx.Client,
    execution_id: str,
    fault: str,
    selector: dict[str, Any],
    params: dict[str, Any] | None = None,
    lease: float = 60,
) -> dict[str, Any]:
    """Discover the first target and inject into it; the answer's JSON."""
    found = api.post("/v1/discover", json={"fault": fault, "selector": selector})
    assert found.status_code == 200, found.text
    target = found.json()["targets"][0]
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": execution_id,
            "fault": fault,
            "params": params or {},
            "target": target,
            "lease_seconds": lease,
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def observe(api: httpx.Client, path: str, execution_id: str) -> dict[str, Any]:
    answer = api.post(f"/v1/{path}", json={"execution_id": execution_id})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["observation"])


# -- processes ----------------------------------------------------------------------------------


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0]


def marked_pids(execution_id: str) -> list[int]:
    """The stressor started for ``execution_id`` and every worker in its session."""
    needle = f"CHAOSHUB_EXECUTION_ID={execution_id}".encode()
    leaders = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                env = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if needle in env.split(b"\0"):
                leaders.append(int(entry))
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) in leaders and fields[0] != "Z":
                found.append(int(entry))
    return found


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            total += int(match.group(1)) * 1024
    return total


# -- network namespaces -------------------------------------------------------------------------


@dataclass
class NetPair:
    """Namespaces ``a`` (198.51.100.1) and ``b`` (198.51.100.2 and .3) joined by a veth pair."""

    a: str
    b: str
    if_a: str
    if_b: str
    addr_a: str = "198.51.100.1"
    addr_b: str = "198.51.100.2"
    addr_b2: str = "198.51.100.3"

    @classmethod
    def create(cls) -> NetPair:
        tag = secrets.token_hex(3)
        pair = cls(a=f"chn-{tag}-a", b=f"chn-{tag}-b", if_a=f"cha{tag}", if_b=f"chb{tag}")
        try:
            run("ip", "netns", "add", pair.a)
            run("ip", "netns", "add", pair.b)
            run(
                "ip",
                "link",
                "add",
                pair.if_a,
                "netns",
                pair.a,
                "type",
                "veth",
                "peer",
                "name",
                pair.if_b,
                "netns",
                pair.b,
            )
            run("ip", "-n", pair.a, "addr", "add", f"{pair.addr_a}/24", "dev", pair.if_a)
            run("ip", "-n", pair.b, "addr", "add", f"{pair.addr_b}/24", "dev", pair.if_b)
            run("ip", "-n", pair.b, "addr", "add", f"{pair.addr_b2}/24", "dev", pair.if_b)
            for ns, dev in ((pair.a, pair.if_a), (pair.b, pair.if_b)):
                run("ip", "-n", ns, "link", "set", "lo", "up")
                run("ip", "-n", ns, "link", "set", dev, "up")
        except Exception:
            pair.delete()
            raise
        return pair

    def delete(self) -> None:
        for ns in (self.a, self.b):
            run("ip", "netns", "del", ns, check=False)

    @property
    def selector(self) -> dict[str, str]:
        return {"interface": self.if_a, "netns": self.a}

    def rules(self) -> list[str]:
        out = run("ip", "netns", "exec", self.a, "iptables", "-w", "5", "-S").stdout
        return [line for line in out.splitlines() if "chaoshub:" in line]

    def root_qdisc(self) -> str:
        return run("tc", "-n", self.a, "qdisc", "show", "dev", self.if_a, "root").stdout

    def ping_loss(self, address: str, count: int, interval: float = 0.002) -> float:
        """Percent of ``count`` echo requests from ``a`` to ``address`` that got no reply."""
        out = run(
            "ip",
            "netns",
            "exec",
            self.a,
            "ping",
            "-q",
            "-n",
            "-c",
            str(count),
            "-i",
            str(interval),
            "-W",
            "1",
            "-w",
            str(int(count * interval * 3) + 3),
            address,
            check=False,
        ).stdout
        match = re.search(r"([\d.]+)% packet loss", out)
        assert match, out
        return float(match.group(1))

    def throughput(
        self,
        seconds: float = 2.0,
        address: str | None = None,
        *,
        into_a: bool = False,
        port: int = 5201,
    ) -> float:
        """Bytes per second a TCP stream from ``a`` to ``b`` (at ``address``, ``port``)
        achieves; ``into_a``: from ``b`` to ``a`` instead."""
        sender, receiver_ns = (self.b, self.a) if into_a else (self.a, self.b)
        address = self.addr_a if into_a else (address or self.addr_b)
        receiver = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                receiver_ns,
                sys.executable,
                "-c",
                _RECEIVER,
                address,
                str(port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            run(
                "ip",
                "netns",
                "exec",
                sender,
                sys.executable,
                "-c",
                _SENDER,
                address,
                str(port),
                str(seconds),
                timeout=seconds + 30,
            )
            out, _ = receiver.communicate(timeout=30)
        finally:
            if receiver.poll() is None:
                receiver.kill()
                receiver.wait()
        received, elapsed = out.split()
        return float(received) / float(elapsed)


_RECEIVER = """
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(1); srv.settimeout(20)
conn, _ = srv.accept(); total = 0; first = None
while True:
    data = conn.recv(65536)
    if not data:
        break
    if first is None:
        first = time.monotonic()
    total += len(data)
print(total, max(time.monotonic() - (first or time.monotonic()), 1e-6))
"""

_SENDER = """
import socket, sys, time
for _ in range(200):  # until the receiver listens
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
        break
    except ConnectionRefusedError:
        time.sleep(0.05)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
end = time.monotonic() + float(sys.argv[3]); chunk = b"x" * 8192
while time.monotonic() < end:
    s.sendall(chunk)
s.close()
"""
