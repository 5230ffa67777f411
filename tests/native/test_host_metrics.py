"""An agent's ``/metrics`` reports the host as node_exporter would, read from ``/proc`` at
scrape time: the figures move when the host does (CPU burnt, bytes sent over loopback,
bytes written to disk, processes started)."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

HOST = "chaoshub_injector_host"


def scrape(api: httpx.Client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the injector's /metrics: name → labels → value."""
    answer = api.get("/metrics")
    assert answer.status_code == 200, answer.text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str) -> float:
    return sum(samples[name].values())


def test_every_host_family_is_there_with_node_exporter_shapes(api: httpx.Client) -> None:
    got = scrape(api)
    modes = {dict(k)["mode"] for k in got[f"{HOST}_cpu_seconds_total"]}
    assert {"user", "system", "idle", "iowait"} <= modes
    assert got[f"{HOST}_cpus"][()] == os.cpu_count()
    for period in ("1", "5", "15"):
        assert got[f"{HOST}_load{period}"][()] >= 0
    mem = {k: got[f"{HOST}_memory_{k}_bytes"][()] for k in ("total", "available", "used")}
    assert mem["total"] > mem["available"] > 0
    assert mem["used"] == mem["total"] - mem["available"]
    for direction in ("receive", "transmit"):
        for what in ("bytes", "packets", "errs", "drop"):
            devices = {dict(k)["device"] for k in got[f"{HOST}_network_{direction}_{what}_total"]}
            assert "lo" in devices
    for what in ("reads_completed", "writes_completed", "read_bytes", "written_bytes"):
        devices = {dict(k)["device"] for k in got[f"{HOST}_disk_{what}_total"]}
        assert not any(d.startswith(("loop", "ram", "zram")) for d in devices), devices
    assert got[f"{HOST}_processes"][()] > 1
    assert got[f"{HOST}_boot_time_seconds"][()] < time.time()


def test_host_figures_move_with_the_host(api: httpx.Client, tmp_path) -> None:
    before = scrape(api)
    # burn half a second of CPU in this process
    deadline = time.process_time() + 0.5
    while time.process_time() < deadline:
        pass
    # 1 MiB through loopback
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"x" * 2**20)
                got = 0
                while got < 2**20:
                    got += len(peer.recv(65536))
    # 8 MiB written and synced to disk
    with open(tmp_path / "written", "wb") as fh:
        for _ in range(8):
            fh.write(os.urandom(2**20))
        fh.flush()
        os.fsync(fh.fileno())
    sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(5)]
    try:
        after = scrape(api)
        assert after[f"{HOST}_processes"][()] >= 5
    finally:
        for p in sleepers:
            p.kill()
            p.wait()

    def grew(name: str) -> float:
        return total(after, name) - total(before, name)

    def busy(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
        cpu = samples[f"{HOST}_cpu_seconds_total"]
        return sum(v for k, v in cpu.items() if dict(k)["mode"] in ("user", "system"))

    assert busy(after) - busy(before) >= 0.4
    lo = (("device", "lo"),)
    assert (
        after[f"{HOST}_network_receive_bytes_total"][lo]
        - before[f"{HOST}_network_receive_bytes_total"][lo]
        >= 2**20
    )
    assert grew(f"{HOST}_network_transmit_packets_total") > 0
    if os.major(os.stat(tmp_path).st_dev):  # tmp_path is on a block device, not a tmpfs
        assert grew(f"{HOST}_disk_written_bytes_total") >= 8 * 2**20
        assert grew(f"{HOST}_disk_writes_completed_total") > 0
    assert grew(f"{HOST}_context_switches_total") > 0
