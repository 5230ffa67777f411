"""The ``litmus`` adapter against the fake API server and the fake Litmus operator.

What is checked from outside the adapter reads the fake's store: the ChaosEngine the
adapter created, the runner pod the operator started, the ChaosResult it wrote.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fake_operators import ENGINE, LITMUS_FINALIZER, RESULT, Outcome
from kube_peers import FakeCluster

from chaoshub.adapters.kube import object_name
from chaoshub.adapters.litmus import LitmusAdapter
from chaoshub.contract import Execution, Handle, Observed
from chaoshub.errors import (
    BackendUnavailable,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)


def execution(adapter: LitmusAdapter, fault: str = "pod-delete", **params: Any) -> Execution:
    selector = (
        {"labels": {"app": "web"}} if not fault.startswith("node-") else {"nodes": ["node-a"]}
    )
    target = adapter.discover(fault, selector)[0]
    suffix = str(time.monotonic_ns())[-8:]
    return Execution(
        id=f"run{suffix}-0", fault=fault, params=params, target=target, duration_seconds=30
    )


def wait_until(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_discover_turns_the_appinfo_into_one_target(litmus: LitmusAdapter, ns: str) -> None:
    [target] = litmus.discover("pod-delete", {"labels": {"app": "web"}, "kind": "statefulset"})
    assert target.id == f"{ns}/statefulset/app=web"
    assert target.attributes["pods"] == ["web-0", "web-1", "web-2"]
    assert target.attributes["service_account"] == "litmus-admin"


def test_discover_refuses_a_selector_without_running_pods(litmus: LitmusAdapter) -> None:
    with pytest.raises(NotFound) as err:
        litmus.discover("pod-delete", {"labels": {"app": "nothing"}})
    assert err.value.field == ["selector", "labels"]


def test_node_faults_get_one_target_per_node(kube: FakeCluster, litmus: LitmusAdapter) -> None:
    kube.api.store.add_node("node-a", {"role": "worker"})
    kube.api.store.add_node("node-b", {"role": "worker"})
    targets = litmus.discover("node-cpu-hog", {"node_labels": {"role": "worker"}})
    assert [t.id for t in targets] == ["node/node-a", "node/node-b"]
    with pytest.raises(NotFound):
        litmus.discover("node-drain", {"nodes": ["node-z"]})


def test_inject_creates_a_chaos_engine_named_from_the_execution(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus, "pod-cpu-hog", CPU_LOAD=80, keep_resources=False)
    data, observation = litmus.inject(ex)
    assert data["engine"] == object_name(ex.id)
    engine = kube.api.store.get(ENGINE, ns, data["engine"])
    assert engine["spec"]["engineState"] == "active"
    assert engine["spec"]["appinfo"] == {
        "appns": ns,
        "applabel": "app=web",
        "appkind": "deployment",
    }
    env = {
        e["name"]: e["value"] for e in engine["spec"]["experiments"][0]["spec"]["components"]["env"]
    }
    assert env == {"CPU_LOAD": "80", "TOTAL_CHAOS_DURATION": "30"}
    assert observation.state is Observed.INJECTED, observation.native
    assert f"{data['engine']}-runner" in {n for (_, n) in kube.api.store.pods}


def test_node_fault_names_its_node_in_the_env(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    kube.api.store.add_node("node-a", {})
    ex = execution(litmus, "node-drain")
    data, _ = litmus.inject(ex)
    engine = kube.api.store.get(ENGINE, ns, data["engine"])
    env = {
        e["name"]: e["value"] for e in engine["spec"]["experiments"][0]["spec"]["components"]["env"]
    }
    assert env["TARGET_NODE"] == "node-a"
    assert "appinfo" not in engine["spec"]


def test_a_retried_inject_adopts_the_engine(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    first, _ = litmus.inject(ex)
    second, observation = litmus.inject(ex)
    assert first["engine"] == second["engine"]
    assert first["uid"] == second["uid"]
    assert observation.state is Observed.INJECTED
    posts = [r for r in kube.api.requests if r[0] == "POST" and r[1].endswith(f"{ns}/chaosengines")]
    assert len(posts) == 2  # the second answered 409 AlreadyExists and was adopted
    assert len([k for k in kube.api.store.objects if k[0] == ENGINE.resource and k[1] == ns]) == 1


def test_an_engine_of_that_name_made_by_someone_else_is_not_adopted(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    kube.api.store.create(
        ENGINE, ns, {"metadata": {"name": object_name(ex.id)}, "spec": {"engineState": "stop"}}
    )
    with pytest.raises(RejectedByTool, match="not made for"):
        litmus.inject(ex)


def test_recover_after_a_refused_inject_leaves_the_foreign_engine_and_result_alone(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    name = object_name(ex.id)
    kube.litmus.stop()  # nobody reconciles: the foreign engine stays exactly as made
    try:
        foreign = kube.api.store.create(
            ENGINE,
            ns,
            {
                "metadata": {"name": name, "finalizers": ["example.com/theirs"]},
                "spec": {"engineState": "active"},
            },
        )
        theirs = kube.api.store.create(
            RESULT,
            ns,
            {
                "metadata": {
                    "name": f"{name}-pod-delete",
                    "labels": {"chaosUID": foreign["metadata"]["uid"]},
                },
                "spec": {"engine": name, "experiment": "pod-delete"},
            },
        )
        with pytest.raises(RejectedByTool, match="not made for"):
            litmus.inject(ex)
        observation = litmus.recover(Handle(ex, None))  # as after any failed inject
        assert observation.state is Observed.RECOVERED and "left alone" in observation.native
        assert kube.api.store.get(ENGINE, ns, name) == foreign, "not stopped, not deleted"
        assert kube.api.store.get(RESULT, ns, f"{name}-pod-delete") == theirs
        methods = {r[0] for r in kube.api.requests if name in r[1]}
        assert not methods & {"DELETE", "PATCH", "PUT"}, methods
    finally:
        kube.litmus = type(kube.litmus)(kube.api.store)
        kube.litmus.start()
        for kind, obj_name in ((ENGINE, name), (RESULT, f"{name}-pod-delete")):
            kube.api.store.update(
                kind, ns, obj_name, lambda o: {**o, "metadata": {**o["metadata"], "finalizers": []}}
            )
            if kube.api.store.find(kind, ns, obj_name) is not None:
                kube.api.store.delete(kind, ns, obj_name)


def test_a_result_not_of_this_runs_engine_is_not_deleted(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    kube.litmus.stop()  # the operator would write the result itself
    try:
        data, _ = LitmusAdapter({**litmus.config, "wait_seconds": 0.2}).inject(ex)
        other = kube.api.store.create(
            RESULT,
            ns,
            {
                "metadata": {"name": data["result"], "labels": {"chaosUID": "someone-else"}},
                "spec": {"engine": data["engine"], "experiment": "pod-delete"},
            },
        )
        observation = litmus.recover(Handle(ex, data))
        assert "left alone" in observation.native
        assert kube.api.store.find(ENGINE, ns, data["engine"]) is None
        assert kube.api.store.get(RESULT, ns, data["result"]) == other
        kube.api.store.delete(RESULT, ns, data["result"])
    finally:
        kube.litmus = type(kube.litmus)(kube.api.store)
        kube.litmus.start()


@pytest.mark.parametrize(
    ("verdict", "state", "expected"),
    [
        ("Pass", Observed.DONE, "pass"),
        ("Fail", Observed.DONE, "fail"),
        ("Error", Observed.FAILED, None),
    ],
)
def test_the_result_verdict_is_mapped(
    kube: FakeCluster, litmus: LitmusAdapter, verdict: str, state: Observed, expected: str | None
) -> None:
    ex = execution(litmus)
    kube.litmus.outcomes[object_name(ex.id)] = Outcome(
        verdict=verdict, run_seconds=0.2, probe_success="100" if verdict == "Pass" else "0"
    )
    data, _ = litmus.inject(ex)
    observation = wait_until(
        lambda: (o := litmus.status(Handle(ex, data))).state is not Observed.INJECTED and o
    )
    assert observation.state is state, observation.native
    assert observation.verdict == expected
    if verdict != "Error":
        assert observation.metrics["probe_success_percent"] == (100.0 if verdict == "Pass" else 0.0)
    else:
        assert "application pods are not in running state" in observation.native


def test_status_is_pending_until_the_experiment_writes_its_result(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    kube.litmus.stop()  # nobody reconciles: the engine is never initialized
    try:
        fast = LitmusAdapter({**litmus.config, "wait_seconds": 0.2})
        data, observation = fast.inject(ex)
        assert observation.state is Observed.PENDING
        assert "no ChaosResult" in observation.native
    finally:
        kube.litmus = type(kube.litmus)(kube.api.store)
        kube.litmus.start()
    wait_until(lambda: litmus.status(Handle(ex, data)).state is Observed.INJECTED)


def test_a_missing_chaos_experiment_is_refused_before_an_engine_is_made(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    from fake_operators import EXPERIMENT

    kube.api.store.delete(EXPERIMENT, ns, "pod-delete")
    ex = execution(litmus)
    with pytest.raises(RejectedByTool, match="ChaosExperiment pod-delete is not installed"):
        litmus.inject(ex)
    assert kube.api.store.find(ENGINE, ns, object_name(ex.id)) is None
    health = litmus.health()
    assert not health.faults["pod-delete"].available
    assert health.faults["pod-cpu-hog"].available


def test_recover_stops_the_engine_then_deletes_what_the_run_made(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    data, _ = litmus.inject(ex)
    observation = litmus.recover(Handle(ex, data))
    assert observation.state is Observed.RECOVERED
    assert "stopped and deleted" in observation.native
    patches = [r for r in kube.api.requests if r[0] == "PATCH" and r[1].endswith(data["engine"])]
    assert patches, "engineState: stop is merge-patched before the delete"
    store = kube.api.store
    assert store.find(ENGINE, ns, data["engine"]) is None
    assert store.find(RESULT, ns, data["result"]) is None
    assert f"{data['engine']}-runner" not in {n for (_, n) in store.pods}
    stopped = [
        e
        for e in store.events
        if e.resource == ENGINE.resource and e.obj["metadata"]["name"] == data["engine"]
    ]
    assert any(
        e.obj.get("spec", {}).get("engineState") == "stop" and e.type == "MODIFIED" for e in stopped
    )
    assert any((e.obj.get("status") or {}).get("engineStatus") == "stopped" for e in stopped)
    assert litmus.status(Handle(ex, data)).state is Observed.RECOVERED


def test_keep_resources_stops_without_deleting(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus, keep_resources=True)
    data, _ = litmus.inject(ex)
    observation = litmus.recover(Handle(ex, data))
    assert observation.state is Observed.RECOVERED
    assert "kept" in observation.native
    engine = kube.api.store.get(ENGINE, ns, data["engine"])
    assert engine["spec"]["engineState"] == "stop"
    assert engine["status"]["engineStatus"] == "stopped"
    result = kube.api.store.get(RESULT, ns, data["result"])
    assert result["status"]["experimentStatus"]["phase"] == "Stopped"
    assert litmus.status(Handle(ex, data)).state is Observed.RECOVERED
    assert litmus.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_a_stopped_engine_reads_as_aborted(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    data, _ = litmus.inject(ex)
    kube.api.store.update(
        ENGINE, ns, data["engine"], lambda o: {**o, "spec": {**o["spec"], "engineState": "stop"}}
    )
    observation = wait_until(
        lambda: (o := litmus.status(Handle(ex, data))).state is Observed.ABORTED and o
    )
    assert "phase=Stopped" in observation.native


def test_a_stuck_finalizer_is_reported_naming_it(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    kube.litmus.stuck = True
    ex = execution(litmus)
    data, _ = litmus.inject(ex)
    started = time.monotonic()
    with pytest.raises(RecoveryFailed) as err:
        litmus.recover(Handle(ex, data))
    assert time.monotonic() - started < 10, "the wait is bounded"
    assert LITMUS_FINALIZER in err.value.message
    assert "deletionTimestamp" in err.value.message
    observation = litmus.status(Handle(ex, data))
    assert observation.state is Observed.UNKNOWN and "being deleted" in observation.native
    kube.litmus.stuck = False
    assert litmus.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_recover_without_handle_data_finds_the_engine_by_name(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    data, _ = litmus.inject(ex)
    assert litmus.recover(Handle(ex, None)).state is Observed.RECOVERED
    assert kube.api.store.find(ENGINE, ns, data["engine"]) is None


def test_an_unreachable_cluster_is_backend_unavailable(
    unreachable_kubeconfig: Any, litmus: LitmusAdapter
) -> None:
    gone = LitmusAdapter({"kubeconfig": str(unreachable_kubeconfig), "request_timeout_seconds": 2})
    ex = execution(litmus)
    for call in (
        lambda: gone.discover("pod-delete", {"labels": {"app": "web"}}),
        lambda: gone.inject(ex),
        lambda: gone.status(Handle(ex, None)),
        lambda: gone.recover(Handle(ex, None)),
    ):
        with pytest.raises(BackendUnavailable):
            call()
    assert not gone.health().ok


def test_api_server_refusals_say_what_to_do(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    kube.api.fail_next("POST", f"{ns}/chaosengines", 503, "ServiceUnavailable", "etcd is gone")
    with pytest.raises(BackendUnavailable) as retry:
        litmus.inject(ex)
    assert "etcd is gone" in retry.value.message
    kube.api.fail_next(
        "POST", f"{ns}/chaosengines", 403, "Forbidden", 'chaosengines is forbidden: User "hub"'
    )
    with pytest.raises(RejectedByTool) as refused:
        litmus.inject(ex)
    assert refused.value.native_code == "Forbidden" and "forbidden" in refused.value.message
    data, observation = litmus.inject(ex)  # the next try goes through
    assert observation.state is Observed.INJECTED
    assert litmus.recover(Handle(ex, data)).state is Observed.RECOVERED


def test_health_reports_the_crd_versions(kube: FakeCluster, litmus: LitmusAdapter) -> None:
    health = litmus.health()
    assert health.ok, health.message
    assert "chaosengines: v1alpha1" in health.version
    kube.api.crd_forbidden = True  # a service account that may not read CRDs
    try:
        assert "chaosresults: v1alpha1" in litmus.health().version
    finally:
        kube.api.crd_forbidden = False


def test_validate_refuses_a_node_selector_for_a_pod_fault(litmus: LitmusAdapter) -> None:
    with pytest.raises(InvalidInput) as err:
        litmus.validate("pod-delete", {}, {"labels": {"app": "web"}, "nodes": ["a"]})
    assert err.value.field == ["selector", "nodes"]


def test_a_role_without_watch_is_refused_up_front_and_nothing_is_created(
    kube: FakeCluster, litmus: LitmusAdapter, ns: str
) -> None:
    ex = execution(litmus)
    kube.api.deny(ENGINE.group, ENGINE.plural, "watch")
    try:
        health = litmus.health()
        assert not health.ok and "watch chaosengines" in health.message
        [answer] = litmus.availability("pod-delete", [ex.target]).values()
        assert not answer.available and "watch chaosengines" in answer.reason
        with pytest.raises(RejectedByTool, match="may not watch chaosengines") as err:
            litmus.inject(ex)
        assert err.value.native_code == "Forbidden"
        assert kube.api.store.find(ENGINE, ns, object_name(ex.id)) is None
        assert not [
            r for r in kube.api.requests if r[0] == "POST" and r[1].endswith(f"{ns}/chaosengines")
        ]
        with pytest.raises(RejectedByTool) as refused:  # the fake enforces the Role
            litmus.cluster.wait_for(ENGINE, ns, "anything", lambda o: o is not None, 1)
        assert "forbidden" in str(refused.value)
    finally:
        kube.api.denied.clear()
    assert litmus.health().ok
