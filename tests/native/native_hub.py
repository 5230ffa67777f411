"""An in-process hub (the real FastAPI app, SQLite, no worker) with one ``native`` backend
whose static agent is a real injector: for tests of what the hub refuses before any run
is stored or any tool is asked to inject."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from native_peers import Injector

from chaoshub.api.app import create_app
from chaoshub.runtime import Runtime
from tests.support import queries as Q
from tests.support.stack import in_process_runtime


@contextmanager
def hub_with_agent(
    data_dir: Path, agent: Injector, *, admin: str, agent_name: str
) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = in_process_runtime(data_dir, admin=admin)
    with TestClient(create_app(runtime, lambda *a: None)) as client:
        made = call(
            client,
            admin,
            Q.CREATE_BACKEND,
            input={
                "name": "hosts",
                "adapter": "native",
                "config": {
                    "static_agents": [{"name": agent_name, "url": agent.url, "token": agent.token}]
                },
            },
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        yield client, runtime


def call(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    """The answer's data; a GraphQL error fails the test."""
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]
