"""The ``command`` probe against a real native injector and its real scripts directory, as
the hub runs it: parsed without I/O, bound to the hub's runtime, checked against the
agent's allow-list before a workflow is stored, then sampled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from chaoshub.errors import InvalidInput
from chaoshub.probes import parse_probe
from chaoshub.probes.base import Probe
from chaoshub.runtime import Runtime
from chaoshub.store.models import Backend
from tests.native.native_peers import Injector
from tests.probes.command_peers import (
    ScriptsDir,
    add_agent,
    gone,
    hub,
    injector,
    pids,
    scripts_dir,
)
from tests.probes.peers import http_service
from tests.support.stack import free_port, wait_for

AGENT = "probe-host"


@pytest.fixture(scope="module")
def scripts() -> Iterator[ScriptsDir]:
    with scripts_dir() as made:
        yield made


@pytest.fixture(scope="module")
def agent(scripts: ScriptsDir) -> Iterator[Injector]:
    with injector(scripts.path) as running:
        yield running


@pytest.fixture(scope="module")
def runtime(agent: Injector) -> Iterator[Runtime]:
    with hub() as rt:
        add_agent(rt, AGENT, agent.url, agent.token)
        yield rt


def command(runtime: Runtime, argv: list[str], agent: str = AGENT, **more: Any) -> Probe:
    """A bound command probe, as the engine holds it before its first check."""
    block: dict[str, Any] = {"agent": agent, "argv": argv, "timeoutSeconds": 5, **more}
    probe = parse_probe({"command": block}).probe
    probe.bind(runtime)
    return probe


# -- exit codes ---------------------------------------------------------------------------------


def test_a_command_that_exits_0_holds(runtime: Runtime) -> None:
    sample = command(runtime, ["pong.sh"]).check()
    assert sample.ok, sample
    assert sample.value == 0 and sample.error is None and sample.latency_ms is not None


def test_another_exit_code_fails_saying_which_and_what_the_command_said(runtime: Runtime) -> None:
    sample = command(runtime, ["cache-down.sh"]).check()
    assert not sample.ok and sample.value == 3
    assert "exit code 3 is not one of 0" in (sample.error or "")
    assert "cache down" in (sample.error or "")


@pytest.mark.parametrize(
    ("expected", "holds"),
    [(3, True), ([0, 3], True), ({">=": 3}, True), ({"between": [1, 2]}, False), ([0], False)],
)
def test_the_expected_exit_code_is_a_code_a_list_or_a_comparator(
    runtime: Runtime, expected: Any, holds: bool
) -> None:
    sample = command(runtime, ["cache-down.sh"], expect={"exitCode": expected}).check()
    assert sample.ok is holds, sample


# -- stdout -------------------------------------------------------------------------------------


def test_stdout_contains(runtime: Runtime) -> None:
    assert command(runtime, ["pong.sh"], expect={"stdout": {"contains": "PONG"}}).check().ok
    sample = command(runtime, ["pong.sh"], expect={"stdout": {"contains": "PANG"}}).check()
    assert not sample.ok and "stdout 'PONG' is not contains 'PANG'" in (sample.error or "")


def test_stdout_matches_in_full_without_its_final_line_break(runtime: Runtime) -> None:
    sample = command(runtime, ["pong.sh"], expect={"stdout": {"matches": "PONG"}}).check()
    assert sample.ok and sample.value == "PONG"
    assert not command(runtime, ["pong.sh"], expect={"stdout": {"matches": "PON"}}).check().ok


def test_a_number_on_stdout_is_compared_and_kept_as_the_value(runtime: Runtime) -> None:
    under = command(runtime, ["say.sh", "7"], expect={"stdout": {"<": 10}}).check()
    assert under.ok and under.value == 7.0
    over = command(runtime, ["say.sh", "12"], expect={"stdout": {"<": 10}}).check()
    assert not over.ok and over.value == 12.0
    words = command(runtime, ["say.sh", "many"], expect={"stdout": {"<": 10}}).check()
    assert not words.ok and words.value == "many"


def test_both_expectations_must_hold(runtime: Runtime) -> None:
    expect = {"exitCode": 0, "stdout": {"contains": "cache"}}
    sample = command(runtime, ["cache-down.sh"], expect=expect).check()
    assert not sample.ok
    assert "exit code 3" in (sample.error or "") and "stdout" in (sample.error or "")


# -- no shell -----------------------------------------------------------------------------------


def test_arguments_are_literal_never_read_by_a_shell(runtime: Runtime, tmp_path: Path) -> None:
    mark = tmp_path / "substituted"
    args = ["$(id)", f"$(touch {mark})", "; touch " + str(mark), "a b", "*", "`id`"]
    sample = command(
        runtime, ["echo-args.sh", *args], expect={"stdout": {"contains": "$(id)"}}
    ).check()
    assert sample.ok
    assert sample.value == "\n".join(args)
    assert not mark.exists()


# -- timeout ------------------------------------------------------------------------------------


def test_a_command_past_its_timeout_is_killed_with_its_children(
    runtime: Runtime, tmp_path: Path
) -> None:
    record = tmp_path / "pids"
    sample = command(runtime, ["hang.sh", str(record)], timeoutSeconds=1).check()
    assert not sample.ok and "did not finish within 1 s (killed)" in (sample.error or "")
    started = pids(record)
    assert len(started) == 2, "the script and its background sleep both started"
    assert wait_for(lambda: all(gone(p) for p in started), timeout=10), started


def test_what_a_finished_command_left_running_is_killed_too(
    runtime: Runtime, tmp_path: Path
) -> None:
    record = tmp_path / "pids"
    assert command(runtime, ["leave-child.sh", str(record)]).check().ok
    (child,) = pids(record)
    assert wait_for(lambda: gone(child), timeout=10), child


# -- the allow-list -----------------------------------------------------------------------------


def test_an_allow_listed_command_passes_the_remote_check(runtime: Runtime) -> None:
    command(runtime, ["pong.sh", "--port", "6380"]).check_remote(runtime)


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("sh", "no script 'sh'"),  # on PATH, but not in the scripts directory
        ("missing.sh", "no script 'missing.sh'"),
        ("escape.sh", "leads out of the scripts directory"),  # a symlink to outside.sh
        ("not-executable.sh", "is not executable"),
    ],
)
def test_a_script_the_agent_would_not_run_is_refused_naming_argv_0_and_never_runs(
    runtime: Runtime, scripts: ScriptsDir, script: str, reason: str
) -> None:
    probe = command(runtime, [script])
    with pytest.raises(InvalidInput) as refused:
        probe.check_remote(runtime)
    assert refused.value.field == ["command", "argv", "0"]
    assert reason in refused.value.message and AGENT in refused.value.message
    # a check that was never validated is refused by the agent just the same
    sample = probe.check()
    assert not sample.ok and reason in (sample.error or "")
    assert not scripts.outside_mark.exists()


@pytest.mark.parametrize("script", ["../outside.sh", "/bin/sh", "./pong.sh", ".hidden", "a/b"])
def test_a_path_as_argv_0_is_refused_when_parsed(script: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_probe({"command": {"agent": AGENT, "argv": [script]}}, ["steps", 1, "probe"])
    assert refused.value.field == ["steps", "1", "probe", "command", "argv", "0"]


def test_a_nul_in_an_argument_is_refused_when_parsed() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_probe({"command": {"agent": AGENT, "argv": ["say.sh", "a\x00b"]}})
    assert refused.value.field == ["command", "argv", "1"]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"argv": ["pong.sh"]}, ["command", "agent"]),
        ({"agent": AGENT, "argv": []}, ["command", "argv"]),
        ({"agent": AGENT, "argv": "pong.sh"}, ["command", "argv"]),
        ({"agent": AGENT, "argv": ["pong.sh"], "shell": True}, ["command", "shell"]),
        (
            {"agent": AGENT, "argv": ["pong.sh"], "expect": {"exitCode": "0"}},
            ["command", "expect", "exitCode"],
        ),
        (
            {"agent": AGENT, "argv": ["pong.sh"], "expect": {"stderr": {}}},
            ["command", "expect", "stderr"],
        ),
        (
            {"agent": AGENT, "argv": ["pong.sh"], "timeoutSeconds": 301},
            ["command", "timeoutSeconds"],
        ),
    ],
)
def test_a_malformed_command_block_is_refused_by_field(
    block: dict[str, Any], field: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_probe({"command": block})
    assert refused.value.field == field


# -- agents -------------------------------------------------------------------------------------


def test_an_unknown_agent_is_refused_and_a_check_fails_saying_so(runtime: Runtime) -> None:
    probe = command(runtime, ["pong.sh"], agent="nowhere")
    with pytest.raises(InvalidInput) as refused:
        probe.check_remote(runtime)
    assert refused.value.field == ["command", "agent"]
    sample = probe.check()
    assert not sample.ok and "no agent named 'nowhere'" in (sample.error or "")


def test_an_offline_agent_is_refused_and_a_check_fails_saying_so(
    runtime: Runtime, agent: Injector
) -> None:
    add_agent(runtime, "asleep", agent.url, agent.token, online=False)
    probe = command(runtime, ["pong.sh"], agent="asleep")
    with pytest.raises(InvalidInput) as refused:
        probe.check_remote(runtime)
    assert refused.value.field == ["command", "agent"] and "offline" in refused.value.message
    assert "offline" in (probe.check().error or "")


def test_an_agent_that_does_not_answer_gives_a_failing_sample(runtime: Runtime) -> None:
    add_agent(runtime, "unplugged", f"http://127.0.0.1:{free_port()}", "any")
    probe = command(runtime, ["pong.sh"], agent="unplugged")
    with pytest.raises(InvalidInput) as refused:
        probe.check_remote(runtime)
    assert refused.value.field == ["command", "agent"]
    sample = probe.check()
    assert not sample.ok and "could not be reached" in (sample.error or "")


def test_a_server_without_the_call_cannot_run_command_probes(runtime: Runtime) -> None:
    # a real HTTP server that speaks no protocol call: it answers POST with 501
    with http_service() as older:
        add_agent(runtime, "older", older.url, "any")
        probe = command(runtime, ["pong.sh"], agent="older")
        with pytest.raises(InvalidInput) as refused:
            probe.check_remote(runtime)
        assert refused.value.field == ["command", "agent"]
        assert "cannot run command probes" in refused.value.message
        assert "cannot run command probes" in (probe.check().error or "")


def test_an_injector_added_by_hand_to_a_native_backend_is_an_agent_too(
    runtime: Runtime, agent: Injector
) -> None:
    name = "hand-" + uuid.uuid4().hex[:6]
    config = {"static_agents": [{"name": name, "url": agent.url, "token": agent.token}]}
    with runtime.session() as s:
        s.add(Backend(name=name, adapter="native", config=config))
    try:
        probe = command(runtime, ["pong.sh"], agent=name)
        probe.check_remote(runtime)
        assert probe.check().ok
    finally:
        with runtime.session() as s:
            s.execute(delete(Backend).where(Backend.name == name))


def test_a_probe_never_bound_to_the_hub_fails_its_checks() -> None:
    probe = parse_probe({"command": {"agent": AGENT, "argv": ["pong.sh"]}}).probe
    sample = probe.check()
    assert not sample.ok and "not bound" in (sample.error or "")
