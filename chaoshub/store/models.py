"""The hub's tables as SQLAlchemy 2 typed mappings. The database is the source of truth."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Backend(Base):
    __tablename__ = "backends"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    adapter: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Agent(Base):
    """A running native injector; it is also a backend of adapter ``native``."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[str] = mapped_column(String(100), default="")
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(default=None)
    backend_id: Mapped[str | None] = mapped_column(
        ForeignKey("backends.id", ondelete="SET NULL"), default=None
    )
    token_id: Mapped[str | None] = mapped_column(String(32), default=None)
    #: the bearer token the hub presents when it calls this agent (the agent's own secret)
    api_token: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaultTypeRow(Base):
    """The catalog as loaded at start-up, kept for joins and for what agents describe."""

    __tablename__ = "fault_types"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(100), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the backend whose server described this entry (``/v1/describe``); None: packaged
    described_by: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    fault_type: Mapped[str] = mapped_column(String(200))
    backend_id: Mapped[str] = mapped_column(ForeignKey("backends.id", ondelete="RESTRICT"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    backend: Mapped[Backend] = relationship(lazy="joined")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_phase_created", "phase", "created_at"),
        # the runs list: newest first, archived hidden by default
        Index("ix_runs_archived_created", "archived", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    experiment_id: Mapped[str | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), default=None, index=True
    )
    fault_type: Mapped[str] = mapped_column(String(200))
    adapter: Mapped[str] = mapped_column(String(100), index=True)
    time_control: Mapped[str] = mapped_column(String(20))
    reversible: Mapped[bool] = mapped_column(Boolean, default=False)
    backend_id: Mapped[str | None] = mapped_column(
        ForeignKey("backends.id", ondelete="SET NULL"), default=None
    )
    backend_name: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)

    phase: Mapped[str] = mapped_column(String(20), default="pending")
    desired_state: Mapped[str] = mapped_column(String(10), default="run")
    verdict: Mapped[str] = mapped_column(String(10), default="none")
    ending: Mapped[str | None] = mapped_column(String(20), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    round: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    running_since: Mapped[datetime | None] = mapped_column(default=None)
    deadline: Mapped[datetime | None] = mapped_column(default=None)
    remaining_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    recovering_since: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    # execution bookkeeping: which worker drives the run, and when to try again
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    recover_attempts: Mapped[int] = mapped_column(Integer, default=0)

    #: set when the run is a fault step of a workflow run
    workflow_run_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    workflow_step_id: Mapped[str | None] = mapped_column(String(100), default=None)

    targets: Mapped[list[RunTarget]] = relationship(
        back_populates="run", order_by="RunTarget.index", cascade="all, delete-orphan"
    )


class RunTarget(Base):
    """A per-target record: what happened to one target of one run."""

    __tablename__ = "run_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    target_id: Mapped[str] = mapped_column(String(500))
    label: Mapped[str] = mapped_column(String(500))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phase: Mapped[str] = mapped_column(String(20), default="selected")
    #: set before the tool is asked to inject, cleared once recovery is confirmed: while
    #: it is set the run may not become terminal
    may_carry_fault: Mapped[bool] = mapped_column(Boolean, default=False)
    handle: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    native_status: Mapped[str] = mapped_column(Text, default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the tool's latest messages about this target (e.g. the tail of a command's output)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    injected_at: Mapped[datetime | None] = mapped_column(default=None)
    recovered_at: Mapped[datetime | None] = mapped_column(default=None)

    run: Mapped[Run] = relationship(back_populates="targets")


class RunMetricSample(Base):
    """What the tool reported for one target at one moment: the history behind the chart.

    Written by the run driver through :mod:`chaoshub.services.metric_samples`, which bounds it
    (one per target every 2 s, 2000 per run); deleted with its run."""

    __tablename__ = "run_metric_samples"
    __table_args__ = (Index("ix_run_metric_samples_run_at", "run_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    target_index: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: metric name -> value
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Event(Base):
    """Append-only: what happened to a run or an agent, with a reason."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    agent: Mapped[str | None] = mapped_column(String(200), default=None)
    kind: Mapped[str] = mapped_column(String(50))
    from_phase: Mapped[str | None] = mapped_column(String(20), default=None)
    to_phase: Mapped[str | None] = mapped_column(String(20), default=None)
    target: Mapped[str | None] = mapped_column(String(500), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        # one live token per agent name: a second claim fails here even when two race
        Index(
            "uq_api_tokens_agent_name_live",
            "agent_name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    #: for an ``agent`` token: the one agent name it may register and heartbeat as, set
    #: when the token is created or by its first registration
    agent_name: Mapped[str | None] = mapped_column(String(200), default=None)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text, default="")


class Workflow(Base):
    """A saved workflow document; every change of its document is a new version."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkflowVersion(Base):
    """Every version a workflow had, as it was saved (a run keeps its own copy too)."""

    __tablename__ = "workflow_versions"
    __table_args__ = (Index("uq_workflow_versions", "workflow_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowRun(Base):
    """One execution of a workflow: a run of runs, with the phases of a run."""

    __tablename__ = "workflow_runs"
    __table_args__ = (Index("ix_workflow_runs_phase_created", "phase", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workflow_id: Mapped[str | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), default=None, index=True
    )
    workflow_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: the document as validated when the run started: what the run does, whatever is saved later
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)

    phase: Mapped[str] = mapped_column(String(20), default="pending")
    desired_state: Mapped[str] = mapped_column(String(10), default="run")
    verdict: Mapped[str] = mapped_column(String(10), default="none")
    ending: Mapped[str | None] = mapped_column(String(20), default=None)
    #: why the verdict is what it is, in the order things happened
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_role: Mapped[str] = mapped_column(String(20), default="operator")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline: Mapped[datetime | None] = mapped_column(default=None)
    paused_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: when the run next needs a worker (a wait ends, an approval times out); None: now
    wake_at: Mapped[datetime | None] = mapped_column(default=None)

    steps: Mapped[list[WorkflowStep]] = relationship(
        back_populates="workflow_run", order_by="WorkflowStep.index", cascade="all, delete-orphan"
    )


class WorkflowStep(Base):
    """A step of a workflow run, or one of its steady-state or stop-condition probes."""

    __tablename__ = "workflow_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_run_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(100))
    #: fault | probe | wait | approval
    kind: Mapped[str] = mapped_column(String(20))
    #: step | steadyState-before | steadyState-after | stopCondition
    role: Mapped[str] = mapped_column(String(30), default="step")
    #: waiting | running | passed | failed | skipped | aborted
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline: Mapped[datetime | None] = mapped_column(default=None)
    #: a fault step's child run, stored in the same commit that creates it
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    #: kind-specific progress (a wait's end, an approval's timeout and decision)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    # a probe's progress, committed with each sample so another worker carries on from it
    checks: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_ok: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failed: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(default=None)
    window_end: Mapped[datetime | None] = mapped_column(default=None)

    workflow_run: Mapped[WorkflowRun] = relationship(back_populates="steps")


class ProbeSample(Base):
    """One check of a probe: kept per step, the newest 500 (the counts include all)."""

    __tablename__ = "probe_samples"
    __table_args__ = (Index("ix_probe_samples_step_id", "step_pk", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    step_pk: Mapped[int] = mapped_column(ForeignKey("workflow_steps.id", ondelete="CASCADE"))
    workflow_run_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[Any] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)


class Schedule(Base):
    """A saved workflow or experiment started on a cron (or ``@every``) timetable.

    ``next_fire_at`` is the next tick, in UTC, that the beat task has not handled; it only
    moves forward, so two beat passes that race agree on what is due (see
    :mod:`chaoshub.schedules.firing`)."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_enabled_next", "enabled", "next_fire_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: exactly one of these: what a tick starts (checked again at each fire)
    workflow_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    experiment_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    cron: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(100), default="UTC")
    #: forbid | allow | replace
    concurrency_policy: Mapped[str] = mapped_column(String(10), default="forbid")
    starting_deadline_seconds: Mapped[float] = mapped_column(Float, default=60.0)
    #: [{days: [sat, sun]}, {start: "22:00", end: "06:00"}], in the schedule's time zone
    blackouts: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    #: where ``@every`` intervals count from (set when the timetable is saved)
    anchor_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_fire_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_role: Mapped[str] = mapped_column(String(20), default="operator")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleFire(Base):
    """One tick of a schedule and what became of it. The row is the claim: its unique
    (schedule, tick) index lets exactly one beat pass insert it."""

    __tablename__ = "schedule_fires"
    __table_args__ = (
        Index("uq_schedule_fires_tick", "schedule_id", "scheduled_for", unique=True),
        Index("ix_schedule_fires_history", "schedule_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: firing (claimed, being started) | fired | skipped | missed | refused
    outcome: Mapped[str] = mapped_column(String(20), default="firing")
    reason: Mapped[str] = mapped_column(Text, default="")
    workflow_run_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)


class ThresholdSearch(Base):
    """A threshold search: the document, the trials so far (each a workflow run), and the
    result once decided. ``current_workflow_run_id`` is stored in the commit that creates
    that trial's workflow run, so a pass repeated after a worker died never starts it twice."""

    __tablename__ = "threshold_searches"
    __table_args__ = (Index("ix_threshold_searches_phase_created", "phase", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: pending | running | completed | aborted | failed
    phase: Mapped[str] = mapped_column(String(20), default="pending")
    desired_state: Mapped[str] = mapped_column(String(10), default="run")
    #: [{magnitude, workflowRunId, outcome, reason, slo: [...], startedAt, endedAt}]
    trials: Mapped[list[Any]] = mapped_column(default=list)
    current_workflow_run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    current_magnitude: Mapped[float | None] = mapped_column(Float, default=None)
    current_started_at: Mapped[datetime | None] = mapped_column(default=None)
    #: see chaoshub.thresholds.search.result; set when the search ends
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_role: Mapped[str] = mapped_column(String(20), default="operator")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


class EventSink(Base):
    """Where events go out: a webhook (CloudEvents or Slack-compatible JSON, HMAC-signed) or
    the Kubernetes Events of the cluster a ``litmus`` / ``chaos-mesh`` run ran on."""

    __tablename__ = "event_sinks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: webhook | kubernetes-events
    kind: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(String(2000), default="")
    #: cloudevents | slack (webhooks only)
    format: Mapped[str] = mapped_column(String(20), default="cloudevents")
    #: the HMAC key of the signature header; never returned by the API
    secret: Mapped[str] = mapped_column(String(500), default="")
    #: CloudEvents types (``*`` matches any run of characters); empty: every event
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the retry budget: a delivery that failed this often, or is this old, is dead
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    max_age_seconds: Mapped[float] = mapped_column(Float, default=86400.0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: which drain holds this sink's queue, and until when (one drain per sink keeps order)
    drain_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    drain_until: Mapped[datetime | None] = mapped_column(default=None)


class EventDelivery(Base):
    """The outbox: one event owed to one sink, written in the transaction that wrote the
    event, so a crash loses none; delivered in ``id`` order per sink."""

    __tablename__ = "event_deliveries"
    __table_args__ = (Index("ix_event_deliveries_sink_state_id", "sink_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sink_id: Mapped[str] = mapped_column(ForeignKey("event_sinks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    #: the CloudEvents type, e.g. ``io.chaoshub.run.phase-changed``
    type: Mapped[str] = mapped_column(String(200))
    #: pending | delivered | dead
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)

    event: Mapped[Event] = relationship(lazy="joined")
