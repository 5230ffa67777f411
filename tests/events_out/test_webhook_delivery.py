"""Events out to a real webhook receiver, end to end: GraphQL → Celery on the real Redis →
a real worker and beat → the in-memory adapter; the outbox drained by the worker's
``events`` queue to an HTTP server this test runs, stops, slows and starts again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.events_out.receiver import Receiver
from tests.support import queries as Q
from tests.support.stack import REDIS_TEST_URL, GraphQL, Stack, free_port, wait_for

pytestmark = pytest.mark.slow

SECRET = "hook-secret-" + uuid.uuid4().hex

CREATE_SINK = """mutation($input: CreateEventSinkInput!) { createEventSink(input: $input) {
  __typename ... on EventSink { id name secret } ... on Error { code message field } } }"""
DELETE_SINK = """mutation($id: ID!) { deleteEventSink(id: $id) { __typename } }"""
DELIVERIES = """query($sinkId: ID!, $state: String) {
  eventSinkDeliveries(sinkId: $sinkId, state: $state, first: 500) {
    id type state attempts lastError lastStatus event { id runId } } }"""
REDELIVER = """mutation($sinkId: ID!) { redeliverEvents(sinkId: $sinkId) {
  __typename ... on Redelivered { count } ... on Error { code message } } }"""
RUN_EVENTS = """query($id: ID!) { run(id: $id) { phase events(last: 500) { id kind toPhase } } }"""
CREATE_BACKEND = Q.CREATE_BACKEND


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    workdir = tmp_path_factory.mktemp("events-out")
    s = Stack(
        workdir=workdir,
        database_url=f"sqlite:///{workdir / 'hub.db'}",
        extra_env={
            "CHAOSHUB_EVENT_RETRY_SECONDS": "0.3",
            "CHAOSHUB_EVENT_RETRY_MAX_SECONDS": "1",
            "CHAOSHUB_EVENT_DELIVERY_TIMEOUT_SECONDS": "15",
        },
    )
    with s.running("w1"):
        yield s


@pytest.fixture
def gql(stack: Stack) -> Iterator[GraphQL]:
    client = GraphQL(stack.url)
    yield client
    client(Q.HALT_ALL)
    client.close()


@pytest.fixture
def backend(gql: GraphQL, tmp_path: Path) -> str:
    name = f"mem-{uuid.uuid4().hex[:8]}"
    made = gql(
        CREATE_BACKEND,
        input={
            "name": name,
            "adapter": "memory",
            "config": {"state_path": str(tmp_path / f"{name}.json")},
        },
    )["createBackend"]
    assert made["__typename"] == "Backend", made
    return name


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def make_sink(gql: GraphQL, url: str, **extra: Any) -> str:
    made = gql(
        CREATE_SINK,
        input={
            "name": f"hook-{uuid.uuid4().hex[:8]}",
            "kind": "webhook",
            "url": url,
            "secret": SECRET,
            "eventTypes": ["io.chaoshub.run.*"],
            **extra,
        },
    )["createEventSink"]
    assert made["__typename"] == "EventSink", made
    assert made["secret"] == "<set>"
    return str(made["id"])


@pytest.fixture
def sinks(gql: GraphQL) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for sink_id in made:
        gql(DELETE_SINK, id=sink_id)


def start(gql: GraphQL, backend: str, duration: float = 1) -> str:
    result = gql(
        Q.START_RUN,
        input={
            "faultType": "memory/latency",
            "backend": backend,
            "params": {"latency_ms": 100},
            "selector": {"names": ["alpha", "beta"]},
            "durationSeconds": duration,
        },
    )["startRun"]
    assert result["__typename"] == "Run", result
    return str(result["id"])


def run_events(gql: GraphQL, run_id: str, *, until: str = "completed") -> list[dict[str, Any]]:
    run = wait_for(
        lambda: (r := gql(RUN_EVENTS, id=run_id)["run"])["phase"] == until and r,
        60,
        what=f"run {run_id} {until}",
    )
    return list(run["events"])


def wait_all(receiver: Receiver, run_id: str, expected: list[str], timeout: float = 60) -> None:
    wait_for(
        lambda: [e["id"] for e in receiver.events(run_id)] == expected,
        timeout,
        what=f"every event of {run_id} at the receiver",
    )


def test_a_receiver_gets_every_event_of_a_run_signed_and_in_order(
    gql: GraphQL, backend: str, receiver: Receiver, sinks: list[str]
) -> None:
    receiver.start()
    sinks.append(make_sink(gql, receiver.url))
    run_id = start(gql, backend)
    events = run_events(gql, run_id)
    expected = [e["id"] for e in events]
    assert len(expected) >= 6  # created, 4 phase moves, injected and recovered per target
    wait_all(receiver, run_id, expected)

    receiver.verify_all(SECRET)
    got = receiver.events(run_id)
    first = got[0]
    assert first["specversion"] == "1.0" and first["datacontenttype"] == "application/json"
    assert first["source"] == "/chaoshub/runs" and first["subject"] == run_id
    assert first["type"] == "io.chaoshub.run.created" and first["time"]
    moves = [e["data"]["toPhase"] for e in got if e["type"] == "io.chaoshub.run.phase-changed"]
    assert moves == ["injecting", "running", "recovering", "completed"]
    request = receiver.received[0]
    assert {k.lower(): v for k, v in request.headers.items()}["content-type"] == (
        "application/cloudevents+json"
    )


def test_missed_events_arrive_in_order_once_the_receiver_is_back(
    gql: GraphQL, backend: str, receiver: Receiver, sinks: list[str]
) -> None:
    # first 503s, then nothing listening at all, then a receiver again
    receiver.status = 503
    receiver.start()
    sink = make_sink(gql, receiver.url)
    sinks.append(sink)
    run_id = start(gql, backend)
    wait_for(
        lambda: any(
            d["lastStatus"] == 503 for d in gql(DELIVERIES, sinkId=sink)["eventSinkDeliveries"]
        ),
        30,
        what="a delivery refused with 503",
    )
    receiver.stop()
    events = run_events(gql, run_id)
    wait_for(
        lambda: any(
            "ConnectError" in d["lastError"]
            for d in gql(DELIVERIES, sinkId=sink)["eventSinkDeliveries"]
        ),
        30,
        what="a delivery refused with connection refused",
    )
    assert receiver.events(run_id) == []
    receiver.status = 200
    receiver.start()
    wait_all(receiver, run_id, [e["id"] for e in events])
    receiver.verify_all(SECRET)
    deliveries = gql(DELIVERIES, sinkId=sink)["eventSinkDeliveries"]
    assert {d["state"] for d in deliveries} == {"delivered"}
    assert max(d["attempts"] for d in deliveries) >= 3


def test_deliveries_past_the_retry_budget_are_dead_and_can_be_redelivered(
    gql: GraphQL, backend: str, sinks: list[str]
) -> None:
    receiver = Receiver(port=free_port())  # nothing listens there yet
    try:
        sink = make_sink(gql, receiver.url, maxAttempts=2)
        sinks.append(sink)
        run_id = start(gql, backend)
        expected = [e["id"] for e in run_events(gql, run_id)]
        dead = wait_for(
            lambda: (
                len(d := gql(DELIVERIES, sinkId=sink, state="dead")["eventSinkDeliveries"])
                == len(expected)
                and d
            ),
            60,
            what="every delivery dead",
        )
        assert sorted(int(d["event"]["id"]) for d in dead) == sorted(int(i) for i in expected)
        assert all(d["attempts"] == 2 and "ConnectError" in d["lastError"] for d in dead)
        assert gql(DELIVERIES, sinkId=sink, state="pending")["eventSinkDeliveries"] == []

        receiver.start()
        again = gql(REDELIVER, sinkId=sink)["redeliverEvents"]
        assert again == {"__typename": "Redelivered", "count": len(expected)}
        wait_all(receiver, run_id, expected)
        receiver.verify_all(SECRET)
        assert gql(DELIVERIES, sinkId=sink, state="dead")["eventSinkDeliveries"] == []
    finally:
        receiver.stop()


def test_a_slow_receiver_does_not_delay_the_run(
    gql: GraphQL, backend: str, receiver: Receiver, sinks: list[str]
) -> None:
    receiver.delay = 6.0
    receiver.start()
    sinks.append(make_sink(gql, receiver.url))
    started = time.monotonic()
    run_id = start(gql, backend, duration=1)
    events = run_events(gql, run_id)
    took = time.monotonic() - started
    # delivering the run's events one by one to this receiver takes 6 s each; the run
    # reached its end well before the receiver had them all
    assert len(receiver.events(run_id)) < len(events) - 2, (took, len(receiver.events(run_id)))
    assert took < 6.0 * (len(events) - 2), took
    receiver.delay = 0.0
    wait_all(receiver, run_id, [e["id"] for e in events], timeout=120)


START_WORKFLOW = """mutation($in: StartWorkflowInput!) { startWorkflow(input: $in) {
  __typename ... on WorkflowRun { id } ... on Error { code message field } } }"""
WORKFLOW_RUN = """query($id: ID!) { workflowRun(id: $id) { phase } }"""
EVENTS_OF = """query($id: String!) { events(filter: {runId: $id}, first: 500) {
  edges { node { id kind } } } }"""
CREATE_EXPERIMENT = """mutation($input: CreateExperimentInput!) { createExperiment(input: $input) {
  __typename ... on Experiment { id } ... on Error { code message field } } }"""
CREATE_SCHEDULE = """mutation($input: CreateScheduleInput!) { createSchedule(input: $input) {
  __typename ... on Schedule { id } ... on Error { code message field } } }"""
DELETE_SCHEDULE = """mutation($id: ID!) { deleteSchedule(id: $id) { __typename } }"""


def event_ids(gql: GraphQL, run_id: str) -> list[str]:
    edges = gql(EVENTS_OF, id=run_id)["events"]["edges"]
    return [e["node"]["id"] for e in reversed(edges)]


def test_workflow_and_schedule_events_go_out_with_their_own_types(
    gql: GraphQL, backend: str, receiver: Receiver, sinks: list[str]
) -> None:
    receiver.start()
    sinks.append(
        make_sink(
            gql, receiver.url, eventTypes=["io.chaoshub.workflow.*", "io.chaoshub.schedule.*"]
        )
    )
    document = {
        "name": f"wf-{uuid.uuid4().hex[:6]}",
        "steps": [
            {
                "id": "slow",
                "fault": {
                    "faultType": "memory/latency",
                    "backend": backend,
                    "params": {"latency_ms": 50},
                    "selector": {"names": ["alpha"]},
                    "durationSeconds": 1,
                },
            }
        ],
    }
    started = gql(START_WORKFLOW, **{"in": {"document": document}})["startWorkflow"]
    assert started["__typename"] == "WorkflowRun", started
    flow_id = started["id"]
    wait_for(
        lambda: gql(WORKFLOW_RUN, id=flow_id)["workflowRun"]["phase"] == "completed",
        60,
        what="the workflow run completed",
    )
    expected = event_ids(gql, flow_id)
    wait_all(receiver, flow_id, expected)
    got = receiver.events(flow_id)
    assert {e["source"] for e in got} == {"/chaoshub/workflows"}
    assert "io.chaoshub.workflow.phase-changed" in {e["type"] for e in got}
    # the child run's own events are not of these types: none came
    assert all(
        e["subject"] == flow_id
        for e in receiver.events()
        if e["type"].startswith("io.chaoshub.workflow")
    )

    experiment = gql(
        CREATE_EXPERIMENT,
        input={
            "name": f"ex-{uuid.uuid4().hex[:6]}",
            "faultType": "memory/latency",
            "backend": backend,
            "params": {"latency_ms": 50},
            "selector": {"names": ["beta"]},
            "durationSeconds": 1,
        },
    )["createExperiment"]
    assert experiment["__typename"] == "Experiment", experiment
    schedule = gql(
        CREATE_SCHEDULE,
        input={
            "name": f"sc-{uuid.uuid4().hex[:6]}",
            "cron": "@every 2s",
            "experimentId": experiment["id"],
        },
    )["createSchedule"]
    assert schedule["__typename"] == "Schedule", schedule
    try:
        fired = wait_for(
            lambda: [e for e in receiver.events() if e["type"] == "io.chaoshub.schedule.fired"],
            60,
            what="a schedule.fired event",
        )
    finally:
        gql(DELETE_SCHEDULE, id=schedule["id"])
    assert fired[0]["source"] == "/chaoshub/schedules"
    assert "started by schedule" in fired[0]["data"]["reason"]
    receiver.verify_all(SECRET)
