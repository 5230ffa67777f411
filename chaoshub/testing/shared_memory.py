"""The in-memory test tool with its state in Redis: several worker processes (and the
benchmarks) share what it holds, as they would share a real tool.

:class:`chaoshub.testing.memory.MemoryAdapter` keeps its state in one process's memory or
in a JSON file rewritten under a lock on every call: fine for a few runs, not for the
thousands a benchmark holds across two workers. This variant keeps each execution in a
Redis hash (one field per execution), counts applications with ``HINCRBY`` and answers
:meth:`status_many` with one ``HMGET`` for all the handles, like a tool whose protocol has a
batch status call. Registered like the other one, under the adapter name ``memory``:
``CHAOSHUB_EXTRA_ADAPTERS=memory=chaoshub.testing.shared_memory:SharedMemoryAdapter``.

Backend config: ``redis_url`` (required), ``targets`` (as the in-memory tool), ``prefix``
(the keys' prefix, default ``chaoshub-memory``; the backend's name follows it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import redis

from chaoshub.contract import Execution, Handle, Health, Observation, Observed
from chaoshub.errors import BackendUnavailable, HubError
from chaoshub.testing.memory import MemoryAdapter

#: one client (and its connection pool) per URL per process: adapters are made per tick
_CLIENTS: dict[str, redis.Redis] = {}
_CLIENTS_LOCK = threading.Lock()
#: executions per HMGET
CHUNK = 1000


def _client(url: str) -> redis.Redis:
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(url)
        if client is None:
            client = _CLIENTS[url] = redis.Redis.from_url(
                url, socket_timeout=10, socket_connect_timeout=5
            )
        return client


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SharedMemoryAdapter(MemoryAdapter):
    config_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["redis_url"],
        "properties": {
            "targets": {"type": "array", "items": {"type": "string"}},
            "redis_url": {"type": "string", "pattern": "^rediss?://"},
            "prefix": {"type": "string", "minLength": 1, "maxLength": 100},
        },
    }

    def _key(self, what: str) -> str:
        prefix = self.config.get("prefix") or "chaoshub-memory"
        return f"{prefix}:{self.backend or 'default'}:{what}"

    @property
    def _redis(self) -> redis.Redis:
        return _client(str(self.config["redis_url"]))

    def _unavailable(self, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"the shared in-memory tool's Redis: {exc}", adapter=self.name, backend=self.backend
        )

    def _reachable(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def health(self) -> Health:
        try:
            self._reachable()
        except BackendUnavailable as exc:
            return Health(ok=False, message=exc.message)
        return super().health()

    def snapshot(self) -> dict[str, Any]:
        r = self._redis

        def read(what: str) -> dict[str, Any]:
            return {_text(k): v for k, v in r.hgetall(self._key(what)).items()}

        active = {k: json.loads(v) for k, v in read("active").items()}
        applied = {k: int(v) for k, v in read("applied").items()}
        calls = {k: int(v) for k, v in read("recover_calls").items()}
        return {"active": active, "applied": applied, "recover_calls": calls}

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        metrics = {k: float(v) for k, v in execution.params.items() if isinstance(v, int | float)}
        entry = {
            "target": execution.target.id,
            "fault": execution.fault,
            "metrics": metrics,
            "started": time.time(),
            "duration": execution.duration_seconds,
            "verdict": execution.params.get("verdict"),
        }
        try:
            if execution.fault == "kill":
                self._redis.hincrby(self._key("applied"), execution.id, 1)
                return {"key": execution.id}, Observation(Observed.DONE, native="killed")
            if not self._redis.hsetnx(self._key("active"), execution.id, json.dumps(entry)):
                return {"key": execution.id}, Observation(
                    Observed.INJECTED, native="already active (adopted)", metrics=metrics
                )
            self._redis.hincrby(self._key("applied"), execution.id, 1)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return {"key": execution.id}, Observation(
            Observed.INJECTED, native="active", metrics=metrics
        )

    def status(self, handle: Handle) -> Observation:
        try:
            raw = self._redis.hget(self._key("active"), handle.execution.id)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return self._observe(json.loads(raw) if raw else None)

    def status_many(self, handles: Sequence[Handle]) -> dict[str, Observation | HubError]:
        ids = list(dict.fromkeys(h.execution.id for h in handles))
        out: dict[str, Observation | HubError] = {}
        try:
            pipe = self._redis.pipeline(transaction=False)
            for i in range(0, len(ids), CHUNK):
                pipe.hmget(self._key("active"), ids[i : i + CHUNK])
            found = [raw for part in pipe.execute() for raw in part]
        except redis.RedisError as exc:
            error = self._unavailable(exc)
            return {i: error for i in ids}
        for key, raw in zip(ids, found, strict=True):
            out[key] = self._observe(json.loads(raw) if raw else None)
        return out

    def recover(self, handle: Handle) -> Observation:
        key = handle.execution.id
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(self._key("recover_calls"), key, 1)
            pipe.hdel(self._key("active"), key)
            pipe.execute()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return Observation(Observed.RECOVERED, native="reverted")
