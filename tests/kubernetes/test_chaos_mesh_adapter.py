"""The ``chaos-mesh`` adapter against the fake API server and the fake controller-manager.

What is checked from outside the adapter reads the fake's store (the chaos object, its
finalizers and records) and the controller's ``effects`` (the targets a node would see
under the fault).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_apiserver import CHAOS_MESH, LITMUS
from fake_operators import RECORDS_FINALIZER
from kube_peers import FakeCluster, start_cluster, stop_cluster

from chaoshub import catalog
from chaoshub.adapters.chaos_mesh import PAUSE, ChaosMeshAdapter
from chaoshub.adapters.chaos_mesh_faults import FAULTS
from chaoshub.adapters.kube import Resource, object_name
from chaoshub.contract import Execution, Handle, Observed
from chaoshub.errors import (
    BackendUnavailable,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

NETWORK = CHAOS_MESH[1]
NETWORK_RES = Resource(NETWORK.group, NETWORK.version, NETWORK.plural, NETWORK.kind)
POD = CHAOS_MESH[0]


def execution(
    adapter: ChaosMeshAdapter,
    fault: str = "network-delay",
    selector: dict[str, Any] | None = None,
    duration: float | None = 60,
    **params: Any,
) -> Execution:
    target = adapter.discover(fault, selector or {"labels": {"app": "web"}})[0]
    suffix = str(time.monotonic_ns())[-8:]
    checked = catalog.load().get(f"chaos-mesh/{fault}").validate_params(params)
    return Execution(
        id=f"run{suffix}-0", fault=fault, params=checked, target=target, duration_seconds=duration
    )


def test_inject_creates_the_object_with_selector_mode_and_duration(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(
        mesh,
        "network-delay",
        {"labels": {"app": "web"}, "mode": "fixed", "value": "2"},
        latency_ms=150,
        jitter_ms=10,
        direction="to",
    )
    data, observation = mesh.inject(ex)
    obj = kube.api.store.get(NETWORK, ns, object_name(ex.id))
    assert data == {"kind": "NetworkChaos", "namespace": ns, "name": object_name(ex.id)}
    assert obj["spec"] == {
        "selector": {"namespaces": [ns], "labelSelectors": {"app": "web"}},
        "mode": "fixed",
        "value": "2",
        "action": "delay",
        "duration": "63s",  # the run's 60 s and the 3 s inject may wait: a backstop
        "direction": "to",
        "delay": {"latency": "150ms", "jitter": "10ms"},
    }
    assert observation.state is Observed.INJECTED, observation.native
    assert observation.metrics == {"records": 2.0, "records_injected": 2.0}
    assert observation.messages[0].startswith(f"{ns}/web-0: Injected")
    assert kube.mesh.effects[obj["metadata"]["name"]] == {f"{ns}/web-0", f"{ns}/web-1"}


@pytest.mark.parametrize(
    ("fault", "params", "expected"),
    [
        (
            "network-loss",
            {"loss": 25, "correlation": 50},
            {"loss": {"loss": "25", "correlation": "50"}},
        ),
        (
            "stress-cpu",
            {"workers": 2, "load": 50},
            {"stressors": {"cpu": {"workers": 2, "load": 50}}},
        ),
        (
            "io-latency",
            {"volume_path": "/data", "delay_ms": 100, "percent": 50},
            {"volumePath": "/data", "percent": 50, "delay": "100ms"},
        ),
        ("time-skew", {"time_offset": "-10m"}, {"timeOffset": "-10m"}),
        (
            "dns-error",
            {"patterns": ["example.com"]},
            {"action": "error", "patterns": ["example.com"]},
        ),
        (
            "http-abort",
            {"port": 8080, "path": "/api"},
            {"target": "Request", "port": 8080, "path": "/api", "abort": True},
        ),
    ],
)
def test_each_kind_gets_its_spec(
    kube: FakeCluster,
    mesh: ChaosMeshAdapter,
    ns: str,
    fault: str,
    params: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    ex = execution(mesh, fault, **params)
    mesh.inject(ex)
    obj = kube.api.store.get(_kind(fault), ns, object_name(ex.id))
    assert obj["kind"] == FAULTS[fault].kind
    for key, value in expected.items():
        assert obj["spec"][key] == value
    assert mesh.recover(Handle(ex, None)).state is Observed.RECOVERED


def _kind(fault: str) -> Any:
    return next(k for k in CHAOS_MESH if k.kind == FAULTS[fault].kind)


def test_a_retried_inject_adopts_the_object(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    first, _ = mesh.inject(ex)
    second, observation = mesh.inject(ex)
    assert first == second and observation.state is Observed.INJECTED
    assert len([k for k in kube.api.store.objects if k[1] == ns and k[0] == NETWORK.resource]) == 1


@pytest.mark.parametrize("keep", [False, True])
def test_recover_after_a_refused_inject_leaves_the_foreign_object_alone(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str, keep: bool
) -> None:
    ex = execution(mesh, keep_resources=keep)
    name = object_name(ex.id)
    kube.mesh.stop()  # nobody reconciles: the foreign object stays exactly as made
    try:
        foreign = kube.api.store.create(
            NETWORK,
            ns,
            {
                "metadata": {"name": name, "labels": {"team": "theirs"}},
                "spec": {"selector": {"namespaces": [ns]}, "mode": "all", "action": "loss"},
            },
        )
        with pytest.raises(RejectedByTool, match="not made for"):
            mesh.inject(ex)
        observation = mesh.recover(Handle(ex, None))  # as after any failed inject
        assert observation.state is Observed.RECOVERED and "left alone" in observation.native
        assert kube.api.store.get(NETWORK, ns, name) == foreign, "not paused, not deleted"
        with pytest.raises(RejectedByTool, match="not made for"):
            mesh.pause(Handle(ex, None))
        methods = {r[0] for r in kube.api.requests if r[1].endswith(f"/{name}")}
        assert not methods & {"DELETE", "PATCH", "PUT"}, methods
    finally:
        kube.mesh = type(kube.mesh)(kube.api.store)
        kube.mesh.start()
        if kube.api.store.find(NETWORK, ns, name) is not None:
            kube.api.store.delete(NETWORK, ns, name)


def test_a_delete_is_conditional_on_the_uid_that_was_read(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    data, _ = mesh.inject(ex)
    assert not mesh.cluster.delete(NETWORK_RES, ns, data["name"], "0000-not-the-uid")
    assert kube.api.store.find(NETWORK, ns, data["name"]) is not None
    assert mesh.recover(Handle(ex, data)).state is Observed.RECOVERED
    assert kube.api.store.find(NETWORK, ns, data["name"]) is None


def test_recover_deletes_and_waits_for_the_records_finalizer(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    data, _ = mesh.inject(ex)
    assert (
        RECORDS_FINALIZER in kube.api.store.get(NETWORK, ns, data["name"])["metadata"]["finalizers"]
    )
    observation = mesh.recover(Handle(ex, data))
    assert observation.state is Observed.RECOVERED and "deleted" in observation.native
    assert kube.api.store.find(NETWORK, ns, data["name"]) is None
    assert not kube.mesh.effects[data["name"]], "every record was recovered before the object went"
    assert mesh.status(Handle(ex, data)).state is Observed.RECOVERED
    assert mesh.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_a_stuck_finalizer_is_reported_as_recovery_failed(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    kube.mesh.stuck_finalizer = True
    ex = execution(mesh)
    data, _ = mesh.inject(ex)
    started = time.monotonic()
    with pytest.raises(RecoveryFailed) as err:
        mesh.recover(Handle(ex, data))
    assert time.monotonic() - started < 10, "the wait is bounded"
    assert RECORDS_FINALIZER in err.value.message and err.value.native_code == "FinalizerPending"
    observation = mesh.status(Handle(ex, data))
    assert observation.state is Observed.UNKNOWN and RECORDS_FINALIZER in observation.native
    kube.mesh.stuck_finalizer = False
    assert mesh.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_pause_and_resume_through_the_annotation(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh, "stress-memory", size="64MB")
    data, _ = mesh.inject(ex)
    handle = Handle(ex, data)
    paused = mesh.pause(handle)
    obj = kube.api.store.get(_kind("stress-memory"), ns, data["name"])
    assert obj["metadata"]["annotations"][PAUSE] == "true"
    assert paused.state is Observed.PENDING and "paused" in paused.native
    assert not kube.mesh.effects[data["name"]], "pausing reverts the fault"
    resumed = mesh.resume(handle)
    assert resumed.state is Observed.INJECTED
    assert PAUSE not in (
        kube.api.store.get(_kind("stress-memory"), ns, data["name"])["metadata"].get("annotations")
        or {}
    )
    assert len(kube.mesh.effects[data["name"]]) == 3
    assert mesh.capabilities.pause


def test_keep_resources_pauses_instead_of_deleting(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh, keep_resources=True)
    data, _ = mesh.inject(ex)
    observation = mesh.recover(Handle(ex, data))
    assert observation.state is Observed.RECOVERED and "kept" in observation.native
    assert kube.api.store.find(NETWORK, ns, data["name"]) is not None
    assert not kube.mesh.effects[data["name"]]
    assert mesh.status(Handle(ex, data)).state is Observed.RECOVERED
    kube.api.store.delete(NETWORK, ns, data["name"])


def test_keep_resources_of_a_one_shot_kill_keeps_the_object_as_it_is(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh, "pod-kill", duration=None, keep_resources=True)
    data, _ = mesh.inject(ex)
    observation = mesh.recover(Handle(ex, data))
    assert observation.state is Observed.RECOVERED and "kept" in observation.native
    obj = kube.api.store.get(POD, ns, data["name"])
    assert PAUSE not in (obj["metadata"].get("annotations") or {})
    assert mesh.status(Handle(ex, data)).state is Observed.RECOVERED
    kube.api.store.delete(POD, ns, data["name"])


def test_one_shot_pod_kill_is_done_once_every_record_is_injected(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh, "pod-kill", {"labels": {"app": "web"}, "mode": "one"}, duration=None)
    data, observation = mesh.inject(ex)
    assert observation.state is Observed.DONE
    obj = kube.api.store.get(POD, ns, data["name"])
    assert "duration" not in obj["spec"] and obj["spec"]["action"] == "pod-kill"
    with pytest.raises(InvalidInput):
        mesh.pause(Handle(ex, data))
    assert mesh.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_container_kill_names_its_containers(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    selector = {"labels": {"app": "web"}, "containers": ["app"], "mode": "all"}
    ex = execution(mesh, "container-kill", selector, duration=None)
    data, _ = mesh.inject(ex)
    obj = kube.api.store.get(POD, ns, data["name"])
    assert obj["spec"]["containerNames"] == ["app"]
    records = obj["status"]["experiment"]["containerRecords"]
    assert [r["id"] for r in records] == [f"{ns}/web-{i}/app" for i in range(3)]


def test_a_failed_apply_is_rejected_with_the_record_event(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    kube.mesh.fail_apply.add(object_name(ex.id))
    with pytest.raises(RejectedByTool, match="the chaos daemon refused"):
        mesh.inject(ex)
    assert mesh.status(Handle(ex, None)).state is Observed.FAILED
    kube.mesh.fail_apply.clear()
    assert mesh.recover(Handle(ex, None)).state is Observed.RECOVERED


def test_chaos_mesh_ending_its_own_duration_reads_as_done(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    quick = ChaosMeshAdapter({**mesh.config, "wait_seconds": 0.5})
    ex = execution(quick, duration=1)
    data, _ = quick.inject(ex)
    assert kube.api.store.get(NETWORK, ns, data["name"])["spec"]["duration"] == "2s"
    deadline = time.monotonic() + 5
    while (observation := quick.status(Handle(ex, data))).state is not Observed.DONE:
        assert time.monotonic() < deadline, observation.native
        time.sleep(0.1)
    assert "desiredPhase=Stop" in observation.native
    quick.recover(Handle(ex, data))
    quick.close()


def test_a_config_with_both_in_cluster_and_a_kubeconfig_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        ChaosMeshAdapter.validate_config({"in_cluster": True, "kubeconfig": "/etc/kube"})
    assert err.value.field == ["config", "kubeconfig"]
    ChaosMeshAdapter.validate_config({"in_cluster": True, "namespace": "chaos"})


def _mark(kube: FakeCluster, ns: str, name: str) -> None:
    def change(o: dict[str, Any]) -> dict[str, Any]:
        o["metadata"]["labels"]["marker"] = "x"
        return o

    kube.api.store.update(NETWORK, ns, name, change)


def _wait_for_mark(mesh: ChaosMeshAdapter, ns: str, name: str, seen: list[Any]) -> threading.Thread:
    def marked(o: dict[str, Any] | None) -> bool:
        return bool(o and o["metadata"]["labels"].get("marker"))

    thread = threading.Thread(
        target=lambda: seen.append(mesh.cluster.wait_for(NETWORK, ns, name, marked, 15))
    )
    thread.start()
    return thread


def _watches_reach(kube: FakeCluster, count: int) -> None:
    """Wait until ``count`` watches were asked for and one of them is streaming."""
    deadline = time.monotonic() + 10
    while len(kube.api.watch_requests(NETWORK.plural)) < count or not kube.api.watches:
        assert time.monotonic() < deadline, kube.api.watch_requests(NETWORK.plural)[-4:]
        time.sleep(0.01)


def test_a_dropped_watch_is_resumed_from_its_resource_version(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    data, _ = mesh.inject(ex)
    before = len(kube.api.watch_requests(NETWORK.plural))
    seen: list[Any] = []
    thread = _wait_for_mark(mesh, ns, data["name"], seen)
    _watches_reach(kube, before + 1)
    assert kube.api.drop_watches() >= 1
    _watches_reach(kube, before + 2)
    _mark(kube, ns, data["name"])
    thread.join(timeout=20)
    assert seen and seen[0] is not None and seen[0]["metadata"]["labels"]["marker"] == "x"
    first, second = kube.api.watch_requests(NETWORK.plural)[before : before + 2]
    assert second["resourceVersion"] == first["resourceVersion"], "resumed where it was cut"
    mesh.recover(Handle(ex, data))


def test_an_expired_watch_lists_again(kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str) -> None:
    ex = execution(mesh)
    data, _ = mesh.inject(ex)
    before = len(kube.api.watch_requests(NETWORK.plural))
    seen: list[Any] = []
    thread = _wait_for_mark(mesh, ns, data["name"], seen)
    _watches_reach(kube, before + 1)
    # history moves on (a change the watch does not select) and is compacted: the
    # version the watch resumes from is forgotten, and the server answers 410
    kube.api.store.create(LITMUS[1], ns, {"metadata": {"name": "unrelated"}, "spec": {}})
    kube.api.store.compact()
    assert kube.api.drop_watches() >= 1
    _watches_reach(kube, before + 3)
    _mark(kube, ns, data["name"])
    thread.join(timeout=20)
    assert seen and seen[0] is not None and seen[0]["metadata"]["labels"]["marker"] == "x"
    watches = kube.api.watch_requests(NETWORK.plural)[before:]
    first, expired, fresh = watches[:3]
    assert expired["resourceVersion"] == first["resourceVersion"], watches
    assert int(expired["resourceVersion"]) < kube.api.store.compacted
    assert int(fresh["resourceVersion"]) >= kube.api.store.compacted, "listed again after 410"
    mesh.recover(Handle(ex, data))


def test_validate_checks_mode_and_value_without_io(tmp_path: Path) -> None:
    adapter = ChaosMeshAdapter({"kubeconfig": str(tmp_path / "missing")})
    with pytest.raises(InvalidInput) as err:
        adapter.validate("network-delay", {}, {"labels": {"a": "b"}, "mode": "fixed-percent"})
    assert err.value.field == ["selector", "value"]
    with pytest.raises(InvalidInput):
        adapter.validate(
            "network-delay", {}, {"labels": {"a": "b"}, "mode": "fixed-percent", "value": "150"}
        )
    with pytest.raises(InvalidInput) as err:
        adapter.validate("container-kill", {}, {"labels": {"a": "b"}})
    assert err.value.field == ["selector", "containers"]
    adapter.validate(
        "network-delay", {}, {"labels": {"a": "b"}, "mode": "random-max-percent", "value": "50"}
    )


@pytest.mark.parametrize(
    ("fault", "params", "field"),
    [
        ("stress-memory", {"workers": 1, "size": "99999GB"}, "size"),
        ("stress-memory", {"workers": 1, "size": "500%"}, "size"),
        ("time-skew", {"time_offset": "-87840h1s"}, "time_offset"),
        ("time-skew", {"time_offset": "9000h9000h"}, "time_offset"),
    ],
)
def test_magnitudes_written_in_strings_are_bounded_too(
    tmp_path: Path, fault: str, params: dict[str, Any], field: str
) -> None:
    adapter = ChaosMeshAdapter({"kubeconfig": str(tmp_path / "missing")})
    with pytest.raises(InvalidInput) as err:
        adapter.validate(fault, params, {"labels": {"a": "b"}})
    assert err.value.field == ["params", field]
    fine = {"size": "64GB"} if fault == "stress-memory" else {"time_offset": "-8784h"}
    adapter.validate(fault, {**params, **fine}, {"labels": {"a": "b"}})


def test_discover_refuses_a_selector_without_running_pods(mesh: ChaosMeshAdapter) -> None:
    with pytest.raises(NotFound) as err:
        mesh.discover("network-delay", {"labels": {"app": "nothing"}})
    assert err.value.field == ["selector", "labels"]


def test_health_reports_which_kinds_are_installed(
    kube: FakeCluster, mesh: ChaosMeshAdapter
) -> None:
    health = mesh.health()
    assert health.ok and "NetworkChaos: v1alpha1" in health.version
    assert all(a.available for a in health.faults.values())


def test_a_missing_crd_makes_its_faults_unavailable_and_create_is_refused(
    tmp_path: Path,
) -> None:
    cluster = start_cluster(tmp_path / "kubeconfig")
    try:
        cluster.api.store.uninstall([k for k in CHAOS_MESH if k.kind == "HTTPChaos"])
        cluster.api.store.add_pod("default", "web-0", {"app": "web"})
        adapter = ChaosMeshAdapter(cluster.config("default"))
        health = adapter.health()
        assert health.ok and not health.faults["http-abort"].available
        assert "httpchaos.chaos-mesh.org" in health.faults["http-abort"].reason
        ex = execution(adapter, "http-abort", port=80)
        with pytest.raises(RejectedByTool, match="CRD installed"):
            adapter.inject(ex)
        assert adapter.recover(Handle(ex, None)).state is Observed.RECOVERED
        cluster.api.store.uninstall(CHAOS_MESH)
        assert not adapter.health().ok
        adapter.close()
    finally:
        stop_cluster(cluster)


def test_an_unreachable_cluster_is_backend_unavailable(
    unreachable_kubeconfig: Path, mesh: ChaosMeshAdapter
) -> None:
    gone = ChaosMeshAdapter(
        {"kubeconfig": str(unreachable_kubeconfig), "request_timeout_seconds": 2}
    )
    ex = execution(mesh)
    for call in (
        lambda: gone.discover("network-delay", {"labels": {"app": "web"}}),
        lambda: gone.inject(ex),
        lambda: gone.status(Handle(ex, None)),
        lambda: gone.recover(Handle(ex, None)),
        lambda: gone.pause(Handle(ex, None)),
    ):
        with pytest.raises(BackendUnavailable):
            call()
    assert not gone.health().ok


def test_a_cluster_that_goes_away_during_recovery_is_backend_unavailable(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "kubeconfig")
    stopped = False
    try:
        cluster.api.store.add_pod("default", "web-0", {"app": "web"})
        cluster.mesh.stuck_finalizer = True
        adapter = ChaosMeshAdapter({**cluster.config("default"), "wait_seconds": 5})
        ex = execution(adapter)
        data, _ = adapter.inject(ex)
        timer = threading.Timer(0.5, cluster.api.stop)
        timer.start()
        with pytest.raises((BackendUnavailable, RecoveryFailed)) as err:
            adapter.recover(Handle(ex, data))
        timer.join()
        stopped = True
        assert isinstance(err.value, BackendUnavailable), err.value
    finally:
        cluster.litmus.stop()
        cluster.mesh.stop()
        if not stopped:
            cluster.api.stop()


def test_an_api_server_shutting_down_gracefully_during_recovery_is_backend_unavailable(
    tmp_path: Path,
) -> None:
    """Its open watch goes on until its timeout while new connections are refused: the
    recovery must find out from a new request, long before its whole wait is over."""
    cluster = start_cluster(tmp_path / "kubeconfig")
    try:
        cluster.api.store.add_pod("default", "web-0", {"app": "web"})
        cluster.mesh.stuck_finalizer = True
        wait = 60.0
        config = {**cluster.config("default"), "wait_seconds": wait, "request_timeout_seconds": 2}
        adapter = ChaosMeshAdapter(config)
        quick = ChaosMeshAdapter({**config, "wait_seconds": 3})
        ex = execution(quick)
        data, _ = quick.inject(ex)
        quick.close()

        def drain_once_watching() -> None:
            deadline = time.monotonic() + 10
            while not cluster.api.watches and time.monotonic() < deadline:
                time.sleep(0.01)
            cluster.api.shutdown_gracefully()

        drainer = threading.Thread(target=drain_once_watching)
        drainer.start()
        started = time.monotonic()
        with pytest.raises((BackendUnavailable, RecoveryFailed)) as err:
            adapter.recover(Handle(ex, data))
        elapsed = time.monotonic() - started
        drainer.join()
        adapter.close()
        assert isinstance(err.value, BackendUnavailable), err.value
        assert elapsed < wait / 2, f"reported after {elapsed:.1f}s of a {wait:g}s wait"
    finally:
        stop_cluster(cluster)


def test_a_role_without_watch_makes_that_kind_unavailable_and_nothing_is_created(
    kube: FakeCluster, mesh: ChaosMeshAdapter, ns: str
) -> None:
    ex = execution(mesh)
    kube.api.deny(NETWORK.group, NETWORK.plural, "watch")
    try:
        health = mesh.health()
        assert health.ok, "the other kinds still work"
        assert not health.faults["network-delay"].available
        assert "may not watch networkchaos" in health.faults["network-delay"].reason
        assert health.faults["stress-cpu"].available
        with pytest.raises(RejectedByTool, match="may not watch networkchaos"):
            mesh.inject(ex)
        assert kube.api.store.find(NETWORK, ns, object_name(ex.id)) is None
        assert not [
            r for r in kube.api.requests if r[0] == "POST" and r[1].endswith(f"{ns}/networkchaos")
        ]
    finally:
        kube.api.denied.clear()
