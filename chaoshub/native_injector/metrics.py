"""``/metrics``: the host (:mod:`~chaoshub.native_injector.host_metrics`), the faults in
effect and the values they apply.

``chaoshub_injector_fault_value{execution_id, fault, target, name}`` carries each value a
live fault applied (``loss_percent``, ``rate_kbit``, ``workers``, ...) and
``chaoshub_injector_fault_active{execution_id, fault, target}`` is 1 while it holds: both
series go when the fault is recovered. ``chaoshub_injector_host_cpu_percent`` is the busy
share of the time between two scrapes (the first compares with the injector's start).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chaoshub.native_injector import host_metrics

if TYPE_CHECKING:
    from chaoshub.native_injector.engine import Injector

PREFIX = "chaoshub_injector"


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values), idle


class _HostAndFaults(Collector):
    def __init__(self, injector: Injector) -> None:
        self.injector = injector
        self._lock = threading.Lock()
        self._last = _cpu_times()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            total, idle = _cpu_times()
            d_total, d_idle = total - self._last[0], idle - self._last[1]
            self._last = (total, idle)
        cpu = GaugeMetricFamily(
            f"{PREFIX}_host_cpu_percent", "Host CPU busy share since the previous scrape, percent"
        )
        cpu.add_metric([], 100.0 * (d_total - d_idle) / d_total if d_total > 0 else 0.0)
        yield cpu
        yield from host_metrics.collect()
        yield from self._faults()

    def _faults(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            f"{PREFIX}_active_faults", "Faults in effect now, by fault", labels=["fault"]
        )
        held = GaugeMetricFamily(
            f"{PREFIX}_fault_active",
            "1 for each fault in effect now, per execution and target",
            labels=["execution_id", "fault", "target"],
        )
        applied = GaugeMetricFamily(
            f"{PREFIX}_fault_value",
            "Values applied by faults in effect now (loss_percent, rate_kbit, workers, ...)",
            labels=["execution_id", "fault", "target", "name"],
        )
        counts: dict[str, int] = {}
        for record in self.injector.live():
            counts[record.fault] = counts.get(record.fault, 0) + 1
            target = str(record.target.get("label") or record.target.get("id") or "")
            held.add_metric([record.execution_id, record.fault, target], 1)
            for name, value in sorted(record.metrics.items()):
                applied.add_metric([record.execution_id, record.fault, target, name], value)
        for fault, n in sorted(counts.items()):
            active.add_metric([fault], n)
        yield active
        yield held
        yield applied


class InjectorMetrics:
    """The injector's metrics, in a registry of its own."""

    def __init__(self, injector: Injector) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_HostAndFaults(injector))
        self._injections = Counter(
            f"{PREFIX}_injections",
            "Inject calls by fault and outcome",
            ["fault", "outcome"],
            registry=self.registry,
        )
        self._recoveries = Counter(
            f"{PREFIX}_recoveries",
            "Recoveries by fault and reason",
            ["fault", "reason"],
            registry=self.registry,
        )
        self._lapses = Counter(
            f"{PREFIX}_lease_lapses",
            "Leases that lapsed, by fault",
            ["fault"],
            registry=self.registry,
        )
        self._status_calls = Counter(
            f"{PREFIX}_status_calls",
            "Status calls by kind (single, batch): a batch call counts once",
            ["call"],
            registry=self.registry,
        )
        self._status_asked = Counter(
            f"{PREFIX}_status_executions",
            "Executions asked about by status calls, by kind of call",
            ["call"],
            registry=self.registry,
        )

    def status_called(self, call: str, executions: int) -> None:
        self._status_calls.labels(call).inc()
        self._status_asked.labels(call).inc(executions)

    def injected(self, fault: str, outcome: str) -> None:
        self._injections.labels(fault, outcome).inc()

    def recovered(self, fault: str, reason: str) -> None:
        self._recoveries.labels(fault, reason).inc()

    def lease_lapsed(self, fault: str) -> None:
        self._lapses.labels(fault).inc()
