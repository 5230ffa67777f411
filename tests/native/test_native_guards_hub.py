"""The hub refuses what an agent's guards would refuse, and keeps ``include_protected`` for
admins (issue 12, security 5). The API runs in-process over its real GraphQL app (no worker:
nothing is injected); the agent is a real injector process added as a native backend."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from native_peers import Injector

from chaoshub.api.app import create_app
from tests.support import queries as Q
from tests.support.stack import in_process_runtime

ADMIN = "guards-admin-token"
CREATE_TOKEN = """mutation($name: String!, $role: String!) { createApiToken(name: $name, role: $role) {
  __typename ... on CreatedApiToken { token } ... on Error { code message } } }"""
AUDIT = """{ auditLog(action: "startRun") { actor role result message } }"""


@pytest.fixture(scope="module")
def guarded() -> Iterator[Injector]:
    with tempfile.TemporaryDirectory(prefix="chaoshub-guarded-hub-") as d:
        inj = Injector(Path(d), extra=["--min-free-disk-percent", "25", "--max-stressors", "2"])
        inj.start()
        try:
            yield inj
        finally:
            inj.stop()


@pytest.fixture
def hub(tmp_path: Path, guarded: Injector) -> Iterator[tuple[TestClient, list[str]]]:
    runtime = in_process_runtime(tmp_path, admin=ADMIN)
    sent: list[str] = []
    app = create_app(runtime, lambda run_id, adapter, reason: sent.append(run_id))
    with TestClient(app) as client:
        created = gql(
            client,
            Q.CREATE_BACKEND,
            input={
                "name": "lab",
                "adapter": "native",
                "config": {
                    "static_agents": [{"name": "box", "url": guarded.url, "token": guarded.token}]
                },
            },
        )["createBackend"]
        assert created["__typename"] == "Backend", created
        yield client, sent


def gql(client: TestClient, query: str, token: str = ADMIN, **variables: Any) -> dict[str, Any]:
    answer = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def start(
    client: TestClient,
    fault: str,
    params: dict[str, Any],
    selector: dict[str, Any],
    token: str = ADMIN,
) -> dict[str, Any]:
    return gql(
        client,
        Q.START_RUN,
        token,
        input={
            "faultType": fault,
            "backend": "lab",
            "params": params,
            "selector": {"agents": ["box"], **selector},
            "durationSeconds": 30,
        },
    )["startRun"]


def run_count(client: TestClient) -> int:
    return int(gql(client, Q.RUN_COUNT)["runs"]["totalCount"])


def token(client: TestClient, role: str) -> str:
    made = gql(client, CREATE_TOKEN, name=f"{role}-{uuid.uuid4().hex[:6]}", role=role)
    return str(made["createApiToken"]["token"])


@pytest.mark.parametrize(
    ("fault", "params", "field"),
    [
        ("native/disk-fill", {"percent": 80}, "percent"),
        ("native/disk-fill", {"bytes": 1 << 30}, "bytes"),
        ("native/io-stress", {"workers": 2, "bytes_per_worker": 32 << 20}, "bytes_per_worker"),
        ("native/memory-stress", {"percent": 95}, "percent"),
        ("native/cpu-stress", {"workers": 3, "load_percent": 1}, "workers"),
    ],
)
def test_params_over_the_agents_guards_are_refused_before_anything_is_stored(
    hub, guarded, small_fs, fault, params, field
):
    client, sent = hub
    if fault in ("native/disk-fill", "native/io-stress"):
        params = {"path": str(small_fs), **params}
    answer = start(client, fault, params, {})
    assert answer["__typename"] == "InvalidInputError", answer
    assert answer["field"] == ["params", field]
    assert answer["message"].startswith("agent box: ")
    assert run_count(client) == 0 and sent == []
    with guarded.client() as api:
        assert api.get("/v1/executions").json()["executions"] == []


def test_params_within_the_guards_are_accepted(hub, small_fs):
    client, sent = hub
    answer = start(client, "native/disk-fill", {"path": str(small_fs), "percent": 50}, {})
    assert answer["__typename"] == "Run", answer
    assert sent == [answer["id"]]


def test_an_operator_may_not_set_include_protected_and_nothing_is_stored(hub, sleeper):
    client, sent = hub
    operator = token(client, "operator")
    answer = start(
        client,
        "native/process-pause",
        {},
        {"pid": sleeper.pid, "include_protected": True},
        operator,
    )
    assert answer["__typename"] == "ForbiddenError", answer
    assert answer["field"] == ["selector", "include_protected"]
    assert run_count(client) == 0 and sent == []
    refused = gql(client, AUDIT)["auditLog"][0]
    assert refused["result"] == "FORBIDDEN" and "include_protected" in refused["message"]
    saved = gql(
        client,
        """mutation($input: CreateExperimentInput!) { createExperiment(input: $input) {
          __typename ... on Error { code field } } }""",
        operator,
        input={
            "name": "protected",
            "faultType": "native/process-pause",
            "backend": "lab",
            "params": {},
            "selector": {"agents": ["box"], "pid": 1, "include_protected": True},
            "durationSeconds": 30,
        },
    )["createExperiment"]
    assert saved == {
        "__typename": "ForbiddenError",
        "code": "FORBIDDEN",
        "field": ["selector", "include_protected"],
    }
    # the default, spelt out, is no override
    plain = start(
        client,
        "native/process-pause",
        {},
        {"pid": sleeper.pid, "include_protected": False},
        operator,
    )
    assert plain["__typename"] == "Run", plain


def test_an_admins_use_of_include_protected_is_audited_and_recorded_on_the_run(hub, sleeper):
    client, _sent = hub
    admin = token(client, "admin")
    answer = start(
        client, "native/process-pause", {}, {"pid": sleeper.pid, "include_protected": True}, admin
    )
    assert answer["__typename"] == "Run", answer
    entry = gql(client, AUDIT)["auditLog"][0]
    assert entry["result"] == "ok" and entry["role"] == "admin"
    assert entry["message"] == "admin override used: selector.include_protected"
    events = gql(client, Q.RUN, id=answer["id"])["run"]["events"]
    assert any(e["kind"] == "override" and "include_protected" in e["reason"] for e in events)
    gql(client, Q.ABORT, id=answer["id"])  # no worker: it never reaches the process
