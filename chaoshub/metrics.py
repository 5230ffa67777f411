"""Prometheus metrics of the hub process (API, and in the embedded default the worker too).

Counters and histograms count what this process did; everything else (runs by phase, agents,
the faults in effect and the values they apply per run and target, stuck recoveries,
workflow verdicts and resilience) is read from the database at scrape time by
:class:`StoreCollector`, so every API replica reports the same truth. A separate worker
process serves its own counters with ``chaoshub worker --metrics-port``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

INJECTIONS = Counter(
    "chaoshub_injections_total",
    "Injections into one target, by adapter and outcome",
    ["adapter", "outcome"],
)
RECOVERIES = Counter(
    "chaoshub_recoveries_total",
    "Recoveries of one target, by adapter and outcome",
    ["adapter", "outcome"],
)
ORPHAN_RECOVERIES = Counter(
    "chaoshub_orphan_recoveries_total",
    "Injections no run holds that the orphan sweep recovered, by adapter and outcome",
    ["adapter", "outcome"],
)
RUNS_ENDED = Counter(
    "chaoshub_runs_ended_total", "Runs that reached a terminal phase", ["adapter", "phase"]
)
GROUP_COMMITS = Counter(
    "chaoshub_api_group_commits_total",
    "Transactions the API's group commit wrote (see chaoshub/api/commits.py)",
)
GROUP_COMMIT_WRITES = Counter(
    "chaoshub_api_group_commit_writes_total",
    "Mutations written by the API's group commit (per transaction: this over the above)",
)
TIME_TO_INJECT = Histogram(
    "chaoshub_time_to_inject_seconds",
    "From pick-up to the fault active on every target",
    ["adapter"],
    buckets=BUCKETS,
)
TIME_TO_RECOVER = Histogram(
    "chaoshub_time_to_recover_seconds",
    "From recovering to every target recovered",
    ["adapter"],
    buckets=BUCKETS,
)


def start_series(adapters: Iterable[str]) -> None:
    """Create every adapter's counter and histogram series at zero, so the first injection,
    recovery or ended run counts as an increase (a series born at 1 shows no ``rate``)."""
    for adapter in adapters:
        for outcome in ("ok", "failed"):
            INJECTIONS.labels(adapter=adapter, outcome=outcome)
            RECOVERIES.labels(adapter=adapter, outcome=outcome)
        for phase in ("completed", "aborted", "failed"):
            RUNS_ENDED.labels(adapter=adapter, phase=phase)
        TIME_TO_INJECT.labels(adapter=adapter)
        TIME_TO_RECOVER.labels(adapter=adapter)


#: labels of the per-run series: enough to filter a dashboard by run, fault, tool and backend
RUN_LABELS = ["run", "fault_type", "adapter", "backend"]


class StoreCollector(Collector):
    """Everything the dashboards read from the store, read at scrape time (one short
    transaction, a few grouped counts plus the runs that are not over), so every API
    replica reports the same truth and a restarted process loses nothing:

    - ``chaoshub_runs{phase, adapter}``, ``chaoshub_agents{status}``,
      ``chaoshub_agent_up{agent}``, ``chaoshub_agent_heartbeat_age_seconds{agent}``;
    - ``chaoshub_run_active{run, fault_type, adapter, backend}``: 1 while a run is not over
      (a dashboard's start/stop annotation);
    - ``chaoshub_fault_active{run, ..., target}``: 1 while a target holds the fault, and
      ``chaoshub_fault_applied{run, ..., target, name, source}``: each value applied there,
      as the tool reported it (``source="tool"``: loss_percent, rate_kbit, workers, ...) and
      as the run asked (``source="params"``: every numeric parameter); both go when the
      target is recovered. ``chaoshub_faults_active{adapter}`` counts them (0 included);
    - ``chaoshub_run_recovering_seconds`` and ``chaoshub_run_recover_attempts`` per run
      recovering, ``chaoshub_runs_recovery_retrying{adapter}`` (stuck recoveries);
    - ``chaoshub_workflow_runs{phase, verdict}``, and per workflow the latest ended run's
      ``chaoshub_workflow_resilience_score``, ``chaoshub_workflow_passing`` (1 pass, 0 not)
      and ``chaoshub_workflow_last_ended_timestamp_seconds``.
    """

    def __init__(self, session: Callable[[], Any]) -> None:
        self._session = session

    def collect(self) -> Iterator[Metric]:
        with self._session() as s:
            yield from _runs(s)
            yield from _agents(s)
            yield from _workflows(s)


def _runs(s: Any) -> Iterator[Metric]:
    from sqlalchemy import func, select

    from chaoshub.lifecycle import ACTIVE, Phase
    from chaoshub.store.models import Run, RunTarget

    by_phase = GaugeMetricFamily(
        "chaoshub_runs", "Runs by phase and adapter", labels=["phase", "adapter"]
    )
    adapters: set[str] = set()
    for phase, adapter, n in s.execute(
        select(Run.phase, Run.adapter, func.count()).group_by(Run.phase, Run.adapter)
    ):
        by_phase.add_metric([phase, adapter], n)
        adapters.add(adapter)
    yield by_phase
    active = GaugeMetricFamily(
        "chaoshub_run_active", "1 while a run is not over", labels=RUN_LABELS
    )
    held = GaugeMetricFamily(
        "chaoshub_fault_active",
        "1 while a target holds a run's fault",
        labels=[*RUN_LABELS, "target"],
    )
    applied = GaugeMetricFamily(
        "chaoshub_fault_applied",
        "Values a fault applies to a target now: as the tool reported them (source=tool)"
        " and as the run asked (source=params)",
        labels=[*RUN_LABELS, "target", "name", "source"],
    )
    recovering = GaugeMetricFamily(
        "chaoshub_run_recovering_seconds",
        "How long a run has been recovering",
        labels=RUN_LABELS,
    )
    attempts = GaugeMetricFamily(
        "chaoshub_run_recover_attempts",
        "Failed recovery attempts of a run still recovering",
        labels=RUN_LABELS,
    )
    faults = dict.fromkeys(adapters, 0)
    retrying = dict.fromkeys(adapters, 0)
    now = datetime.now(UTC)
    # plain columns, not ORM objects: a scrape reads every run not over, and their targets
    rows = s.execute(
        select(
            Run.id,
            Run.fault_type,
            Run.adapter,
            Run.backend_name,
            Run.phase,
            Run.params,
            Run.recovering_since,
            Run.recover_attempts,
            RunTarget.label,
            RunTarget.phase,
            RunTarget.may_carry_fault,
            RunTarget.metrics,
        )
        .outerjoin(RunTarget, RunTarget.run_id == Run.id)
        .where(Run.phase.in_([p.value for p in ACTIVE]))
        .order_by(Run.id, RunTarget.index)
    )
    seen: str | None = None
    asked: dict[str, float] = {}
    for (
        run_id,
        fault_type,
        adapter,
        backend,
        phase,
        params,
        recovering_since,
        recover_attempts,
        target,
        target_phase,
        carrying,
        told,
    ) in rows:
        labels = [run_id, fault_type, adapter, backend]
        if run_id != seen:  # the run's first row: the run's own series
            seen = run_id
            asked = _numbers(params)
            active.add_metric(labels, 1)
            if phase == Phase.RECOVERING.value:
                since = recovering_since or now
                recovering.add_metric(labels, max(0.0, (now - since).total_seconds()))
                attempts.add_metric(labels, recover_attempts)
                if recover_attempts:
                    retrying[adapter] = retrying.get(adapter, 0) + 1
        if not (carrying and target_phase == "injected"):
            continue
        faults[adapter] = faults.get(adapter, 0) + 1
        held.add_metric([*labels, target], 1)
        for source, values in (("tool", _numbers(told)), ("params", asked)):
            for name, value in sorted(values.items()):
                applied.add_metric([*labels, target, name, source], value)
    yield active
    yield held
    yield applied
    count = GaugeMetricFamily(
        "chaoshub_faults_active", "Targets holding a fault now, by adapter", labels=["adapter"]
    )
    for adapter, n in sorted(faults.items()):
        count.add_metric([adapter], n)
    yield count
    yield recovering
    yield attempts
    stuck = GaugeMetricFamily(
        "chaoshub_runs_recovery_retrying",
        "Runs recovering whose recovery failed at least once, by adapter",
        labels=["adapter"],
    )
    for adapter, n in sorted(retrying.items()):
        stuck.add_metric([adapter], n)
    yield stuck


def _numbers(values: Any) -> dict[str, float]:
    """The numeric top-level entries of a JSON object (booleans are not numbers here)."""
    if not isinstance(values, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _agents(s: Any) -> Iterator[Metric]:
    from sqlalchemy import select

    from chaoshub.store.models import Agent

    counts = {True: 0, False: 0}
    up = GaugeMetricFamily("chaoshub_agent_up", "1 while an agent is online", labels=["agent"])
    age = GaugeMetricFamily(
        "chaoshub_agent_heartbeat_age_seconds",
        "Seconds since an agent's last heartbeat",
        labels=["agent"],
    )
    now = datetime.now(UTC)
    for name, online, last in s.execute(select(Agent.name, Agent.online, Agent.last_heartbeat)):
        counts[bool(online)] += 1
        up.add_metric([name], 1 if online else 0)
        if last is not None:
            age.add_metric([name], max(0.0, (now - last).total_seconds()))
    by_status = GaugeMetricFamily("chaoshub_agents", "Agents by status", labels=["status"])
    by_status.add_metric(["online"], counts[True])
    by_status.add_metric(["offline"], counts[False])
    yield by_status
    yield up
    yield age


def _workflows(s: Any) -> Iterator[Metric]:
    from sqlalchemy import func, select

    from chaoshub.store.models import WorkflowRun

    counts = GaugeMetricFamily(
        "chaoshub_workflow_runs", "Workflow runs by phase and verdict", labels=["phase", "verdict"]
    )
    for phase, verdict, n in s.execute(
        select(WorkflowRun.phase, WorkflowRun.verdict, func.count()).group_by(
            WorkflowRun.phase, WorkflowRun.verdict
        )
    ):
        counts.add_metric([phase, verdict], n)
    yield counts
    latest = (
        select(WorkflowRun.workflow_name, func.max(WorkflowRun.ended_at).label("at"))
        .where(WorkflowRun.ended_at.is_not(None))
        .group_by(WorkflowRun.workflow_name)
        .subquery()
    )
    rows = s.execute(
        select(WorkflowRun.workflow_name, WorkflowRun.verdict, WorkflowRun.score, latest.c.at).join(
            latest,
            (WorkflowRun.workflow_name == latest.c.workflow_name)
            & (WorkflowRun.ended_at == latest.c.at),
        )
    )
    score = GaugeMetricFamily(
        "chaoshub_workflow_resilience_score",
        "Resilience score (share of probe checks that held) of a workflow's latest ended run",
        labels=["workflow"],
    )
    passing = GaugeMetricFamily(
        "chaoshub_workflow_passing",
        "1 when a workflow's latest ended run passed, 0 when it did not",
        labels=["workflow"],
    )
    ended = GaugeMetricFamily(
        "chaoshub_workflow_last_ended_timestamp_seconds",
        "When a workflow's latest run ended, Unix time",
        labels=["workflow"],
    )
    seen: set[str] = set()
    for name, verdict, value, at in rows:
        if name in seen:  # two runs ended in the same instant: one is enough
            continue
        seen.add(name)
        if value is not None:
            score.add_metric([name], value)
        passing.add_metric([name], 1 if verdict == "pass" else 0)
        ended.add_metric([name], at.timestamp())
    yield score
    yield passing
    yield ended


_installed: StoreCollector | None = None


def install_store_collector(session: Callable[[], Any]) -> None:
    """Serve the store's figures on this process's ``/metrics``; ``session`` opens a
    session as a context manager (``Runtime.session``)."""
    global _installed
    from chaoshub import registry

    start_series(registry.names())
    if _installed is not None:
        REGISTRY.unregister(_installed)
    _installed = StoreCollector(session)
    REGISTRY.register(_installed)
