"""The dead-man's switch and crash recovery: a lapsed lease recovers the fault; an injector
killed with SIGKILL and restarted recovers (or re-adopts) what it left, leaving nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from native_peers import Injector, NetPair, inject, marked_pids, observe, proc_state, wait_for


def test_a_lapsed_lease_recovers_the_fault_and_says_why(api, sleeper, netpair: NetPair):
    inject(api, "lease-pause", "process-pause", {"pid": sleeper.pid}, lease=1.5)
    inject(api, "lease-loss", "network-loss", netpair.selector, {"percent": 50}, lease=1.5)
    assert proc_state(sleeper.pid) == "T" and netpair.rules()

    # nobody calls status: within the lease (plus the watcher's beat) the faults are gone
    assert wait_for(lambda: proc_state(sleeper.pid) != "T" and not netpair.rules(), timeout=6)
    for eid in ("lease-pause", "lease-loss"):
        seen = observe(api, "status", eid)
        assert seen["phase"] == "recovered"
        assert seen["native"].startswith("lease lapsed: no status call for")
    assert 'chaoshub_injector_lease_lapses_total{fault="process-pause"}' in api.get("/metrics").text


def test_status_calls_renew_the_lease(api, sleeper):
    inject(api, "lease-renewed", "process-pause", {"pid": sleeper.pid}, lease=1.5)
    try:
        for _ in range(6):  # 3 s in all, twice the lease
            time.sleep(0.5)
            assert observe(api, "status", "lease-renewed")["phase"] == "injected"
        assert proc_state(sleeper.pid) == "T"
    finally:
        observe(api, "recover", "lease-renewed")


def _leave_faults(inj: Injector, sleeper, netpair: NetPair, fs: Path, lease: float) -> None:
    with inj.client() as api:
        inject(api, "crash-pause", "process-pause", {"pid": sleeper.pid}, lease=lease)
        inject(api, "crash-loss", "network-loss", netpair.selector, {"percent": 40}, lease=lease)
        inject(
            api, "crash-bw", "network-bandwidth", netpair.selector, {"rate_kbit": 1000}, lease=lease
        )
        inject(api, "crash-fill", "disk-fill", {}, {"path": str(fs), "bytes": 8 << 20}, lease=lease)
        inject(api, "crash-cpu", "cpu-stress", {}, {"workers": 1, "load_percent": 20}, lease=lease)
    inj.kill9()
    # the injector is gone; its faults are not
    assert proc_state(sleeper.pid) == "T"
    assert netpair.rules() and "tbf" in netpair.root_qdisc()
    assert list(fs.iterdir()) and marked_pids("crash-cpu")


def _nothing_left(sleeper, netpair: NetPair, fs: Path) -> None:
    assert wait_for(lambda: not marked_pids("crash-cpu"), timeout=10)
    assert proc_state(sleeper.pid) in ("S", "R")
    assert netpair.rules() == []
    assert "tbf" not in netpair.root_qdisc()
    assert list(fs.iterdir()) == []


CRASHED = ("crash-pause", "crash-loss", "crash-bw", "crash-fill", "crash-cpu")


def test_killed_injector_restarted_after_the_lease_recovers_everything(
    fresh_injector: Injector, sleeper, netpair: NetPair, small_fs: Path
):
    _leave_faults(fresh_injector.start(), sleeper, netpair, small_fs, lease=2)
    time.sleep(2.5)
    fresh_injector.start()
    _nothing_left(sleeper, netpair, small_fs)
    with fresh_injector.client() as api:
        assert api.get("/v1/executions").json()["executions"] == []
        for eid in CRASHED:
            seen = observe(api, "status", eid)
            assert seen["phase"] == "recovered"
            assert seen["native"] == "lease lapsed while the injector was down"


def test_killed_injector_restarted_within_the_lease_re_adopts_then_recovers(
    fresh_injector: Injector, sleeper, netpair: NetPair, small_fs: Path
):
    _leave_faults(fresh_injector.start(), sleeper, netpair, small_fs, lease=120)
    fresh_injector.start()
    with fresh_injector.client() as api:
        live = {e["execution_id"]: e for e in api.get("/v1/executions").json()["executions"]}
        assert set(live) == set(CRASHED)
        assert all(e["native"].startswith("re-adopted after restart") for e in live.values())
        for eid in CRASHED:
            assert observe(api, "status", eid)["phase"] == "injected", eid
            assert observe(api, "recover", eid)["phase"] == "recovered", eid
    _nothing_left(sleeper, netpair, small_fs)


def test_a_clean_stop_recovers_every_active_fault(fresh_injector: Injector, sleeper):
    with fresh_injector.start().client() as api:
        inject(api, "stop-pause", "process-pause", {"pid": sleeper.pid}, lease=120)
    assert proc_state(sleeper.pid) == "T"
    fresh_injector.stop()
    assert proc_state(sleeper.pid) in ("S", "R")


def test_restart_removes_the_rules_of_a_half_applied_injection_and_reports_foreign_ones(
    fresh_injector: Injector, netpair: NetPair
):
    # a crash between writing the record and finishing the apply left a rule behind
    record = {
        "execution_id": "half-applied",
        "fault": "network-loss",
        "target": {"id": f"netns/{netpair.a}/{netpair.if_a}", "label": "", "attributes": {}},
        "params": {"percent": 50},
        "lease_seconds": 60,
        "state": "applying",
        "created_at": time.time(),
        "expires_at": time.time() + 60,
        "applied": {},
        "metrics": {},
        "native": "",
        "reason": "",
        "ended_at": None,
    }
    executions = fresh_injector.state_dir / "executions"
    executions.mkdir(parents=True)
    (executions / "half.json").write_text(json.dumps(record))
    for text in ("chaoshub:half-applied", "chaoshub:someone-elses"):
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                netpair.a,
                "iptables",
                "-w",
                "5",
                "-A",
                "OUTPUT",
                "-o",
                netpair.if_a,
                "-m",
                "comment",
                "--comment",
                text,
                "-j",
                "DROP",
            ],
            check=True,
        )

    with fresh_injector.start().client() as api:
        assert [r for r in netpair.rules() if "half-applied" in r] == []
        assert [r for r in netpair.rules() if "someone-elses" in r], "a foreign rule is kept"
        seen = observe(api, "status", "half-applied")
        assert seen["phase"] == "recovered"
        assert seen["native"] == "injector restarted while applying: reverted"
        leftovers = api.get("/v1/health").json()["leftovers"]
        assert any("chaoshub:someone-elses" in item for item in leftovers)


def test_a_stressor_whose_pid_was_never_stored_is_still_found(
    fresh_injector: Injector, scripts_dir
):
    # the record says "applying" with no pid: the stressor is found by its marked environment
    env = {**os.environ, "CHAOSHUB_EXECUTION_ID": "lost-pid"}
    proc = subprocess.Popen(
        ["stress-ng", "--cpu", "1", "--cpu-load", "10", "--quiet"], env=env, start_new_session=True
    )
    try:
        record = {
            "execution_id": "lost-pid",
            "fault": "cpu-stress",
            "target": {"id": "host", "label": "", "attributes": {}},
            "params": {"workers": 1, "load_percent": 10},
            "lease_seconds": 60,
            "state": "applying",
            "created_at": time.time(),
            "expires_at": time.time() + 60,
            "applied": {},
            "metrics": {},
            "native": "",
            "reason": "",
            "ended_at": None,
        }
        executions = fresh_injector.state_dir / "executions"
        executions.mkdir(parents=True)
        (executions / "lost.json").write_text(json.dumps(record))
        assert wait_for(lambda: len(marked_pids("lost-pid")) >= 2)
        fresh_injector.start()
        assert wait_for(lambda: not marked_pids("lost-pid"), timeout=10)
        assert proc.wait(timeout=5) is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_restart_after_a_namespace_went_away_recovers_the_rest(
    fresh_injector: Injector, sleeper, netpair: NetPair
):
    with fresh_injector.start().client() as api:
        inject(api, "gone-pause", "process-pause", {"pid": sleeper.pid}, lease=120)
        inject(api, "gone-loss", "network-loss", netpair.selector, {"percent": 50}, lease=120)
        inject(
            api, "gone-bw", "network-bandwidth", netpair.selector, {"rate_kbit": 1000}, lease=120
        )
    fresh_injector.kill9()
    netpair.delete()  # a container or pod went away while the injector was down

    with fresh_injector.start().client() as api:
        assert [e["execution_id"] for e in api.get("/v1/executions").json()["executions"]] == [
            "gone-pause"
        ]
        for eid in ("gone-loss", "gone-bw"):
            seen = observe(api, "status", eid)
            assert seen["phase"] == "recovered" and "is gone" in seen["native"], seen
        assert observe(api, "recover", "gone-pause")["phase"] == "recovered"
    assert proc_state(sleeper.pid) in ("S", "R")
