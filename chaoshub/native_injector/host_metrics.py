"""The host's own figures for ``/metrics`` (node_exporter's role), read from ``/proc`` at
scrape time: CPU seconds per mode, load, memory, processes, network and disk counters.

Every name starts with ``chaoshub_injector_host_`` and otherwise follows node_exporter's
(``..._cpu_seconds_total{mode}``, ``..._network_receive_bytes_total{device}``, ...), so a
node_exporter query carries over by swapping the prefix. One scrape reads six small files
and lists ``/proc`` and ``/sys/block``; its cost is measured in ``bench/README.md``.

Disks are whole block devices (those in ``/sys/block``), without loop, ram and zram
devices: partitions would count the same IO twice. ``/proc/net/dev`` is the network
namespace the injector runs in: the host's when it runs on the host (or with
``network_mode: host``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "chaoshub_injector_host"
USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size

#: the columns of /proc/stat's "cpu" line, in order
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
#: /proc/net/dev columns (receive then transmit) kept, by index, with their metric's name
NET_COLUMNS = {
    0: ("receive_bytes", "Bytes received"),
    1: ("receive_packets", "Packets received"),
    2: ("receive_errs", "Receive errors"),
    3: ("receive_drop", "Received packets dropped"),
    8: ("transmit_bytes", "Bytes sent"),
    9: ("transmit_packets", "Packets sent"),
    10: ("transmit_errs", "Transmit errors"),
    11: ("transmit_drop", "Packets dropped on sending"),
}
#: /proc/diskstats fields after the device name, by index: (metric, help, scale)
DISK_FIELDS = {
    0: ("reads_completed", "Reads completed", 1.0),
    2: ("read_bytes", "Bytes read", float(SECTOR_BYTES)),
    4: ("writes_completed", "Writes completed", 1.0),
    6: ("written_bytes", "Bytes written", float(SECTOR_BYTES)),
    9: ("io_time_seconds", "Seconds spent doing IO (busy time)", 0.001),
}
SKIPPED_DISKS = ("loop", "ram", "zram")


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read()


def _cpu_and_counts() -> Iterator[Metric]:
    cpu = CounterMetricFamily(
        f"{PREFIX}_cpu_seconds", "Seconds all CPUs spent in each mode", labels=["mode"]
    )
    counters: dict[str, int] = {}
    for line in _read("/proc/stat").splitlines():
        key, _, rest = line.partition(" ")
        if key == "cpu":
            for mode, ticks in zip(CPU_MODES, rest.split(), strict=False):
                cpu.add_metric([mode], int(ticks) / USER_HZ)
        elif key in ("ctxt", "btime", "processes", "procs_running", "procs_blocked"):
            counters[key] = int(rest)
    yield cpu
    yield GaugeMetricFamily(f"{PREFIX}_cpus", "Online CPUs", value=os.cpu_count() or 0)
    yield CounterMetricFamily(
        f"{PREFIX}_context_switches", "Context switches", value=counters.get("ctxt", 0)
    )
    yield CounterMetricFamily(
        f"{PREFIX}_forks", "Processes and threads created", value=counters.get("processes", 0)
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_boot_time_seconds", "When the host booted, Unix time", value=counters["btime"]
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_procs_running", "Threads runnable now", value=counters.get("procs_running", 0)
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_procs_blocked",
        "Threads blocked waiting for IO",
        value=counters.get("procs_blocked", 0),
    )
    processes = sum(1 for e in os.scandir("/proc") if e.name.isdigit())
    yield GaugeMetricFamily(f"{PREFIX}_processes", "Processes on the host", value=processes)


def _load_and_memory() -> Iterator[Metric]:
    for period, value in zip(("1", "5", "15"), os.getloadavg(), strict=True):
        yield GaugeMetricFamily(f"{PREFIX}_load{period}", f"{period}-minute load average", value)
    mem: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable", "MemFree", "SwapTotal", "SwapFree"):
            mem[key] = int(rest.split()[0]) * 1024
    total, available = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
    yield GaugeMetricFamily(f"{PREFIX}_memory_total_bytes", "Host memory, bytes", value=total)
    yield GaugeMetricFamily(
        f"{PREFIX}_memory_available_bytes",
        "Memory available for new work without swapping, bytes",
        value=available,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_memory_used_bytes", "Memory in use (total - available), bytes", total - available
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_swap_used_bytes",
        "Swap in use, bytes",
        value=mem.get("SwapTotal", 0) - mem.get("SwapFree", 0),
    )


def _network() -> Iterator[Metric]:
    families = {
        i: CounterMetricFamily(
            f"{PREFIX}_network_{name}", f"{what}, per interface", labels=["device"]
        )
        for i, (name, what) in NET_COLUMNS.items()
    }
    for line in _read("/proc/net/dev").splitlines()[2:]:
        device, _, rest = line.partition(":")
        values = rest.split()
        for i, family in families.items():
            family.add_metric([device.strip()], float(values[i]))
    yield from families.values()


def _disks() -> Iterator[Metric]:
    try:
        whole = {d for d in os.listdir("/sys/block") if not d.startswith(SKIPPED_DISKS)}
    except OSError:
        whole = set()
    families = {
        i: CounterMetricFamily(f"{PREFIX}_disk_{name}", f"{what}, per device", labels=["device"])
        for i, (name, what, _) in DISK_FIELDS.items()
    }
    for line in _read("/proc/diskstats").splitlines():
        parts = line.split()
        if len(parts) < 14 or parts[2] not in whole:
            continue
        values = parts[3:]
        for i, (_, _, scale) in DISK_FIELDS.items():
            families[i].add_metric([parts[2]], int(values[i]) * scale)
    yield from families.values()


def collect() -> Iterator[Metric]:
    """Every host figure, read now."""
    yield from _cpu_and_counts()
    yield from _load_and_memory()
    yield from _network()
    yield from _disks()
