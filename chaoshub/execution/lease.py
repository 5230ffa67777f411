"""A worker's claim on one row (a run, a workflow run): the row says which worker drives it
and until when; a background thread renews the claim while the worker holds it, and a lapsed
claim may be taken by any other worker (the reconciler sends one)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update

from chaoshub import lifecycle
from chaoshub.runtime import Runtime
from chaoshub.store.models import Run, ThresholdSearch, WorkflowRun

log = logging.getLogger("chaoshub.execution")


def now() -> datetime:
    return datetime.now(UTC)


class Lease:
    def __init__(
        self,
        runtime: Runtime,
        model: type[Run] | type[WorkflowRun] | type[ThresholdSearch],
        row_id: str,
        worker: str,
    ) -> None:
        self.rt = runtime
        self.model = model
        self.row_id = row_id
        self.worker = worker

    @property
    def seconds(self) -> float:
        return self.rt.settings.run_lease_seconds

    def claim(self, also_from: str | None = None) -> bool:
        """Take the row unless it has ended or another worker's claim is still live (a
        live claim of ``also_from`` is taken over: this process's watch giving a run back)."""
        m = self.model
        owners = [self.worker] if also_from is None else [self.worker, also_from]
        with self.rt.session() as s:
            result = s.execute(
                update(m)
                .where(
                    m.id == self.row_id,
                    m.phase.not_in([p.value for p in lifecycle.TERMINAL]),
                    or_(m.worker.is_(None), m.lease_until < now(), m.worker.in_(owners)),
                )
                .values(worker=self.worker, lease_until=now() + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _renew(self, stop: threading.Event) -> None:
        m = self.model
        while not stop.wait(self.seconds / 3):
            try:
                with self.rt.session() as s:
                    s.execute(
                        update(m)
                        .where(m.id == self.row_id, m.worker == self.worker)
                        .values(lease_until=now() + timedelta(seconds=self.seconds))
                        .execution_options(synchronize_session=False)
                    )
            except Exception as exc:
                log.warning("lease renewal failed for %s %s: %s", m.__tablename__, self.row_id, exc)

    @contextmanager
    def renewed(self) -> Iterator[None]:
        """Keep the claim alive while the block runs."""
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(stop,), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)

    def release(self, **values: Any) -> None:
        """Let go of the row (if still ours), setting ``values`` with it."""
        m = self.model
        with self.rt.session() as s:
            s.execute(
                update(m)
                .where(m.id == self.row_id, m.worker == self.worker)
                .values(worker=None, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
