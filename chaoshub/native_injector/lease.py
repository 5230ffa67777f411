"""The dead-man's switch: a thread that recovers injections whose lease lapsed.

The hub renews a lease with every ``status`` call. If the hub (or the network to it)
disappears, nothing renews it, and this thread recovers the fault on its own, recording
why; an injector that was down meanwhile does the same in ``Injector.restore``.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("chaoshub.injector.lease")


class _Lapsing(Protocol):
    def lapse_expired(self, now: float | None = None) -> None: ...


class LeaseWatcher:
    def __init__(self, injector: _Lapsing, interval: float = 0.5) -> None:
        self.injector = injector
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.injector.lapse_expired()
            except Exception:  # the switch must keep running whatever one pass hit
                log.exception("lease check failed")
