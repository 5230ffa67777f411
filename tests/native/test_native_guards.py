"""The agent's host guards (issue 12, security 5): limits the injector's owner sets on the
command line, enforced at ``/v1/inject`` against the host measured then, and reported in
``describe``/``health``. A real injector process; fills go to a 64 MiB tmpfs, stressors are
one worker at 1 % load or a refusal (nothing allocated)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from native_peers import INJECTOR, Injector, inject, observe

MiB = 1 << 20


@pytest.fixture(scope="module")
def guarded() -> Iterator[Injector]:
    """An injector keeping a quarter of each filesystem free, at most 2 stress workers."""
    with tempfile.TemporaryDirectory(prefix="chaoshub-guarded-") as d:
        inj = Injector(
            Path(d),
            extra=["--min-free-disk-percent", "25", "--max-stressors", "2"],
        ).start()
        try:
            yield inj
        finally:
            inj.stop()


@pytest.fixture
def api(guarded: Injector) -> Iterator[httpx.Client]:
    with guarded.client() as client:
        yield client


def _id(name: str) -> str:
    return f"guard-{name}-{uuid.uuid4().hex[:8]}"


def _refused(api: httpx.Client, fault: str, params: dict[str, Any]) -> dict[str, Any]:
    """Inject ``params`` into the host target; the problem it must answer with."""
    eid = _id(fault)
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": eid,
            "fault": fault,
            "params": params,
            "target": {"id": "host", "label": "host", "attributes": {}},
            "lease_seconds": 30,
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = dict(answer.json())
    assert problem["type"] == "invalid-input"
    ids = [e["execution_id"] for e in api.get("/v1/executions").json()["executions"]]
    assert eid not in ids, "a refused injection must leave no record"
    return problem


def _fill_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".chaoshub-fill-")]


def test_a_fill_that_would_leave_less_than_the_minimum_free_is_refused(api, small_fs):
    problem = _refused(api, "disk-fill", {"path": str(small_fs), "percent": 80})
    assert problem["field"] == ["params", "percent"]
    assert "16.0 MiB free" in problem["detail"], problem["detail"]
    problem = _refused(api, "disk-fill", {"path": str(small_fs), "bytes": 1 << 30})
    assert problem["field"] == ["params", "bytes"]
    assert _fill_files(small_fs) == []


def test_a_fill_within_the_guard_is_applied_and_leaves_the_minimum(api, small_fs):
    eid = _id("fill-ok")
    answer = inject(api, eid, "disk-fill", {}, {"path": str(small_fs), "percent": 50})
    try:
        metrics = answer["observation"]["metrics"]
        assert metrics["bytes"] == 32 * MiB
        st = os.statvfs(small_fs)
        assert st.f_bavail * st.f_frsize >= 16 * MiB
        assert metrics["filesystem_free_bytes"] == st.f_bavail * st.f_frsize
    finally:
        observe(api, "recover", eid)


def test_the_guard_measures_the_free_space_at_inject_time(api, small_fs):
    # 50 % fitted an empty filesystem; with 30 MiB written by someone else it no longer does
    (small_fs / "someone-else").write_bytes(bytes(30 * MiB))
    problem = _refused(api, "disk-fill", {"path": str(small_fs), "percent": 50})
    assert problem["field"] == ["params", "percent"]
    assert "at most 18.0 MiB" in problem["detail"], problem["detail"]


def test_io_stress_files_count_against_the_free_disk(api, small_fs):
    problem = _refused(
        api, "io-stress", {"path": str(small_fs), "workers": 2, "bytes_per_worker": 32 * MiB}
    )
    assert problem["field"] == ["params", "bytes_per_worker"]


def test_memory_beyond_the_headroom_is_refused_in_bytes_and_percent(api):
    with open("/proc/meminfo") as fh:
        available = next(int(line.split()[1]) * 1024 for line in fh if "MemAvailable" in line)
    problem = _refused(api, "memory-stress", {"bytes": available})
    assert problem["field"] == ["params", "bytes"]
    assert "memory headroom" in problem["detail"]
    problem = _refused(api, "memory-stress", {"percent": 95})
    assert problem["field"] == ["params", "percent"]


def test_stress_workers_are_counted_over_every_running_stress_fault(api):
    problem = _refused(api, "cpu-stress", {"workers": 3, "load_percent": 1})
    assert problem["field"] == ["params", "workers"]
    assert "--max-stressors 2" in problem["detail"]
    first = _id("cpu-one")
    inject(api, first, "cpu-stress", {}, {"workers": 1, "load_percent": 1})
    try:
        problem = _refused(api, "cpu-stress", {"workers": 2, "load_percent": 1})
        assert "beside the 1 running" in problem["detail"], problem["detail"]
        health = api.get("/v1/health").json()
        assert health["host"]["stressors_running"] == 1
    finally:
        observe(api, "recover", first)
    assert api.get("/v1/health").json()["host"]["stressors_running"] == 0


def test_describe_and_health_report_the_guards_and_the_host(api, small_fs):
    described = api.get("/v1/describe").json()
    assert described["guards"]["min_free_disk_percent"] == 25
    assert described["guards"]["max_stressors"] == 2
    assert described["guards"]["memory_headroom_bytes"] == 256 * MiB  # the default
    health = api.get("/v1/health").json()
    assert health["guards"] == described["guards"]
    host = health["host"]
    assert host["cpus"] >= 1 and 0 < host["memory_available_bytes"] <= host["memory_total_bytes"]
    ours = [f for f in host["filesystems"] if f["mount"] == str(small_fs)]
    assert ours and ours[0]["total_bytes"] == 64 * MiB, host["filesystems"]


def test_a_guard_out_of_range_is_refused_at_start(tmp_path):
    done = subprocess.run(
        [str(INJECTOR), "--state-dir", str(tmp_path), "--min-free-disk-percent", "150"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--min-free-disk-percent" in done.stderr
