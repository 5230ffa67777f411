"""HTTP adapter protocol v1 as the native injector serves it: every endpoint, bearer auth,
unknown fields refused, RFC 7807 problem bodies."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from native_peers import inject, observe

PROBLEM = "application/problem+json"

ENDPOINTS = [
    ("GET", "/v1/describe", None),
    ("GET", "/v1/health", None),
    ("POST", "/v1/discover", {"fault": "cpu-stress", "selector": {}}),
    (
        "POST",
        "/v1/inject",
        {
            "execution_id": "x",
            "fault": "cpu-stress",
            "params": {},
            "target": {"id": "host"},
            "lease_seconds": 5,
        },
    ),
    ("POST", "/v1/status", {"execution_id": "x"}),
    ("POST", "/v1/status/batch", {"items": [{"execution_id": "x"}]}),
    ("POST", "/v1/recover", {"execution_id": "x"}),
    ("GET", "/v1/executions", None),
    ("GET", "/metrics", None),
]


def _problem(answer: httpx.Response, status: int, kind: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["type"] == kind and body["status"] == status
    assert body["title"] and body["detail"]
    return dict(body)


def test_liveness_needs_no_token(injector):
    assert httpx.get(f"{injector.url}/livez").json() == {"status": "alive"}


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_every_endpoint_refuses_a_call_without_the_token(injector, method, path, body):
    answer = httpx.request(method, f"{injector.url}{path}", json=body)
    _problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_every_endpoint_refuses_a_wrong_token(injector, method, path, body):
    with injector.client("not-the-token") as client:
        _problem(client.request(method, path, json=body), 401, "unauthorized")


def test_describe_lists_the_fault_types_with_schemas_and_capabilities(api):
    body = api.get("/v1/describe").json()
    assert body["protocol"] == "v1" and body["version"]
    names = {f["id"] for f in body["fault_types"]}
    assert "native/process-pause" in names and len(names) == 14
    for entry in body["fault_types"]:
        assert entry["params"]["type"] == "object"
        assert entry["params"]["additionalProperties"] is False
    assert set(body["capabilities"]) == {n.split("/")[1] for n in names}
    assert body["capabilities"]["process-pause"] == {"available": True, "reason": ""}


def test_health_gives_each_fault_and_each_probe(api):
    body = api.get("/v1/health").json()
    assert body["status"] in ("ok", "degraded")
    assert body["checks"]["stress-ng"]["ok"] is True
    assert body["checks"]["iptables"]["ok"] is True
    assert body["checks"]["cap-net-admin"]["ok"] is True
    for fault in body["faults"].values():
        assert fault["available"] or fault["reason"]


def test_discover_returns_targets(api):
    targets = api.post("/v1/discover", json={"fault": "cpu-stress", "selector": {}}).json()
    assert targets["targets"][0]["id"] == "host"


def test_inject_status_recover_and_executions(api, sleeper):
    eid = f"proto-{uuid.uuid4().hex[:8]}"
    answer = inject(api, eid, "process-pause", {"pid": sleeper.pid}, lease=30)
    assert answer["handle"]["execution_id"] == eid
    live = api.get("/v1/executions").json()["executions"]
    mine = [e for e in live if e["execution_id"] == eid]
    assert mine and mine[0]["fault"] == "process-pause" and mine[0]["lease_seconds"] == 30
    assert observe(api, "status", eid)["phase"] == "injected"
    assert observe(api, "recover", eid)["phase"] == "recovered"
    assert eid not in {e["execution_id"] for e in api.get("/v1/executions").json()["executions"]}
    recent = api.get("/v1/executions").json()["recent"]
    assert any(e["execution_id"] == eid and e["reason"] == "recovery requested" for e in recent)


def test_recover_and_status_of_an_unknown_execution_are_recovered(api):
    assert observe(api, "recover", "never-injected")["phase"] == "recovered"
    assert observe(api, "status", "never-injected")["phase"] == "recovered"


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/v1/discover", {"fault": "cpu-stress", "selector": {}, "selectr": {}}, "selectr"),
        (
            "/v1/inject",
            {
                "execution_id": "x",
                "fault": "cpu-stress",
                "params": {},
                "target": {"id": "host"},
                "lease_seconds": 5,
                "duration": "5m",
            },
            "duration",
        ),
        (
            "/v1/inject",
            {
                "execution_id": "x",
                "fault": "cpu-stress",
                "params": {},
                "target": {"id": "host", "nme": "h"},
                "lease_seconds": 5,
            },
            "nme",
        ),
        ("/v1/status", {"execution_id": "x", "uid": "x"}, "uid"),
        ("/v1/recover", {"execution_id": "x", "kind": "stress"}, "kind"),
    ],
)
def test_unknown_fields_are_refused(api, path, body, field):
    problem = _problem(api.post(path, json=body), 422, "invalid-input")
    assert problem["field"][-1] == field
    assert field in problem["detail"]


def test_unknown_selector_keys_are_refused(api):
    answer = api.post(
        "/v1/discover", json={"fault": "process-kill", "selector": {"proces": "nginx"}}
    )
    problem = _problem(answer, 422, "invalid-input")
    assert problem["field"][0] == "selector"


def test_unknown_params_are_refused_with_their_path(api):
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": "bad-params",
            "fault": "process-kill",
            "params": {"sginal": 9},
            "target": {"id": "1"},
            "lease_seconds": 5,
        },
    )
    assert _problem(answer, 422, "invalid-input")["field"] == ["params", "sginal"]


def test_params_are_checked_against_the_schema(api):
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": "bad-percent",
            "fault": "network-loss",
            "params": {"percent": 130},
            "target": {"id": "lo"},
            "lease_seconds": 5,
        },
    )
    assert _problem(answer, 422, "invalid-input")["field"] == ["params", "percent"]


def test_an_unknown_fault_is_invalid_input(api):
    answer = api.post("/v1/discover", json={"fault": "network-dely", "selector": {}})
    assert _problem(answer, 422, "invalid-input")["field"] == ["fault"]


def test_an_execution_id_that_could_smuggle_arguments_is_refused(api):
    answer = api.post("/v1/status", json={"execution_id": "x --comment y"})
    assert _problem(answer, 422, "invalid-input")["field"] == ["execution_id"]


def test_a_gone_target_is_not_found(api):
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": "gone",
            "fault": "process-pause",
            "params": {},
            "target": {"id": "4194303"},
            "lease_seconds": 5,
        },
    )
    _problem(answer, 404, "not-found")


def test_an_unknown_route_is_a_not_found_problem(api):
    _problem(api.get("/v1/nothing"), 404, "not-found")


def test_a_recovered_execution_id_is_not_injected_again(api, sleeper):
    eid = f"proto-once-{uuid.uuid4().hex[:8]}"
    inject(api, eid, "process-pause", {"pid": sleeper.pid})
    observe(api, "recover", eid)
    target = {"id": str(sleeper.pid)}
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": eid,
            "fault": "process-pause",
            "params": {},
            "target": target,
            "lease_seconds": 5,
        },
    )
    assert _problem(answer, 409, "rejected")["field"] == ["execution_id"]


@pytest.mark.parametrize("starttime", ["abc", [1], True, "1.5"])
def test_a_starttime_that_is_not_a_number_is_invalid_input(api, starttime):
    answer = api.post(
        "/v1/inject",
        json={
            "execution_id": f"bad-starttime-{uuid.uuid4().hex[:8]}",
            "fault": "process-pause",
            "params": {},
            "target": {"id": str(os.getpid()), "attributes": {"starttime": starttime}},
            "lease_seconds": 5,
        },
    )
    problem = _problem(answer, 422, "invalid-input")
    assert problem["field"] == ["target", "attributes", "starttime"]
    assert "whole number of clock ticks" in problem["detail"]
