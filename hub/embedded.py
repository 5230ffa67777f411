"""The embedded default: a Celery worker and beat inside the API process, on Celery's
in-process broker. Same tasks, same driver, same reconciler as production."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.beat import EmbeddedService

from hub.config import Settings
from hub.execution.celery_app import all_queues, configure

log = logging.getLogger("chaoshub.embedded")


class EmbeddedWorker:
    def __init__(self, settings: Settings, concurrency: int = 8) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._worker: Any = None
        self._beat: Any = None

    def start(self) -> None:
        app = configure(self.settings)
        import hub.execution.tasks  # noqa: F401  (registers the tasks)

        self._worker = app.WorkController(
            pool_cls="threads",
            concurrency=self.concurrency,
            queues=all_queues(),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        threading.Thread(target=self._worker.start, name="chaoshub-worker", daemon=True).start()
        self._beat = EmbeddedService(
            app, thread=True, schedule_filename=str(self.settings.data_dir / "beat-schedule")
        )
        self._beat.start()
        log.info("embedded worker and beat started", extra={"queues": all_queues()})

    def stop(self) -> None:
        if self._beat is not None:
            self._beat.stop()
        if self._worker is not None:
            self._worker.stop(in_sighandler=False, exitcode=0)
