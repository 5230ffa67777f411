"""Start real hub processes (API, Celery workers, beat) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

ADMIN_TOKEN = "test-admin-" + uuid.uuid4().hex
MEMORY_ADAPTER = "memory=chaoshub.testing.memory:MemoryAdapter"
#: tests that run side by side on one machine each set their own database here
REDIS_TEST_URL = os.environ.get("CHAOSHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as exc:  # keep trying until the deadline
            last = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what or predicate}: last {last!r}"
    )


def chaoshub_bin() -> list[str]:
    return [sys.executable, "-m", "chaoshub.cli"]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=20)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


@dataclass
class Stack:
    """An API process, workers and beat sharing one database and the test Redis."""

    workdir: Path
    database_url: str
    broker_url: str = REDIS_TEST_URL
    port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CHAOSHUB_DATA_DIR": str(self.workdir / "data"),
                "CHAOSHUB_DATABASE_URL": self.database_url,
                "CHAOSHUB_BROKER_URL": self.broker_url,
                "CHAOSHUB_BUS_URL": self.broker_url,
                "CHAOSHUB_ADMIN_TOKEN": ADMIN_TOKEN,
                "CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER,
                "CHAOSHUB_RUN_LEASE_SECONDS": "3",
                "CHAOSHUB_RECONCILE_SECONDS": "0.5",
                "CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS": "2",
                "CHAOSHUB_AGENT_TIMEOUT_SECONDS": "4",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}.log"
        handle = open(log, "ab")  # noqa: SIM115 - closed with the process
        popen = subprocess.Popen(
            [*chaoshub_bin(), *args],
            env={**self.env(), **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_api(self) -> Proc:
        proc = self.spawn("api", "api", "--port", str(self.port), "--log-level", "warning")
        wait_for(
            lambda: httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200,
            60,
            what="the API",
        )
        return proc

    def start_worker(self, name: str = "w1", threads: int = 4) -> Proc:
        proc = self.spawn(
            f"worker-{name}",
            "worker",
            "-n",
            f"{name}@{uuid.uuid4().hex[:6]}",
            "-c",
            str(threads),
            "--log-level",
            "info",
        )
        wait_for(lambda: "ready" in proc.log.read_text(errors="replace"), 60, what=f"worker {name}")
        return proc

    def start_beat(self, name: str = "beat", log_level: str = "warning") -> Proc:
        """A beat process; a second one (another ``name``) keeps its schedule file apart."""
        data = self.workdir / name
        return self.spawn(
            name, "beat", "--log-level", log_level, env={"CHAOSHUB_DATA_DIR": str(data)}
        )

    @contextlib.contextmanager
    def running(self, *workers: str) -> Iterator[Stack]:
        """The API, the named workers (``w1`` when none are named) and beat, started in that
        order; every process log printed if anything inside fails; all stopped on the way out."""
        try:
            self.start_api()
            for name in workers or ("w1",):
                self.start_worker(name)
            self.start_beat()
            yield self
        except BaseException:
            print(self.logs())
            raise
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)


class GraphQL:
    def __init__(self, url: str, token: str | None = ADMIN_TOKEN) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30)

    def raw(self, query: str, **variables: Any) -> httpx.Response:
        return self.client.post("/graphql", json={"query": query, "variables": variables})

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.raw(query, **variables)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.client.close()


@dataclass
class UpProcess:
    """A running ``chaoshub up``: its process, URL and admin token."""

    proc: Proc
    url: str
    token: str


@contextlib.contextmanager
def up_process(
    data_dir: Path, extra_env: dict[str, str] | None = None, *args: str
) -> Iterator[UpProcess]:
    """`chaoshub up` as a person runs it, in ``data_dir``, answering on ``/healthz``.

    The machine's CHAOSHUB_* settings are dropped so the embedded defaults apply;
    ``extra_env`` sets any back; ``args`` go to ``chaoshub up``. The process log is printed
    if anything inside fails; the process is stopped on the way out."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSHUB_")}
    env.update({"PYTHONUNBUFFERED": "1", **(extra_env or {})})
    log = data_dir / "up.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [*chaoshub_bin(), "up", "--data-dir", str(data_dir), "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc = Proc("up", popen, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200,
            60,
            what="chaoshub up",
        )
        token = env.get("CHAOSHUB_ADMIN_TOKEN") or (data_dir / "admin-token").read_text()
        yield UpProcess(proc, url, token.strip())
    except BaseException:
        print(proc.tail(80), file=sys.stderr)
        raise
    finally:
        proc.stop()


@contextlib.contextmanager
def embedded_hub(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """`chaoshub up` in ``data_dir`` (see :func:`up_process`): yields its URL and admin token."""
    with up_process(data_dir, extra_env) as up:
        yield up.url, up.token


def in_process_runtime(data_dir: Path, *, admin: str, **overrides: Any) -> Any:
    """A bootstrapped runtime for the real app served in the test's process: SQLite in
    ``data_dir``, the in-memory broker and bus (unless ``overrides`` name others), ``admin``
    as the admin token."""
    from chaoshub.api.app import bootstrap
    from chaoshub.config import Settings
    from chaoshub.runtime import Runtime

    runtime = Runtime(
        Settings.from_env(
            data_dir=data_dir,
            admin_token=admin,
            **{
                "database_url": f"sqlite:///{data_dir / 'hub.db'}",
                "broker_url": "memory://",
                "bus_url": "local",
                **overrides,
            },
        )
    )
    bootstrap(runtime)
    return runtime
