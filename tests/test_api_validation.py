"""Bad input gets a typed error naming the field and changes nothing; auth refuses
strangers and viewers. The API runs in-process here (no worker needed: nothing starts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chaoshub.api.app import create_app
from chaoshub.runtime import Runtime
from chaoshub.services import auth
from tests.support import queries as Q
from tests.support.stack import in_process_runtime

ADMIN = "validation-admin-token"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, list[tuple[str, str, str]]]]:
    runtime = in_process_runtime(tmp_path, admin=ADMIN)
    sent: list[tuple[str, str, str]] = []
    app = create_app(
        runtime, lambda run_id, adapter, reason: sent.append((run_id, adapter, reason))
    )
    with TestClient(app) as client:
        yield client, runtime, sent


def gql(client: TestClient, query: str, token: str | None = ADMIN, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def data(client: TestClient, query: str, token: str = ADMIN, **variables: Any) -> dict[str, Any]:
    response = gql(client, query, token, **variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def make_backend(client: TestClient, name: str = "mem") -> None:
    result = data(client, Q.CREATE_BACKEND, input={"name": name, "adapter": "memory", "config": {}})
    assert result["createBackend"]["__typename"] == "Backend", result


def run_count(client: TestClient) -> int:
    return int(data(client, Q.RUN_COUNT)["runs"]["totalCount"])


GOOD = {
    "faultType": "memory/latency",
    "backend": "mem",
    "params": {"latency_ms": 10},
    "selector": {"names": ["alpha"]},
    "durationSeconds": 5,
}


@pytest.mark.parametrize(
    ("change", "error_type", "field"),
    [
        ({"faultType": "memory/latenzy"}, "NotFoundError", ["faultType"]),
        ({"params": {"latency_ms": -1}}, "InvalidInputError", ["params", "latency_ms"]),
        ({"params": {"latency_ms": "slow"}}, "InvalidInputError", ["params", "latency_ms"]),
        ({"params": {"latency": 5}}, "InvalidInputError", ["params", "latency"]),
        ({"backend": "nope"}, "NotFoundError", ["backend"]),
        ({"selector": {"names": ["omega"]}}, "NotFoundError", ["selector", "names"]),
        ({"selector": {"pattern": "^zzz"}}, "NotFoundError", ["selector"]),
        ({"selector": {"pattern": "("}}, "InvalidInputError", ["selector", "pattern"]),
        ({"selector": {}}, "InvalidInputError", ["selector", "names"]),
        ({"durationSeconds": None}, "InvalidInputError", ["durationSeconds"]),
        ({"durationSeconds": -3}, "InvalidInputError", ["durationSeconds"]),
        ({"params": [1, 2]}, "InvalidInputError", ["params"]),
    ],
)
def test_bad_start_run_input_is_a_typed_error_naming_the_field_and_stores_nothing(
    env: Any, change: dict[str, Any], error_type: str, field: list[str]
) -> None:
    client, _, sent = env
    make_backend(client)
    result = data(client, Q.START_RUN, input={**GOOD, **change})["startRun"]
    assert result["__typename"] == error_type, result
    assert result["field"] == field, result
    assert result["message"]
    assert run_count(client) == 0
    assert sent == []


def test_a_fault_type_typo_gets_a_did_you_mean(env: Any) -> None:
    client, _, _ = env
    make_backend(client)
    result = data(client, Q.START_RUN, input={**GOOD, "faultType": "memory/latenzy"})["startRun"]
    assert "did you mean 'memory/latency'" in result["message"]


def test_a_backend_of_another_adapter_is_refused(env: Any) -> None:
    from chaoshub import registry
    from chaoshub.testing.memory import MemoryAdapter

    class OtherAdapter(MemoryAdapter):
        name = "other"

    registry.register("other", OtherAdapter)
    try:
        client, _, sent = env
        data(
            client, Q.CREATE_BACKEND, input={"name": "elsewhere", "adapter": "other", "config": {}}
        )
        result = data(client, Q.START_RUN, input={**GOOD, "backend": "elsewhere"})["startRun"]
        assert result["__typename"] == "InvalidInputError" and result["field"] == ["backend"]
        assert "needs a backend of adapter 'memory'" in result["message"]
        assert run_count(client) == 0 and sent == []
    finally:
        registry.unregister("other")
    bad = data(
        client, Q.CREATE_BACKEND, input={"name": "x", "adapter": "no-such-adapter", "config": {}}
    )
    assert bad["createBackend"]["__typename"] == "NotFoundError"
    assert bad["createBackend"]["field"] == ["adapter"]


def test_backend_config_is_validated_by_the_adapter(env: Any) -> None:
    client, _, _ = env
    bad = data(
        client,
        Q.CREATE_BACKEND,
        input={"name": "m2", "adapter": "memory", "config": {"targets": "alpha"}},
    )
    assert bad["createBackend"]["__typename"] == "InvalidInputError"
    assert bad["createBackend"]["field"] == ["config", "targets"]
    assert "m2" not in {b["name"] for b in data(client, "{ backends { name } }")["backends"]}


def test_a_good_start_run_stores_the_run_with_its_targets_and_sends_it_to_the_adapter_queue(
    env: Any,
) -> None:
    client, _, sent = env
    make_backend(client)
    result = data(client, Q.START_RUN, input={**GOOD, "selector": {"pattern": "a"}})["startRun"]
    assert result["__typename"] == "Run" and result["phase"] == "pending"
    assert [t["label"] for t in result["targets"]] == ["alpha", "beta", "gamma"]
    assert sent == [(result["id"], "memory", "inject")]


def test_no_token_is_refused_with_401_and_a_clear_message(env: Any) -> None:
    client, _, _ = env
    response = gql(client, "{ runs { totalCount } }", token=None)
    assert response.status_code == 401
    assert "Authorization" in response.json()["errors"][0]["message"]


def test_a_bad_token_is_refused_and_nothing_changes(env: Any) -> None:
    client, _, _ = env
    response = gql(
        client,
        Q.CREATE_BACKEND,
        token="chub_not-a-token",
        input={"name": "evil", "adapter": "memory", "config": {}},
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "evil" not in {b["name"] for b in data(client, "{ backends { name } }")["backends"]}


def test_a_revoked_token_is_refused(env: Any) -> None:
    client, _, _ = env
    created = data(
        client,
        'mutation { createApiToken(name: "ci", role: "operator") { '
        "... on CreatedApiToken { token apiToken { id role } } } }",
    )["createApiToken"]
    assert (
        data(client, "{ viewer { role } }", token=created["token"])["viewer"]["role"] == "operator"
    )
    data(
        client,
        "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }",
        id=created["apiToken"]["id"],
    )
    response = gql(client, "{ viewer { role } }", token=created["token"])
    assert response.status_code == 401 and "revoked" in response.json()["errors"][0]["message"]


def test_a_viewer_cannot_start_a_run_and_the_refusal_is_audited(env: Any) -> None:
    client, runtime, sent = env
    make_backend(client)
    with runtime.session() as s:
        _, viewer = auth.create_token(s, "watcher", "viewer")
    result = data(client, Q.START_RUN, token=viewer, input=GOOD)["startRun"]
    assert result["__typename"] == "ForbiddenError"
    assert "operator" in result["message"]
    assert run_count(client) == 0 and sent == []
    assert (
        data(client, "{ runs { totalCount } }", token=viewer)["runs"]["totalCount"] == 0
    )  # reading is fine
    audit = data(client, "{ auditLog { actor action result } }")["auditLog"]
    assert {"actor": "watcher", "action": "startRun", "result": "FORBIDDEN"} in audit


def test_an_operator_cannot_manage_backends_or_tokens(env: Any) -> None:
    client, runtime, _ = env
    with runtime.session() as s:
        _, operator = auth.create_token(s, "op", "operator")
    result = data(
        client,
        Q.CREATE_BACKEND,
        token=operator,
        input={"name": "b", "adapter": "memory", "config": {}},
    )["createBackend"]
    assert result["__typename"] == "ForbiddenError"
    response = gql(client, "{ apiTokens { name } }", token=operator)
    assert response.json()["errors"][0]["message"].startswith("this needs the admin role")


def test_tokens_are_stored_hashed(env: Any) -> None:
    client, runtime, _ = env
    created = data(
        client,
        'mutation { createApiToken(name: "ci", role: "viewer") { '
        "... on CreatedApiToken { token } } }",
    )["createApiToken"]["token"]
    from sqlalchemy import select

    from chaoshub.store.models import ApiToken

    with runtime.session() as s:
        stored = [t.token_hash for t in s.scalars(select(ApiToken))]
    assert created not in stored and auth.hash_token(created) in stored


def test_every_mutation_is_audited_with_secrets_redacted(env: Any) -> None:
    client, _, _ = env
    data(client, Q.CREATE_BACKEND, input={"name": "secretive", "adapter": "memory", "config": {}})
    data(client, 'mutation { createApiToken(name: "x", role: "nobody") { __typename } }')
    audit = data(client, "{ auditLog { actor action result subject } }")["auditLog"]
    assert audit[0] == {
        "actor": "bootstrap-admin",
        "action": "createApiToken",
        "result": "INVALID_INPUT",
        "subject": None,
    }
    assert audit[1] == {
        "actor": "bootstrap-admin",
        "action": "createBackend",
        "result": "ok",
        "subject": "secretive",
    }


def test_experiments_are_validated_like_runs_and_start_runs(env: Any) -> None:
    client, _, sent = env
    make_backend(client)
    create = """mutation($input: CreateExperimentInput!) { createExperiment(input: $input) {
      __typename ... on Experiment { id name backend } ... on Error { code field } } }"""
    bad = data(
        client,
        create,
        input={
            "name": "e1",
            "faultType": "memory/latency",
            "backend": "mem",
            "params": {"latency_ms": 10**9},
            "durationSeconds": 5,
        },
    )["createExperiment"]
    assert bad == {
        "__typename": "InvalidInputError",
        "code": "INVALID_INPUT",
        "field": ["params", "latency_ms"],
    }
    good = data(
        client,
        create,
        input={
            "name": "e1",
            "faultType": "memory/latency",
            "backend": "mem",
            "params": {"latency_ms": 10},
            "selector": {"names": ["beta"]},
            "durationSeconds": 5,
        },
    )["createExperiment"]
    assert good["__typename"] == "Experiment"
    started = data(client, Q.START_RUN, input={"experimentId": good["id"]})["startRun"]
    assert started["__typename"] == "Run" and started["targets"] == [
        {"label": "beta", "phase": "selected"}
    ]
    assert len(sent) == 1
    dup = data(
        client,
        create,
        input={
            "name": "e1",
            "faultType": "memory/kill",
            "backend": "mem",
            "selector": {"names": ["alpha"]},
        },
    )["createExperiment"]
    assert dup["__typename"] == "ConflictError"


def test_the_schema_has_every_public_name(env: Any) -> None:
    client, _, _ = env
    schema = data(
        client,
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } "
        "subscriptionType { fields { name } } } }",
    )["__schema"]
    names = {
        kind: {f["name"] for f in schema[kind]["fields"]}
        for kind in ("queryType", "mutationType", "subscriptionType")
    }
    assert {
        "faultTypes",
        "faultType",
        "adapters",
        "backends",
        "agents",
        "experiments",
        "experiment",
        "runs",
        "run",
        "events",
    } <= names["queryType"]
    assert {
        "createBackend",
        "updateBackend",
        "deleteBackend",
        "createExperiment",
        "updateExperiment",
        "deleteExperiment",
        "startRun",
        "abortRun",
        "pauseRun",
        "resumeRun",
        "archiveRun",
        "forceReleaseRun",
        "haltAll",
        "createApiToken",
        "revokeApiToken",
    } <= names["mutationType"]
    assert {"runUpdates", "events"} <= names["subscriptionType"]


def test_the_in_memory_adapter_appears_only_because_the_tests_registered_it(env: Any) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", "adapters"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    assert "memory" not in [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    out = subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", "faults"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    assert "memory/" not in out.stdout


def test_healthz_and_metrics(env: Any) -> None:
    client, _, _ = env
    make_backend(client)
    data(client, Q.START_RUN, input=GOOD)
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert 'chaoshub_runs{adapter="memory",phase="pending"} 1.0' in text
    assert "chaoshub_time_to_inject_seconds" in text and "chaoshub_injections_total" in text


def test_graphiql_is_served_to_a_browser(env: Any) -> None:
    client, _, _ = env
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_unique_names(env: Any) -> None:
    client, _, _ = env
    make_backend(client, "dup")
    again = data(
        client, Q.CREATE_BACKEND, input={"name": "dup", "adapter": "memory", "config": {}}
    )["createBackend"]
    assert again["__typename"] == "ConflictError" and again["field"] == ["name"]
    weird = data(
        client,
        Q.CREATE_BACKEND,
        input={"name": f"bad name {uuid.uuid4()}", "adapter": "memory", "config": {}},
    )["createBackend"]
    assert weird["__typename"] == "InvalidInputError" and weird["field"] == ["name"]


def test_runs_and_events_page_with_cursors(env: Any) -> None:
    client, _, _ = env
    make_backend(client)
    ids = [data(client, Q.START_RUN, input=GOOD)["startRun"]["id"] for _ in range(3)]
    page = (
        "query($after: String) { runs(first: 2, after: $after) {"
        " totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    first = data(client, page)["runs"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    second = data(client, page, after=first["pageInfo"]["endCursor"])["runs"]
    assert not second["pageInfo"]["hasNextPage"]
    seen = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 3
    events = data(
        client,
        '{ events(first: 2, filter: {kind: "created"}) { totalCount edges { node { kind runId } } } }',
    )
    assert events["events"]["totalCount"] == 3 and len(events["events"]["edges"]) == 2
    filtered = data(client, '{ runs(filter: {phase: ["running"]}) { totalCount } }')["runs"][
        "totalCount"
    ]
    assert filtered == 0
    bad = gql(client, '{ runs(filter: {phase: ["sideways"]}) { totalCount } }').json()
    assert "unknown phase" in bad["errors"][0]["message"]


METRIC_SAMPLES = """query($id: ID!, $since: DateTime, $last: Int) { run(id: $id) {
  metricSamples(since: $since, last: $last) { targetIndex target at values } } }"""


def test_a_runs_metric_history_is_read_through_graphql_oldest_first(
    env: Any, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from chaoshub.execution.driver import RunDriver
    from chaoshub.store.models import Run, RunMetricSample

    client, runtime, _ = env
    config = {"state_path": str(tmp_path / "mem.json")}
    data(client, Q.CREATE_BACKEND, input={"name": "mem", "adapter": "memory", "config": config})
    run_id = data(client, Q.START_RUN, input={**GOOD, "selector": {"names": ["alpha", "beta"]}})[
        "startRun"
    ]["id"]
    RunDriver(runtime, run_id).advance()  # injected: one sample per target
    with runtime.session() as s:  # let a watch add more without waiting for it
        for row in s.scalars(select(RunMetricSample)):
            row.at -= timedelta(seconds=60)
        s.get_one(Run, run_id).next_attempt_at = None
    RunDriver(runtime, run_id).advance()

    history = data(client, METRIC_SAMPLES, id=run_id)["run"]["metricSamples"]
    assert [(h["targetIndex"], h["target"], h["values"]) for h in history] == [
        (0, "alpha", {"latency_ms": 10.0}),
        (1, "beta", {"latency_ms": 10.0}),
    ] * 2
    ats = [datetime.fromisoformat(h["at"]) for h in history]
    assert ats == sorted(ats)
    newest = data(client, METRIC_SAMPLES, id=run_id, last=2)["run"]["metricSamples"]
    assert newest == history[2:]
    since = data(client, METRIC_SAMPLES, id=run_id, since=history[1]["at"])["run"]
    assert since["metricSamples"] == history[2:]


@pytest.mark.parametrize("last", [0, -1, 2001])
def test_metric_samples_last_out_of_range_is_refused_naming_the_field(env: Any, last: int) -> None:
    client, _, _ = env
    make_backend(client)
    run_id = data(client, Q.START_RUN, input=GOOD)["startRun"]["id"]
    body = gql(client, METRIC_SAMPLES, id=run_id, last=last).json()
    assert body["errors"][0]["message"] == "last must be between 1 and 2000"
    assert body["errors"][0]["path"] == ["run", "metricSamples"]
