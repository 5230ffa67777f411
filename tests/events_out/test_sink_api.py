"""The event sinks API over real HTTP and websockets (the app behind uvicorn, no worker):
admin only, input checked naming the field, the secret never answered, Slack-format and
test sends to a real receiver."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from chaoshub.events_out import drain
from chaoshub.services import events
from chaoshub.store import models
from tests.events_out.receiver import Receiver
from tests.support.api_server import ADMIN, Hub, serve

SECRET = "sink-secret-" + uuid.uuid4().hex
FIELDS = """id name kind url format secret eventTypes enabled maxAttempts maxAgeSeconds
  pending dead"""
CREATE = f"""mutation($input: CreateEventSinkInput!) {{ createEventSink(input: $input) {{
  __typename ... on EventSink {{ {FIELDS} }} ... on Error {{ code message field }} }} }}"""
UPDATE = f"""mutation($input: UpdateEventSinkInput!) {{ updateEventSink(input: $input) {{
  __typename ... on EventSink {{ {FIELDS} }} ... on Error {{ code message field }} }} }}"""
SINKS = f"{{ eventSinks {{ {FIELDS} }} }}"
TEST = """mutation($id: ID!) { testEventSink(id: $id) {
  __typename ... on SinkTest { ok status error } ... on Error { code message field } } }"""
DELETE = """mutation($id: ID!) { deleteEventSink(id: $id) {
  __typename ... on Error { code message } } }"""
AUDIT = """{ auditLog(first: 500) { action input message } }"""
EVENTS = """{ events(first: 100) { edges { node { kind reason data } } } }"""


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with serve(tmp_path) as h:
        yield h


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def create(hub: Hub, **fields: Any) -> dict[str, Any]:
    given = {"name": f"s-{uuid.uuid4().hex[:6]}", "kind": "webhook", **fields}
    return hub.data(CREATE, input=given)["createEventSink"]  # type: ignore[no-any-return]


def sink_count(hub: Hub) -> int:
    with hub.runtime.session() as s:
        return s.query(models.EventSink).count()


def test_the_secret_is_never_answered_and_updates_keep_it(hub: Hub, receiver: Receiver) -> None:
    made = create(hub, url=receiver.url, secret=SECRET, eventTypes=["io.chaoshub.run.*"])
    assert made["__typename"] == "EventSink" and made["secret"] == "<set>"
    kept = hub.data(UPDATE, input={"id": made["id"], "secret": "<set>", "name": "renamed"})
    assert kept["updateEventSink"]["secret"] == "<set>"
    kept = hub.data(UPDATE, input={"id": made["id"], "enabled": True})["updateEventSink"]
    assert kept["secret"] == "<set>"

    # the stored secret still signs: a test send verifies with it
    sent = hub.data(TEST, id=made["id"])["testEventSink"]
    assert sent == {"__typename": "SinkTest", "ok": True, "status": 200, "error": ""}
    receiver.verify_all(SECRET)
    assert receiver.events()[0]["type"] == "io.chaoshub.sink.test"

    for query in (SINKS, AUDIT, EVENTS):
        text = hub.gql(query).text
        assert SECRET not in text, query
    assert "createEventSink" in hub.gql(AUDIT).text

    removed = hub.data(UPDATE, input={"id": made["id"], "secret": None})["updateEventSink"]
    assert removed["secret"] is None


def test_a_credential_in_the_url_is_never_answered_and_updates_keep_the_url(
    hub: Hub, receiver: Receiver
) -> None:
    token = "T0/B0/" + uuid.uuid4().hex  # a Slack incoming webhook's path is its credential
    url = f"{receiver.url}/services/{token}?key=q-{uuid.uuid4().hex}"
    made = create(hub, url=url, format="slack")
    shown = f"http://127.0.0.1:{receiver.port}/…"
    assert made["url"] == shown
    # sent back as it reads (a form saved unchanged), the stored URL stays
    kept = hub.data(UPDATE, input={"id": made["id"], "url": shown, "name": "renamed"})
    assert kept["updateEventSink"]["url"] == shown
    sent = hub.data(TEST, id=made["id"])["testEventSink"]
    assert sent["ok"], sent
    assert receiver.received[-1].path == f"/hook/services/{token}?key={url.split('key=')[1]}"
    admin_token, _ = hub.token("admin")
    for text in (
        hub.gql(SINKS).text,
        hub.gql(AUDIT).text,
        hub.gql(EVENTS).text,
        json.dumps(_ws(hub.url, admin_token, SINKS)),
    ):
        assert token not in text and "key=" not in text
    # a new URL replaces it
    moved = hub.data(UPDATE, input={"id": made["id"], "url": receiver.url})["updateEventSink"]
    assert moved["url"] == shown
    with hub.runtime.session() as s:
        assert s.get(models.EventSink, made["id"]).url == receiver.url  # type: ignore[union-attr]


def test_bad_sinks_are_refused_naming_the_field_and_nothing_is_stored(hub: Hub) -> None:
    cases = [
        ({"url": "ftp://example.org/x"}, ["url"]),
        ({"url": "http://user:pw@example.org/x"}, ["url"]),
        ({"url": "http:///nohost"}, ["url"]),
        ({"url": "http://example.org/" + "x" * 2100}, ["url"]),
        ({"url": "http://example.org/", "format": "xml"}, ["format"]),
        ({"url": "http://example.org/", "secret": "s" * 501}, ["secret"]),
        ({"url": "http://example.org/", "eventTypes": ["Run Started"]}, ["eventTypes", "0"]),
        ({"url": "http://example.org/", "maxAttempts": 0}, ["maxAttempts"]),
        ({"url": "http://example.org/", "kind": "email"}, ["kind"]),
        ({"kind": "webhook"}, ["url"]),
        ({"kind": "kubernetes-events", "url": "http://example.org/"}, ["url"]),
    ]
    for fields, field in cases:
        answer = create(hub, **fields)
        assert answer["__typename"] == "InvalidInputError", (fields, answer)
        assert answer["field"] == field, (fields, answer)
    assert sink_count(hub) == 0
    # a refused credential in a URL is not echoed back either
    answer = create(hub, url="http://user:hunter2secret@example.org/x")
    assert "hunter2secret" not in json.dumps(answer)


def _ws(url: str, token: str, query: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with websockets.connect(
            url.replace("http://", "ws://") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        ) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            return json.loads(await asyncio.wait_for(ws.recv(), timeout=30))  # type: ignore[no-any-return]

    return asyncio.run(go())


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_may_see_or_change_sinks(hub: Hub, role: str, receiver: Receiver) -> None:
    made = create(hub, url=receiver.url, secret=SECRET)
    token, _ = hub.token(role)
    listed = hub.gql(SINKS, token=token).json()
    assert listed["data"] is None and listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for query, variables in (
        (CREATE, {"input": {"name": "x", "kind": "webhook", "url": receiver.url}}),
        (UPDATE, {"input": {"id": made["id"], "url": "http://127.0.0.1:9/evil"}}),
        (TEST, {"id": made["id"]}),
        (DELETE, {"id": made["id"]}),
    ):
        answer = hub.gql(query, token=token, **variables).json()["data"]
        (result,) = answer.values()
        assert result["code"] == "FORBIDDEN", (query, answer)
    over_ws = _ws(hub.url, token, SINKS)
    assert over_ws["type"] in ("next", "error")
    assert "FORBIDDEN" in json.dumps(over_ws) and SECRET not in json.dumps(over_ws)
    admin_ws = _ws(hub.url, ADMIN, SINKS)
    assert admin_ws["payload"]["data"]["eventSinks"][0]["secret"] == "<set>"
    assert receiver.received == []  # nothing was sent on a refused call
    assert sink_count(hub) == 1


def test_a_slack_sink_gets_text_messages(hub: Hub, receiver: Receiver) -> None:
    made = create(hub, url=receiver.url, format="slack")
    assert made["format"] == "slack" and made["secret"] is None
    sent = hub.data(TEST, id=made["id"])["testEventSink"]
    assert sent["ok"] is True
    body = receiver.received[0].json()
    assert list(body) == ["text"] and "a test event sent by" in body["text"]
    headers = {k.lower() for k in receiver.received[0].headers}
    assert "x-chaoshub-signature" not in headers  # no secret, no signature

    # a run's phase move, as the drain sends it from the outbox
    with hub.runtime.session() as s:
        events.record(s, "phase", "all targets injected", run_id="r1")
        ev = s.query(models.Event).order_by(models.Event.id.desc()).first()
        assert ev is not None
        ev.from_phase, ev.to_phase = "injecting", "running"
    assert drain.drain(hub.runtime) == 1
    text = receiver.received[-1].json()["text"]
    assert "injecting → running" in text and "all targets injected" in text and "r1" in text


def test_a_refused_test_send_says_why(hub: Hub) -> None:
    receiver = Receiver(status=503).start()
    try:
        made = create(hub, url=receiver.url)
        sent = hub.data(TEST, id=made["id"])["testEventSink"]
        assert sent == {"__typename": "SinkTest", "ok": False, "status": 503, "error": "HTTP 503: "}
    finally:
        receiver.stop()


def test_agent_events_go_out_as_agent_types(hub: Hub, receiver: Receiver) -> None:
    made = create(hub, url=receiver.url, secret=SECRET, eventTypes=["io.chaoshub.agent.*"])
    token, _ = hub.token("agent", agent_name="edge-1")
    assert hub.register(token, "edge-1").status_code == 200
    assert drain.drain(hub.runtime) == 1
    (event,) = receiver.events()
    assert (event["type"], event["source"], event["subject"]) == (
        "io.chaoshub.agent.online",
        "/chaoshub/agents",
        "edge-1",
    )
    assert event["data"]["agent"] == "edge-1" and "registered from" in event["data"]["reason"]
    receiver.verify_all(SECRET)
    delivered = hub.data(
        """query($id: ID!) { eventSinkDeliveries(sinkId: $id) { state attempts type } }""",
        id=made["id"],
    )["eventSinkDeliveries"]
    assert delivered == [{"state": "delivered", "attempts": 1, "type": "io.chaoshub.agent.online"}]


def test_events_before_a_sink_existed_or_filtered_out_are_not_owed(
    hub: Hub, receiver: Receiver
) -> None:
    with hub.runtime.session() as s:
        events.record(s, "agent-offline", "before any sink", agent="a0")
    made = create(hub, url=receiver.url, eventTypes=["io.chaoshub.run.*"])
    with hub.runtime.session() as s:
        events.record(s, "agent-offline", "not a run event", agent="a1")
        events.record(s, "created", "a run event", run_id="r-1")
    assert drain.drain(hub.runtime) == 1
    assert [e["type"] for e in receiver.events()] == ["io.chaoshub.run.created"]
    hub.data(UPDATE, input={"id": made["id"], "enabled": False})
    with hub.runtime.session() as s:
        events.record(s, "created", "while disabled", run_id="r-2")
    assert drain.drain(hub.runtime) == 0 and len(receiver.received) == 1
