"""The two shapes of the hub the benchmarks drive, started as real processes.

- ``production``: ``chaoshub api`` + two ``chaoshub worker`` processes + ``chaoshub beat``,
  Redis as broker and bus, a PostgreSQL database of the benchmark's own (dropped after);
- ``embedded``: ``chaoshub up`` (SQLite, in-process worker and beat, its local agent).

Both use the hub's default timings (lease, reconcile interval) unless told otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from tests.native.native_peers import Injector
from tests.support.stack import GraphQL, Proc, Stack, up_process, wait_for

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
#: a Redis database of the benchmarks' own, flushed before each use
BENCH_REDIS = os.environ.get("CHAOSHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
#: the hub's own defaults (chaoshub/config.py), so the production shape is measured as shipped
DEFAULTS = {
    "CHAOSHUB_RUN_LEASE_SECONDS": "10",
    "CHAOSHUB_RECONCILE_SECONDS": "1",
    "CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS": "60",
    "CHAOSHUB_AGENT_TIMEOUT_SECONDS": "15",
    "CHAOSHUB_EXTRA_ADAPTERS": "",
}

CREATE_AGENT_TOKEN = """mutation($name: String!) { createApiToken(name: $name, role: "agent") {
  __typename ... on CreatedApiToken { token } ... on Error { code message } } }"""
AGENTS = "{ agents { name online } }"


@dataclass
class Hub:
    """A running hub: its URL, an admin GraphQL client and its processes."""

    config: str
    url: str
    gql: GraphQL
    api_pid: int
    procs: list[Proc] = field(default_factory=list)
    #: the native agent runs go to
    agent: str = "local"
    workdir: Path | None = None
    stack: Stack | None = None

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)


@contextlib.contextmanager
def postgres_database(prefix: str = "chaoshub_bench") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def production(
    *,
    workers: int = 2,
    worker_threads: int = 4,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    with_agent: bool = True,
) -> Iterator[Hub]:
    """API, ``workers`` worker processes (``worker_threads`` each) and beat on Redis and
    PostgreSQL (or ``database_url``)."""
    redis.Redis.from_url(BENCH_REDIS).flushdb()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chaoshub-bench-")))
        url = database_url or stack.enter_context(postgres_database())
        s = Stack(workdir=workdir, database_url=url, broker_url=BENCH_REDIS)
        s.extra_env.update({**DEFAULTS, **(env or {})})
        stack.callback(s.stop)
        api = s.start_api()
        for i in range(workers):
            s.start_worker(f"w{i + 1}", threads=worker_threads)
        s.start_beat()
        gql = GraphQL(s.url)
        stack.callback(gql.close)
        hub = Hub("production", s.url, gql, api.popen.pid, s.procs, workdir=workdir, stack=s)
        if with_agent:
            hub.agent = stack.enter_context(agent_for(hub, workdir))
        try:
            yield hub
        except BaseException:
            print(hub.logs(), file=sys.stderr)
            raise


@contextlib.contextmanager
def agent_for(hub: Hub, workdir: Path, name: str = "bench") -> Iterator[str]:
    """A native injector registered with ``hub`` under an agent token the hub issued."""
    token = hub.gql(CREATE_AGENT_TOKEN, name=f"agent:{name}")["createApiToken"]["token"]
    state = workdir / f"agent-{name}"
    state.mkdir()
    inj = Injector(state, extra=["--hub", hub.url, "--token", token, "--name", name])
    inj.start()
    try:
        wait_for(lambda: agent_online(hub.gql, name), 30, what=f"agent {name} online")
        yield name
    finally:
        inj.stop()


def agent_online(gql: GraphQL, name: str) -> bool:
    return any(a["name"] == name and a["online"] for a in gql(AGENTS)["agents"])


@contextlib.contextmanager
def embedded(env: dict[str, str] | None = None) -> Iterator[Hub]:
    """``chaoshub up`` on a free port with a data folder of its own."""
    with (
        tempfile.TemporaryDirectory(prefix="chaoshub-bench-up-") as d,
        up_process(Path(d), env, "--log-level", "warning") as up,
    ):
        gql = GraphQL(up.url, up.token)
        try:
            wait_for(lambda: agent_online(gql, "local"), 60, what="the local agent")
            yield Hub("embedded", up.url, gql, up.proc.popen.pid, [up.proc], workdir=Path(d))
        finally:
            gql.close()


def start(config: str, **kwargs: Any) -> contextlib.AbstractContextManager[Hub]:
    return production(**kwargs) if config == "production" else embedded(kwargs.get("env"))
