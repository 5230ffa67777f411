"""The embedded default: a Celery worker and beat inside the API process, on Celery's
in-process broker. Same tasks, same driver, same reconciler as production."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from celery.beat import EmbeddedService

from chaoshub.config import Settings
from chaoshub.execution.celery_app import all_queues, configure

log = logging.getLogger("chaoshub.embedded")


class EmbeddedWorker:
    def __init__(self, settings: Settings, concurrency: int = 8) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self._worker: Any = None
        self._beat: Any = None

    def start(self) -> None:
        app = configure(self.settings)
        import chaoshub.execution.tasks  # noqa: F401  (registers the tasks)

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
        beat, worker, self._beat, self._worker = self._beat, self._worker, None, None
        if beat is not None:
            beat.stop()
        if worker is not None:
            worker.stop(in_sighandler=False, exitcode=0)


class LocalAgent:
    """The embedded default's own native injector: a child process on loopback that
    registers with this hub using an agent token the hub issues to it."""

    NAME = "local"

    def __init__(self, runtime: Any, hub_url: str, *, port: int = 31767) -> None:
        self.runtime = runtime
        self.hub_url = hub_url
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    def _token(self) -> str:
        from chaoshub.services import auth

        path = self.runtime.settings.data_dir / "agent-token"
        token = path.read_text().strip() if path.exists() else ""
        if not token:
            token = auth.new_token()
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(token + "\n")
        with self.runtime.session() as s:
            auth.ensure_token(s, f"agent:{self.NAME}", "agent", token, agent_name=self.NAME)
        return token

    def start(self) -> bool:
        if importlib.util.find_spec("chaoshub.native_injector.cli") is None:
            log.info("no native injector in this installation; no local agent")
            return False
        # bound here and handed to the child: two hubs starting at once cannot both find
        # the port free and then race to bind it
        listener = _listen(self.port)
        port = int(listener.getsockname()[1])
        state_dir = self.runtime.settings.data_dir / "injector"
        log_file = open(self.runtime.settings.data_dir / "injector.log", "ab")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from chaoshub.native_injector.cli import main; main()",
                "--listen",
                f"127.0.0.1:{port}",
                "--hub",
                self.hub_url,
                "--name",
                self.NAME,
                "--labels",
                "embedded=true",
                "--state-dir",
                str(state_dir),
                "--listen-fd",
                str(listener.fileno()),
            ],
            pass_fds=(listener.fileno(),),
            # the token goes by environment, not argv, where `ps` would show it
            env={**os.environ, "CHAOSHUB_AGENT_TOKEN": self._token()},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        listener.close()  # the child holds its own copy
        log.info("local agent started", extra={"pid": self._proc.pid, "port": port})
        return True

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            log.info("stopping the local agent (it recovers what it holds)")
            self._proc.send_signal(signal.SIGTERM)  # a clean stop recovers every active fault
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()


def _die_with_parent() -> None:
    """In the child: receive SIGTERM when the hub dies, however it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _listen(port: int) -> socket.socket:
    """A listening socket on loopback: on ``port`` when it is free, else on any free port."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.bind(("127.0.0.1", 0))
    s.listen(2048)
    return s
