"""Starting and steering runs. Everything is validated before anything is stored; a run is
stored whole (with its targets) or not at all, and only then handed to a worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chaoshub import lifecycle
from chaoshub.catalog import FaultType
from chaoshub.contract import Adapter, Handle, Target
from chaoshub.errors import (
    AdapterNotInstalled,
    BackendUnavailable,
    Forbidden,
    HubError,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from chaoshub.execution.driver import execution_for
from chaoshub.lifecycle import DesiredState, Ending, Phase, TimeControl
from chaoshub.runtime import Runtime
from chaoshub.services import backends, events, halting
from chaoshub.services.auth import Actor
from chaoshub.store.models import Backend, Experiment, Run, RunTarget, new_id

log = logging.getLogger("chaoshub.runs")

MAX_DURATION_SECONDS = 7 * 24 * 3600

#: sends a run to a worker: (run id, adapter, reason)
Dispatch = Callable[[str, str, str], None]


@dataclass
class RunSpec:
    fault_type: str
    backend: str
    params: dict[str, Any] = field(default_factory=dict)
    selector: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float | None = None


@dataclass
class CheckedSpec:
    fault: FaultType
    backend: Backend
    adapter: Adapter
    params: dict[str, Any]
    selector: dict[str, Any]
    duration_seconds: float | None


def check_overrides(
    actor: Actor, fault: FaultType, params: dict[str, Any], selector: dict[str, Any]
) -> None:
    """Refuse an admin-only override (``include_protected``...) unless ``actor`` is an admin."""
    used = fault.overrides(params, selector)
    if used and actor.role != "admin":
        raise Forbidden(
            f"{'.'.join(used[0])} overrides a safety rule of {fault.id}; only an admin may "
            f"set it (token {actor.name!r} is {actor.role})",
            field=used[0],
        )


def override_note(used: list[str]) -> str:
    """What the audit log and the run's events say of overrides used."""
    return f"admin override used: {', '.join(used)}" if used else ""


def validate_spec(
    rt: Runtime, session: Session, spec: RunSpec, actor: Actor | None = None
) -> CheckedSpec:
    """Every check that needs no tool: fault, backend, params schema, selector, duration,
    and (given ``actor``) that only an admin sets an admin-only override."""
    if not isinstance(spec.params, dict):
        raise InvalidInput("params must be a JSON object", field=["params"])
    if not isinstance(spec.selector, dict):
        raise InvalidInput("selector must be a JSON object", field=["selector"])
    fault = rt.fault_type(spec.fault_type)
    if fault.unavailable:
        raise AdapterNotInstalled(
            f"{fault.id} cannot run here: {fault.unavailable}",
            field=["faultType"],
            adapter=fault.adapter,
        )
    backend = backends.by_name(session, spec.backend)
    if backend.adapter != fault.adapter:
        raise InvalidInput(
            f"fault type {fault.id} needs a backend of adapter {fault.adapter!r}; "
            f"{backend.name!r} is {backend.adapter!r}",
            field=["backend"],
        )
    params = fault.validate_params(spec.params)
    fault.validate_selector(spec.selector)
    if actor is not None:
        check_overrides(actor, fault, params, spec.selector)
    duration = spec.duration_seconds
    if fault.time_control is TimeControl.TIMED and duration is None:
        raise InvalidInput(
            f"{fault.id} is held for a duration: give durationSeconds",
            field=["durationSeconds"],
        )
    if fault.duration.get("required") and duration is None:
        raise InvalidInput(
            f"{fault.id} needs durationSeconds (the tool is told how long to hold it)",
            field=["durationSeconds"],
        )
    if duration is not None and not (0 < duration <= MAX_DURATION_SECONDS):
        raise InvalidInput(
            f"durationSeconds must be more than 0 and at most {MAX_DURATION_SECONDS}",
            field=["durationSeconds"],
        )
    low, high = fault.duration.get("min_seconds"), fault.duration.get("max_seconds")
    if duration is not None and (
        (low is not None and duration < low) or (high is not None and duration > high)
    ):
        raise InvalidInput(
            f"durationSeconds for {fault.id} must be between {low or 0:g} and "
            f"{high or MAX_DURATION_SECONDS:g} (the tool's own bounds)",
            field=["durationSeconds"],
        )
    if fault.time_control is TimeControl.INSTANT:
        duration = None
    adapter = rt.adapter_for(session, backend)
    adapter.validate(fault.name, params, spec.selector)
    return CheckedSpec(fault, backend, adapter, params, spec.selector, duration)


def discover(checked: CheckedSpec) -> list[Target]:
    """Ask the tool which targets the selector matches; refuse an empty answer."""
    try:
        with checked.adapter.translate_errors():
            targets = checked.adapter.discover(checked.fault.name, checked.selector)
    except BackendUnavailable:
        raise
    except NotFound as exc:
        if not exc.field or exc.field[0] != "selector":
            exc.field = ["selector", *exc.field]
        raise
    if not targets:
        raise NotFound("the selector matches no target", field=["selector"])
    return targets


def check_available(checked: CheckedSpec, targets: list[Target]) -> None:
    """Refuse a fault the tool reports it cannot do on some target (e.g. an agent whose
    kernel lacks ``sch_netem``), naming each such target and the tool's reason."""
    with checked.adapter.translate_errors():
        answers = checked.adapter.availability(checked.fault.name, targets)
    refused = [(t, a) for t in targets if (a := answers.get(t.id)) is not None and not a.available]
    if refused:
        where = "; ".join(f"{t.label}: {a.reason}" for t, a in refused[:5])
        more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
        raise InvalidInput(
            f"{checked.fault.id} is not available on {len(refused)} of {len(targets)} "
            f"targets of {checked.backend.name}: {where}{more}",
            field=["faultType"],
        )


def check_limits(checked: CheckedSpec, targets: list[Target]) -> None:
    """Refuse params over the limits the tool reports for the targets' hosts (an agent's
    minimum free disk, memory headroom, stressor count), naming the param."""
    with checked.adapter.translate_errors():
        checked.adapter.check_limits(checked.fault.name, checked.params, targets)


def check_params(checked: CheckedSpec, targets: list[Target]) -> None:
    """Have the tool check what only it can (a directory or script on an agent's host), so a
    run it would refuse at inject, and then fail to recover, is never stored."""
    with checked.adapter.translate_errors():
        checked.adapter.check_params(checked.fault.name, checked.params, targets)


@dataclass
class PreparedStart:
    """A start checked whole (spec, targets, the tool's own checks): only storing is left."""

    checked: CheckedSpec
    targets: list[Target]
    experiment_id: str | None = None


def prepare(
    rt: Runtime, session: Session, actor: Actor, spec: RunSpec, experiment: Experiment | None = None
) -> PreparedStart:
    """Every check of a start, nothing stored: a refusal here leaves no trace but its audit."""
    checked = validate_spec(rt, session, spec, actor)
    try:
        # the tool's own check of params may start beside discovery (agents named)
        checked.adapter.prepare_check_params(checked.fault.name, checked.params, checked.selector)
        targets = discover(checked)
        check_available(checked, targets)
        check_limits(checked, targets)
        check_params(checked, targets)
    finally:
        checked.adapter.close()
    return PreparedStart(checked, targets, experiment.id if experiment else None)


def store(rt: Runtime, session: Session, actor: Actor, prepared: PreparedStart) -> Run:
    """Add a prepared start to ``session``: the run, its targets, its events. Nothing is
    flushed, so many starts go to the database in one statement per table."""
    checked, targets = prepared.checked, prepared.targets
    run = Run(
        id=new_id(),
        experiment_id=prepared.experiment_id,
        fault_type=checked.fault.id,
        adapter=checked.fault.adapter,
        time_control=checked.fault.time_control.value,
        reversible=checked.fault.reversible,
        backend_id=checked.backend.id,
        backend_name=checked.backend.name,
        params=checked.params,
        selector=checked.selector,
        duration_seconds=checked.duration_seconds,
        created_by=actor.name,
    )
    run.targets = [
        RunTarget(index=i, target_id=t.id, label=t.label, attributes=dict(t.attributes))
        for i, t in enumerate(targets)
    ]
    session.add(run)
    events.record(
        session,
        "created",
        f"started by {actor.name} on {len(targets)} target{'' if len(targets) == 1 else 's'}: "
        + ", ".join(t.label for t in targets[:10]),
        run_id=run.id,
    )
    if used := overrides_in(rt, run):
        events.record(session, "override", f"{override_note(used)} by {actor.name}", run_id=run.id)
    return run


def start(
    rt: Runtime, session: Session, actor: Actor, spec: RunSpec, experiment: Experiment | None = None
) -> Run:
    run = store(rt, session, actor, prepare(rt, session, actor, spec, experiment))
    session.flush()
    return run


def overrides_in(rt: Runtime, row: Run | Experiment) -> list[str]:
    """The admin-only overrides a stored run or experiment carries (dotted field paths)."""
    fault = rt.fault_type(row.fault_type)
    return [".".join(u) for u in fault.overrides(row.params or {}, row.selector or {})]


def experiment_spec(session: Session, experiment_id: str) -> tuple[RunSpec, Experiment]:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"no experiment with id {experiment_id!r}", field=["experimentId"])
    spec = RunSpec(
        experiment.fault_type,
        experiment.backend.name,
        dict(experiment.params),
        dict(experiment.selector),
        experiment.duration_seconds,
    )
    return spec, experiment


def start_from_experiment(rt: Runtime, session: Session, actor: Actor, experiment_id: str) -> Run:
    spec, experiment = experiment_spec(session, experiment_id)
    return start(rt, session, actor, spec, experiment)


def get(session: Session, run_id: str) -> Run:
    run = session.scalars(
        select(Run).where(Run.id == run_id).options(selectinload(Run.targets))
    ).one_or_none()
    if run is None:
        raise NotFound(f"no run with id {run_id!r}", field=["id"])
    return run


def _active(run: Run, action: str) -> None:
    if Phase(run.phase).terminal:
        raise IllegalTransition(
            f"cannot {action} run {run.id}: it is {run.phase} already", field=["id"]
        )


def abort(session: Session, actor: Actor, run_id: str, reason: str = "") -> Run:
    run = get(session, run_id)
    _active(run, "abort")
    if run.desired_state != DesiredState.STOP.value:
        run.desired_state = DesiredState.STOP.value
        events.record(
            session,
            "desired",
            f"abort requested by {actor.name}" + (f": {reason}" if reason else ""),
            run_id=run.id,
        )
    return run


def pause(rt: Runtime, session: Session, actor: Actor, run_id: str) -> Run:
    run = get(session, run_id)
    _active(run, "pause")
    if not run.reversible or run.time_control != TimeControl.TIMED.value:
        raise IllegalTransition(
            f"{run.fault_type} cannot be paused: it is not a reversible timed fault", field=["id"]
        )
    backend = session.get(Backend, run.backend_id) if run.backend_id else None
    if backend is not None and not rt.adapter_for(session, backend).capabilities.pause:
        raise IllegalTransition(f"adapter {run.adapter} cannot pause a fault", field=["id"])
    if run.desired_state == DesiredState.STOP.value:
        raise IllegalTransition("the run is being stopped", field=["id"])
    if Phase(run.phase) not in (Phase.PENDING, Phase.INJECTING, Phase.RUNNING, Phase.PAUSED):
        raise IllegalTransition(f"cannot pause a run that is {run.phase}", field=["id"])
    if run.desired_state != DesiredState.PAUSE.value:
        run.desired_state = DesiredState.PAUSE.value
        events.record(session, "desired", f"pause requested by {actor.name}", run_id=run.id)
    return run


def resume(session: Session, actor: Actor, run_id: str) -> Run:
    run = get(session, run_id)
    _active(run, "resume")
    if run.desired_state != DesiredState.PAUSE.value:
        raise IllegalTransition(
            f"run {run.id} is not paused (desired state {run.desired_state})", field=["id"]
        )
    run.desired_state = DesiredState.RUN.value
    events.record(session, "desired", f"resume requested by {actor.name}", run_id=run.id)
    return run


def archive(session: Session, actor: Actor, run_id: str) -> Run:
    run = get(session, run_id)
    if not Phase(run.phase).terminal:
        raise IllegalTransition(
            f"only ended runs can be archived; run {run.id} is {run.phase}", field=["id"]
        )
    run.archived = True
    return run


def force_release(rt: Runtime, session: Session, actor: Actor, run_id: str, reason: str) -> Run:
    """A person confirms the targets are clean: end a run stuck in ``recovering``, and tell
    the tool to stop recovering those targets on its own."""
    run = get(session, run_id)
    if run.phase != Phase.RECOVERING.value:
        raise IllegalTransition(
            f"force-release ends a run stuck in recovering; run {run.id} is {run.phase}",
            field=["id"],
        )
    if not reason.strip():
        raise InvalidInput("say why the targets are known to be clean", field=["reason"])
    released = [t for t in run.targets if t.may_carry_fault]
    told = _tell_tool(rt, session, run, released, f"force-released by {actor.name}: {reason}")
    for t in released:
        t.may_carry_fault = False
        t.error = f"released by {actor.name} without confirmed recovery: {reason}"
    forgotten = sum(1 for v in told.values() if v == "forgotten")
    events.record(
        session,
        "force-released",
        f"{actor.name} released {len(released)} target(s) without confirmed recovery: {reason}"
        f" (the tool forgot {forgotten} of {len(released)})",
        run_id=run.id,
        data={"targets": [t.label for t in released], "tool": told},
    )
    ending = Ending(run.ending or Ending.ABORTED.value)
    terminal = Phase.COMPLETED if ending is Ending.COMPLETED else ending.phase
    transition = lifecycle.move(run, terminal, f"force-released by {actor.name}")
    events.record_transition(session, run, transition)
    run.ended_at = transition.at
    log.info(
        "run %s: %s -> %s (%s)",
        run.id,
        transition.from_phase.value,
        terminal.value,
        transition.reason,
        extra={
            "run_id": run.id,
            "from": transition.from_phase.value,
            "to": terminal.value,
            "phase": terminal.value,
            "reason": transition.reason,
        },
    )
    run.next_attempt_at = None
    return run


def _tell_tool(
    rt: Runtime, session: Session, run: Run, released: list[RunTarget], reason: str
) -> dict[str, str]:
    """Ask the tool to forget each released target (so it stops retrying a recovery the
    person says is done): by target label, ``forgotten``, ``nothing to tell`` or why not.
    The person's decision stands whatever the tool answers."""
    backend = session.get(Backend, run.backend_id) if run.backend_id else None
    if backend is None or not released:
        return {t.label: "the backend no longer exists" for t in released}
    fault = run.fault_type.split("/", 1)[-1]
    out: dict[str, str] = {}
    try:
        adapter = rt.adapter_for(session, backend)
    except HubError as exc:
        return {t.label: f"not told: {exc.message}" for t in released}
    try:
        for t in released:
            handle = Handle(execution_for(run, t, fault, rt.settings.fault_lease_seconds), t.handle)
            try:
                with adapter.translate_errors(t.target_id):
                    out[t.label] = (
                        "forgotten" if adapter.forget(handle, reason) else "nothing to tell"
                    )
            except HubError as exc:
                out[t.label] = f"not told: {exc.message}"
                log.warning(
                    "force-release: tool not told", extra={"run": run.id, "error": str(exc)}
                )
    finally:
        adapter.close()
    return out


def halt_all(session: Session, actor: Actor, reason: str = "") -> list[Run]:
    def stop(run: Run, said: str) -> None:
        run.desired_state = DesiredState.STOP.value
        events.record(session, "desired", said, run_id=run.id)

    return halting.stop_every_active(session, Run, actor, reason, stop)


def now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "HubError",
    "RunSpec",
    "abort",
    "archive",
    "force_release",
    "halt_all",
    "pause",
    "resume",
    "start",
]
