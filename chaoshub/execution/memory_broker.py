"""The embedded hub's broker: Kombu's in-memory transport, but a consumer waiting for work
is woken the moment a message is put, instead of sleeping out its polling interval.

Kombu's in-memory transport has no way to block on its queues: a worker with nothing to do
sleeps ``polling_interval`` between looks, so a run committed by ``startRun`` waited up to
that long (0.1 s; 50 ms on average) before the embedded worker took it. Here every put sets
an event and the idle consumer waits on that event (the polling interval remains only as an
upper bound). Production's Redis broker blocks on the queue (``BRPOP``) and needs none of
this. Selected by ``memory://`` in :func:`chaoshub.execution.celery_app.configure`.
"""

from __future__ import annotations

import threading
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, memory

ALIAS = "chaoshub-memory"

#: set by every put, on any channel of this process; the idle consumer waits on it
_arrived = threading.Event()


class Channel(memory.Channel):
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        super()._put(queue, message, **kwargs)
        _arrived.set()

    def _put_fanout(self, exchange: str, message: Any, routing_key: Any = None, **kw: Any) -> None:
        super()._put_fanout(exchange, message, routing_key, **kw)
        _arrived.set()


class Transport(memory.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: Any = None) -> None:  # type: ignore[override]
        """Kombu's loop, with the sleep between empty looks replaced by a wait for a put."""
        assert self.cycle is not None
        started = monotonic()
        interval = self.polling_interval or 0.1
        if timeout:
            interval = min(interval, timeout)
        while True:
            _arrived.clear()  # cleared before looking: a put after this look wakes the wait
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None
                _arrived.wait(interval)
            else:
                return


def register() -> str:
    """Make the transport known to Kombu; returns the broker URL that selects it."""
    TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"
    return f"{ALIAS}://"
