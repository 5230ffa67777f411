"""`chaoshub run FILE --wait` and `chaoshub validate FILE` as a pipeline runs them: a real
`chaoshub up` (SQLite, its in-process worker, the memory adapter), the command in its own
process, its exit status, what it prints, and the JUnit report it writes (read back with
junitparser, as a CI system reads it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from junitparser import Failure, JUnitXml

from tests.support import queries as Q
from tests.support.stack import MEMORY_ADAPTER, GraphQL, embedded_hub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("hub")
    with embedded_hub(data_dir, {"CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER}) as (url, token):
        made = GraphQL(url, token)(
            Q.CREATE_BACKEND, input={"name": "mem", "adapter": "memory", "config": {}}
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        yield url, token


def chaoshub(
    hub: tuple[str, str], *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSHUB_")}
    env.update(CHAOSHUB_URL=url or hub[0], CHAOSHUB_TOKEN=hub[1])
    return subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


def fault(tmp_path: Path, verdict: str, **more: Any) -> Path:
    path = tmp_path / f"fault-{verdict}.yaml"
    doc = {
        "faultType": "memory/job",
        "backend": "mem",
        "params": {"verdict": verdict},
        "selector": {"names": ["beta"]},
        "durationSeconds": 1,
        **more,
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_a_single_fault_run_writes_one_testcase_and_its_json(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "out" / "junit.xml"
    passing = chaoshub(
        hub, "run", str(fault(tmp_path, "pass")), "--wait", "--junit", str(report),
        "--output", "json",
    )  # fmt: skip
    assert passing.returncode == 0, passing
    final = json.loads(passing.stdout)
    assert final["phase"] == "completed" and final["faultType"] == "memory/job"
    assert "completed" in passing.stderr  # the progress lines, off stdout
    (suite,) = JUnitXml.fromfile(str(report))
    (case,) = suite
    assert case.name == "memory/job on mem" and case.is_passed

    failing = chaoshub(hub, "run", str(fault(tmp_path, "fail")), "--wait", "--junit", str(report))
    assert failing.returncode == 1, failing
    assert "verdict fail" in failing.stdout
    (suite,) = JUnitXml.fromfile(str(report))
    (case,) = suite
    assert isinstance(case.result[0], Failure)


def test_kind_run_is_a_single_fault_and_an_unknown_kind_is_refused(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    explicit = chaoshub(hub, "run", str(fault(tmp_path, "pass", kind="Run")), "--wait")
    assert explicit.returncode == 0, explicit

    unknown = chaoshub(hub, "run", str(fault(tmp_path, "pass", kind="Chaos")))
    assert unknown.returncode == 2, unknown
    assert unknown.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'fault-pass.yaml'}: kind: unknown kind 'Chaos' "
        "(expected Workflow or Run)"
    ]


def test_a_refused_fault_names_the_field_and_nothing_runs(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    refused = chaoshub(hub, "run", str(fault(tmp_path, "maybe")), "--wait")
    assert refused.returncode == 2, refused
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("Error: INVALID_INPUT: params.verdict: "), line
    assert "Traceback" not in refused.stderr


def test_junit_without_wait_is_refused_before_anything_starts(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    result = chaoshub(hub, "run", str(fault(tmp_path, "pass")), "--junit", str(tmp_path / "j"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: --junit needs --wait: the report is written when the run ends"
    )
    assert not (tmp_path / "j").exists()


class _NoWebsocketProxy(BaseHTTPRequestHandler):
    """A proxy in front of the hub that passes GraphQL over HTTP and refuses websockets,
    as some ingresses do."""

    hub = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {
            k: v for k, v in self.headers.items() if k.lower() in {"authorization", "content-type"}
        }
        answer = httpx.post(f"{self.hub}{self.path}", content=body, headers=headers, timeout=30)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self) -> None:
        self.send_error(400, "websockets are not supported here")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy(hub: tuple[str, str]) -> Iterator[str]:
    handler = type("Proxy", (_NoWebsocketProxy,), {"hub": hub[0]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_behind_a_proxy_without_websockets_the_run_is_followed_by_asking_again(
    hub: tuple[str, str], proxy: str, tmp_path: Path
) -> None:
    result = chaoshub(hub, "run", str(fault(tmp_path, "pass")), "--wait", url=proxy)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert any(": running " in line for line in lines), lines
    assert any(": completed " in line for line in lines), lines
