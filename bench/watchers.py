"""Observers a benchmark runs beside its main thread, so that two things can be seen at once
without either waiting on the other: a process's state in ``/proc`` and a GraphQL
subscription's updates.

Both stamp what they see with ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every
process of the machine), so their times compare with the benchmark's own and with those a
service of the benchmark's own reports.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.native.native_peers import proc_state


class ProcWatch:
    """Polls ``/proc/<pid>/stat`` every ``interval`` seconds (0.5 ms, like the other
    benchmarks): when the process was first seen stopped (``T``) after :meth:`arm`, and when
    it was first seen running again after that."""

    def __init__(self, pid: int, interval: float = 0.0005) -> None:
        self.pid = pid
        self.interval = interval
        self.stopped_at: float | None = None
        self.running_at: float | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"proc-{pid}")

    def __enter__(self) -> ProcWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def arm(self) -> None:
        with self._lock:
            self.stopped_at = None
            self.running_at = None

    def _loop(self) -> None:
        while not self._done.is_set():
            state = proc_state(self.pid)
            at = time.monotonic()
            with self._lock:
                if state == "T" and self.stopped_at is None:
                    self.stopped_at = at
                elif state != "T" and self.stopped_at is not None and self.running_at is None:
                    self.running_at = at
            time.sleep(self.interval)

    def wait_stopped(self, timeout: float) -> float:
        return _wait(lambda: self.stopped_at, timeout, f"process {self.pid} stopped")

    def wait_running(self, timeout: float) -> float:
        return _wait(lambda: self.running_at, timeout, f"process {self.pid} running again")


class Subscription:
    """One GraphQL subscription (``graphql-transport-ws``) read by a thread of its own: the
    first time the value at ``path`` was one of ``phases``, for each set asked for."""

    def __init__(
        self,
        url: str,
        token: str,
        query: str,
        variables: dict[str, Any],
        path: list[str],
        marks: dict[str, set[str]],
    ) -> None:
        self.path = path
        self.marks = marks
        self.seen: dict[str, float] = {}
        self.values: list[tuple[float, str]] = []
        self.error: BaseException | None = None
        ws_url = url.replace("http://", "ws://").replace("https://", "wss://") + "/graphql"
        self._ws: ClientConnection = connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        self._ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(self._ws.recv(timeout=30))
        assert ack["type"] == "connection_ack", ack
        self._ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        self._thread = threading.Thread(target=self._loop, daemon=True, name="subscription")
        self._thread.start()

    def _loop(self) -> None:
        try:
            while len(self.seen) < len(self.marks):
                message = json.loads(self._ws.recv(timeout=120))
                at = time.monotonic()
                if message["type"] == "complete":
                    return
                assert message["type"] == "next", message
                assert not message["payload"].get("errors"), message
                value: Any = message["payload"]["data"]
                for key in self.path:
                    value = value[key]
                self.values.append((at, value))
                for mark, phases in self.marks.items():
                    if mark not in self.seen and value in phases:
                        self.seen[mark] = at
        except BaseException as exc:  # shown by wait(), not lost in the thread
            self.error = exc

    def wait(self, mark: str, timeout: float) -> float:
        def seen() -> float | None:
            if self.error is not None:
                raise RuntimeError(f"subscription failed: {self.error!r}") from self.error
            return self.seen.get(mark)

        return _wait(seen, timeout, f"{'.'.join(self.path)} in {sorted(self.marks[mark])}")

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._thread.join(timeout=5)


def _wait(value: Callable[[], float | None], timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while True:
        got = value()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.001)
