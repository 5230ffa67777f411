"""What one request may cost and what a malformed one gets: limits refused before any
resolver runs, bad bodies a 400 saying why, nothing about the schema without a token.
Over real HTTP through the FastAPI app (TestClient), as test_api_validation does."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect

from chaoshub.api.app import create_app
from chaoshub.api.error_log import HubSchema
from chaoshub.api.schema import build_schema
from chaoshub.services import auth
from chaoshub.store import models
from tests.support.stack import in_process_runtime

ADMIN = "limits-admin-token"


def _client(tmp_path: Path, **overrides: Any) -> Iterator[TestClient]:
    runtime = in_process_runtime(tmp_path, admin=ADMIN, **overrides)
    with TestClient(create_app(runtime, lambda *_: None)) as client:
        client.runtime = runtime  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path)


def post(client: TestClient, query: str, token: str | None = ADMIN, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/graphql", json={"query": query, **body}, headers=headers)


def messages(response: Any) -> str:
    return " ".join(e["message"] for e in response.json().get("errors") or [])


class CountingTool:
    """A protocol-v1 server that counts every request (it only needs to be reached)."""

    def __init__(self) -> None:
        self.requests = 0
        tool = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tool.requests += 1
                body = json.dumps({"ok": True, "version": "1", "faults": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tool(client: TestClient) -> Iterator[CountingTool]:
    server = CountingTool()
    try:
        create = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
          __typename ... on Error { message } } }"""
        config = {"url": server.url, "token": "t"}
        r = post(
            client, create, variables={"input": {"name": "h", "adapter": "http", "config": config}}
        )
        assert r.json()["data"]["createBackend"]["__typename"] == "Backend", r.text
        yield server
    finally:
        server.close()


def aliased(field: str, n: int) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(n)) + " }"


HEALTH = 'backendHealth(name: "h") { ok }'


def test_500_aliased_backend_health_refused_fast_without_calling_the_tool(
    client: TestClient, tool: CountingTool
) -> None:
    before = tool.requests
    started = time.monotonic()
    r = post(client, aliased(HEALTH, 500))
    elapsed = time.monotonic() - started
    assert r.json().get("data") is None, r.text
    assert any(w in messages(r) for w in ("tokens", "aliases", "call a tool")), r.text
    assert tool.requests == before
    assert elapsed < 5, elapsed  # generous: refused at validation, not after 500 calls


def test_expensive_fields_per_request_are_bounded_below_the_alias_limit(
    client: TestClient, tool: CountingTool
) -> None:
    before = tool.requests
    r = post(client, aliased(HEALTH, 6))  # 6 aliases pass the alias limit; 6 > 5 tool calls
    assert r.json().get("data") is None, r.text
    assert "at most 5 per request" in messages(r), r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert tool.requests == before
    ok = post(client, aliased(HEALTH, 5))
    assert not ok.json().get("errors"), ok.text
    assert tool.requests > before


def test_discover_targets_counts_as_expensive(client: TestClient) -> None:
    field = 'discoverTargets(input: {faultType: "x", backend: "y", selector: {}}) { __typename }'
    r = post(client, aliased(field, 6))
    assert "at most 5 per request" in messages(r), r.text


def test_each_token_has_a_budget_of_tool_calls_per_minute(tmp_path: Path) -> None:
    for client in _client(tmp_path, expensive_per_minute=4):
        server = CountingTool()
        try:
            config = {"url": server.url, "token": "t"}
            create = "mutation($input: CreateBackendInput!) { createBackend(input: $input) { __typename } }"
            post(
                client,
                create,
                variables={"input": {"name": "h", "adapter": "http", "config": config}},
            )
            assert not post(client, aliased(HEALTH, 4)).json().get("errors")
            calls = server.requests
            r = post(client, aliased(HEALTH, 1))
            assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED", r.text
            assert "at most 4 a minute" in messages(r)
            assert server.requests == calls
            with client.runtime.session() as s:  # type: ignore[attr-defined]
                _, other = auth.create_token(s, "other", "viewer")
            assert not post(client, aliased(HEALTH, 1), token=other).json().get("errors")
        finally:
            server.close()


def test_query_depth_is_limited(tmp_path: Path) -> None:
    # the schema has no cycles, so depth is shown with a limit lower than its deepest path
    for client in _client(tmp_path, max_query_depth=3):
        assert not post(client, "{ runs { edges { node { id } } } }").json().get("errors")
        r = post(client, "{ runs { edges { node { targets { label } } } } }")
        assert r.json().get("data") is None
        assert "exceeds maximum operation depth of 3" in messages(r), r.text


def test_tokens_are_limited(client: TestClient) -> None:
    r = post(client, "{ " + "viewer { name } " * 2000 + "}")
    assert r.json().get("data") is None
    assert "token" in messages(r).lower(), r.text


def test_a_20_mb_body_is_refused_with_413(client: TestClient) -> None:
    big = "{ viewer { name } }" + " " * 20_000_000
    r = post(client, big)
    assert r.status_code == 413, r.status_code
    assert "larger than 1000000 bytes" in messages(r)


def test_a_streamed_body_past_the_limit_is_refused_with_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(30):
            yield b" " * 100_000

    r = client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"query": "\xff\xfe"}', "not UTF-8"),
        (b"null", "not NoneType"),
        (b"42", "not int"),
        (b"[" * 5000 + b"]" * 5000, "nested more than"),
        (
            b'{"query": "{ viewer { name } }", "variables": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "nested more than",
        ),
        (b'{"query": 3}', "query must be a string"),
        (b'{"query": "{ viewer { name } }", "variables": [1]}', "variables must be an object"),
        (b"{not json", "not JSON"),
    ],
)
def test_a_malformed_graphql_body_is_a_400_saying_why(
    client: TestClient, raw: bytes, says: str
) -> None:
    r = client.post(
        "/graphql",
        content=raw,
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert says in messages(r), r.text


def test_two_operations_without_operation_name_are_refused(client: TestClient) -> None:
    doc = 'query A { viewer { name } } mutation B { haltAll(reason: "x") { __typename } }'
    r = post(client, doc)
    assert r.status_code == 400, r.text
    assert "operationName required" in messages(r)
    named = post(client, doc, operationName="A")
    assert named.json()["data"] == {"viewer": {"name": "bootstrap-admin"}}, named.text


def test_a_bad_cursor_is_a_typed_error_naming_the_argument(client: TestClient) -> None:
    for query in (
        '{ runs(after: "bm90LWEtY3Vyc29y") { totalCount } }',  # base64 of "not-a-cursor"
        '{ runs(after: "!!!") { totalCount } }',
        '{ events(after: "bm90LWEtY3Vyc29y") { totalCount } }',
    ):
        r = post(client, query)
        error = r.json()["errors"][0]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}, r.text
        assert "after is not a cursor" in error["message"]
        assert "Invalid isoformat" not in r.text and "invalid literal" not in r.text


def test_resolver_errors_are_one_log_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = " ".join(f'a{i}: runs(after: "!!!") {{ totalCount }}' for i in range(20))
    for _ in range(3):
        assert post(client, "{ " + bad + " }").json()["errors"]
    lines = [r for r in caplog.records if "after is not a cursor" in r.getMessage()]
    assert len(lines) == 3, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None for r in lines)
    assert not [r for r in caplog.records if r.name == "strawberry.execution"]


INTROSPECTION = "{ __schema { queryType { name } } }"


def test_schema_needs_a_token(client: TestClient) -> None:
    assert client.get("/graphql", params={"query": INTROSPECTION}).status_code == 401
    assert client.get("/graphql", params={"query": "{ viewer { name } }"}).status_code == 401
    assert post(client, INTROSPECTION, token=None).status_code == 401
    for path in ("/docs", "/openapi.json", "/redoc"):
        r = client.get(path)
        assert r.status_code == 404 or "swagger" not in r.text.lower(), path
        assert "openapi" not in r.text.lower(), path
    authed = client.get(
        "/graphql", params={"query": INTROSPECTION}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert authed.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    ide = client.get("/graphql", headers={"Accept": "text/html"})
    assert ide.status_code == 200


def test_public_schema_setting_opens_the_openapi_pages(tmp_path: Path) -> None:
    for client in _client(tmp_path, public_schema=True):
        assert client.get("/openapi.json").json()["info"]["title"] == "Chaos Hub"
        assert client.get("/docs").status_code == 200


def test_a_nul_in_the_console_path_is_not_a_500(client: TestClient) -> None:
    r = client.get("/%00")
    assert 400 <= r.status_code < 500, r.status_code


def test_an_unexpected_error_keeps_one_traceback_a_minute(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    class SurpriseForThisTest(Exception):
        pass

    caplog.set_level(logging.INFO)
    hub_schema = build_schema(client.runtime.settings)  # type: ignore[attr-defined]
    assert isinstance(hub_schema, HubSchema)
    for _ in range(3):
        errors = [
            GraphQLError("boom", original_error=SurpriseForThisTest(f"n{i}")) for i in range(5)
        ]
        hub_schema.process_errors(errors)
    lines = [r for r in caplog.records if "SurpriseForThisTest" in r.getMessage()]
    assert len(lines) == 3
    assert [r.exc_info is not None for r in lines] == [True, False, False]


def test_over_the_websocket_several_operations_need_a_name_and_limits_hold(
    client: TestClient,
) -> None:
    two = 'subscription A { runUpdates(runId: "x") { phase } } subscription B { events { kind } }'
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": two}})
        refused = ws.receive_json()
        assert refused["type"] == "error", refused
        assert "operationName required" in refused["payload"][0]["message"]
        ws.send_json(
            {"id": "2", "type": "subscribe", "payload": {"query": two, "operationName": "A"}}
        )
        ran = ws.receive_json()
        assert ran["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND", ran
        assert ws.receive_json() == {"id": "2", "type": "complete"}
        ws.send_json({"id": "3", "type": "subscribe", "payload": {"query": aliased(HEALTH, 40)}})
        limited = ws.receive_json()
        assert limited["type"] == "error", limited
        assert "Allowed: 30" in limited["payload"][0]["message"], limited
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "4", "type": "subscribe", "payload": {"query": aliased(HEALTH, 500)}})
        with pytest.raises(WebSocketDisconnect) as closed:  # the protocol's answer to a
            ws.receive_json()  # document that cannot be parsed
        assert closed.value.code == 4400 and "5000 tokens" in closed.value.reason


def test_mutations_that_ask_a_tool_are_capped_per_request(client: TestClient) -> None:
    start = 'startRun(input: {faultType: "memory/latency", backend: "nope"}) { __typename }'
    r = post(client, "mutation " + aliased(start, 6))
    assert r.json().get("data") is None, r.text
    assert "at most 5 per request" in messages(r), r.text
    with client.runtime.session() as s:  # type: ignore[attr-defined]
        assert s.query(models.AuditEntry).filter_by(action="startRun").count() == 0


def test_graphql_over_get_with_deep_variables_is_a_400(client: TestClient) -> None:
    r = client.get(
        "/graphql",
        params={"query": "{ viewer { name } }", "variables": "[" * 3000 + "]" * 3000},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 400, r.text
    assert "variables is nested more than 64 deep" in messages(r)
