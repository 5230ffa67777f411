"""Prometheus metrics of the hub process (API, and in the embedded default the worker too).

Counters and histograms count what this process did; runs by phase are read from the
database at scrape time, so every API replica reports the same truth. A separate worker
process serves its own counters with ``chaoshub worker --metrics-port``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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


class StoreCollector(Collector):
    """Runs by phase and agents online, read from the store at scrape time."""

    def __init__(
        self, read: Callable[[], tuple[dict[tuple[str, str], int], dict[bool, int]]]
    ) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        runs, agents = self._read()
        by_phase = GaugeMetricFamily(
            "chaoshub_runs", "Runs by phase and adapter", labels=["phase", "adapter"]
        )
        for (phase, adapter), count in sorted(runs.items()):
            by_phase.add_metric([phase, adapter], count)
        yield by_phase
        online = GaugeMetricFamily("chaoshub_agents", "Agents by status", labels=["status"])
        online.add_metric(["online"], agents.get(True, 0))
        online.add_metric(["offline"], agents.get(False, 0))
        yield online


_installed: StoreCollector | None = None


def install_store_collector(
    read: Callable[[], tuple[dict[tuple[str, str], int], dict[bool, int]]],
) -> None:
    global _installed
    if _installed is not None:
        REGISTRY.unregister(_installed)
    _installed = StoreCollector(read)
    REGISTRY.register(_installed)
