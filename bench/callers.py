"""Callers that cost the machine little: the load a benchmark puts on the hub should be the
hub's to carry, not the benchmark's own.

``requests``-style clients in threads spend about a millisecond of CPU per call in the
benchmark process (building the request, parsing headers, the GIL between threads); on a
2-core machine shared with the hub that is a large part of a core at a few hundred calls
a second. These callers are asyncio tasks on one event loop, each with one keep-alive
HTTP/1.1 connection, sending a request whose bytes are built from the body alone and reading
the answer by its ``Content-Length``. They speak only what the hub's API server answers
(uvicorn: ``Content-Length``, no chunking for JSON), and say so if it answers otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


class Connection:
    """One keep-alive HTTP/1.1 connection to ``url``'s host, posting JSON to one path."""

    def __init__(self, url: str, path: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nConnection: keep-alive\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        data = json.dumps(body).encode()
        self._writer.write(f"{self.head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status_line = await self._reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = None
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {status_line!r}")
        return status, json.loads(await self._reader.readexactly(length))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


async def _call_all(
    url: str,
    token: str,
    count: int,
    callers: int,
    body: Callable[[int], dict[str, Any]],
    check: Callable[[int, dict[str, Any]], Any],
) -> list[Any]:
    queue = iter(range(count))
    out: list[Any] = [None] * count

    async def caller() -> None:
        conn = Connection(url, "/graphql", {"Authorization": f"Bearer {token}"})
        try:
            for i in queue:
                status, answer = await conn.post(body(i))
                out[i] = check(status, answer)
        finally:
            await conn.close()

    await asyncio.gather(*(caller() for _ in range(callers)))
    return out


def call_all(
    url: str,
    token: str,
    count: int,
    callers: int,
    body: Callable[[int], dict[str, Any]],
    check: Callable[[int, dict[str, Any]], Any],
) -> list[Any]:
    """Post ``body(i)`` for each ``i`` below ``count`` from ``callers`` concurrent
    connections; ``check(status, answer)`` of each, in order of ``i``."""
    return asyncio.run(_call_all(url, token, count, callers, body, check))
