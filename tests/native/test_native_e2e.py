"""End to end: the hub's API, a worker and beat as processes, and a native injector that
registers with an agent token the hub issued. A run started through GraphQL pauses a real
process; aborting it resumes the process; an injector that stops heartbeating goes offline.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from native_peers import Injector, proc_state

from tests.support import queries as Q
from tests.support.stack import GraphQL, Stack, wait_for

pytestmark = pytest.mark.slow

# a Redis database of its own, so other end-to-end suites never see these tasks
REDIS_URL = "redis://127.0.0.1:6379/12"

AGENTS = """query { agents { name url online labels capabilities } }"""
CREATE_TOKEN = """mutation($name: String!) { createApiToken(name: $name, role: "agent") {
  __typename ... on CreatedApiToken { token } ... on Error { code message } } }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = tmp_path_factory.mktemp("native-stack")
    s = Stack(
        workdir=workdir,
        database_url=f"sqlite:///{workdir / 'hub.db'}",
        broker_url=REDIS_URL,
        # the hub asks for a heartbeat every 5 s: allow two to go missing on a busy host
        extra_env={"CHAOSHUB_AGENT_TIMEOUT_SECONDS": "12"},
    )
    with s.running("w1"):
        yield s


@pytest.fixture
def gql(stack: Stack) -> Iterator[GraphQL]:
    client = GraphQL(stack.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def agent(stack: Stack, scripts_dir: Path, tmp_path_factory) -> Iterator[Injector]:
    """One registered injector for the module; the last test stops its heartbeats."""
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = GraphQL(stack.url)
    token = admin(CREATE_TOKEN, name=f"agent:{name}")["createApiToken"]["token"]
    admin.close()
    inj = Injector(
        tmp_path_factory.mktemp("agent"),
        scripts_dir,
        extra=["--hub", stack.url, "--token", token, "--name", name, "--labels", "role=e2e"],
    )
    try:
        inj.start()
        yield inj
    finally:
        inj.stop()


def _agent(gql: GraphQL, name: str) -> dict | None:
    return next((a for a in gql(AGENTS)["agents"] if a["name"] == name), None)


def _name(agent: Injector) -> str:
    return agent.extra[agent.extra.index("--name") + 1]


def test_an_agent_registers_and_shows_online_with_its_capabilities(gql, agent):
    name = _name(agent)
    seen = wait_for(lambda: _agent(gql, name), 20, what="the agent in the hub")
    assert seen["online"] and seen["url"] == agent.url
    assert seen["labels"] == {"role": "e2e"}
    assert seen["capabilities"]["process-pause"]["available"] is True
    netem = seen["capabilities"]["network-delay"]
    assert netem["available"] or netem["reason"]


def test_a_run_through_graphql_pauses_a_real_process_and_abort_resumes_it(gql, agent, sleeper):
    name = _name(agent)
    wait_for(lambda: (_agent(gql, name) or {}).get("online"), 20, what="agent online")
    started = gql(
        Q.START_RUN,
        input={
            "faultType": "native/process-pause",
            "backend": "native",
            "params": {},
            "selector": {"agents": [name], "pid": sleeper.pid},
            "durationSeconds": 120,
        },
    )["startRun"]
    assert started["__typename"] == "Run", started
    run_id = started["id"]
    wait_for(lambda: gql(Q.RUN, id=run_id)["run"]["phase"] == "running", 30, what="running")
    assert proc_state(sleeper.pid) == "T"

    gql(Q.ABORT, id=run_id)
    wait_for(lambda: gql(Q.RUN, id=run_id)["run"]["phase"] == "aborted", 30, what="aborted")
    assert proc_state(sleeper.pid) in ("S", "R")
    with agent.client() as api:
        assert api.get("/v1/executions").json()["executions"] == []


def test_a_run_needing_a_capability_the_host_lacks_is_refused_before_injecting(gql, agent):
    name = _name(agent)
    seen = wait_for(lambda: _agent(gql, name), 20, what="the agent in the hub")
    if seen["capabilities"]["network-delay"]["available"]:
        pytest.skip("this kernel has sch_netem: nothing to refuse here")
    answer = gql(
        Q.START_RUN,
        input={
            "faultType": "native/network-delay",
            "backend": "native",
            "params": {"latency_ms": 50},
            "selector": {"agents": [name], "interface": "lo"},
            "durationSeconds": 5,
        },
    )["startRun"]
    assert answer["__typename"] != "Run"
    assert answer["field"] == ["faultType"] and "sch_netem" in answer["message"]
    with agent.client() as api:
        assert api.get("/v1/executions").json()["executions"] == []


def _static_backend(gql, **injectors: Injector) -> str:
    """A native backend listing ``injectors`` by hand (name → injector), as its agents."""
    agents = [{"name": n, "url": i.url, "token": i.token} for n, i in injectors.items()]
    created = gql(
        Q.CREATE_BACKEND,
        input={
            "name": f"lab-{uuid.uuid4().hex[:6]}",
            "adapter": "native",
            "config": {"static_agents": agents},
        },
    )["createBackend"]
    assert created["__typename"] == "Backend", created
    return created["name"]


def test_an_injector_added_by_hand_as_a_backend_runs_faults(gql, injector, sleeper):
    backend = _static_backend(gql, **{"lab-box": injector})
    started = gql(
        Q.START_RUN,
        input={
            "faultType": "native/process-pause",
            "backend": backend,
            "params": {},
            "selector": {"agents": ["lab-box"], "pid": sleeper.pid},
            "durationSeconds": 120,
        },
    )["startRun"]
    assert started["__typename"] == "Run", started
    wait_for(lambda: gql(Q.RUN, id=started["id"])["run"]["phase"] == "running", 30, what="running")
    assert proc_state(sleeper.pid) == "T"
    gql(Q.ABORT, id=started["id"])
    wait_for(lambda: gql(Q.RUN, id=started["id"])["run"]["phase"] == "aborted", 30, what="aborted")
    assert proc_state(sleeper.pid) in ("S", "R")


def test_an_agent_that_stops_heartbeating_goes_offline(gql, agent):
    name = _name(agent)
    wait_for(lambda: (_agent(gql, name) or {}).get("online"), 20, what="agent online")
    agent.kill9()
    wait_for(lambda: not _agent(gql, name)["online"], 30, what="agent offline")


def test_a_fault_one_of_several_agents_cannot_do_is_refused_naming_that_agent(
    gql, injector, tmp_path
):
    # two injectors behind one backend: only the first has a scripts directory, so
    # host-script is available there and not on the second; the run must be refused
    # before either is asked to inject, and the answer must name the second
    bare = Injector(tmp_path / "bare")
    bare.state_dir.mkdir()
    bare.start()
    try:
        backend = _static_backend(gql, **{"with-scripts": injector, "without-scripts": bare})
        answer = gql(
            Q.START_RUN,
            input={
                "faultType": "native/host-script",
                "backend": backend,
                "params": {"script": "mark.sh"},
                "selector": {"agents": ["with-scripts", "without-scripts"]},
                "durationSeconds": 30,
            },
        )["startRun"]
        assert answer["__typename"] == "InvalidInputError", answer
        assert answer["field"] == ["faultType"]
        assert "1 of 2 targets" in answer["message"]
        assert "without-scripts" in answer["message"] and "scripts" in answer["message"]
        for one in (injector, bare):
            listed = httpx.get(
                f"{one.url}/v1/executions",
                headers={"Authorization": f"Bearer {one.token}"},
                timeout=10,
            ).json()
            assert listed["executions"] == []
    finally:
        bare.stop()
