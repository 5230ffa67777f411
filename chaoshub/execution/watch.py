"""A worker process's watch over the timed faults it holds: one ticker for all of them.

A run whose fault is in effect (``running``, timed) needs three things until it ends: its
run lease kept (so no other worker takes it), the tool asked now and then whether the
fault is still there (which also renews the tool's own lease on it), and its end noticed
at its deadline. Driving each run on its own cost a task, a claim, a load, a status call,
a commit and a release per run per refresh. Here one thread per worker process holds them
all, under a claim of its own (``<host>:<pid>:watch``):

- **leases**: every held run's lease is renewed in one ``UPDATE`` per
  :data:`CHUNK` runs, every third of the run lease; a run whose lease is no longer this
  watch's (another worker took it after a stall) is dropped at once;
- **status**: each backend is asked with one :meth:`Adapter.status_many` call per tick
  (``CHAOSHUB_WATCH_SECONDS``, at most a quarter of the fault lease) covering every held
  execution on it, in a thread of its own so a slow tool delays only its own backend;
  what changed (native status, metrics, messages, errors) is written in one transaction
  with the leases of the runs asked about, metric samples in one ``INSERT``, and only the
  runs that changed publish an update;
- **hand-off**: the run is given back to the run driver, in a thread of this process, the
  moment its deadline is reached (so it ends on time, not at the reconciler's next pass),
  the tool says the fault went away, or someone asked to stop, pause or resume it. A stop
  reaches the watch two ways: a task for the run in this process takes it at once
  (:meth:`Watcher.give_up`), and the watch looks every :data:`WISH_CHECK_SECONDS` for held
  runs whose desired state changed (a task that reached another worker process). Neither
  waits for a status call: those run in their own threads, and an answer about a run no
  longer held is dropped.

Crash safety is unchanged: everything the watch knows is in the database (the phase, the
deadline, the targets that may carry the fault, the lease), so a killed worker's runs are
found by the reconciler when their leases lapse and driven by another worker, whose driver
hands them to its own watch. Writes of a tick are made only for runs whose lease the same
transaction renewed, so a watch that stalled past its lease never writes over the worker
that took its runs.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from chaoshub.contract import Handle, Observation, Observed
from chaoshub.errors import HubError
from chaoshub.lifecycle import DesiredState, Phase
from chaoshub.runtime import Runtime
from chaoshub.services import metric_samples
from chaoshub.store.models import Backend, Run, RunMetricSample, RunTarget

log = logging.getLogger("chaoshub.execution")

#: how often the watch looks for held runs someone asked to stop, pause or resume
WISH_CHECK_SECONDS = 0.1
#: runs per statement (lease renewals, "which of these are still ours")
CHUNK = 500
#: threads that drive runs handed back (deadline reached, wish, fault gone)
HANDOFF_THREADS = 8
#: threads asking backends (one tick per backend in flight at a time)
STATUS_THREADS = 8
MAX_MESSAGES = 20


def now() -> datetime:
    return datetime.now(UTC)


def describe(exc: BaseException) -> str:
    if type(exc) is HubError and exc.__cause__ is not None:
        return describe(exc.__cause__)
    if isinstance(exc, HubError):
        native = f" [{exc.native_code}]" if exc.native_code else ""
        return f"{type(exc).__name__}: {exc.message}{native}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class HeldTarget:
    """One target of a held run that may carry the fault, and what is stored of it."""

    row_id: int
    index: int
    label: str
    handle: Handle
    native_status: str
    metrics: dict[str, Any]
    messages: list[Any]
    error: str | None
    last_sample: datetime | None = None


@dataclass
class Held:
    """What the watch keeps of one run (a copy of stored facts, never the source of truth)."""

    run_id: str
    backend_id: str
    deadline: datetime | None
    targets: list[HeldTarget]
    sample_every: timedelta
    samples: int = 0
    #: set when given back: an answer arriving after that is dropped
    released: bool = False


@dataclass(order=True)
class _Due:
    at: float
    run_id: str = field(compare=False)


class Watcher:
    """The watch of one worker process (see the module's docstring)."""

    def __init__(self, runtime: Runtime, drive: Callable[[str, bool], None] | None = None) -> None:
        self.rt = runtime
        self.name = f"{socket.gethostname()}:{os.getpid()}:watch"
        self._drive = drive
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._held: dict[str, Held] = {}
        self._deadlines: list[_Due] = []
        #: backend id -> monotonic time of its next tick
        self._ticks: dict[str, float] = {}
        self._asking: set[str] = set()
        self._next_renewal = 0.0
        self._next_wish_check = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        #: told of wishes by the bus (production: a wish's task may reach another process)
        self._listening = False
        self._stop_listening: Callable[[], None] | None = None
        self._handoff = ThreadPoolExecutor(HANDOFF_THREADS, thread_name_prefix="chaoshub-handoff")
        self._status = ThreadPoolExecutor(STATUS_THREADS, thread_name_prefix="chaoshub-status")

    # -- settings ---------------------------------------------------------------------------------

    @property
    def lease_seconds(self) -> float:
        return self.rt.settings.run_lease_seconds

    @property
    def interval(self) -> float:
        s = self.rt.settings
        return min(s.watch_seconds, s.fault_lease_seconds / 4)

    # -- taking and giving back -------------------------------------------------------------------

    def holds(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._held

    def count(self) -> int:
        with self._lock:
            return len(self._held)

    def take(self, held: Held, from_worker: str, next_refresh: datetime) -> bool:
        """Take the run over from the driver ``from_worker`` that holds its lease (its claim
        moves to this watch in one statement); False when that lease was lost meanwhile."""
        if self._stopped:
            return False
        with self.rt.session() as s:
            moved = s.execute(
                update(Run)
                .where(Run.id == held.run_id, Run.worker == from_worker)
                .values(
                    worker=self.name,
                    lease_until=now() + timedelta(seconds=self.lease_seconds),
                    next_attempt_at=next_refresh,
                )
                .execution_options(synchronize_session=False)
            )
            if not moved.rowcount:  # type: ignore[attr-defined]
                return False
        with self._lock:
            self._held[held.run_id] = held
            if held.deadline is not None:
                heapq.heappush(self._deadlines, _Due(held.deadline.timestamp(), held.run_id))
            if held.backend_id not in self._ticks:
                self._ticks[held.backend_id] = time.monotonic() + self.interval
            self._ensure_thread()
        self._wake.set()
        return True

    def give_up(self, run_id: str) -> bool:
        """Stop holding the run (its lease stays this watch's until a driver claims it with
        :attr:`name`); False when it was not held here."""
        with self._lock:
            held = self._held.pop(run_id, None)
            if held is None:
                return False
            held.released = True
        return True

    def _hand_back(self, run_id: str, why: str, *, recheck: bool = False) -> None:
        """Give the run back and drive it in this process now (``recheck``: the driver asks
        the tool again before deciding, as the watch saw the fault go)."""
        if not self.give_up(run_id):
            return
        log.debug("run %s: handed back to the driver (%s)", run_id, why)
        if self._drive is not None:
            self._handoff.submit(self._drive_safely, run_id, recheck)

    def _drive_safely(self, run_id: str, recheck: bool) -> None:
        assert self._drive is not None
        try:
            self._drive(run_id, recheck)
        except Exception:
            log.exception("run %s: driving it after the watch failed", run_id)

    def stop(self) -> None:
        """Let every held run go (its lease cleared, so another worker takes it at the
        reconciler's next pass), and stop the thread."""
        self._stopped = True
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        with self._lock:
            ids = list(self._held)
            for held in self._held.values():
                held.released = True
            self._held.clear()
        self._wake.set()
        try:
            with self.rt.session() as s:
                for chunk in _chunks(ids):
                    s.execute(
                        update(Run)
                        .where(Run.id.in_(chunk), Run.worker == self.name)
                        .values(worker=None, lease_until=None, next_attempt_at=None)
                        .execution_options(synchronize_session=False)
                    )
        except Exception as exc:
            log.warning("could not let the watched runs go: %s", exc)
        self._handoff.shutdown(wait=False)
        self._status.shutdown(wait=False, cancel_futures=True)

    # -- the loop ---------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="chaoshub-watch", daemon=True)
            self._thread.start()
        if not self._listening:
            self._listening = True
            self._stop_listening = self.rt.bus.on_wish(self.wished)

    def wished(self, run_id: str) -> None:
        """Told that a run's desired state changed: one held here goes back to the driver
        now (the driver reads the wish; an unchanged one hands the run back to the watch)."""
        if self.holds(run_id):
            self._hand_back(run_id, "desired state changed (told)")

    def _loop(self) -> None:
        while not self._stopped:
            try:
                self._once()
            except Exception:
                log.exception("watch pass failed")
                time.sleep(0.5)
            self._wake.wait(self._until_next())
            self._wake.clear()

    def _until_next(self) -> float:
        with self._lock:
            if not self._held:
                return 1.0
            t = time.monotonic()
            soonest = min(self._next_wish_check, self._next_renewal, *self._ticks.values())
            wait = soonest - t
            if self._deadlines:
                wait = min(wait, self._deadlines[0].at - time.time())
        return max(0.0, min(wait, 1.0))

    def _once(self) -> None:
        # deadlines first: a run whose time is up goes back to the driver at once
        wall = time.time()
        due: list[str] = []
        with self._lock:
            while self._deadlines and self._deadlines[0].at <= wall:
                d = heapq.heappop(self._deadlines)
                if d.run_id in self._held:
                    due.append(d.run_id)
            if not self._held:
                self._ticks.clear()
                return
            held_ids = list(self._held)
        for run_id in due:
            self._hand_back(run_id, "deadline reached")
        t = time.monotonic()
        if t >= self._next_wish_check:
            self._next_wish_check = t + WISH_CHECK_SECONDS
            self._check_wishes()
        if t >= self._next_renewal:
            self._next_renewal = t + self.lease_seconds / 3
            self._renew(held_ids)
        with self._lock:
            backends = {h.backend_id for h in self._held.values()}
            for gone in set(self._ticks) - backends:
                del self._ticks[gone]
            ready = [b for b, at in self._ticks.items() if at <= t and b not in self._asking]
            for backend_id in ready:
                # keep the cadence from the planned time, not from when the last tick ended
                at = self._ticks[backend_id] + self.interval
                self._ticks[backend_id] = at if at > t else t + self.interval
                self._asking.add(backend_id)
        for backend_id in ready:
            self._status.submit(self._tick_safely, backend_id)

    def _check_wishes(self) -> None:
        with self.rt.session() as s:
            wished = s.scalars(
                select(Run.id).where(
                    Run.phase == Phase.RUNNING.value,
                    Run.worker == self.name,
                    Run.desired_state != DesiredState.RUN.value,
                )
            ).all()
        for run_id in wished:
            self._hand_back(run_id, "desired state changed")

    def _renew(self, ids: list[str]) -> None:
        try:
            with self.rt.session() as s:
                ours = self._renew_in(s, ids, None)
        except Exception as exc:
            log.warning("lease renewal of %d watched runs failed: %s", len(ids), exc)
            return
        self._drop_lost(set(ids) - ours)

    def _renew_in(self, s: Any, ids: list[str], next_refresh: datetime | None) -> set[str]:
        """Renew the leases of ``ids`` still this watch's, in ``s``; the ids renewed."""
        values: dict[str, Any] = {"lease_until": now() + timedelta(seconds=self.lease_seconds)}
        if next_refresh is not None:
            values["next_attempt_at"] = next_refresh
        ours: set[str] = set()
        for chunk in _chunks(ids):
            renewed = s.execute(
                update(Run)
                .where(Run.id.in_(chunk), Run.worker == self.name)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if renewed.rowcount == len(chunk):
                ours.update(chunk)
            else:
                ours.update(
                    s.scalars(
                        select(Run.id).where(Run.id.in_(chunk), Run.worker == self.name)
                    ).all()
                )
        return ours

    def _drop_lost(self, lost: Iterable[str]) -> None:
        for run_id in lost:
            if self.give_up(run_id):
                log.warning("run %s: the watch's lease was taken by another worker", run_id)

    # -- one backend's tick -----------------------------------------------------------------------

    def _tick_safely(self, backend_id: str) -> None:
        try:
            self._tick(backend_id)
        except Exception:
            log.exception("watch tick of backend %s failed", backend_id)
        finally:
            with self._lock:
                self._asking.discard(backend_id)
            self._wake.set()

    def _tick(self, backend_id: str) -> None:
        with self._lock:
            runs = [h for h in self._held.values() if h.backend_id == backend_id]
        if not runs:
            return
        handles = [t.handle for h in runs for t in h.targets]
        failed: BaseException | None = None
        answers: Mapping[str, Observation | HubError] = {}
        try:
            with self.rt.session() as s:
                backend = s.get(Backend, backend_id)
                if backend is None:
                    raise HubError("the run's backend no longer exists", field=["backend"])
                adapter = self.rt.adapter_for(s, backend)
            try:
                answers = adapter.status_many(handles) if handles else {}
            finally:
                adapter.close()
        except Exception as exc:
            failed = exc
        at = now()
        changed_targets: list[dict[str, Any]] = []
        samples: list[dict[str, Any]] = []
        changed_runs: dict[str, list[tuple[HeldTarget, dict[str, Any]]]] = {}
        gone: list[str] = []
        asked: list[str] = []
        with self._lock:
            live = [h for h in runs if not h.released]
        for h in live:
            asked.append(h.run_id)
            for t in h.targets:
                found = answers.get(t.handle.execution.id) if failed is None else None
                if failed is not None:
                    values = _error_change(t, describe(failed))
                elif isinstance(found, HubError):
                    values = _error_change(t, describe(found))
                elif found is None:
                    values = _error_change(t, "the tool gave no answer for this target")
                else:
                    if found.state in (Observed.RECOVERED, Observed.ABORTED, Observed.FAILED):
                        gone.append(h.run_id)
                    values = _observation_change(t, found)
                    sample = self._sample(h, t, found, at)
                    if sample is not None:
                        samples.append(sample)
                if values:
                    changed_runs.setdefault(h.run_id, []).append((t, values))
        next_refresh = at + timedelta(seconds=self.interval)
        with self.rt.session() as s:
            ours = self._renew_in(s, asked, next_refresh)
            for run_id, changes in changed_runs.items():
                if run_id in ours:
                    changed_targets += [{"id": t.row_id, **values} for t, values in changes]
            if changed_targets:
                s.execute(update(RunTarget), changed_targets)
            kept = [x for x in samples if x["run_id"] in ours]
            if kept:
                s.execute(insert(RunMetricSample), kept)
        # the stored copy follows what was written
        for run_id, changes in changed_runs.items():
            if run_id in ours:
                for t, values in changes:
                    for k, v in values.items():
                        setattr(t, k, v)
        by_id = {h.run_id: h for h in live}
        for x in kept:
            by_id[x["run_id"]].samples += 1
        self._drop_lost(set(asked) - ours)
        for run_id in changed_runs:
            if run_id in ours:
                self.rt.publish_run(run_id, [])
        for run_id in dict.fromkeys(gone):
            if run_id in ours:
                self._hand_back(run_id, "the tool no longer holds the fault", recheck=True)

    def _sample(
        self, h: Held, t: HeldTarget, found: Observation, at: datetime
    ) -> dict[str, Any] | None:
        """A metric sample to keep, spaced as :func:`metric_samples.record` spaces them."""
        if not found.metrics or h.samples >= metric_samples.MAX_PER_RUN:
            return None
        numbers = {
            k: float(v)
            for k, v in found.metrics.items()
            if isinstance(v, int | float) and math.isfinite(v)
        }
        if not numbers:
            return None
        if t.last_sample is not None and at - t.last_sample < h.sample_every:
            return None
        t.last_sample = at
        return {"run_id": h.run_id, "target_index": t.index, "at": at, "values": numbers}


def _error_change(t: HeldTarget, error: str) -> dict[str, Any]:
    return {"error": error} if error != t.error else {}


def _observation_change(t: HeldTarget, o: Observation) -> dict[str, Any]:
    """The columns of the target that this answer changes (as the driver's ``_observe``)."""
    values: dict[str, Any] = {}
    if o.native and o.native[-2000:] != t.native_status:
        values["native_status"] = o.native[-2000:]
    if o.metrics:
        merged = {**(t.metrics or {}), **o.metrics}
        if merged != t.metrics:
            values["metrics"] = merged
    if o.messages:
        messages = [m[-4000:] for m in o.messages[-MAX_MESSAGES:]]
        if messages != t.messages:
            values["messages"] = messages
    return values


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


_WATCHERS: weakref.WeakKeyDictionary[Runtime, Watcher] = weakref.WeakKeyDictionary()
_WATCHERS_LOCK = threading.Lock()


def of(runtime: Runtime, drive: Callable[[str, bool], None]) -> Watcher:
    """The watch of this process for ``runtime`` (made on first use)."""
    with _WATCHERS_LOCK:
        w = _WATCHERS.get(runtime)
        if w is None:
            w = _WATCHERS[runtime] = Watcher(runtime, drive)
        return w


def stop_all() -> None:
    with _WATCHERS_LOCK:
        watchers = list(_WATCHERS.values())
    for w in watchers:
        w.stop()
