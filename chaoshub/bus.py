"""Run updates and events fan-out: Redis pub/sub in production, in-process when embedded.

Workers publish after they commit; every API process listens, so a subscription on any
replica sees what any worker did. Messages are small ``{"kind", "run_id", "event_id"}``
dicts: the database stays the source of truth, subscribers read the row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger("chaoshub.bus")

CHANNEL = "chaoshub:updates"
#: run ids whose desired state changed (stop, pause), for the worker process whose watch
#: holds the run: the task sent for the change may reach another worker process
WISHES = "chaoshub:wishes"


class Bus:
    def publish(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def publish_many(self, messages: list[dict[str, Any]]) -> None:
        """Publish each of ``messages``, in order (a bus may send them in one round trip)."""
        for message in messages:
            self.publish(message)

    def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    def tell_wish(self, run_id: str) -> None:
        """Tell every worker process that ``run_id``'s desired state changed. In one
        process (embedded) the task sent for it reaches the watch itself: nothing to do."""

    def on_wish(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        """Call ``callback(run_id)``, in a thread of its own, for each wish told by any
        process; returns what stops listening (None: nothing to listen to here)."""
        return None

    def close(self) -> None:
        """Release connections."""


class LocalBus(Bus):
    """One process: publishers on any thread, subscribers on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[
            tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]
        ] = []

    def publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # loop closed
                pass

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10000)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.remove(entry)


class RedisBus(Bus):
    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def publish(self, message: dict[str, Any]) -> None:
        try:
            self._client.publish(CHANNEL, json.dumps(message))
        except Exception as exc:  # a lost update costs a refresh, never a run
            log.warning("publish failed: %s", exc)

    def publish_many(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(CHANNEL, json.dumps(message))
                pipe.execute()
        except Exception as exc:  # a lost update costs a refresh, never a run
            log.warning("publish failed: %s", exc)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        try:
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if msg and msg.get("type") == "message":
                    yield json.loads(msg["data"])
        finally:
            await pubsub.unsubscribe(CHANNEL)
            await pubsub.aclose()
            await client.aclose()

    def tell_wish(self, run_id: str) -> None:
        try:
            self._client.publish(WISHES, run_id)
        except Exception as exc:  # the watch still finds the wish at its next look
            log.warning("publish of a wish failed: %s", exc)

    def on_wish(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        stop = threading.Event()

        def listen() -> None:
            import redis

            while not stop.is_set():
                client = redis.Redis.from_url(self.url, socket_connect_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    pubsub.subscribe(WISHES)
                    while not stop.is_set():
                        msg = pubsub.get_message(timeout=1.0)
                        if msg and msg.get("type") == "message":
                            data = msg["data"]
                            callback(data.decode() if isinstance(data, bytes) else str(data))
                except Exception as exc:  # Redis away: the watch's own look still runs
                    log.warning("listening for wishes failed: %s", exc)
                    stop.wait(1.0)
                finally:
                    try:
                        pubsub.close()
                        client.close()
                    except Exception:
                        pass

        threading.Thread(target=listen, name="chaoshub-wishes", daemon=True).start()
        return stop.set

    def close(self) -> None:
        self._client.close()


def make_bus(url: str) -> Bus:
    if url == "local":
        return LocalBus()
    return RedisBus(url)
