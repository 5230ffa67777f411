"""Protocol v1's probe-command calls on a real injector: ``POST /v1/probe/command`` runs an
allow-listed script and says how it ended; ``POST /v1/probe/command/validate`` only says
whether it would. Same bearer token and problem+json errors as every other call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.native.native_peers import Injector
from tests.probes.command_peers import ScriptsDir, injector, scripts_dir

RUN = "/v1/probe/command"
VALIDATE = "/v1/probe/command/validate"


@pytest.fixture(scope="module")
def scripts() -> Iterator[ScriptsDir]:
    with scripts_dir() as made:
        yield made


@pytest.fixture(scope="module")
def agent(scripts: ScriptsDir) -> Iterator[Injector]:
    with injector(scripts.path) as running:
        yield running


@pytest.fixture
def api(agent: Injector) -> Iterator[httpx.Client]:
    with agent.client() as client:
        yield client


def problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["type"] == kind, body
    return body


def test_a_run_answers_how_the_command_ended(api: httpx.Client) -> None:
    answer = api.post(RUN, json={"argv": ["cache-down.sh"], "timeout_seconds": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "exit_code",
        "timed_out",
        "stdout",
        "stdout_truncated",
        "stderr",
        "stderr_truncated",
        "duration_ms",
    }
    assert body["exit_code"] == 3 and body["timed_out"] is False
    assert body["stderr"] == "cache down\n" and body["stdout"] == ""
    assert body["duration_ms"] > 0


def test_a_timed_out_run_has_no_exit_code(api: httpx.Client, tmp_path: Path) -> None:
    body = api.post(
        RUN, json={"argv": ["hang.sh", str(tmp_path / "pids")], "timeout_seconds": 0.5}
    ).json()
    assert body["timed_out"] is True and body["exit_code"] is None


def test_output_is_bounded_to_its_tail(api: httpx.Client) -> None:
    body = api.post(RUN, json={"argv": ["flood.sh"], "timeout_seconds": 30}).json()
    assert body["exit_code"] == 0 and body["stdout_truncated"] is True
    assert len(body["stdout"]) == 16 * 1024 and body["stdout"].endswith("xEND")


def test_validate_names_the_script_and_runs_nothing(api: httpx.Client, tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    answer = api.post(VALIDATE, json={"argv": ["mark.sh", str(mark)]})
    assert answer.status_code == 200 and answer.json() == {"script": "mark.sh"}
    assert not mark.exists()
    assert api.post(RUN, json={"argv": ["mark.sh", str(mark)], "timeout_seconds": 5}).is_success
    assert mark.exists()


@pytest.mark.parametrize("path", [RUN, VALIDATE])
@pytest.mark.parametrize(
    "script", ["../outside.sh", "/bin/sh", "sh", "escape.sh", "not-executable.sh", ".."]
)
def test_argv_0_outside_the_allow_list_is_invalid_input_naming_it(
    api: httpx.Client, scripts: ScriptsDir, path: str, script: str
) -> None:
    request: dict[str, Any] = {"argv": [script]}
    if path == RUN:
        request["timeout_seconds"] = 5
    body = problem(api.post(path, json=request), 422, "invalid-input")
    assert body["field"] == ["argv", "0"]
    assert not scripts.outside_mark.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"argv": [], "timeout_seconds": 5}, ["argv"]),
        ({"argv": ["pong.sh"]}, ["timeout_seconds"]),
        ({"argv": ["pong.sh"], "timeout_seconds": 301}, ["timeout_seconds"]),
        ({"argv": ["pong.sh"], "timeout_seconds": 5, "shell": True}, ["shell"]),
        ({"argv": ["pong.sh", "a\x00b"], "timeout_seconds": 5}, ["argv", "1"]),
        ({"argv": ["pong.sh", 7], "timeout_seconds": 5}, ["argv", "1"]),
    ],
)
def test_a_malformed_request_is_invalid_input_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: list[str]
) -> None:
    assert problem(api.post(RUN, json=body), 422, "invalid-input")["field"] == field


def test_the_calls_need_the_bearer_token(agent: Injector) -> None:
    with agent.client(token="wrong") as stranger:
        problem(
            stranger.post(RUN, json={"argv": ["pong.sh"], "timeout_seconds": 5}),
            401,
            "unauthorized",
        )
        problem(stranger.post(VALIDATE, json={"argv": ["pong.sh"]}), 401, "unauthorized")


def test_an_injector_without_a_scripts_directory_rejects_probe_commands() -> None:
    with injector(None) as bare, bare.client() as api:
        body = problem(api.post(VALIDATE, json={"argv": ["pong.sh"]}), 409, "rejected")
        assert "--scripts-dir" in body["detail"]
