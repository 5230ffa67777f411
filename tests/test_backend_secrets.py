"""No backend secret leaves the API, to any role, at any depth, over HTTP or websocket:
secrets read as "<set>", updates keep them, the audit log masks them. The hub here is the
real app behind uvicorn; the native and http backends point at a real injector process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from chaoshub import registry, secrets
from chaoshub.api.app import create_app
from chaoshub.errors import InvalidInput
from chaoshub.execution.driver import RunDriver
from chaoshub.runtime import Runtime
from tests.native.native_peers import Injector, proc_state
from tests.support import queries as Q
from tests.support.stack import free_port, in_process_runtime, wait_for

ADMIN = "secrets-admin-" + uuid.uuid4().hex

AWS_KEY_ID = "AKIA" + uuid.uuid4().hex[:16].upper()
AWS_SECRET = "aws-secret-" + uuid.uuid4().hex
AWS_SESSION = "aws-session-" + uuid.uuid4().hex
EXTERNAL_ID = "external-" + uuid.uuid4().hex
KUBE_TOKEN = "kube-token-" + uuid.uuid4().hex
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:9"}}}}]
users: [{{name: u, user: {{token: {KUBE_TOKEN}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""

BACKENDS = "{ backends { id name adapter config } }"
UPDATE = """mutation($input: UpdateBackendInput!) { updateBackend(input: $input) {
  __typename ... on Backend { name config } ... on Error { code message field } } }"""
CREATE = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { name config } ... on Error { code message field } } }"""
HEALTH = "query($name: String!) { backendHealth(name: $name) { ok message faults { reason } } }"
EVERYTHING = """{ agents { name url labels capabilities }
  events(first: 100) { edges { node { kind reason data } } }
  runs(first: 20) { edges { node { id error params selector
    targets { label attributes nativeStatus messages error handle metrics }
    events { kind reason data } } } } }"""


@dataclass
class Hub:
    url: str
    runtime: Runtime
    injector: Injector
    tokens: dict[str, str]

    def raw(self, query: str, role: str = "admin", **variables: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
        )

    def __call__(self, query: str, role: str = "admin", **variables: Any) -> dict[str, Any]:
        response = self.raw(query, role, **variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    def secrets(self) -> list[str]:
        return [self.injector.token, AWS_KEY_ID, AWS_SECRET, AWS_SESSION, EXTERNAL_ID, KUBE_TOKEN]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("secrets")
    (tmp / "inj").mkdir()
    injector = Injector(state_dir=tmp / "inj").start()
    runtime = in_process_runtime(tmp, admin=ADMIN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, lambda *a: None), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, what="uvicorn")
        h = Hub(f"http://127.0.0.1:{port}", runtime, injector, {"admin": ADMIN})
        for role in ("viewer", "operator"):
            made = h(
                "mutation($n: String!, $r: String!) { createApiToken(name: $n, role: $r) {"
                " ... on CreatedApiToken { token } } }",
                n=f"{role}-{uuid.uuid4().hex[:6]}",
                r=role,
            )
            h.tokens[role] = made["createApiToken"]["token"]
        _make_backends(h)
        yield h
    finally:
        server.should_exit = True
        thread.join(15)
        injector.stop()


def _make_backends(h: Hub) -> None:
    inj = h.injector
    configs = {
        "lab": (
            "native",
            {"static_agents": [{"name": "box", "url": inj.url, "token": inj.token}]},
        ),
        "proto": ("http", {"url": inj.url, "token": inj.token}),
        "aws": (
            "aws-ssm",
            {
                "region": "eu-west-1",
                "endpoint_url": "http://127.0.0.1:9",
                "role_arn": "arn:aws:iam::123456789012:role/chaos",
                "external_id": EXTERNAL_ID,
                "aws_access_key_id": AWS_KEY_ID,
                "aws_secret_access_key": AWS_SECRET,
                "aws_session_token": AWS_SESSION,
            },
        ),
        "kube": ("litmus", {"kubeconfig_data": KUBECONFIG, "request_timeout_seconds": 2}),
    }
    for name, (adapter, config) in configs.items():
        made = h(CREATE, input={"name": name, "adapter": adapter, "config": config})
        assert made["createBackend"]["__typename"] == "Backend", made


def _no_secret(h: Hub, text: str) -> None:
    for value in h.secrets():
        assert value not in text, f"a secret came back: …{text[max(0, text.find(value) - 80) :]}"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_backend_config_shows_secrets_as_set_to_every_role(hub: Hub, role: str) -> None:
    response = hub.raw(BACKENDS, role)
    _no_secret(hub, response.text)
    config = {b["name"]: b["config"] for b in response.json()["data"]["backends"]}
    assert config["lab"]["static_agents"] == [
        {"name": "box", "url": hub.injector.url, "token": secrets.SET}
    ]
    assert config["proto"] == {"url": hub.injector.url, "token": secrets.SET}
    assert config["aws"]["external_id"] == secrets.SET
    assert config["aws"]["aws_secret_access_key"] == secrets.SET
    assert config["aws"]["region"] == "eu-west-1"
    assert config["kube"] == {"kubeconfig_data": secrets.SET, "request_timeout_seconds": 2}


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_health_agents_events_and_runs_carry_no_secret(
    hub: Hub, role: str, sleeper: subprocess.Popen[bytes]
) -> None:
    run = hub(
        Q.START_RUN,
        input={
            "faultType": "native/process-pause",
            "backend": "lab",
            "params": {},
            "selector": {"agents": ["box"], "pid": sleeper.pid},
            "durationSeconds": 60,
        },
    )["startRun"]
    assert run["__typename"] == "Run", run
    try:
        RunDriver(hub.runtime, run["id"]).advance()
        assert proc_state(sleeper.pid) == "T"
    finally:
        hub(Q.ABORT, id=run["id"])
        RunDriver(hub.runtime, run["id"]).advance()
    assert proc_state(sleeper.pid) != "T"
    for name in ("lab", "proto", "aws", "kube"):
        _no_secret(hub, hub.raw(HEALTH, role, name=name).text)
    _no_secret(hub, hub.raw(EVERYTHING, role).text)
    _no_secret(hub, hub.raw(Q.RUN, role, id=run["id"]).text)


async def _ws(url: str, token: str, query: str, variables: dict[str, Any], n: int) -> list[str]:
    seen: list[str] = []
    async with websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        while len(seen) < n:
            message = await asyncio.wait_for(ws.recv(), timeout=30)
            assert isinstance(message, str)
            seen.append(message)
            if json.loads(message)["type"] in ("complete", "error"):
                break
    return seen


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_nothing_secret_over_the_websocket(
    hub: Hub, role: str, sleeper: subprocess.Popen[bytes]
) -> None:
    token = hub.tokens[role]
    answers = asyncio.run(_ws(hub.url, token, BACKENDS, {}, 2))
    assert '"<set>"' in answers[0] and json.loads(answers[0])["type"] == "next"
    for text in answers:
        _no_secret(hub, text)

    run = hub(
        Q.START_RUN,
        input={
            "faultType": "native/process-pause",
            "backend": "lab",
            "params": {},
            "selector": {"agents": ["box"], "pid": sleeper.pid},
            "durationSeconds": 60,
        },
    )["startRun"]
    try:
        RunDriver(hub.runtime, run["id"]).advance()
    finally:
        hub(Q.ABORT, id=run["id"])
        RunDriver(hub.runtime, run["id"]).advance()
    updates = (
        "subscription($id: ID!) { runUpdates(runId: $id) { phase error targets { handle"
        " messages error attributes } events { reason data } } }"
    )
    for text in asyncio.run(_ws(hub.url, token, updates, {"id": run["id"]}, 1)):
        assert '"next"' in text
        _no_secret(hub, text)


def _update(hub: Hub, name: str, config: dict[str, Any]) -> dict[str, Any]:
    ids = {b["name"]: b["id"] for b in hub(BACKENDS)["backends"]}
    answer = hub(UPDATE, input={"id": ids[name], "config": config})["updateBackend"]
    return answer  # type: ignore[no-any-return]


def _stored(hub: Hub, name: str) -> dict[str, Any]:
    from sqlalchemy import select

    from chaoshub.store.models import Backend

    with hub.runtime.session() as s:
        row = s.scalars(select(Backend).where(Backend.name == name)).one()
        return dict(row.config)


def test_an_update_keeps_secrets_sent_back_as_set_or_left_out(hub: Hub) -> None:
    shown = {b["name"]: b["config"] for b in hub(BACKENDS)["backends"]}
    # the console's round trip: what it was shown, with one plain field changed
    sent = {**shown["lab"], "timeout": 7}
    answer = _update(hub, "lab", sent)
    assert answer["__typename"] == "Backend", answer
    assert answer["config"]["static_agents"][0]["token"] == secrets.SET
    assert _stored(hub, "lab")["static_agents"][0]["token"] == hub.injector.token
    assert _stored(hub, "lab")["timeout"] == 7

    # left out: kept
    answer = _update(hub, "proto", {"url": hub.injector.url, "timeout": 9})
    assert answer["__typename"] == "Backend", answer
    assert _stored(hub, "proto")["token"] == hub.injector.token

    # a new value replaces it; null clears an optional one; validation sees the merged config
    aws = {k: v for k, v in shown["aws"].items() if k != "aws_session_token"}
    answer = _update(hub, "aws", {**aws, "external_id": "new-" + EXTERNAL_ID, "profile": None})
    assert answer["__typename"] == "InvalidInputError", answer  # profile: null is not a string
    assert _stored(hub, "aws")["external_id"] == EXTERNAL_ID  # nothing changed
    answer = _update(hub, "aws", {**aws, "external_id": "new-" + EXTERNAL_ID, "role_arn": None})
    assert answer["__typename"] == "InvalidInputError", answer
    answer = _update(
        hub, "aws", {**aws, "external_id": "new-" + EXTERNAL_ID, "aws_session_token": None}
    )
    assert answer["__typename"] == "Backend", answer
    stored = _stored(hub, "aws")
    assert stored["external_id"] == "new-" + EXTERNAL_ID
    assert stored["aws_secret_access_key"] == AWS_SECRET and "aws_session_token" not in stored
    _update(hub, "aws", {**aws, "external_id": EXTERNAL_ID, "aws_session_token": AWS_SESSION})

    # http requires its token: clearing it is refused, naming the field
    answer = _update(hub, "proto", {"url": hub.injector.url, "token": None})
    assert answer["__typename"] == "InvalidInputError" and answer["field"] == ["config"], answer
    assert "token" in answer["message"]
    assert _stored(hub, "proto")["token"] == hub.injector.token


def test_the_set_marker_with_nothing_stored_is_refused(hub: Hub) -> None:
    answer = hub(
        CREATE,
        input={
            "name": "no-token",
            "adapter": "http",
            "config": {"url": hub.injector.url, "token": secrets.SET},
        },
    )["createBackend"]
    assert answer["__typename"] == "InvalidInputError", answer
    assert answer["field"] == ["config", "token"]


def test_a_refused_secret_is_not_echoed_in_the_error(hub: Hub) -> None:
    bad = "x" * 3000 + AWS_SECRET
    answer = hub(
        CREATE,
        input={
            "name": "aws-bad",
            "adapter": "aws-ssm",
            "config": {"region": "eu-west-1", "external_id": bad},
        },
    )["createBackend"]
    assert answer["__typename"] == "InvalidInputError" and answer["field"] == [
        "config",
        "external_id",
    ]
    assert AWS_SECRET not in answer["message"]
    audit = hub.raw("{ auditLog(first: 5) { action input message } }").text
    assert AWS_SECRET not in audit


def test_the_audit_log_masks_secrets(hub: Hub) -> None:
    text = hub.raw("{ auditLog(first: 200) { action input message } }").text
    assert "createBackend" in text and "updateBackend" in text
    _no_secret(hub, text)


def test_every_adapter_marks_its_secret_looking_fields_write_only() -> None:
    def walk(schema: Any, path: str, bad: list[str]) -> None:
        if isinstance(schema, dict):
            for name, sub in (schema.get("properties") or {}).items():
                if secrets.looks_secret(name) and not (
                    isinstance(sub, dict) and sub.get("writeOnly") is True
                ):
                    bad.append(f"{path}.{name}")
                walk(sub, f"{path}.{name}", bad)
            for key in ("items", "additionalProperties"):
                walk(schema.get(key), f"{path}[]", bad)
            for key in ("oneOf", "anyOf", "allOf", "prefixItems"):
                for sub in schema.get(key) or []:
                    walk(sub, path, bad)

    bad: list[str] = []
    names = registry.names()
    assert {"native", "http", "toxiproxy", "docker", "aws-ssm", "litmus", "chaos-mesh"} <= set(
        names
    ), names
    for name in names:
        walk(dict(registry.get(name).config_schema), name, bad)
    assert bad == [], f"secret-looking fields not marked writeOnly: {bad}"


def test_a_secret_an_adapter_forgot_to_mark_is_masked_by_its_name() -> None:
    schema = {"type": "object", "properties": {"nested": {"type": "array"}}}
    config = {"nested": [{"password": "p", "apiKey": "k", "ok": 1}], "Credentials": {"a": 1}}
    assert secrets.mask(config, schema) == {
        "nested": [{"password": secrets.SET, "apiKey": secrets.SET, "ok": 1}],
        "Credentials": secrets.SET,
    }


def test_a_refused_variable_is_not_quoted_with_its_secret(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    # no adapter: graphql-core refuses the variable and would quote it whole
    response = hub.raw(CREATE, input={"name": "half", "config": {"token": AWS_SECRET}})
    assert response.status_code == 200 and response.json()["errors"], response.text
    assert AWS_SECRET not in response.text
    assert AWS_SECRET not in caplog.text


def test_list_items_keep_their_secrets_by_name_when_reordered() -> None:
    schema = registry.get("native").config_schema
    stored = {
        "static_agents": [
            {"name": "a", "url": "http://a:1", "token": "ta"},
            {"name": "b", "url": "http://b:1", "token": "tb"},
        ]
    }
    shown = secrets.mask(stored, schema)
    sent = {"static_agents": [shown["static_agents"][1], shown["static_agents"][0]]}
    assert secrets.merge(stored, sent, schema) == {
        "static_agents": [stored["static_agents"][1], stored["static_agents"][0]]
    }
    # a new agent sent with the marker has nothing to keep
    fresh = {"static_agents": [{"name": "c", "url": "http://c:1", "token": secrets.SET}]}
    with pytest.raises(InvalidInput) as err:
        secrets.merge(stored, fresh, schema)
    assert err.value.field == ["config", "static_agents", "0", "token"]
