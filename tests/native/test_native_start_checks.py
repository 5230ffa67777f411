"""A start asks the agents to check its params while discovery runs (the agents a selector
names are the only hosts its targets can live on), and still refuses what any agent the
targets live on would refuse: the field named, the agent named, no run stored, nothing
injected. Two real injectors whose scripts directories differ: ``extra.sh`` exists on
``one`` only, so a host-script run of it is good on ``one`` and refused by ``two``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from native_hub import call as admin_call
from native_peers import Injector

from chaoshub.adapters.native import NativeAdapter
from chaoshub.api.app import create_app
from chaoshub.errors import InvalidInput
from chaoshub.runtime import Runtime
from tests.support import queries as Q
from tests.support.stack import in_process_runtime

ADMIN = "start-checks-admin"


@pytest.fixture(scope="module")
def agents(
    tmp_path_factory: pytest.TempPathFactory, scripts_dir: Path
) -> Iterator[dict[str, Injector]]:
    made: dict[str, Injector] = {}
    try:
        for name in ("one", "two"):
            root = tmp_path_factory.mktemp(f"agent-{name}")
            scripts = root / "scripts"
            shutil.copytree(scripts_dir, scripts)
            if name == "one":
                shutil.copy(scripts / "mark.sh", scripts / "extra.sh")
            (root / "state").mkdir()
            made[name] = Injector(root / "state", scripts).start()
        yield made
    finally:
        for inj in made.values():
            inj.stop()


def static(agents: dict[str, Injector]) -> list[dict[str, Any]]:
    return [
        {"name": n, "url": a.url, "token": a.token, "labels": {"side": n}}
        for n, a in agents.items()
    ]


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, agents: dict[str, Injector]
) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = in_process_runtime(tmp_path_factory.mktemp("start-checks-hub"), admin=ADMIN)
    with TestClient(create_app(runtime, lambda *a: None)) as client:
        made = admin_call(
            client,
            ADMIN,
            Q.CREATE_BACKEND,
            input={
                "name": "hosts",
                "adapter": "native",
                "config": {"static_agents": static(agents)},
            },
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        yield client, runtime


def start(client: TestClient, selector: dict[str, Any], script: str = "extra.sh") -> Any:
    return admin_call(
        client,
        ADMIN,
        Q.START_RUN,
        input={
            "faultType": "native/host-script",
            "backend": "hosts",
            "params": {"script": script, "args": ["/nonexistent/marker"]},
            "selector": selector,
            "durationSeconds": 30,
        },
    )["startRun"]


def runs(client: TestClient) -> int:
    return int(admin_call(client, ADMIN, Q.RUN_COUNT)["runs"]["totalCount"])


def executions(agent: Injector) -> int:
    with agent.client() as client:
        listed = client.get("/v1/executions").json()
    return len(listed["executions"]) + len(listed["recent"])


@pytest.mark.parametrize(
    "selector",
    [{"agents": ["one", "two"]}, {"agents": ["two"]}, {"labels": {"side": "two"}}, {}],
    ids=["named-both", "named-two", "labelled-two", "every-agent"],
)
def test_a_refusal_of_any_agent_the_targets_live_on_refuses_the_start(
    hub: Any, agents: dict[str, Injector], selector: dict[str, Any]
) -> None:
    client, _ = hub
    before = runs(client)
    result = start(client, selector)
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == ["params", "script"], result
    assert "agent two" in result["message"], result
    assert runs(client) == before
    assert all(executions(a) == 0 for a in agents.values())


@pytest.mark.parametrize(
    "selector", [{"agents": ["one"]}, {"labels": {"side": "one"}}], ids=["named", "labelled"]
)
def test_a_start_on_the_agent_that_takes_the_params_is_stored(
    hub: Any, agents: dict[str, Injector], selector: dict[str, Any]
) -> None:
    client, _ = hub
    before = runs(client)
    result = start(client, selector)
    assert result["__typename"] == "Run", result
    assert runs(client) == before + 1
    # stored only: this hub has no worker, so nothing is injected
    assert all(executions(a) == 0 for a in agents.values())


def test_discovery_still_speaks_first_when_the_selector_matches_nothing(
    hub: Any, agents: dict[str, Injector]
) -> None:
    """An agent named that is not in the backend is discovery's refusal (the selector), even
    though the checks of the params started beside it."""
    client, _ = hub
    result = start(client, {"agents": ["two", "three"]})
    assert result["__typename"] in ("NotFoundError", "InvalidInputError"), result
    assert result["field"][0] == "selector", result


def test_a_check_started_for_other_params_is_not_taken_for_these(
    agents: dict[str, Injector],
) -> None:
    """The checks started beside discovery answer for the fault and params they were
    started with only: ``check_params`` with other params asks the agents again."""
    adapter = NativeAdapter({"static_agents": static(agents)}, backend="hosts")
    try:
        selector = {"agents": ["one", "two"]}
        adapter.prepare_check_params("host-script", {"script": "mark.sh"}, selector)
        targets = adapter.discover("host-script", selector)
        assert {t.id.split("/")[0] for t in targets} == {"one", "two"}
        with pytest.raises(InvalidInput) as refused:
            adapter.check_params("host-script", {"script": "extra.sh"}, targets)
        assert refused.value.field == ["params", "script"]
        assert "agent two" in refused.value.message
        adapter.check_params("host-script", {"script": "mark.sh"}, targets)
    finally:
        adapter.close()
