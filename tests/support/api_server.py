"""The API alone, served by uvicorn in a thread over real HTTP and websockets: for tests
about the API's own behaviour (auth, agents' endpoints) that need no worker."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from chaoshub.api.app import create_app
from chaoshub.runtime import Runtime
from chaoshub.store import models
from tests.support.stack import free_port, in_process_runtime, wait_for

ADMIN = "agent-tokens-admin-" + uuid.uuid4().hex

CREATE_PLAIN_TOKEN = """mutation($name: String!, $role: String!) {
  createApiToken(name: $name, role: $role) {
    __typename ... on CreatedApiToken { token apiToken { id } } ... on Error { code message } } }"""
CREATE_TOKEN = """mutation($name: String!, $role: String!, $agentName: String) {
  createApiToken(name: $name, role: $role, agentName: $agentName) {
    __typename ... on CreatedApiToken { token apiToken { id agentName } }
    ... on Error { code message field } } }"""
REVOKE = """mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }"""
AUDIT = """query($action: String) { auditLog(first: 500, action: $action) {
  actor role action subject result message input } }"""
EVENTS = """{ events(first: 100) { edges { node { kind agent reason data } } } }"""
TOKENS = "{ apiTokens { id name agentName } }"


@dataclass
class Hub:
    url: str
    runtime: Runtime

    def gql(self, query: str, token: str = ADMIN, **variables: Any) -> httpx.Response:
        return httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = self.gql(query, **variables)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    def token(self, role: str = "agent", agent_name: str | None = None) -> tuple[str, str]:
        name = f"t-{uuid.uuid4().hex[:6]}"
        if agent_name is None:
            made = self.data(CREATE_PLAIN_TOKEN, name=name, role=role)["createApiToken"]
        else:
            made = self.data(CREATE_TOKEN, name=name, role=role, agentName=agent_name)[
                "createApiToken"
            ]
        assert made["__typename"] == "CreatedApiToken", made
        return made["token"], made["apiToken"]["id"]

    def post(self, path: str, body: Any, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def register(self, token: str | None, name: str, **extra: Any) -> httpx.Response:
        body = {
            "name": name,
            "url": f"http://127.0.0.1:{free_port()}",
            "api_token": "agent-own-secret",
            "version": "test",
            "labels": {},
            "capabilities": {},
            **extra,
        }
        return self.post("/agents/register", body, token)

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        return self.data(AUDIT, action=action)["auditLog"]  # type: ignore[no-any-return]

    def agent(self, name: str) -> models.Agent | None:
        with self.runtime.session() as s:
            row = s.scalars(select(models.Agent).where(models.Agent.name == name)).one_or_none()
            if row is not None:
                s.expunge(row)
            return row


@contextlib.contextmanager
def serve(tmp_path: Path, **overrides: Any) -> Iterator[Hub]:
    runtime = in_process_runtime(
        tmp_path, admin=ADMIN, **{"ws_token_recheck_seconds": 1.0, **overrides}
    )
    app = create_app(runtime, lambda run_id, adapter, reason: None)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, what="the API server")
        yield Hub(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
