"""Agent scale: simulated agents heartbeating every 5 s against one API process, on SQLite
and on PostgreSQL, and how long an agent that stops beating takes to show offline.

Each simulated agent registers (``POST /agents/register``) and then beats
(``POST /agents/heartbeat``) every 5 s, the interval the hub tells real injectors, with
its phase spread over the interval, carrying a host report (guards, memory, disks) as a
native injector does. A level is measured once every agent of it has registered and had
one beat answered, and one more interval has passed (the registration burst of hundreds
of agents at once is not the steady cost of a fleet). The fleet grows level by level (``--levels``); each
level is held for ``--hold`` seconds and the heartbeat latencies and failures are
recorded. An API process "absorbs" a level when no heartbeat fails, the p99 stays under
1 s and no simulated agent is shown offline.

Then one agent goes silent and the time until ``agents { online }`` says so is measured
(the hub's default agent timeout, 15 s, and reconcile interval, 1 s, apply).

The API, beat and (for PostgreSQL) Redis are the production processes; no worker is needed.

The simulated fleet runs in ``--load-processes`` processes of its own (agents dealt out
among them), on the same machine as the API: its CPU is reported beside the API's (and
both per beat), since a fleet near its cores' limit bounds the figure, not the hub. To
keep it cheap, its beats share ``--connections`` raw asyncio keep-alive connections
(each carries the beats of the agents dealt to it, one at a time, each sent when due),
with each agent's request bytes made once; a beat's latency runs from when it was due,
so waiting behind its connection's earlier beats counts. (A real injector holds its own
connection; the hub's per-connection cost is not what is measured here.) py-spy samples
the API at each level (:mod:`bench.profiles`).

    python -m bench.agents
    python -m bench.agents --db postgresql --levels 500,1000,2000,4000 --hold 20
    python -m bench.agents --levels 1000,2000,5000,10000 --load-processes 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import common, hubs, profiles
from bench.common import ms, percentiles
from bench.hubs import Hub
from tests.support.stack import GraphQL, Stack

HEARTBEAT_SECONDS = 5.0
LATENCY_BUDGET_MS = 1000.0
CREATE_AGENT_TOKEN = hubs.CREATE_AGENT_TOKEN
AGENTS = "{ agents { name online lastHeartbeat } }"
#: the silent agent alone: the whole fleet's list takes ~1 s at 10,000 agents, which would
#: blur the time it shows offline
ONE_AGENT = "query($n: [String!]) { agents(names: $n) { name online } }"
#: what a native injector sends with every beat (its guards and host, as measured then)
LIMITS = {
    "guards": {
        "min_free_disk_percent": 10.0,
        "min_free_disk_bytes": 0,
        "memory_headroom_percent": 10.0,
        "memory_headroom_bytes": 0,
        "max_stressors": 8,
    },
    "host": {
        "cpus": 2,
        "memory_total_bytes": 25_000_000_000,
        "memory_available_bytes": 20_000_000_000,
        "stressors_running": 0,
        "filesystems": [
            {"mount": "/", "total_bytes": 100_000_000_000, "free_bytes": 60_000_000_000},
            {"mount": "/tmp", "total_bytes": 10_000_000_000, "free_bytes": 9_000_000_000},
        ],
    },
}


@contextlib.contextmanager
def api_and_beat(db: str) -> Iterator[Hub]:
    with contextlib.ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="chaoshub-bench-ag-"))
        )
        url = (
            f"sqlite:///{workdir / 'hub.db'}"
            if db == "sqlite"
            else stack.enter_context(hubs.postgres_database())
        )
        import redis

        redis.Redis.from_url(hubs.BENCH_REDIS).flushdb()
        s = Stack(workdir=workdir, database_url=url, broker_url=hubs.BENCH_REDIS)
        s.extra_env.update(hubs.DEFAULTS)
        stack.callback(s.stop)
        api = s.start_api()
        s.start_beat()
        # the beat sends the reconciler's task to the ``hub`` queue: one worker consumes it
        s.spawn("worker", "worker", "-Q", "hub", "-c", "1", "--log-level", "warning")
        gql = GraphQL(s.url)
        stack.callback(gql.close)
        yield Hub(db, s.url, gql, api.popen.pid, s.procs, workdir=workdir, stack=s)


def beat_request(host: str, name: str, token: str) -> bytes:
    """The bytes of one agent's heartbeat, made once: every beat of it is the same."""
    body = json.dumps({"name": name, "active": [], "limits": LIMITS}).encode()
    head = (
        f"POST /agents/heartbeat HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Line:
    """One keep-alive connection carrying the beats of the agents dealt to it, one request
    at a time, each sent when due (an agent's phase within the interval is random)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        #: (when due, monotonic; agent name)
        self.due: list[tuple[float, str]] = []
        self.wake = asyncio.Event()
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def add(self, name: str, first: float) -> None:
        heapq.heappush(self.due, (first, name))
        self.wake.set()

    async def run(self) -> None:
        fleet = self.fleet
        while True:
            if not self.due:
                self.wake.clear()
                await self.wake.wait()
                continue
            when, name = self.due[0]
            wait = when - time.monotonic()
            if wait > 0:
                # at most half a second: an agent added meanwhile may be due sooner
                await asyncio.sleep(min(wait, 0.5))
                continue
            heapq.heappop(self.due)
            if name in fleet.silent:
                continue
            # as an injector does: the next beat an interval after this one is sent, so a
            # beat sent late is not followed by a burst of catching up
            heapq.heappush(self.due, (max(when, time.monotonic()) + HEARTBEAT_SECONDS, name))
            ok = await self._send(fleet.requests[name])
            if ok:
                # from when the beat was due: waiting behind this line's earlier beats counts
                fleet.latencies.append(ms(time.monotonic() - when))
                fleet.last_beat[name] = time.monotonic()
            else:
                fleet.failures += 1

    async def _send(self, request: bytes) -> bool:
        reused = self._stream is not None
        try:
            if self._stream is None:
                self._stream = await asyncio.open_connection(self.fleet.host, self.fleet.port)
            reader, writer = self._stream
            writer.write(request)
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                # a kept-alive connection the server closed while idle: sent again on a
                # new one, as an HTTP client does
                if not reused or getattr(exc, "partial", b""):
                    raise
                writer.close()
                self._stream = None
                return await self._send(request)
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if b"connection: close" in head.lower():
                raise ConnectionError("closed by the server")
            return status == b"200"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            if self._stream is not None:
                self._stream[1].close()
            self._stream = None
            return False


class Fleet:
    """Simulated agents: each registers once (httpx, a few at a time, retried), then beats
    every 5 s over one of ``lines`` keep-alive connections (raw asyncio streams, the request
    bytes made once per agent): the fleet costs little CPU per beat, so the figure is the
    hub's."""

    def __init__(self, url: str, lines: int) -> None:
        self.url = url
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        self.requests: dict[str, bytes] = {}
        self.latencies: list[float] = []
        self.failures = 0
        self.silent: set[str] = set()
        self.last_beat: dict[str, float] = {}
        self._lines = [Line(self) for _ in range(lines)]
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._registering = asyncio.Semaphore(16)
        self._dealt = 0

    async def open(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.url, timeout=60)
        self._tasks = [asyncio.create_task(line.run()) for line in self._lines]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _register(self, name: str, token: str) -> None:
        assert self._client is not None
        body = {
            "name": name,
            "url": f"http://127.0.0.1:1/{name}",
            "labels": {"sim": "true"},
            "version": "bench",
            "api_token": "unused",
            "capabilities": {},
        }
        async with self._registering:
            for _ in range(10):
                with contextlib.suppress(httpx.HTTPError):
                    answer = await self._client.post(
                        "/agents/register", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    if answer.status_code == 200:
                        break
                await asyncio.sleep(1)
            else:
                self.failures += 1
                return
        self.requests[name] = beat_request(f"{self.host}:{self.port}", name, token)
        line = self._lines[self._dealt % len(self._lines)]
        self._dealt += 1
        line.add(name, time.monotonic() + random.uniform(0, HEARTBEAT_SECONDS))

    def grow(self, tokens: dict[str, str]) -> None:
        self._tasks += [asyncio.create_task(self._register(n, t)) for n, t in tokens.items()]


def _fleet_process(url: str, lines: int, conn: Any) -> None:
    """One load process: a :class:`Fleet` driven by commands from the benchmark."""

    async def serve() -> None:
        fleet = Fleet(url, lines)
        await fleet.open()
        loop = asyncio.get_running_loop()
        try:
            while True:
                command, arg = await loop.run_in_executor(None, conn.recv)
                if command == "grow":
                    fleet.grow(arg)
                    conn.send(None)
                elif command == "reset":
                    fleet.latencies.clear()
                    fleet.failures = 0
                    conn.send(None)
                elif command == "heard":
                    conn.send(len(fleet.last_beat))
                elif command == "collect":
                    conn.send((list(fleet.latencies), fleet.failures, dict(fleet.last_beat)))
                elif command == "silence":
                    fleet.silent.add(arg)
                    conn.send(None)
                else:
                    conn.send(None)
                    return
        finally:
            await fleet.close()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


class Load:
    """The fleet spread over ``n`` processes (agent ``i`` goes to process ``i % n``)."""

    def __init__(self, url: str, n: int, lines: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns = []
        self.procs = []
        for _ in range(n):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_fleet_process, args=(url, lines, theirs), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)
        self.where: dict[str, int] = {}

    def _all(self, command: str, arg: Any = None) -> list[Any]:
        for c in self.conns:
            c.send((command, arg))
        return [c.recv() for c in self.conns]

    def grow(self, tokens: dict[str, str]) -> None:
        parts: list[dict[str, str]] = [{} for _ in self.conns]
        for name, token in tokens.items():
            k = self.where.setdefault(name, len(self.where) % len(self.conns))
            parts[k][name] = token
        for c, part in zip(self.conns, parts, strict=True):
            c.send(("grow", part))
        for c in self.conns:
            c.recv()

    def reset(self) -> None:
        self._all("reset")

    def collect(self) -> tuple[list[float], int, dict[str, float]]:
        latencies: list[float] = []
        failures = 0
        beats: dict[str, float] = {}
        for lat, failed, last in self._all("collect"):
            latencies += lat
            failures += failed
            beats.update(last)
        return latencies, failures, beats

    def heard(self) -> int:
        """How many agents had a beat answered."""
        return sum(self._all("heard"))

    def silence(self, name: str) -> None:
        c = self.conns[self.where[name]]
        c.send(("silence", name))
        c.recv()

    def cpu_seconds(self) -> float:
        return sum(common.cpu_seconds(p.pid or 0) for p in self.procs)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._all("stop")
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def make_tokens(hub: Hub, names: list[str]) -> dict[str, str]:
    """One agent token per simulated agent (a token speaks for one agent name only)."""
    gqls = [GraphQL(hub.url) for _ in range(4)]
    try:

        def one(i: int) -> str:
            made = gqls[i % 4](CREATE_AGENT_TOKEN, name=f"agent:{names[i]}")
            return str(made["createApiToken"]["token"])

        with ThreadPoolExecutor(4) as pool:
            return dict(zip(names, pool.map(one, range(len(names))), strict=True))
    finally:
        for g in gqls:
            g.close()


def measure(
    hub: Hub,
    levels: list[int],
    hold: float,
    processes: int,
    connections: int,
    profile_seconds: float,
) -> dict[str, Any]:
    load = Load(hub.url, processes, max(1, connections // processes))
    out: dict[str, Any] = {
        "levels": [],
        "load_processes": processes,
        "connections": max(1, connections // processes) * processes,
    }
    absorbed = 0
    try:
        size = 0
        for level in levels:
            names = [f"sim-{i}" for i in range(size, level)]
            load.grow(make_tokens(hub, names))
            size = level
            # steady state: every agent registered and answered at least one beat (the
            # registration burst of a new level is not what a running fleet costs)
            settle = time.monotonic()
            while load.heard() < level and time.monotonic() - settle < 300:
                time.sleep(1)
            time.sleep(HEARTBEAT_SECONDS)
            load.reset()
            load_avg = common.load_average()
            sampling = (
                profiles.start(hub.api_pid, min(hold, profile_seconds))
                if (profile_seconds)
                else None
            )
            cpu = (common.cpu_seconds(hub.api_pid), load.cpu_seconds())
            waited = common.waiting_seconds(hub.api_pid)
            time.sleep(hold)
            api_waited = (common.waiting_seconds(hub.api_pid) - waited) / hold * 100
            api_cpu = (common.cpu_seconds(hub.api_pid) - cpu[0]) / hold * 100
            fleet_cpu = (load.cpu_seconds() - cpu[1]) / hold * 100
            latencies, failures, _ = load.collect()
            stats = percentiles(latencies)
            agents = hub.gql(AGENTS)["agents"]
            offline = sum(1 for a in agents if not a["online"])
            ok = failures == 0 and offline == 0 and (stats["p99"] or 0) < LATENCY_BUDGET_MS
            out["levels"].append(
                {
                    "agents": level,
                    "heartbeats_per_second": round(len(latencies) / hold, 1),
                    "heartbeat_ms": stats,
                    "failures": failures,
                    "shown_offline": offline,
                    "absorbed": ok,
                    "api_rss_kib": common.rss_kib(hub.api_pid),
                    # where the time goes: the API's share of a core, and the simulated
                    # fleet's (the same 2 cores): a fleet near 100 % bounds the figure
                    "api_cpu_percent": round(api_cpu),
                    "fleet_cpu_percent": round(fleet_cpu),
                    # the API's event loop ready to run but waiting for a CPU others held
                    "api_waiting_for_cpu_percent": round(api_waited),
                    # what one beat cost each side: CPU-ms per beat answered
                    "api_cpu_ms_per_beat": round(api_cpu * 10 / max(1, len(latencies)) * hold, 3),
                    "fleet_cpu_ms_per_beat": round(
                        fleet_cpu * 10 / max(1, len(latencies)) * hold, 3
                    ),
                    "load_at_start": load_avg,
                    "api_profile": profiles.finish(sampling) if sampling else None,
                }
            )
            print(
                f"  {level} agents: p99 {stats['p99']} ms, {failures} failed, "
                f"{offline} offline, API {api_cpu:.0f}% CPU (waited {api_waited:.0f}%), "
                f"fleet {fleet_cpu:.0f}% CPU, "
                f"load {load_avg[0]}",
                file=sys.stderr,
            )
            if not ok:
                break
            absorbed = level
        out["most_agents_absorbed"] = absorbed

        # one agent goes silent: how long until the hub says so
        load.silence("sim-0")
        last_beat = load.collect()[2]
        began = time.monotonic()
        noticed = None
        asked = 0.0
        while time.monotonic() - began < 120:
            asked = time.monotonic()
            agents = hub.gql(ONE_AGENT, n=["sim-0"])["agents"]
            if not next(a for a in agents if a["name"] == "sim-0")["online"]:
                noticed = time.monotonic() - last_beat["sim-0"]
                break
            time.sleep(0.1)
        # from the silent agent's last answered heartbeat to the API showing it offline
        out["offline_noticed_after_seconds"] = round(noticed, 2) if noticed else None
        # the query that showed it (the silent agent alone): part of that time
        out["offline_query_seconds"] = round(time.monotonic() - asked, 2) if noticed else None
        out["offline_at_agents"] = size
        out["offline_rule"] = (
            "agent timeout 15 s (hub default) + up to one reconcile interval (1 s)"
        )
    finally:
        load.close()
    return out


HEADERS = [
    "db",
    "agents",
    "beats/s",
    "p50 ms",
    "p99 ms",
    "failed",
    "shown offline",
    "API RSS MiB",
    "API CPU %",
    "fleet CPU %",
    "absorbed",
]


def level_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """One table row per database and fleet size."""
    return [
        [
            r["db"],
            lv["agents"],
            lv["heartbeats_per_second"],
            lv["heartbeat_ms"]["p50"],
            lv["heartbeat_ms"]["p99"],
            lv["failures"],
            lv["shown_offline"],
            lv["api_rss_kib"] // 1024,
            lv.get("api_cpu_percent", ""),
            lv.get("fleet_cpu_percent", ""),
            "yes" if lv["absorbed"] else "no",
        ]
        for r in results
        for lv in r["levels"]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.agents",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", action="append", choices=["sqlite", "postgresql"], help="repeatable; default both"
    )
    parser.add_argument(
        "--levels", default="25,50,100,250,500,1000", help="fleet sizes, comma-separated"
    )
    parser.add_argument("--hold", type=float, default=15.0, help="seconds measured per level")
    parser.add_argument(
        "--load-processes", type=int, default=2, help="processes the simulated fleet runs in"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=256,
        help="keep-alive connections the fleet's beats share (dealt among the processes)",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=10.0,
        help="py-spy samples the API this long at each level (0: no)",
    )
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in args.levels.split(","))
    results = []
    for db in args.db or ["sqlite", "postgresql"]:
        print(f"{db}: levels {levels}", file=sys.stderr)
        with api_and_beat(db) as hub:
            result = measure(
                hub,
                levels,
                args.hold,
                args.load_processes,
                args.connections,
                args.profile_seconds,
            )
        results.append({"db": db, **result})
    path = common.save("agents", vars(args), results, out=Path(args.out) if args.out else None)
    print(common.table(HEADERS, level_rows(results)))
    for r in results:
        print(
            f"{r['db']}: most agents absorbed {r['most_agents_absorbed']}; a silent agent "
            f"shown offline {r['offline_noticed_after_seconds']} s after its last heartbeat"
        )
    for r in results:
        measured = [lv for lv in r["levels"] if lv.get("api_profile")]
        if measured:
            lv = measured[-1]
            print()
            print(
                profiles.table(
                    lv["api_profile"],
                    f"{r['db']}: API at {lv['agents']} agents ({lv['api_cpu_percent']}% CPU)",
                )
            )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
