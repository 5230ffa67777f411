"""Injection records and their persistence under ``--state-dir``.

A record is written *before* the fault touches the host (state ``applying``) and again
after every change, so an injector killed at any moment finds on restart everything it
may have left behind. Files are replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("chaoshub.injector.state")

#: states a record moves through; only ``applying`` and ``active`` may leave a fault behind
APPLYING, ACTIVE, RECOVERED, DONE, FAILED = "applying", "active", "recovered", "done", "failed"
#: the hub's operator released it without a confirmed recovery: no longer retried here
RELEASED = "released"
LIVE = frozenset({APPLYING, ACTIVE})

#: how long ended records are kept so ``status`` can still say how an execution ended
KEEP_ENDED_SECONDS = 24 * 3600


@dataclass
class Record:
    """One execution of one fault on one target, as this injector knows it."""

    execution_id: str
    fault: str
    target: dict[str, Any]
    params: dict[str, Any]
    lease_seconds: float
    state: str = APPLYING
    created_at: float = field(default_factory=time.time)
    expires_at: float = 0.0  # wall-clock time at which the lease lapses
    applied: dict[str, Any] = field(default_factory=dict)  # what the fault did, to undo it
    metrics: dict[str, float] = field(default_factory=dict)  # the values actually applied
    native: str = ""
    reason: str = ""  # why it ended
    ended_at: float | None = None

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def renew(self, now: float | None = None) -> None:
        self.expires_at = (now or time.time()) + self.lease_seconds

    def end(self, state: str, reason: str) -> None:
        self.state = state
        self.reason = reason
        self.ended_at = time.time()

    def summary(self) -> dict[str, Any]:
        now = time.time()
        out: dict[str, Any] = {
            "execution_id": self.execution_id,
            "fault": self.fault,
            "target": self.target,
            "state": self.state,
            "started_at": self.created_at,
            "metrics": self.metrics,
            "native": self.native,
        }
        if self.live:
            out["lease_seconds"] = self.lease_seconds
            out["lease_remaining_seconds"] = round(max(0.0, self.expires_at - now), 3)
        else:
            out["ended_at"] = self.ended_at
            out["reason"] = self.reason
        return out


class StateStore:
    """One JSON file per execution under ``<state-dir>/executions``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "executions"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, execution_id: str) -> Path:
        digest = hashlib.sha256(execution_id.encode()).hexdigest()[:32]
        return self.dir / f"{digest}.json"

    def save(self, record: Record) -> None:
        path = self._path(record.execution_id)
        tmp = path.with_suffix(".tmp")
        data = json.dumps(asdict(record), sort_keys=True)
        with self._lock:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(path)

    def delete(self, execution_id: str) -> None:
        with self._lock:
            self._path(execution_id).unlink(missing_ok=True)

    def load_all(self) -> list[Record]:
        """Every stored record; ended ones older than the keep time are dropped."""
        records = []
        cutoff = time.time() - KEEP_ENDED_SECONDS
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = Record(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as exc:
                log.error("unreadable execution record %s: %s", path.name, exc)
                continue
            if not record.live and (record.ended_at or 0) < cutoff:
                path.unlink(missing_ok=True)
                continue
            records.append(record)
        return records
