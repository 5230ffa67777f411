"""When each agent was last heard from, and what it last reported of its host, kept out of
the database: a fleet beats every few seconds, and a row write per beat is what limited
how many agents one API process could take.

- :class:`MemoryPresence` — the embedded hub (``memory://`` broker): API, worker and beat
  share one process, so a dict is shared by all of them;
- :class:`RedisPresence` — production (a ``redis://`` broker): every API process writes
  and every worker reads the broker's Redis (two hashes per hub database);
- :class:`NoPresence` — any other broker: nothing is kept, and a heartbeat writes the
  agent's row as before.

The agent's row still carries ``last_heartbeat``: the reconciler writes it in batches,
only for agents whose row is older than the offline timeout while the store has heard
from them since (so about once per timeout per agent instead of once per beat), and
judges an agent offline from the later of the two. A store that starts empty (a new
process, a Redis restarted empty) counts every agent as heard from when it started, so
no agent is shown offline for a beat that the lost store had seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

#: one beat to keep: agent name, when (epoch seconds), its host report or ``None``
Beat = tuple[str, float, Mapping[str, Any] | None]

log = logging.getLogger("chaoshub.presence")

#: how often agents beat, unless the offline timeout asks for more often
HEARTBEAT_SECONDS = 5


def heartbeat_seconds(agent_timeout: float) -> float:
    """How often agents should heartbeat: several times within the offline timeout."""
    return max(0.5, min(HEARTBEAT_SECONDS, agent_timeout / 3))


class Presence:
    """Last seen (epoch seconds) and last report by agent name."""

    #: ``False``: nothing is kept here and the heartbeat writes the row itself
    keeps = True
    #: each write is a round trip to another process: worth gathering beats for
    remote = False

    def beat(self, name: str, at: float, report: Mapping[str, Any] | None) -> bool:
        """Record a beat of ``name`` at ``at`` with its host ``report`` (guards and host,
        or ``None``). ``False`` when it could not be kept: the caller writes the row."""
        raise NotImplementedError

    async def keep(self, beats: Sequence[Beat]) -> bool:
        """Record ``beats`` together from an event loop, without blocking it for the
        store's round trip; ``False`` when they could not be kept (none is then assumed
        kept: the caller writes the rows)."""
        return all([self.beat(name, at, report) for name, at, report in beats])

    async def aclose(self) -> None:
        """Let go of what :meth:`keep` opened on the running event loop."""

    def seen(self, names: Iterable[str]) -> tuple[dict[str, float], float] | None:
        """The last beat of each of ``names`` the store holds, and since when it holds
        beats; ``None`` when it cannot be read (the rows are then all there is)."""
        raise NotImplementedError

    def reports(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The last report of each of ``names`` that has one: ``{"at", "limits"}``."""
        raise NotImplementedError


class NoPresence(Presence):
    keeps = False

    def beat(self, name: str, at: float, report: Mapping[str, Any] | None) -> bool:
        return False

    def seen(self, names: Iterable[str]) -> tuple[dict[str, float], float] | None:
        return None

    def reports(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {}


class MemoryPresence(Presence):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._reports: dict[str, dict[str, Any]] = {}
        self._since = time.time()

    def beat(self, name: str, at: float, report: Mapping[str, Any] | None) -> bool:
        with self._lock:
            self._seen[name] = max(at, self._seen.get(name, 0.0))
            if report is not None:
                self._reports[name] = {"at": at, "limits": dict(report)}
        return True

    def seen(self, names: Iterable[str]) -> tuple[dict[str, float], float] | None:
        with self._lock:
            return {n: self._seen[n] for n in names if n in self._seen}, self._since

    def reports(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {n: self._reports[n] for n in names if n in self._reports}


class RedisPresence(Presence):
    """Two hashes (``seen``: name → epoch; ``report``: name → JSON) and a ``since`` key,
    under a prefix of the hub's database, so hubs sharing a Redis never mix agents."""

    remote = True

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        prefix = f"chaoshub:presence:{namespace}"
        self._seen_key = f"{prefix}:seen"
        self._report_key = f"{prefix}:report"
        self._since_key = f"{prefix}:since"
        self._url = url
        #: the asyncio client :meth:`keep` uses, and the event loop it belongs to
        self._async: tuple[Any, Any] | None = None

    def beat(self, name: str, at: float, report: Mapping[str, Any] | None) -> bool:
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self._since_key, at, nx=True)
            pipe.hset(self._seen_key, name, at)
            if report is not None:
                pipe.hset(self._report_key, name, json.dumps({"at": at, "limits": report}))
            pipe.execute()
        except Exception as exc:  # the row still works: a lost Redis costs writes, not agents
            log.warning("presence not kept in Redis, writing the row: %s", exc)
            return False
        return True

    async def keep(self, beats: Sequence[Beat]) -> bool:
        """One pipelined write for many beats: two ``HSET``s of many fields, whatever the
        number of beats (the latest of an agent's beats wins, as in :meth:`beat`)."""
        seen: dict[str, float] = {}
        reports: dict[str, str] = {}
        for name, at, report in beats:
            seen[name] = max(at, seen.get(name, 0.0))
            if report is not None:
                reports[name] = orjson.dumps({"at": at, "limits": report}).decode()
        if not seen:
            return True
        try:
            pipe = self._async_client().pipeline(transaction=False)
            pipe.set(self._since_key, min(seen.values()), nx=True)
            pipe.hset(self._seen_key, mapping=seen)
            if reports:
                pipe.hset(self._report_key, mapping=reports)
            await pipe.execute()
        except Exception as exc:  # the row still works: a lost Redis costs writes, not agents
            log.warning("presence not kept in Redis, writing the rows: %s", exc)
            return False
        return True

    def _async_client(self) -> Any:
        import asyncio

        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = redis.asyncio.Redis.from_url(
                self._url, socket_timeout=2, socket_connect_timeout=2
            )
            self._async = (loop, client)
        return self._async[1]

    async def aclose(self) -> None:
        import asyncio

        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            client, self._async = self._async[1], None
            await client.aclose()

    def seen(self, names: Iterable[str]) -> tuple[dict[str, float], float] | None:
        wanted = list(names)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(self._since_key, time.time(), nx=True)
            pipe.get(self._since_key)
            if wanted:
                pipe.hmget(self._seen_key, wanted)
            _, since, *found = pipe.execute()
        except Exception as exc:
            log.warning("presence not readable from Redis: %s", exc)
            return None
        beats = found[0] if found else []
        return {n: float(v) for n, v in zip(wanted, beats, strict=True) if v is not None}, float(
            since
        )

    def reports(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(names)
        if not wanted:
            return {}
        try:
            found = self._client.hmget(self._report_key, wanted)
        except Exception as exc:
            log.warning("agent reports not readable from Redis: %s", exc)
            return {}
        out: dict[str, dict[str, Any]] = {}
        for name, raw in zip(wanted, found, strict=True):
            if raw is not None:
                try:
                    out[name] = json.loads(raw)
                except ValueError:
                    continue
        return out


_memory: dict[str, MemoryPresence] = {}
_memory_lock = threading.Lock()


def for_hub(broker_url: str, database_url: str) -> Presence:
    """The store that fits the hub's broker: one per hub database."""
    if broker_url.startswith(("redis://", "rediss://")):
        namespace = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        return RedisPresence(broker_url, namespace)
    if broker_url.startswith("memory://"):
        with _memory_lock:
            return _memory.setdefault(database_url, MemoryPresence())
    return NoPresence()
