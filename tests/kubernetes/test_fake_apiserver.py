"""The fake API server answers as the Kubernetes API does, seen through the official client.

These pin the protocol the adapters rely on, so a change to the fake that would let an
adapter pass against something no real API server does is caught here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_apiserver import LITMUS, FakeApiServer, write_kubeconfig
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

ENGINE = LITMUS[0]
G, V, P = ENGINE.group, ENGINE.version, ENGINE.plural
Api = tuple[FakeApiServer, k8s.CustomObjectsApi]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    fake = FakeApiServer()
    fake.store.install(LITMUS)
    fake.start()
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=str(fake.kubeconfig(tmp_path / "kubeconfig")),
        client_configuration=configuration,
        persist_config=False,
    )
    api_client = k8s.ApiClient(configuration)
    try:
        yield fake, k8s.CustomObjectsApi(api_client)
    finally:
        api_client.close()
        fake.stop()


def _engine(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "ChaosEngine",
        "metadata": {"name": name},
        "spec": spec,
    }


def _status(exc: ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(exc.body or "{}")
    return body


def test_create_answers_201_and_a_second_create_409_already_exists(api: Api) -> None:
    _, custom = api
    created = custom.create_namespaced_custom_object(
        G, V, "ns", P, _engine("e1", engineState="active")
    )
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(G, V, "ns", P, _engine("e1"))
    status = _status(err.value)
    assert err.value.status == 409
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "AlreadyExists", 409)


def test_get_of_a_missing_object_is_404_not_found_and_of_a_missing_crd_too(api: Api) -> None:
    _, custom = api
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(G, V, "ns", P, "nope")
    assert err.value.status == 404 and _status(err.value)["reason"] == "NotFound"
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object("chaos-mesh.org", "v1alpha1", "ns", "podchaos")
    assert err.value.status == 404


def test_merge_patch_keeps_unknown_fields_and_null_removes(api: Api) -> None:
    _, custom = api
    custom.create_namespaced_custom_object(
        G, V, "ns", P, _engine("e1", engineState="active", annotationCheck="false")
    )
    patched = custom.patch_namespaced_custom_object(
        G,
        V,
        "ns",
        P,
        "e1",
        {"spec": {"engineState": "stop", "annotationCheck": None}},
        _content_type="application/merge-patch+json",
    )
    assert patched["spec"] == {"engineState": "stop"}
    assert int(patched["metadata"]["generation"]) == 2


def test_delete_waits_for_finalizers_with_a_deletion_timestamp(api: Api) -> None:
    fake, custom = api
    body = _engine("e1")
    body["metadata"] = {"name": "e1", "finalizers": ["example.com/hold"]}
    custom.create_namespaced_custom_object(G, V, "ns", P, body)
    custom.delete_namespaced_custom_object(G, V, "ns", P, "e1")
    held = custom.get_namespaced_custom_object(G, V, "ns", P, "e1")
    assert held["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(
        G,
        V,
        "ns",
        P,
        "e1",
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    assert fake.store.find(ENGINE, "ns", "e1") is None


def test_lists_filter_by_label_and_field_selectors(api: Api) -> None:
    _, custom = api
    for name, team in (("a", "red"), ("b", "blue")):
        body = _engine(name)
        body["metadata"] = {"name": name, "labels": {"team": team}}
        custom.create_namespaced_custom_object(G, V, "ns", P, body)
    by_label = custom.list_namespaced_custom_object(G, V, "ns", P, label_selector="team=blue")
    by_field = custom.list_namespaced_custom_object(G, V, "ns", P, field_selector="metadata.name=a")
    assert [o["metadata"]["name"] for o in by_label["items"]] == ["b"]
    assert [o["metadata"]["name"] for o in by_field["items"]] == ["a"]
    assert by_label["metadata"]["resourceVersion"]


def test_requests_without_the_token_are_401(api: Api, tmp_path: Path) -> None:
    fake, _ = api
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=str(write_kubeconfig(tmp_path / "wrong", fake.url, "wrong-token")),
        client_configuration=configuration,
        persist_config=False,
    )
    with k8s.ApiClient(configuration) as api_client, pytest.raises(ApiException) as err:
        k8s.CustomObjectsApi(api_client).list_namespaced_custom_object(G, V, "ns", P)
    assert err.value.status == 401


def test_only_merge_patches_are_served(api: Api) -> None:
    _, custom = api
    custom.create_namespaced_custom_object(G, V, "ns", P, _engine("e1"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            G,
            V,
            "ns",
            P,
            "e1",
            [{"op": "add", "path": "/spec/x", "value": 1}],
            _content_type="application/json-patch+json",
        )
    assert err.value.status == 415


def _core(api: Api) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api[1].api_client)


def _event(name: str, namespace: str = "lab", **extra: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": "ChaosEngine", "name": "e1", "namespace": namespace},
        "reason": "ChaosInjected",
        "message": "m",
        "type": "Normal",
        "source": {"component": "chaoshub"},
        **extra,
    }


def test_events_are_created_once_and_listed_by_field(api: Api) -> None:
    core = _core(api)
    made = core.create_namespaced_event("lab", _event("e1.a"))
    assert made.metadata.uid and made.metadata.resource_version
    core.create_namespaced_event("lab", _event("e1.b", involvedObject={"kind": "Pod", "name": "p"}))
    with pytest.raises(ApiException) as taken:
        core.create_namespaced_event("lab", _event("e1.a"))
    assert taken.value.status == 409 and json.loads(taken.value.body)["reason"] == "AlreadyExists"

    listed = core.list_namespaced_event("lab", field_selector="involvedObject.name=e1")
    assert [e.metadata.name for e in listed.items] == ["e1.a"]
    assert listed.items[0].source.component == "chaoshub"
    assert len(core.list_event_for_all_namespaces().items) == 2
    assert core.list_namespaced_event("other").items == []


def test_invalid_events_are_refused_as_the_api_server_does(api: Api) -> None:
    core = _core(api)
    with pytest.raises(ApiException) as bad:
        core.create_namespaced_event("lab", _event("x", type="Loud"))
    assert bad.value.status == 422
    assert json.loads(bad.value.body)["details"]["causes"][0]["field"] == "type"
    with pytest.raises(ApiException) as elsewhere:
        core.create_namespaced_event("lab", _event("y", namespace="other"))
    assert elsewhere.value.status == 400
    with pytest.raises(ApiException) as unnamed:
        core.create_namespaced_event("lab", _event("Not_A_Name"))
    assert unnamed.value.status == 422
    assert core.list_namespaced_event("lab").items == []
