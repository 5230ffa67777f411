"""``--log-format json`` (or ``CHAOSHUB_LOG_FORMAT=json``): every line a hub process writes
is one JSON object with time, level, logger and message; each lifecycle move of a run is
one line carrying the run id, the phase reached and the reason; the reconciler's ticks are
debug lines, absent at info. Checked on the log of a real ``chaoshub up`` and of real api,
worker and beat processes."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from chaoshub.config import Settings
from chaoshub.execution.celery_app import beat_schedule
from tests.support import queries as Q
from tests.support.stack import (
    MEMORY_ADAPTER,
    REDIS_TEST_URL,
    GraphQL,
    Stack,
    chaoshub_bin,
    up_process,
    wait_for,
)

pytestmark = pytest.mark.slow

RUN = {
    "faultType": "memory/latency",
    "backend": "mem-log",
    "params": {},
    "selector": {"names": ["alpha"]},
    "durationSeconds": 1,
}


def _lines(text: str) -> list[dict[str, Any]]:
    """Every line of a log, parsed: a line that is not a JSON object fails the test."""
    out = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            raise AssertionError(f"not a JSON line: {raw!r}") from None
        assert isinstance(line, dict), raw
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        assert datetime.fromisoformat(line["time"]).tzinfo is not None, line
        out.append(line)
    return out


#: every periodic task beat sends (reconcile, orphan sweep, schedules, events out, ...)
PERIODIC = {entry["task"] for entry in beat_schedule(Settings.from_env()).values()}


def _about_tick(line: dict[str, Any]) -> bool:
    """A line about one of the periodic tasks."""
    return any(task in line["message"] for task in PERIODIC)


def _run_to_completion(gql: GraphQL) -> str:
    gql(Q.CREATE_BACKEND, input={"name": "mem-log", "adapter": "memory", "config": {}})
    run = gql(Q.START_RUN, input=RUN)["startRun"]
    assert run["__typename"] == "Run", run
    wait_for(lambda: gql(Q.RUN, id=run["id"])["run"]["phase"] == "completed", 60, what="done")
    return run["id"]  # type: ignore[no-any-return]


def _moves(lines: list[dict[str, Any]], run_id: str) -> list[tuple[str, str, str]]:
    return [
        (line["from"], line["phase"], line["reason"])
        for line in lines
        if line.get("run_id") == run_id and "phase" in line
    ]


def _assert_one_line_per_move(lines: list[dict[str, Any]], run_id: str) -> None:
    moves = _moves(lines, run_id)
    assert [(f, t) for f, t, _ in moves] == [
        ("pending", "injecting"),
        ("injecting", "running"),
        ("running", "recovering"),
        ("recovering", "completed"),
    ], moves
    assert all(reason for _, _, reason in moves)
    assert any(r == "duration elapsed" for _, _, r in moves)
    for line in lines:
        if line.get("run_id") == run_id and "phase" in line:
            assert line["level"] == "info" and line["logger"] == "chaoshub.execution"
            assert run_id in line["message"]


def test_chaoshub_up_writes_json_lines_and_one_line_per_lifecycle_move(tmp_path: Path) -> None:
    with up_process(
        tmp_path,
        {"CHAOSHUB_EXTRA_ADAPTERS": "memory=chaoshub.testing.memory:MemoryAdapter"},
        "--log-format",
        "json",
    ) as up:
        gql = GraphQL(up.url, up.token)
        run_id = _run_to_completion(gql)
        gql.client.get("/graphql", params={"query": "{ runs { totalCount } }"})
        wait_for(lambda: run_id in up.proc.log.read_text(), 10)
        lines = _lines(up.proc.log.read_text(errors="replace"))
    _assert_one_line_per_move(lines, run_id)
    assert not any(_about_tick(line) for line in lines)
    # the admin token stays in its file: a JSON log is shipped somewhere
    token = (tmp_path / "admin-token").read_text().strip()
    assert all(token not in json.dumps(line) for line in lines)
    assert any(line["message"].startswith("admin token created") for line in lines)
    # an access line is structured, and carries the path without its query
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    graphql = [a for a in access if a["method"] == "GET" and a["path"].startswith("/graphql")]
    assert graphql and all(a["path"] == "/graphql" for a in graphql), graphql
    assert all(isinstance(a["status"], int) for a in access)


def test_reconciler_ticks_are_debug_lines(tmp_path: Path) -> None:
    env = {
        "CHAOSHUB_LOG_FORMAT": "json",
        "CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER,
    }
    with up_process(tmp_path, env, "--log-level", "debug") as up:
        wait_for(lambda: "chaoshub.reconcile" in up.proc.log.read_text(errors="replace"), 30)
        lines = _lines(up.proc.log.read_text(errors="replace"))
    ticks = [line for line in lines if "chaoshub.reconcile" in line["message"]]
    assert ticks and {t["level"] for t in ticks} == {"debug"}, ticks[:3]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_unknown_log_format_is_refused_naming_the_option(how: str, tmp_path: Path) -> None:
    args = ["--log-format", "xml"] if how == "option" else []
    env = {"CHAOSHUB_LOG_FORMAT": "xml"} if how == "environment" else {}
    done = subprocess.run(
        [*chaoshub_bin(), "api", "--port", "1", *args],
        env={**os.environ, "CHAOSHUB_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "--log-format" in done.stderr and "xml" in done.stderr, done.stderr


def test_api_worker_and_beat_write_json_lines(tmp_path: Path) -> None:
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    stack = Stack(
        workdir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        extra_env={"CHAOSHUB_LOG_FORMAT": "json"},
    )
    try:
        stack.spawn("api", "api", "--port", str(stack.port), "--log-level", "info")
        wait_for(lambda: httpx.get(f"{stack.url}/healthz", timeout=2).status_code == 200, 60)
        worker = stack.start_worker("w1")
        beat = stack.start_beat(log_level="info")
        run_id = _run_to_completion(GraphQL(stack.url))
        wait_for(lambda: "completed" in worker.log.read_text(errors="replace"), 10)
        wait_for(lambda: beat.log.read_text(errors="replace").strip(), 10)
    finally:
        stack.stop()
    logs = {p.name: _lines(p.log.read_text(errors="replace")) for p in stack.procs}
    _assert_one_line_per_move(logs["worker-w1"], run_id)
    for name, lines in logs.items():
        assert lines, name
        ticks = [line for line in lines if _about_tick(line)]
        assert ticks == [], (name, ticks[:3])
