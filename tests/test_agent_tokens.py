"""Agent tokens and token changes, over real HTTP and a real websocket (uvicorn in a thread):
an agent token speaks for one agent name only and for nothing but registration and
heartbeat; the URLs agents give are checked; a revoked token or one whose role changed
loses its open websockets (4403); refusals, 401s included, are audited."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from chaoshub.services import agents as agents_svc
from chaoshub.store import models
from tests.support.api_server import (
    CREATE_TOKEN,
    EVENTS,
    REVOKE,
    TOKENS,
    Hub,
    serve,
)
from tests.support.stack import free_port


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with serve(tmp_path_factory.mktemp("agent-tokens")) as h:
        yield h


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# -- websocket helpers ----------------------------------------------------------------------------


async def _connect(hub: Hub, token: str, protocol: str = "graphql-transport-ws") -> Any:
    ws = await websockets.connect(
        hub.url.replace("http://", "ws://") + "/graphql",
        subprotocols=[protocol],  # type: ignore[list-item]
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    return ws


async def _closed_code(ws: Any, timeout: float) -> int | None:
    """The close code once the server closes ``ws`` (None: still open after ``timeout``)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def _subscribe(op_id: str, query: str) -> str:
    return json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})


# -- item 2: an agent token speaks for one agent ---------------------------------------------------


def test_an_agent_token_is_bound_to_its_first_name_and_cannot_take_another(hub: Hub) -> None:
    first, _ = hub.token()
    other, _ = hub.token()
    name = unique("edge")
    owned = hub.register(first, name)
    assert owned.status_code == 200, owned.text
    url = hub.agent(name).url  # type: ignore[union-attr]

    # the takeover of the issue: another agent token re-registers the name elsewhere
    taken = hub.register(other, name, url="http://127.0.0.1:18999", api_token="attacker")
    assert taken.status_code == 403, taken.text
    assert taken.json()["field"] == ["name"] and "another token" in taken.json()["title"]
    assert hub.agent(name).url == url  # type: ignore[union-attr]
    assert hub.agent(name).api_token == "agent-own-secret"  # type: ignore[union-attr]
    beat = hub.post("/agents/heartbeat", {"name": name, "active": []}, other)
    assert beat.status_code == 403, beat.text

    # and the bound token may not speak for a second name
    second = hub.register(first, unique("edge"))
    assert second.status_code == 403 and "bound to agent" in second.json()["title"]

    refused = [
        e
        for e in hub.audit()
        if e["subject"] == name and e["result"] == "FORBIDDEN" and e["role"] == "agent"
    ]
    assert {e["action"] for e in refused} == {"registerAgent", "agentHeartbeat"}
    assert "attacker" not in json.dumps(refused)  # the agent's secret is not in the audit log
    registered = [e for e in hub.audit("registerAgent") if e["subject"] == name]
    assert any(e["result"] == "ok" for e in registered)


def test_a_token_created_for_an_agent_name_registers_only_as_that_agent(hub: Hub) -> None:
    name = unique("edge")
    token, token_id = hub.token(agent_name=name)
    assert hub.register(token, unique("edge")).status_code == 403
    assert hub.register(token, name).status_code == 200
    listed = {t["id"]: t["agentName"] for t in hub.data(TOKENS)["apiTokens"]}
    assert listed[token_id] == name

    again = hub.data(CREATE_TOKEN, name="dup", role="agent", agentName=name)["createApiToken"]
    assert again["__typename"] == "InvalidInputError" and again["field"] == ["agentName"]
    viewer = hub.data(CREATE_TOKEN, name="v", role="viewer", agentName=unique("x"))
    assert viewer["createApiToken"]["field"] == ["agentName"]

    # once revoked, a replacement bound to the name takes it over
    hub.data(REVOKE, id=token_id)
    replacement, _ = hub.token(agent_name=name)
    assert hub.register(replacement, name).status_code == 200


def test_the_binding_survives_a_restart(tmp_path: Path) -> None:
    name = unique("edge")
    with serve(tmp_path) as first_life:
        owner, _ = first_life.token()
        other, _ = first_life.token()
        assert first_life.register(owner, name).status_code == 200
    with serve(tmp_path) as second_life:
        assert second_life.register(other, name).status_code == 403
        assert second_life.register(owner, name).status_code == 200


def test_a_changed_url_is_an_event_and_an_audit_entry_and_the_next_call_goes_there(
    hub: Hub,
) -> None:
    token, _ = hub.token()
    name = unique("edge")
    before, after = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}/agent"
    assert hub.register(token, name, url=before).status_code == 200
    with hub.runtime.session() as s:  # a run holding a fault on this agent
        run = models.Run(
            fault_type="native/process-pause",
            adapter="native",
            time_control="timed",
            backend_name="native",
            phase="running",
        )
        run.targets = [models.RunTarget(index=0, target_id=f"{name}/pid:1", label="pid 1")]
        s.add(run)
        s.flush()
        run_id = run.id
    assert hub.register(token, name, url=after).status_code == 200

    events = [e["node"] for e in hub.data(EVENTS)["events"]["edges"] if e["node"]["agent"] == name]
    changed = [e for e in events if e["kind"] == "agent-url-changed"]
    assert len(changed) == 1 and changed[0]["data"]["from"] == before
    assert changed[0]["data"]["to"] == after and changed[0]["data"]["live_runs"] == [run_id]
    assert run_id in changed[0]["reason"]
    audited = [e for e in hub.audit("registerAgent") if e["subject"] == name]
    assert [e["message"] for e in audited if e["message"]] == [
        f"url changed from {before} to {after}"
    ]
    # what the run driver builds its next call from
    with hub.runtime.session() as s:
        fleet = agents_svc.ensure_fleet_backend(s)
        assert fleet is not None
        adapter = hub.runtime.adapter_for(s, fleet)
        assert adapter.agents[name]["url"] == after  # type: ignore[attr-defined]


BAD_URLS = [
    ("ftp://127.0.0.1:21", "http:// or https://"),
    ("http://user:pw@127.0.0.1:1", "user or password"),
    ("http://127.0.0.1:1/?next=evil", "query"),
    ("http://127.0.0.1:1/?", "query"),
    ("http://127.0.0.1:1/#frag", "fragment"),
    ("http:///v1", "host"),
    ("http://127.0.0.1:99999", "valid URL"),
    ("http://127.0.0.1:1/\nx", "control"),
    ("", "needs the url"),
    (42, "needs the url"),
]


def test_bad_urls_are_refused_naming_the_url_and_nothing_is_stored(hub: Hub) -> None:
    token, _ = hub.token()
    for url, why in BAD_URLS:
        name = unique("bad")
        answer = hub.register(token, name, url=url)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["field"] == ["url"] and why in answer.json()["title"], url
        assert hub.agent(name) is None
    refused = [e for e in hub.audit("registerAgent") if e["result"] == "INVALID_INPUT"]
    assert len(refused) >= len(BAD_URLS)
    # a body that is not an object is a 400 too (it was a 500)
    assert hub.post("/agents/register", [1, 2], token).status_code == 400


def test_agent_networks_bound_where_an_agent_may_point_the_hub(tmp_path: Path) -> None:
    with serve(tmp_path, agent_networks=("10.99.0.0/16",)) as h:
        token, _ = h.token()
        outside = h.register(token, "edge-net", url="http://127.0.0.1:8080")
        assert outside.status_code == 400 and outside.json()["field"] == ["url"]
        assert "outside the allowed agent networks" in outside.json()["title"]
        assert h.register(token, "edge-net", url="http://10.99.3.4:8080").status_code == 200


def test_only_heartbeats_that_change_something_are_audited(hub: Hub) -> None:
    token, _ = hub.token()
    name = unique("edge")
    assert hub.register(token, name).status_code == 200
    for _ in range(3):
        assert hub.post("/agents/heartbeat", {"name": name, "active": []}, token).status_code == 200
    assert [e for e in hub.audit("agentHeartbeat") if e["subject"] == name] == []
    caps = {"process-pause": {"available": False, "reason": "no permission"}}
    beat = hub.post("/agents/heartbeat", {"name": name, "active": [], "capabilities": caps}, token)
    assert beat.status_code == 200
    audited = [e for e in hub.audit("agentHeartbeat") if e["subject"] == name]
    assert [e["message"] for e in audited] == ["capabilities changed"]


# -- item 4: agent tokens do nothing but register and heartbeat ------------------------------------


def test_an_agent_token_is_refused_for_graphql_over_http_and_websocket(hub: Hub) -> None:
    token, _ = hub.token()
    over_http = hub.gql("{ viewer { role } }", token)
    assert over_http.status_code == 403, over_http.text
    assert over_http.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    over_get = httpx.get(
        f"{hub.url}/graphql",
        params={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert over_get.status_code == 403

    async def connect(protocol: str) -> int | None:
        ws = await _connect(hub, token, protocol)
        async with ws:
            return await _closed_code(ws, 10)

    assert asyncio.run(connect("graphql-transport-ws")) == 4403
    assert asyncio.run(connect("graphql-ws")) == 4403
    graphql_refusals = [e for e in hub.audit("graphql") if e["role"] == "agent"]
    assert len(graphql_refusals) >= 4 and {e["result"] for e in graphql_refusals} == {"FORBIDDEN"}


# -- item 3: a token's websockets follow the token -------------------------------------------------


def test_a_revoked_token_loses_its_open_websocket_at_once(hub: Hub) -> None:
    token, token_id = hub.token("operator")

    async def scenario() -> tuple[int | None, list[Any]]:
        ws = await _connect(hub, token)
        async with ws:
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(_subscribe("ev", "subscription { events { kind reason } }"))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(hub.data, REVOKE, id=token_id)
            # the revocation notice closes it well before the periodic re-check would
            return await _closed_code(ws, 5), []

    code, _ = asyncio.run(scenario())
    assert code == 4403
    closed = [e for e in hub.audit("websocket") if e["result"] == "FORBIDDEN"]
    assert any("revoked" in e["message"] for e in closed)


def test_a_token_whose_role_changed_runs_no_further_operation(hub: Hub) -> None:
    token, token_id = hub.token("operator")

    async def scenario() -> int | None:
        ws = await _connect(hub, token)
        async with ws:
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            with hub.runtime.session() as s:  # changed in the database, no notice sent
                row = s.get(models.ApiToken, token_id)
                assert row is not None
                row.role = "viewer"
            halt = 'mutation { haltAll(reason: "after demotion") { __typename } }'
            await ws.send(_subscribe("halt", halt))
            return await _closed_code(ws, 10)

    assert asyncio.run(scenario()) == 4403
    halted = [e for e in hub.audit("haltAll") if "after demotion" in json.dumps(e["input"])]
    assert halted == []


def test_an_idle_websocket_of_a_changed_token_is_closed_by_the_recheck(hub: Hub) -> None:
    token, token_id = hub.token("operator")

    async def scenario() -> int | None:
        ws = await _connect(hub, token)
        async with ws:
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            with hub.runtime.session() as s:
                row = s.get(models.ApiToken, token_id)
                assert row is not None
                row.role = "admin"  # more power is a change too
            return await _closed_code(ws, 10)  # the hub re-checks every second here

    assert asyncio.run(scenario()) == 4403


# -- item 10: refusals of authentication are audited -----------------------------------------------


def test_refusals_of_authentication_are_audited_without_tracebacks(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    before = len([e for e in hub.audit() if e["result"] == "UNAUTHENTICATED"])
    assert (
        httpx.post(f"{hub.url}/graphql", json={"query": "{ viewer { role } }"}).status_code == 401
    )
    assert hub.gql("{ viewer { role } }", "chub_not-a-token").status_code == 401
    assert hub.register("chub_not-a-token", unique("edge")).status_code == 401
    assert hub.post("/agents/heartbeat", {"name": "x"}, None).status_code == 401

    async def connect() -> int | None:
        ws = await _connect(hub, "chub_not-a-token")
        async with ws:
            return await _closed_code(ws, 10)

    assert asyncio.run(connect()) == 4403
    refused = [e for e in hub.audit() if e["result"] == "UNAUTHENTICATED"]
    assert len(refused) - before == 5
    assert {e["actor"] for e in refused} == {"anonymous"}
    assert {e["action"] for e in refused[: len(refused) - before]} == {
        "graphql",
        "registerAgent",
        "agentHeartbeat",
    }
    assert "chub_not-a-token" not in json.dumps(refused)
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("chaoshub")]


def test_the_older_graphql_ws_protocol_follows_the_token_too(hub: Hub) -> None:
    token, token_id = hub.token("viewer")

    async def scenario() -> int | None:
        ws = await _connect(hub, token, "graphql-ws")
        async with ws:
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription { events { kind } }"
            await ws.send(json.dumps({"type": "start", "id": "1", "payload": {"query": query}}))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(hub.data, REVOKE, id=token_id)
            return await _closed_code(ws, 5)

    assert asyncio.run(scenario()) == 4403


def test_agents_by_name_answers_only_those_and_bounds_the_list(hub: Hub) -> None:
    names = [unique("named") for _ in range(3)]
    for name in names:  # an agent token speaks for one agent: one each
        assert hub.register(hub.token()[0], name).status_code == 200
    asked = hub.data(
        "query($n: [String!]) { agents(names: $n) { name online } }", n=[names[2], names[0]]
    )["agents"]
    assert [a["name"] for a in asked] == sorted([names[0], names[2]])
    assert all(a["online"] for a in asked)
    everyone = hub.data("{ agents { name } }")["agents"]
    assert set(names) <= {a["name"] for a in everyone}
    assert hub.data("query { agents(names: []) { name } }")["agents"] == []

    too_many = hub.gql(
        "query($n: [String!]) { agents(names: $n) { name } }", n=[f"a{i}" for i in range(501)]
    ).json()
    assert too_many["data"] is None, too_many
    (error,) = too_many["errors"]
    assert "at most 500 names" in error["message"], error
