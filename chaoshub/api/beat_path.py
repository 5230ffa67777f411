"""The ordinary heartbeat answered before FastAPI, and its beats kept in the presence store
together.

At thousands of agents, what a beat cost the API process was no longer the database (an
ordinary beat has none: :mod:`chaoshub.api.beats`) but the path to it — routing, the
``Request`` and ``JSONResponse`` objects, the middlewares — and the presence store's round
trip, made on the event loop for each beat. So:

- :class:`HeartbeatFastPath`, a plain ASGI middleware outside every other, reads the body
  of ``POST /agents/heartbeat`` itself and answers an ordinary beat (the cache's tests, as
  :mod:`chaoshub.api.beats` states them) with two ``send`` calls. Anything else — not
  ordinary, not JSON, too large, a store that could not keep it — is handed on with its
  body to the application, whose route goes the database's way as before;
- :class:`PresenceWriter` keeps the beats that arrive within ``WINDOW_SECONDS`` of each
  other in one pipelined write (:meth:`Presence.keep`: two ``HSET`` of many fields in
  Redis), on the event loop without blocking it: at most ``1 / WINDOW_SECONDS`` writes a
  second, whatever the number of agents. A beat is answered only once the write holding it
  has returned: **a beat acknowledged is already in the presence store** (it waited at most
  ``WINDOW_SECONDS`` plus one write for that), so the reconciler's offline pass sees every
  beat an agent was told was kept. A write that fails answers none of its beats from here:
  each goes the database's way (which writes the row), and the cache sends beats there for
  ``beats.STORE_PAUSE_SECONDS``, as when one beat failed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chaoshub.api import beats
from chaoshub.errors import HubError
from chaoshub.services import agents as agents_svc
from chaoshub.services.presence import Beat, Presence

PATH = "/agents/heartbeat"
#: beats arriving within this long of the first one waiting are kept in one write
WINDOW_SECONDS = 0.005
_JSON_HEADERS = [(b"content-type", b"application/json")]


class PresenceWriter:
    """The beats of one event loop, kept in the presence store one batch at a time: a
    batch is what arrived within ``WINDOW_SECONDS`` (and during the previous write)."""

    def __init__(self, store: Presence) -> None:
        self.store = store
        #: a store in memory costs no round trip: nothing is gained by waiting
        self.window = WINDOW_SECONDS if store.remote else 0.0
        self._pending: list[tuple[Beat, asyncio.Future[bool]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def beat(self, name: str, at: float, report: dict[str, Any] | None) -> bool:
        """``True`` once the beat is kept; ``False`` when the store could not keep it."""
        loop = asyncio.get_running_loop()
        kept: asyncio.Future[bool] = loop.create_future()
        self._pending.append(((name, at, report), kept))
        if self._writing is None:
            self._writing = loop.create_task(self._write())
        return await kept

    async def _write(self) -> None:
        batch: list[tuple[Beat, asyncio.Future[bool]]] = []
        try:
            while True:
                await asyncio.sleep(self.window)
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                try:
                    ok = await self.store.keep([b for b, _ in batch])
                except Exception:
                    ok = False
                _answer(batch, ok)
                batch = []
        finally:
            # cancelled (the server stopping): nobody is left waiting on an unkept beat
            _answer(batch + self._pending, False)
            self._pending = []
            self._writing = None

    async def close(self) -> None:
        if self._writing is not None:
            self._writing.cancel()
        await self.store.aclose()


def _answer(batch: list[tuple[Beat, asyncio.Future[bool]]], ok: bool) -> None:
    for _, kept in batch:
        if not kept.done():  # a caller gone (client disconnected) cancelled its own
            kept.set_result(ok)


class HeartbeatFastPath:
    """``POST /agents/heartbeat`` answered here when ordinary; every other request, and
    every beat that is not, goes to ``app`` untouched (the body replayed)."""

    def __init__(
        self,
        app: ASGIApp,
        cache: beats.BeatCache,
        writer: PresenceWriter,
        every: float,
        max_bytes: int,
    ) -> None:
        self.app = app
        self.cache = cache
        self.writer = writer
        self.every = every
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or not self.writer.store.keeps
        ):
            await self.app(scope, receive, send)
            return
        chunks, whole = await self._read(receive)
        if whole:
            answer = await self._ordinary(scope, b"".join(chunks))
            if answer is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            *_JSON_HEADERS,
                            (b"content-length", str(len(answer)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": answer})
                return

        async def replay() -> Message:
            if chunks:
                return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
            if whole:
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> tuple[list[bytes], bool]:
        """The body's chunks, and whether that is all of it (not past ``max_bytes``, no
        disconnect): what is not whole is handed on for the application to refuse."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return chunks, False
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_bytes:
                return chunks, False
            if not message.get("more_body"):
                return chunks, True

    async def _ordinary(self, scope: Scope, raw: bytes) -> bytes | None:
        """The answer to an ordinary beat, once kept; ``None`` for any other."""
        cache = self.cache
        if time.monotonic() < cache.store_down_until:
            return None
        header = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                header = value.decode("latin-1")
                break
        token_hash = beats.bearer_hash(header)
        if token_hash is None:
            return None
        actor = cache.actor(token_hash)
        if actor is None or actor.role not in ("agent", "admin"):
            return None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict):
            return None
        name = body.get("name")
        if not isinstance(name, str):
            return None
        if actor.role == "agent" and actor.agent_name not in (None, name):
            return None
        entry = cache.agent(name)
        if entry is None or not entry.online or entry.token_id != actor.token_id:
            return None
        try:
            capabilities = agents_svc.object_field(body, "capabilities")
            report = agents_svc.host_report(body)
        except HubError:
            return None
        if capabilities and capabilities != entry.capabilities:
            return None
        if not await self.writer.beat(name, time.time(), report):
            # a store that cannot keep beats (a Redis down or hung) is not asked again for
            # a while: beats go to the worker threads and write the row
            cache.store_down_until = time.monotonic() + beats.STORE_PAUSE_SECONDS
            return None
        if cache.actor(token_hash) is not actor:
            return None  # revoked while the write was under way: the database's way refuses
        cache.heard(entry)
        return orjson.dumps({"agent": name, "heartbeat_seconds": self.every})
