"""The run driver: moves one run's observed phase toward its desired state.

Every step reads the run from the database, does one thing, commits, and publishes an
update, so any worker can pick up where a dead one stopped. Where the thing is a call to
the tool, what the call needs stored first (the move to ``injecting`` with "the targets may
carry the fault", the move to ``recovering``) is committed and published before the call,
in the same step, and the tool's answer with the phase it leads to in the commit after it.
A worker drives a run only while it holds the run's lease (a row-level claim with an
expiry that a background thread renews); a second task for the same run returns at once.

Crash safety rests on two stored facts per target: ``may_carry_fault`` is set *before*
the tool is asked to inject, and cleared only once recovery is confirmed; and the tool
can find an injection from its execution id alone. So a worker killed mid-inject leaves
a record that a later worker either re-injects (idempotently) or recovers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from chaoshub import lifecycle, metrics
from chaoshub.contract import Adapter, Execution, Handle, Observation, Observed, Target
from chaoshub.errors import HubError
from chaoshub.execution.lease import Lease
from chaoshub.lifecycle import DesiredState, Ending, Phase, TargetPhase, TimeControl, Verdict
from chaoshub.runtime import Runtime
from chaoshub.services import events, metric_samples
from chaoshub.store.models import Backend, Run, RunMetricSample, RunTarget

if TYPE_CHECKING:
    from chaoshub.execution.watch import Held, Watcher

log = logging.getLogger("chaoshub.execution")

T = TypeVar("T")

MAX_PARALLEL_TARGETS = 16
MAX_MESSAGES = 20
POLL_INTERVAL = timedelta(seconds=1)  # external tools: how often to ask whether they ended
#: how often a worker waiting on status calls looks whether someone asked the run to stop
STOP_CHECK_SECONDS = 0.1


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def now() -> datetime:
    return datetime.now(UTC)


def execution_id(run: Run, target: RunTarget) -> str:
    """Stable for the run, the target and the injection round (a resume is a new round)."""
    base = f"{run.id}-{target.index}"
    return base if run.round == 0 else f"{base}-r{run.round}"


def execution_for(run: Run, target: RunTarget, fault: str, lease_seconds: float) -> Execution:
    return Execution(
        id=execution_id(run, target),
        fault=fault,
        params=run.params,
        target=Target(id=target.target_id, label=target.label, attributes=target.attributes or {}),
        duration_seconds=run.duration_seconds,
        lease_seconds=lease_seconds,
    )


def watch_interval(watch_seconds: float, fault_lease_seconds: float) -> timedelta:
    """How often a held fault's status is refreshed (``CHAOSHUB_WATCH_SECONDS``), and so its
    lease renewed: never less often than four times per fault lease."""
    return timedelta(seconds=min(watch_seconds, fault_lease_seconds / 4))


def _describe(exc: BaseException) -> str:
    if type(exc) is HubError and exc.__cause__ is not None:
        return _describe(exc.__cause__)  # a tool exception status_many kept as a HubError
    if isinstance(exc, HubError):
        native = f" [{exc.native_code}]" if exc.native_code else ""
        return f"{type(exc).__name__}: {exc.message}{native}"
    return f"{type(exc).__name__}: {exc}"


class RunDriver:
    """Drives one run. With a ``watcher`` (a worker process's :mod:`watch
    <chaoshub.execution.watch>`), a timed fault in effect is handed to the watch once its
    first status is stored, instead of being let go until the next refresh; ``take_from``
    is the watch's name when the watch gave the run back (its lease is taken over)."""

    def __init__(
        self,
        runtime: Runtime,
        run_id: str,
        *,
        worker: str | None = None,
        watcher: Watcher | None = None,
        take_from: str | None = None,
        recheck: bool = False,
    ) -> None:
        self.rt = runtime
        self.run_id = run_id
        self.worker = worker or worker_name()
        self._adapter: Adapter | None = None
        self._seen_desired: str | None = None
        self.lease = Lease(runtime, Run, run_id, self.worker)
        self.watcher = watcher
        self.take_from = take_from
        self._hold: tuple[Held, datetime] | None = None
        #: ask the tool now even if the next refresh is not due (the watch saw a change)
        self.recheck = recheck

    # -- entry point -------------------------------------------------------------------------------

    def advance(self, max_steps: int = 200) -> None:
        """Move the run as far as it can go now; return when it must wait (time, tool, backoff).

        A wish (stop, pause, resume) stored while this worker held the run had its own task
        turned away by the lease; so after letting go, the worker looks once more and drives
        the run again if a wish arrived that its last step did not act on.
        """
        for _ in range(3):
            if not self._claim():
                log.debug("run %s is driven by another worker", self.run_id)
                return
            self._seen_desired = None
            handed = False
            try:
                with self.lease.renewed():
                    for _ in range(max_steps):
                        if not self._step():
                            break
                handed = self._hand_to_watch()
            finally:
                if not handed:
                    self.lease.release()
                if self._adapter is not None:
                    self._adapter.close()
                    self._adapter = None
            if handed:
                # a wish stored while this worker held the run had its task turned away:
                # looked at once now the watch holds the run (one stored later reaches the
                # watch itself), so a stop never waits for the watch's next look
                w = self.watcher
                if w is not None and self._seen_desired is not None:
                    if self._wish_changed(self._seen_desired):
                        w.wished(self.run_id)
                return
            if self._seen_desired is None or not self._wish_changed(self._seen_desired):
                return

    def _claim(self) -> bool:
        """Claim the run; a run this process's watch holds is taken from it at once (a
        stop never waits for the watch's next look), in one statement."""
        w = self.watcher
        if self.take_from is None and w is not None and w.give_up(self.run_id):
            self.take_from = w.name
        return self.lease.claim(also_from=self.take_from)

    def _hand_to_watch(self) -> bool:
        hold, self._hold = self._hold, None
        if hold is None or self.watcher is None:
            return False
        held, next_refresh = hold
        return self.watcher.take(held, self.worker, next_refresh)

    # -- one step ----------------------------------------------------------------------------------

    def _load(self, s: Session) -> Run | None:
        return s.scalars(
            select(Run).where(Run.id == self.run_id).options(selectinload(Run.targets))
        ).one_or_none()

    def _execution(self, run: Run, t: RunTarget, fault: str) -> Execution:
        return execution_for(run, t, fault, self.rt.settings.fault_lease_seconds)

    def _adapter_for(self, s: Session, run: Run) -> Adapter:
        if self._adapter is None:
            backend = s.get(Backend, run.backend_id) if run.backend_id else None
            if backend is None:
                raise HubError(f"backend {run.backend_name!r} no longer exists", field=["backend"])
            self._adapter = self.rt.adapter_for(s, backend)
        return self._adapter

    def _move(self, s: Session, run: Run, to: Phase, reason: str, published: list[int]) -> None:
        before = run.phase
        transition = lifecycle.move(run, to, reason)
        event = events.record_transition(s, run, transition)
        if to.terminal:
            run.ended_at = transition.at
            metrics.RUNS_ENDED.labels(adapter=run.adapter, phase=to.value).inc()
        if to is Phase.RECOVERING:
            run.recovering_since = transition.at
        if to is Phase.RUNNING and run.started_at and run.round == 0:
            metrics.TIME_TO_INJECT.labels(adapter=run.adapter).observe(
                (transition.at - run.started_at).total_seconds()
            )
        s.flush()
        published.append(event.id)
        log.info(
            "run %s: %s -> %s (%s)",
            run.id,
            before,
            to.value,
            reason,
            extra={
                "run_id": run.id,
                "from": before,
                "to": to.value,
                "phase": to.value,
                "reason": reason,
            },
        )

    def _step(self) -> bool:
        published: list[int] = []
        self._hold = None
        with self.rt.session() as s:
            run = self._load(s)
            if run is None or Phase(run.phase).terminal:
                return False
            if run.worker != self.worker:
                log.warning("run %s: lease lost to %s", self.run_id, run.worker)
                return False
            phase = Phase(run.phase)
            desired = DesiredState(run.desired_state)
            self._seen_desired = run.desired_state
            handler: Callable[[Session, Run, DesiredState, list[int]], bool] = {
                Phase.PENDING: self._pending,
                Phase.INJECTING: self._injecting,
                Phase.RUNNING: self._running,
                Phase.PAUSED: self._paused,
                Phase.RECOVERING: self._recovering,
            }[phase]
            progressed = handler(s, run, desired, published)
        self.rt.publish_run(self.run_id, published)
        return progressed

    # -- per phase ---------------------------------------------------------------------------------

    def _pending(self, s: Session, run: Run, desired: DesiredState, published: list[int]) -> bool:
        if desired is DesiredState.STOP:
            run.ending = Ending.ABORTED.value
            self._move(s, run, Phase.ABORTED, "stopped before injection", published)
            return False
        run.started_at = now()
        self._move(s, run, Phase.INJECTING, f"worker {self.worker} picked the run up", published)
        # on in the same step: the move to injecting lands in the one commit that records
        # "the tool may now hold a fault", made before the tool is asked
        return self._injecting(s, run, desired, published)

    def _start_recovering(
        self, s: Session, run: Run, ending: Ending, reason: str, published: list[int]
    ) -> bool:
        run.ending = ending.value
        run.next_attempt_at = None  # recover now; backoff applies only after a failure
        self._move(s, run, Phase.RECOVERING, reason, published)
        # committed and told before the tool is asked (a slow recovery shows as one), then
        # recovered in the same step instead of after loading the run again
        self._commit_and_publish(s, published)
        self._recovering(s, run, DesiredState(run.desired_state), published)
        return not Phase(run.phase).terminal and run.next_attempt_at is None

    def _fail(
        self, s: Session, run: Run, targets: list[RunTarget], what: str, published: list[int]
    ) -> bool:
        """End the run failed because of ``targets`` (their errors become the run's): recover
        whatever may still carry the fault first."""
        run.error = "; ".join(f"{t.label}: {t.error}" for t in targets)
        reason = f"{what} on {len(targets)} of {len(run.targets)} targets"
        return self._start_recovering(s, run, Ending.FAILED, reason, published)

    def _injecting(self, s: Session, run: Run, desired: DesiredState, published: list[int]) -> bool:
        if desired is DesiredState.STOP:
            return self._start_recovering(
                s, run, Ending.ABORTED, "abort requested during injection", published
            )
        todo = [t for t in run.targets if t.phase == TargetPhase.SELECTED.value]
        if todo:
            self._inject_targets(s, run, todo, published)
            # on in the same step: what the tool answered and the run's next phase land in
            # one commit (the fault is in already; this only records it)
        failed = [t for t in run.targets if t.phase == TargetPhase.FAILED.value]
        if failed:
            return self._fail(s, run, failed, "injection failed", published)
        if run.time_control == TimeControl.INSTANT.value:
            return self._start_recovering(
                s, run, Ending.COMPLETED, "instant fault applied", published
            )
        run.running_since = now()
        duration = (
            run.remaining_seconds if run.remaining_seconds is not None else run.duration_seconds
        )
        run.deadline = now() + timedelta(seconds=duration) if duration is not None else None
        run.remaining_seconds = None
        run.next_attempt_at = None
        n = len(run.targets)
        active = f"fault active on {n} target{'' if n == 1 else 's'}"
        self._move(s, run, Phase.RUNNING, active, published)
        if run.time_control == TimeControl.TIMED.value and self.watcher is not None:
            # the tool's answer to inject is the fault's first status (stored with this
            # commit): the watch holds the run from here and asks again at the next refresh
            settings = self.rt.settings
            run.next_attempt_at = now() + watch_interval(
                settings.watch_seconds, settings.fault_lease_seconds
            )
            self._keep_watching(s, run)
            return False
        return True

    def _parallel(
        self, fn: Callable[[RunTarget], T], targets: list[RunTarget]
    ) -> list[tuple[RunTarget, T | BaseException]]:
        def safe(t: RunTarget) -> T | BaseException:
            try:
                return fn(t)
            except Exception as exc:
                return exc

        if len(targets) == 1:
            return [(targets[0], safe(targets[0]))]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_TARGETS, len(targets))) as pool:
            return list(zip(targets, pool.map(safe, targets), strict=True))

    def _inject_targets(
        self, s: Session, run: Run, todo: list[RunTarget], published: list[int]
    ) -> None:
        adapter = self._adapter_for(s, run)
        fault = run.fault_type.split("/", 1)[1]
        for t in todo:
            t.may_carry_fault = True
        # the record of "the tool may now hold a fault" lands before we ask the tool
        self._commit_and_publish(s, published)

        def inject(t: RunTarget) -> tuple[Any, Observation]:
            execution = self._execution(run, t, fault)
            with adapter.translate_errors(target=t.label):
                return adapter.inject(execution)

        for t, result in self._parallel(inject, todo):
            if isinstance(result, BaseException):
                t.phase = TargetPhase.FAILED.value
                t.error = _describe(result)
                metrics.INJECTIONS.labels(adapter=run.adapter, outcome="failed").inc()
                published.append(self._event(s, run, "inject-failed", t.error, t.label))
                continue
            data, observation = result
            t.handle = dict(data) if data is not None else None
            t.phase = TargetPhase.INJECTED.value
            t.injected_at = now()
            t.error = None
            self._observe(t, observation)
            if observation.state is Observed.DONE and run.time_control == TimeControl.INSTANT.value:
                t.may_carry_fault = False  # nothing to recover from an instant fault
            metrics.INJECTIONS.labels(adapter=run.adapter, outcome="ok").inc()
            published.append(
                self._event(s, run, "injected", observation.native or "injected", t.label)
            )

    def _observe(self, t: RunTarget, observation: Observation) -> None:
        if observation.native:
            t.native_status = observation.native[-2000:]
        if observation.metrics:
            t.metrics = {**(t.metrics or {}), **observation.metrics}
            self._sample(t, observation.metrics)
        if observation.messages:
            t.messages = [m[-4000:] for m in observation.messages[-MAX_MESSAGES:]]

    def _sample(self, t: RunTarget, values: Mapping[str, float]) -> None:
        """Keep the values in the run's metric history, in the step's session.

        Bounded by :func:`metric_samples.record`: samples spread over the run's duration
        (one per target every 2 s at most), and no more than 2000 per run."""
        s = Session.object_session(t)
        if s is not None:
            run = t.run
            every = metric_samples.spacing(run.duration_seconds, len(run.targets))
            metric_samples.record(s, t.run_id, t.index, values, now(), every)

    def _commit_and_publish(self, s: Session, published: list[int]) -> None:
        """Commit what the step did so far and tell watchers now, before a call to the tool
        that may take long (the rest of the step is published when it ends)."""
        s.commit()
        if published:
            self.rt.publish_run(self.run_id, list(published))
            published.clear()

    def _event(
        self, s: Session, run: Run, kind: str, reason: str, target: str | None = None
    ) -> int:
        event = events.record(s, kind, reason, run_id=run.id, target=target)
        s.flush()
        return event.id

    def _running(self, s: Session, run: Run, desired: DesiredState, published: list[int]) -> bool:
        if desired is DesiredState.STOP:
            return self._start_recovering(s, run, Ending.ABORTED, "abort requested", published)
        if desired is DesiredState.PAUSE:
            return self._pause(s, run, published)
        if run.time_control == TimeControl.EXTERNAL.value:
            return self._poll_external(s, run, published)
        if run.deadline is not None and now() >= run.deadline:
            return self._start_recovering(s, run, Ending.COMPLETED, "duration elapsed", published)
        return self._watch_timed(s, run, published)

    def _pause(self, s: Session, run: Run, published: list[int]) -> bool:
        if not self._recover_targets(s, run, published, purpose="pause"):
            return False
        if run.deadline is not None:
            run.remaining_seconds = max(0.0, (run.deadline - now()).total_seconds())
        run.deadline = None
        self._move(s, run, Phase.PAUSED, "paused on request; the fault is reverted", published)
        return True

    def _statuses(self, s: Session, run: Run) -> list[tuple[RunTarget, Observation]] | None:
        """Ask the tool about every target that may carry the fault; keep what it says.

        One :meth:`Adapter.status_many` call covers the run's targets (a protocol-v1 server
        is asked once for all of them it holds, not once per target). For tools with a lease
        (the native injector) this is also what renews it. A slow tool never delays a stop:
        while the call is out, the run's desired state is looked at every
        :data:`STOP_CHECK_SECONDS`, and when it changed the call is left to finish on its own
        and None is returned, so the caller acts on the new wish at once.
        """
        adapter = self._adapter_for(s, run)
        fault = run.fault_type.split("/", 1)[1]
        carrying = [t for t in run.targets if t.may_carry_fault]
        if not carrying:
            return []
        # built here: the call may outlive this step, so it never touches the session's objects
        handles = [Handle(self._execution(run, t, fault), t.handle) for t in carrying]
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            future = pool.submit(adapter.status_many, handles)
            while not wait([future], timeout=STOP_CHECK_SECONDS).done:
                if self._wish_changed(run.desired_state):
                    log.info("run %s: desired state changed during status calls", run.id)
                    return None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        failed = future.exception()
        answers = future.result() if failed is None else {}
        answered = []
        for t, handle in zip(carrying, handles, strict=True):
            found = answers.get(handle.execution.id)
            if failed is not None:
                t.error = _describe(failed)
                continue
            if isinstance(found, HubError):
                t.error = _describe(found)
                continue
            if found is None:
                t.error = "the tool gave no answer for this target"
                continue
            self._observe(t, found)
            answered.append((t, found))
        return answered

    def _wish_changed(self, seen: str) -> bool:
        with self.rt.session() as s:
            desired = s.scalar(select(Run.desired_state).where(Run.id == self.run_id))
        return desired is not None and desired != seen

    def _watch_timed(self, s: Session, run: Run, published: list[int]) -> bool:
        """While a timed fault is held: refresh native status and metrics, renew leases, and
        end the run (failed, recovering what is left) when the tool no longer holds the fault
        on a target: the run would otherwise claim a fault that is not there."""
        if not self.recheck and run.next_attempt_at is not None and now() < run.next_attempt_at:
            self._keep_watching(s, run)
            return False
        self.recheck = False
        answered = self._statuses(s, run)
        if answered is None:
            return True  # asked to stop, pause or resume meanwhile: the next step does it
        gone = []
        for t, observation in answered:
            if observation.state in (Observed.RECOVERED, Observed.ABORTED, Observed.FAILED):
                t.error = f"the tool no longer holds the fault: {observation.native or 'recovered'}"
                published.append(self._event(s, run, "fault-gone", t.error, t.label))
                gone.append(t)
        if gone:
            return self._fail(s, run, gone, "the fault went away before its time", published)
        settings = self.rt.settings
        run.next_attempt_at = now() + watch_interval(
            settings.watch_seconds, settings.fault_lease_seconds
        )
        self._keep_watching(s, run)
        return False

    def _keep_watching(self, s: Session, run: Run) -> None:
        """With a watch, note what it needs to hold the run from here (handed over once the
        step has committed)."""
        if self.watcher is None or run.backend_id is None or run.next_attempt_at is None:
            return
        from chaoshub.execution.watch import Held, HeldTarget

        fault = run.fault_type.split("/", 1)[1]
        targets = [
            HeldTarget(
                row_id=t.id,
                index=t.index,
                label=t.label,
                handle=Handle(self._execution(run, t, fault), dict(t.handle) if t.handle else None),
                native_status=t.native_status or "",
                metrics=dict(t.metrics or {}),
                messages=list(t.messages or []),
                error=t.error,
                last_sample=now(),
            )
            for t in run.targets
            if t.may_carry_fault
        ]
        samples = s.scalar(
            select(func.count(RunMetricSample.id)).where(RunMetricSample.run_id == run.id)
        )
        held = Held(
            run_id=run.id,
            backend_id=run.backend_id,
            deadline=run.deadline,
            targets=targets,
            sample_every=metric_samples.spacing(run.duration_seconds, len(run.targets)),
            samples=int(samples or 0),
        )
        self._hold = (held, run.next_attempt_at)

    def _poll_external(self, s: Session, run: Run, published: list[int]) -> bool:
        if run.next_attempt_at is not None and now() < run.next_attempt_at:
            return False
        carrying = [t for t in run.targets if t.may_carry_fault]
        ended = 0
        verdicts: list[str] = []
        failures: list[str] = []
        answered = self._statuses(s, run)
        if answered is None:
            return True  # asked to stop meanwhile: the next step does it
        for t, result in answered:
            if result.state in (
                Observed.DONE,
                Observed.RECOVERED,
                Observed.ABORTED,
                Observed.FAILED,
            ):
                ended += 1
                if result.verdict:
                    verdicts.append(result.verdict.lower())
                if result.state in (Observed.FAILED, Observed.ABORTED):
                    failures.append(f"{t.label}: {result.native or result.state.value}")
        run.next_attempt_at = now() + POLL_INTERVAL
        if ended < len(carrying):
            return False
        run.next_attempt_at = None
        if verdicts:
            run.verdict = Verdict.FAIL.value if "fail" in verdicts else Verdict.PASS.value
        if failures:
            run.error = "; ".join(failures)
            return self._start_recovering(
                s, run, Ending.FAILED, "the tool reported failure", published
            )
        return self._start_recovering(
            s, run, Ending.COMPLETED, "the tool finished on every target", published
        )

    def _paused(self, s: Session, run: Run, desired: DesiredState, published: list[int]) -> bool:
        if desired is DesiredState.STOP:
            return self._start_recovering(
                s, run, Ending.ABORTED, "abort requested while paused", published
            )
        if desired is DesiredState.RUN:
            run.round += 1
            for t in run.targets:
                t.phase = TargetPhase.SELECTED.value
                t.handle = None
                t.error = None
            self._move(s, run, Phase.INJECTING, "resumed on request", published)
            return True
        return False

    def _recovering(
        self, s: Session, run: Run, desired: DesiredState, published: list[int]
    ) -> bool:
        if run.next_attempt_at is not None and now() < run.next_attempt_at:
            return False
        if not self._recover_targets(s, run, published, purpose="recover"):
            return False
        ending = Ending(run.ending or Ending.COMPLETED.value)
        if run.recover_attempts:
            run.error = None if ending is not Ending.FAILED else run.error
        run.next_attempt_at = None
        self._move(s, run, ending.phase, f"every target recovered ({ending.value})", published)
        if run.recovering_since is not None:
            metrics.TIME_TO_RECOVER.labels(adapter=run.adapter).observe(
                (now() - run.recovering_since).total_seconds()
            )
        return False

    def _recover_targets(self, s: Session, run: Run, published: list[int], *, purpose: str) -> bool:
        """Recover every target that may carry the fault; True once none does."""
        carrying = [t for t in run.targets if t.may_carry_fault]
        if not carrying:
            return True
        adapter = self._adapter_for(s, run)
        fault = run.fault_type.split("/", 1)[1]

        def recover(t: RunTarget) -> Observation:
            with adapter.translate_errors(target=t.label):
                return adapter.recover(Handle(self._execution(run, t, fault), t.handle))

        failed = []
        for t, result in self._parallel(recover, carrying):
            if isinstance(result, BaseException):
                t.error = _describe(result)
                failed.append(t)
                metrics.RECOVERIES.labels(adapter=run.adapter, outcome="failed").inc()
                published.append(self._event(s, run, "recover-failed", t.error, t.label))
                continue
            t.may_carry_fault = False
            t.recovered_at = now()
            if t.phase != TargetPhase.FAILED.value:
                t.phase = TargetPhase.RECOVERED.value
            self._observe(t, result)
            metrics.RECOVERIES.labels(adapter=run.adapter, outcome="ok").inc()
            published.append(
                self._event(s, run, "recovered", result.native or "recovered", t.label)
            )
        if failed:
            run.recover_attempts += 1
            delay = min(
                2.0 ** min(run.recover_attempts - 1, 10),
                self.rt.settings.recover_backoff_max_seconds,
            )
            run.next_attempt_at = now() + timedelta(seconds=delay)
            run.error = (
                f"{purpose} failed on {len(failed)} target(s); retrying in {delay:.0f}s: "
                + "; ".join(f"{t.label}: {t.error}" for t in failed)
            )
            return False
        return True


def advance(
    runtime: Runtime, run_id: str, *, take_from: str | None = None, recheck: bool = False
) -> None:
    """Drive the run in a worker process: timed faults in effect are held by the process's
    watch from there."""
    from chaoshub.execution import watch

    started = time.monotonic()
    watcher = watch.of(
        runtime, lambda rid, again: advance(runtime, rid, take_from=watcher.name, recheck=again)
    )
    RunDriver(runtime, run_id, watcher=watcher, take_from=take_from, recheck=recheck).advance()
    log.debug("advanced run %s in %.3fs", run_id, time.monotonic() - started)
