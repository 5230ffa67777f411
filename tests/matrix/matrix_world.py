"""The world the fault matrix breaks: a production-shaped hub and every tool and target it
drives, each a process of this test's own so it can be killed, frozen and restarted.

- the hub: ``chaoshub api``, one ``chaoshub worker`` and ``chaoshub beat`` on a PostgreSQL
  database of its own, with a **dedicated Redis server** on a free port as broker and bus
  (the machine's shared Redis is never restarted), short leases (3 s) and a fast reconciler;
- a native injector registered as an agent (killed and restarted on the same port and
  state folder);
- the fake Toxiproxy server of ``tests/toxiproxy`` on a fixed port;
- a **dedicated podman API service** on a socket of its own, over the same storage as the
  shared one (so freezing or killing it never touches another test's service).

A world for native faults only (``world(workdir, tools=False)``, as the workflow cases use)
has neither Toxiproxy nor podman, and starts in a fraction of the time.

"Frozen" is SIGSTOP: requests a worker sends meanwhile wait in the socket, and the tool
acts on them after SIGCONT, even when the worker that sent them is dead by then, which is
the hardest case for a hub that claims a fault is never left behind.

:class:`Targets` makes fresh targets for one scenario and looks at them from outside the
hub: ``/proc/<pid>/stat``, ``iptables -S`` and ``tc qdisc`` in the namespaces, the
Toxiproxy API, the Docker API and ``nsenter`` into the container's network namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import psycopg

from chaoshub.adapters.docker_engine.netns import HELPER_LABEL
from tests.docker.docker_peers import BUSYBOX, PODMAN_DIR, TOOLS, remove_container, start_podman
from tests.native.native_peers import Injector, NetPair, proc_state
from tests.support.stack import GraphQL, Proc, Stack, free_port, wait_for
from tests.toxiproxy.toxiproxy_peers import FAKE, Upstream

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: (point, fault) -> what the matrix saw, for the table ``conftest.py`` prints
REPORT: dict[tuple[str, str], dict[str, Any]] = {}
#: point -> what the workflow cases saw (``test_workflow_matrix.py``)
WORKFLOW_REPORT: dict[str, dict[str, Any]] = {}
LEASE_SECONDS = 3.0
TERMINAL = ("completed", "aborted", "failed")

#: the five faults of the matrix, in the order the table shows them
FAULTS = (
    "native/process-pause",
    "native/network-loss",
    "toxiproxy/latency",
    "docker/container-pause",
    "docker/network-loss-iptables",
)

CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { name } ... on Error { code message field } } }"""
CREATE_AGENT_TOKEN = """mutation($name: String!) { createApiToken(name: $name, role: "agent") {
  __typename ... on CreatedApiToken { token } ... on Error { code message } } }"""
START_RUN = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id } ... on Error { code message field } } }"""
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "matrix") {
  __typename ... on Run { id } ... on Error { code message } } }"""
RUN = """query($id: ID!) { run(id: $id) { id phase error stuck
  targets { label phase mayCarryFault error } events { kind reason fromPhase toPhase } } }"""
AGENTS = "{ agents { name online } }"


def _run(*argv: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=timeout)


# -- processes the matrix owns -----------------------------------------------------------------


@dataclass
class Owned:
    """A child process with a fixed address, to kill, freeze, thaw and start again."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Owned:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.popen is not None
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=20)

    def stop(self) -> None:
        if self.alive:
            assert self.popen is not None
            os.kill(self.popen.pid, signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def redis_server(workdir: Path) -> tuple[Owned, str]:
    port = free_port()
    owned = Owned(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        workdir / "redis.log",
    )
    return owned, f"redis://127.0.0.1:{port}/0"


def redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def podman_service(workdir: Path) -> tuple[Owned, str]:
    start_podman()  # the shared service's setup builds the images and containers.conf
    sock = workdir / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(PODMAN_DIR / "containers.conf")}
    owned = Owned(
        "podman",
        [
            "podman",
            "--root",
            str(PODMAN_DIR / "root"),
            "--runroot",
            str(PODMAN_DIR / "run"),
            "--tmpdir",
            str(PODMAN_DIR / "tmp"),
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
            "--runtime",
            "runc",
            "--events-backend",
            "file",
            "system",
            "service",
            "--time=0",
            f"unix://{sock}",
        ],
        workdir / "podman.log",
        env=env,
    )
    return owned, f"unix://{sock}"


def podman_up(url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=url, version="auto", timeout=3)
    except docker.errors.DockerException:
        return False
    client.close()
    return True


def toxiproxy_server(workdir: Path) -> tuple[Owned, str]:
    port = free_port()
    owned = Owned(
        "toxiproxy",
        [sys.executable, str(FAKE), "--host", "127.0.0.1", "--port", str(port)],
        workdir / "toxiproxy.log",
    )
    return owned, f"http://127.0.0.1:{port}"


def http_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/version", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# -- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    workdir: Path
    stack: Stack
    redis: Owned
    redis_url: str
    podman: Owned | None
    podman_url: str
    toxiproxy: Owned | None
    toxiproxy_url: str
    injector: Injector
    agent: str
    upstream: Upstream | None
    pg_name: str
    gql: GraphQL | None = None
    docker: docker.DockerClient | None = None
    backends: dict[str, str] = field(default_factory=dict)
    workers: list[Proc] = field(default_factory=list)
    beat: Proc | None = None
    api: Proc | None = None

    # -- the hub's processes --

    def client(self) -> GraphQL:
        assert self.gql is not None
        return self.gql

    def start_api(self) -> None:
        self.api = self.stack.start_api()

    def start_worker(self) -> None:
        name = f"worker-{len(self.workers) + 1}"
        proc = self.stack.spawn(
            name, "worker", "-n", f"{name}@matrix", "-c", "8", "--log-level", "info"
        )
        wait_for(lambda: "ready" in proc.log.read_text(errors="replace"), 60, what=name)
        self.workers.append(proc)

    def start_beat(self) -> None:
        self.beat = self.stack.spawn(
            f"beat-{uuid.uuid4().hex[:4]}", "beat", "--log-level", "warning"
        )

    def kill_workers(self) -> None:
        for proc in self.workers:
            proc.kill()

    def kill_hub(self) -> None:
        for proc in (self.api, self.beat, *self.workers):
            if proc is not None:
                proc.kill()

    def start_hub(self) -> None:
        self.start_api()
        self.start_worker()
        self.start_beat()

    def ensure_hub(self) -> None:
        """Bring back whatever a scenario left stopped (it normally restarts it itself)."""
        if not redis_up(self.redis_url):
            self.redis.start()
            wait_for(lambda: redis_up(self.redis_url), 20, what="redis")
        for owned, up in (
            (self.podman, lambda: podman_up(self.podman_url)),
            (self.toxiproxy, lambda: http_up(self.toxiproxy_url)),
        ):
            if owned is None:
                continue
            owned.signal(signal.SIGCONT)
            if not owned.alive:
                owned.start()
                wait_for(up, 30, what=owned.name)
        if self.injector.proc is not None and self.injector.proc.poll() is None:
            os.kill(self.injector.proc.pid, signal.SIGCONT)
        else:
            self.injector.start()
        if self.api is None or self.api.popen.poll() is not None:
            self.start_api()
        if not self.workers or self.workers[-1].popen.poll() is not None:
            self.start_worker()
        if self.beat is None or self.beat.popen.poll() is not None:
            self.start_beat()

    # -- the tools --

    def _others(self) -> list[Owned]:
        """The tools besides the injector (none in a native-only world)."""
        return [o for o in (self.toxiproxy, self.podman) if o is not None]

    def freeze_tools(self) -> None:
        assert self.injector.proc is not None
        os.kill(self.injector.proc.pid, signal.SIGSTOP)
        for owned in self._others():
            owned.signal(signal.SIGSTOP)

    def thaw_tools(self) -> None:
        assert self.injector.proc is not None
        os.kill(self.injector.proc.pid, signal.SIGCONT)
        for owned in self._others():
            owned.signal(signal.SIGCONT)

    def kill_tools(self) -> None:
        self.injector.kill9()
        for owned in self._others():
            owned.kill()

    def start_tools(self) -> None:
        for owned in self._others():
            owned.start()
        self.injector.start()
        if self.toxiproxy is not None:
            wait_for(lambda: http_up(self.toxiproxy_url), 30, what="toxiproxy")
        if self.podman is not None:
            wait_for(lambda: podman_up(self.podman_url), 30, what="podman")

    def agent_online(self) -> bool:
        return any(a["name"] == self.agent and a["online"] for a in self.client()(AGENTS)["agents"])

    def logs(self) -> str:
        parts = [self.stack.logs(), "--- injector", self.injector.log()[-3000:]]
        return "\n".join(parts)


@contextlib.contextmanager
def world(workdir: Path, *, tools: bool = True) -> Any:
    """Start everything; stop everything (and drop the database) on the way out.

    ``tools=False``: the hub and the native injector only (no Toxiproxy, no podman)."""
    pg_name = f"chaoshub_matrix_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    redis_proc, redis_url = redis_server(workdir)
    podman_proc: Owned | None = None
    toxi_proc: Owned | None = None
    podman_url = toxi_url = ""
    if tools:
        podman_proc, podman_url = podman_service(workdir)
        toxi_proc, toxi_url = toxiproxy_server(workdir)
    stack = Stack(
        workdir=workdir,
        database_url=f"postgresql://postgres@127.0.0.1:5432/{pg_name}",
        broker_url=redis_url,
    )
    stack.extra_env.update(
        {
            "CHAOSHUB_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "CHAOSHUB_RECONCILE_SECONDS": "0.5",
            "CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS": "2",
            # agents beat at a third of this (the hub tells them so); a freeze of the
            # tools must stay well within it, or the agent goes offline and the case is
            # another one
            "CHAOSHUB_AGENT_TIMEOUT_SECONDS": "12",
        }
    )
    (workdir / "injector").mkdir()
    w: World | None = None
    with contextlib.ExitStack() as exits:
        upstream = exits.enter_context(Upstream()) if tools else None
        try:
            redis_proc.start()
            wait_for(lambda: redis_up(redis_url), 20, what="redis")
            if podman_proc is not None and toxi_proc is not None:
                podman_proc.start()
                toxi_proc.start()
                wait_for(lambda: podman_up(podman_url), 60, what="podman service")
                wait_for(lambda: http_up(toxi_url), 30, what="fake toxiproxy")
            w = World(
                workdir,
                stack,
                redis_proc,
                redis_url,
                podman_proc,
                podman_url,
                toxi_proc,
                toxi_url,
                Injector(workdir / "injector"),
                "matrix",
                upstream,
                pg_name,
            )
            w.start_api()
            w.gql = GraphQL(stack.url)
            token = w.gql(CREATE_AGENT_TOKEN, name="agent:matrix")["createApiToken"]["token"]
            w.injector.extra = ["--hub", stack.url, "--token", token, "--name", "matrix"]
            w.injector.start()
            w.start_worker()
            w.start_beat()
            wait_for(w.agent_online, 30, what="the agent online")
            w.backends["native"] = "native"
            if tools:
                w.docker = docker.DockerClient(base_url=podman_url, version="auto", timeout=60)
                for adapter, config in (
                    ("toxiproxy", {"url": toxi_url}),
                    (
                        "docker",
                        {
                            "base_url": podman_url,
                            "helper_image": TOOLS,
                            "stress_image": TOOLS,
                            "stress_command": "/usr/bin/stress-ng",
                            "pull_images": False,
                        },
                    ),
                ):
                    name = f"matrix-{adapter}"
                    made = w.gql(
                        CREATE_BACKEND, input={"name": name, "adapter": adapter, "config": config}
                    )
                    assert made["createBackend"]["__typename"] == "Backend", made
                    w.backends[adapter] = name
            yield w
        except BaseException:
            if w is not None:
                print(w.logs())
            raise
        finally:
            if w is not None:
                if w.gql is not None:
                    w.gql.close()
                if w.docker is not None:
                    w.docker.close()
                w.injector.stop()  # a clean stop recovers what it still holds
            stack.stop()
            for owned in (toxi_proc, podman_proc, redis_proc):
                if owned is not None:
                    owned.stop()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


# -- targets -----------------------------------------------------------------------------------


class Targets:
    """One fresh target per fault, and what each looks like from outside the hub."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.sleeper: subprocess.Popen[bytes] | None = None
        self.pair: NetPair | None = None
        self.proxy = f"matrix-{uuid.uuid4().hex[:6]}"
        self.containers: dict[str, Any] = {}

    def __enter__(self) -> Targets:
        try:
            self.sleeper = subprocess.Popen(["sleep", f"900.{secrets.randbelow(10**6):06d}"])
            self.pair = NetPair.create()
            assert self.w.upstream is not None, "the five faults need a world with its tools"
            made = httpx.post(
                f"{self.w.toxiproxy_url}/proxies",
                json={
                    "name": self.proxy,
                    "listen": "127.0.0.1:0",
                    "upstream": self.w.upstream.address,
                },
                timeout=10,
            )
            assert made.status_code == 201, made.text
            assert self.w.docker is not None
            for kind in ("pause", "loss"):
                c = self.w.docker.containers.run(
                    BUSYBOX,
                    ["sleep", "3600"],
                    name=f"chm-{kind}-{uuid.uuid4().hex[:6]}",
                    detach=True,
                )
                c.reload()
                self.containers[kind] = c
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sleeper is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.sleeper.pid, signal.SIGCONT)
            self.sleeper.kill()
            self.sleeper.wait()
        if self.pair is not None:
            self.pair.delete()
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(f"{self.w.toxiproxy_url}/proxies/{self.proxy}", timeout=5)
        if self.w.docker is not None:
            for c in self.containers.values():
                for helper in self.helpers(c.id):
                    remove_container(self.w.docker, helper)
                remove_container(self.w.docker, c.id)
                for volume in self.w.docker.volumes.list(
                    filters={"label": f"chaoshub.target={c.id}"}
                ):
                    with contextlib.suppress(docker.errors.APIError):
                        volume.remove(force=True)

    # -- what each run is --

    def run_input(self, fault: str, duration: float) -> dict[str, Any]:
        adapter = fault.split("/")[0]
        assert self.sleeper is not None and self.pair is not None
        selector: dict[str, Any]
        params: dict[str, Any] = {}
        if fault == "native/process-pause":
            selector = {"agents": [self.w.agent], "pid": self.sleeper.pid}
        elif fault == "native/network-loss":
            selector = {"agents": [self.w.agent], "interface": self.pair.if_a, "netns": self.pair.a}
            params = {"percent": 50}
        elif fault == "toxiproxy/latency":
            selector = {"names": [self.proxy]}
            params = {"latency": 200}
        elif fault == "docker/container-pause":
            selector = {"names": [self.containers["pause"].name]}
        else:
            selector = {"names": [self.containers["loss"].name]}
            params = {"percent": 50}
        return {
            "faultType": fault,
            "backend": self.w.backends[adapter],
            "params": params,
            "selector": selector,
            "durationSeconds": duration,
        }

    # -- seen from outside --

    def helpers(self, container_id: str) -> list[str]:
        """Helper containers of the Docker adapter still joined to ``container_id``."""
        assert self.w.docker is not None
        found = []
        for c in self.w.docker.api.containers(all=True, filters={"label": HELPER_LABEL}):
            try:  # other tests' helpers come and go meanwhile
                attrs = self.w.docker.api.inspect_container(c["Id"])
            except docker.errors.NotFound:
                continue
            if attrs["HostConfig"].get("NetworkMode") == f"container:{container_id}":
                found.append(str(c["Id"]))
        return found

    def leftover(self, fault: str) -> str:
        """What of ``fault`` remains on its target ('' when nothing does)."""
        assert self.sleeper is not None and self.pair is not None
        if fault == "native/process-pause":
            state = proc_state(self.sleeper.pid)
            return f"process {self.sleeper.pid} is stopped (state T)" if state == "T" else ""
        if fault == "native/network-loss":
            found = self.pair.rules()
            qdisc = self.pair.root_qdisc()
            if any(kind in qdisc for kind in ("netem", "tbf", "htb", "prio")):
                found.append(qdisc.strip())
            return "; ".join(found)
        if fault == "toxiproxy/latency":
            toxics = httpx.get(f"{self.w.toxiproxy_url}/proxies/{self.proxy}/toxics", timeout=10)
            if toxics.status_code == 404:
                return ""  # the proxy itself is gone (the server restarted): no toxic either
            return "; ".join(f"toxic {t['name']} ({t['type']})" for t in toxics.json())
        assert self.w.docker is not None
        if fault == "docker/container-pause":
            attrs = self.w.docker.api.inspect_container(self.containers["pause"].id)
            return "container paused" if attrs["State"].get("Paused") else ""
        attrs = self.w.docker.api.inspect_container(self.containers["loss"].id)
        pid = str(attrs["State"]["Pid"])
        rules = _run("nsenter", "-t", pid, "-n", "iptables", "-w", "5", "-S").stdout
        found = [line for line in rules.splitlines() if "chaoshub" in line]
        qdisc = _run("nsenter", "-t", pid, "-n", "tc", "qdisc", "show", "dev", "eth0").stdout
        if any(kind in qdisc for kind in ("netem", "tbf", "htb", "prio")):
            found.append(qdisc.strip())
        return "; ".join(found)

    def artifacts(self, fault: str) -> str:
        """What the hub's tools left beside the target that is not the fault itself."""
        if fault != "docker/network-loss-iptables":
            return ""
        helpers = self.helpers(self.containers["loss"].id)
        return "; ".join(f"helper container {h[:12]} still in the namespace" for h in helpers)

    def injected(self, fault: str) -> bool:
        return bool(self.leftover(fault))


def wait_all(predicate: Any, timeout: float, what: str) -> Any:
    return wait_for(predicate, timeout, interval=0.2, what=what)
