"""Nothing the native injector would refuse gets past the hub: every field the agent checks
(addresses and CIDRs, ports, interface and namespace names, protocols, signals, paths,
script names, process selectors) is refused by the hub's own validation first, through
the real GraphQL ``startRun``, as a typed error naming the field, with no run stored and
nothing asked of the agent. Values that end in a newline are refused too (``$`` in
Python's ``re`` matches before a final newline; the hub matches patterns as ECMA-262 does).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from native_hub import call as admin_call
from native_hub import hub_with_agent
from native_peers import Injector

from chaoshub.catalog import load
from chaoshub.runtime import Runtime
from tests.support import queries as Q

ADMIN = "refusals-admin"
AGENT = "refusals"

#: values that look like an injection attempt, or are merely malformed
HOSTILE = ["$(id)", "1.2.3.4;id", "eth0\n", "a b", "x" * 300]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, scripts_dir: Path) -> Iterator[Injector]:
    inj = Injector(tmp_path_factory.mktemp("refusals-agent"), scripts_dir).start()
    try:
        yield inj
    finally:
        inj.stop()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, agent: Injector
) -> Iterator[tuple[TestClient, Runtime]]:
    with hub_with_agent(
        tmp_path_factory.mktemp("refusals-hub"), agent, admin=ADMIN, agent_name=AGENT
    ) as made:
        yield made


def call(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    return admin_call(client, ADMIN, query, **variables)


def agent_executions(agent: Injector) -> int:
    """Every execution the agent knows, live or ended."""
    with agent.client() as client:
        listed = client.get("/v1/executions").json()
    return len(listed["executions"]) + len(listed["recent"])


def start(client: TestClient, fault: str, params: dict[str, Any], selector: dict[str, Any]) -> Any:
    return call(
        client,
        Q.START_RUN,
        input={
            "faultType": f"native/{fault}",
            "backend": "hosts",
            "params": params,
            "selector": {"agents": [AGENT], **selector},
            "durationSeconds": 30,
        },
    )["startRun"]


LO = {"interface": "lo"}

#: (fault, params, selector, the field named) for each hostile value ``V``
CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("network-partition", {"peers": ["V"]}, LO, ["params", "peers", "0"]),
    ("network-loss", {"percent": 10, "peers": ["10.0.0.1", "V"]}, LO, ["params", "peers", "1"]),
    ("network-bandwidth", {"peers": ["V"]}, LO, ["params", "peers", "0"]),
    ("network-partition", {}, {"interface": "V"}, ["selector", "interface"]),
    ("network-partition", {}, {"interface": "lo", "netns": "V"}, ["selector", "netns"]),
    ("network-bandwidth", {}, {"interface": "V"}, ["selector", "interface"]),
    ("network-partition", {"ports": ["V"]}, LO, ["params", "ports", "0"]),
    ("network-partition", {"protocol": "V"}, LO, ["params", "protocol"]),
    ("process-kill", {"signal": "V"}, {"name": "sleep"}, ["params", "signal"]),
    ("disk-fill", {"path": "V", "bytes": 1}, {}, ["params", "path"]),
    ("io-stress", {"path": "V"}, {}, ["params", "path"]),
    ("host-script", {"script": "V"}, {}, ["params", "script"]),
    ("host-script", {"script": "mark.sh", "recover_script": "V"}, {}, ["params", "recover_script"]),
]


def _with(value: str, template: Any) -> Any:
    if template == "V":
        return value
    if isinstance(template, dict):
        return {k: _with(value, v) for k, v in template.items()}
    if isinstance(template, list):
        return [_with(value, v) for v in template]
    return template


@pytest.mark.parametrize(
    "value", HOSTILE, ids=["subshell", "semicolon", "newline", "space", "long"]
)
@pytest.mark.parametrize(
    ("fault", "params", "selector", "field"),
    CASES,
    ids=[f"{c[0]}:{'.'.join(c[3])}" for c in CASES],
)
def test_a_value_the_agent_would_refuse_is_refused_by_the_hub_naming_the_field(
    hub: Any,
    agent: Injector,
    value: str,
    fault: str,
    params: dict[str, Any],
    selector: dict[str, Any],
    field: list[str],
) -> None:
    client, _ = hub
    result = start(client, fault, _with(value, params), _with(value, selector))
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == field, result
    assert call(client, Q.RUN_COUNT)["runs"]["totalCount"] == 0
    assert agent_executions(agent) == 0


@pytest.mark.parametrize(
    ("fault", "params", "selector", "field"),
    [
        ("network-partition", {}, {"interface": "lo\n"}, ["selector", "interface"]),
        ("host-script", {"script": "mark.sh\n"}, {}, ["params", "script"]),
        ("disk-fill", {"path": "/tmp\n", "bytes": 1}, {}, ["params", "path"]),
        ("disk-fill", {"path": "/tmp/../etc", "bytes": 1}, {}, ["params", "path"]),
        ("process-kill", {}, {"pattern": "(unclosed"}, ["selector", "pattern"]),
        ("process-kill", {}, {"pid": 4242, "name": "sleep"}, ["selector", "name"]),
        ("process-kill", {}, {}, ["selector", "pid"]),
    ],
)
def test_trailing_newlines_dot_dot_paths_and_bad_process_selectors_are_refused_by_the_hub(
    hub: Any,
    agent: Injector,
    fault: str,
    params: dict[str, Any],
    selector: dict[str, Any],
    field: list[str],
) -> None:
    client, _ = hub
    result = start(client, fault, params, selector)
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == field, result
    assert call(client, Q.RUN_COUNT)["runs"]["totalCount"] == 0
    assert agent_executions(agent) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/discover", {"fault": "network-partition", "selector": {"interface": "lo\n"}}),
        (
            "/v1/inject",
            {
                "execution_id": "newline-script",
                "fault": "host-script",
                "params": {"script": "mark.sh\n"},
                "target": {"id": "host"},
                "lease_seconds": 10,
            },
        ),
        (
            "/v1/inject",
            {
                "execution_id": "newline-interface",
                "fault": "network-partition",
                "params": {},
                "target": {"id": "netns/ns\n/lo"},
                "lease_seconds": 10,
            },
        ),
        (
            "/v1/validate",
            {"fault": "network-loss", "params": {"percent": 5, "peers": ["1.2.3.4\n"]}},
        ),
    ],
    ids=["discover-interface", "inject-script", "inject-target", "validate-peer"],
)
def test_the_agent_refuses_a_trailing_newline_itself(
    agent: Injector, path: str, body: dict[str, Any]
) -> None:
    with agent.client() as client:
        answer = client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        listed = client.get("/v1/executions").json()
    assert body.get("execution_id") not in [e["execution_id"] for e in listed["executions"]]


def test_the_good_values_still_pass() -> None:
    """The same schemas take ordinary input: the refusals above are not a schema that
    refuses everything."""
    catalog = load()
    catalog.get("native/network-partition").validate_params(
        {"peers": ["10.0.0.1", "10.1.2.3/8"], "ports": [80], "protocol": "tcp"}
    )
    catalog.get("native/network-partition").validate_selector({"interface": "eth0", "netns": "a-1"})
    catalog.get("native/disk-fill").validate_params({"path": "/var/tmp/.fill", "bytes": 1})
    catalog.get("native/host-script").validate_params({"script": "mark.sh"})
