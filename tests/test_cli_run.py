"""`chaoshub run FILE --wait` and `chaoshub validate FILE` as a pipeline runs them: a real
`chaoshub up` (SQLite, its in-process worker, the memory adapter), the command in its own
process, its exit status, what it prints, and the JUnit report it writes (read back with
junitparser, as a CI system reads it)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from junitparser import Error, Failure, JUnitXml

from tests.support import queries as Q
from tests.support.cli import chaoshub, following
from tests.support.stack import MEMORY_ADAPTER, GraphQL, embedded_hub, free_port, wait_for
from tests.workflows.services import api_with_cache

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
        "(expected Workflow, ThresholdSearch, Experiment or Run)"
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
    result = chaoshub((proxy, hub[1]), "run", str(fault(tmp_path, "pass")), "--wait")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert any(": running " in line for line in lines), lines
    assert any(": completed " in line for line in lines), lines


# -- workflows -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny HTTP service for the probes: `/health` answers 200, anything else 404."""
    root = tmp_path_factory.mktemp("service")
    (root / "health").write_text("ok\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, 20)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def workflow(tmp_path: Path, name: str, probe_path: str, service: str) -> Path:
    """A workflow of a wait and an http probe of ``probe_path``, with a steady state."""
    health = {"url": f"{service}/health", "expect": {"status": [200]}, "timeoutSeconds": 2}
    doc = {
        "kind": "Workflow",
        "name": name,
        "steadyState": [{"name": "service-healthy", "http": health}],
        "steps": [
            {"id": "settle", "wait": {"seconds": 1}},
            {
                "id": "check",
                "after": ["settle"],
                "probe": {
                    "http": {**health, "url": f"{service}{probe_path}", "timeoutSeconds": 1},
                    "intervalSeconds": 0.5,
                    "forSeconds": 2,
                },
            },
        ],
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_workflow_whose_probe_holds_exits_zero_with_a_testcase_per_step_and_check(
    hub: tuple[str, str], service: str, tmp_path: Path
) -> None:
    path = workflow(tmp_path, "cli-holds", "/health", service)
    assert chaoshub(hub, "validate", str(path)).returncode == 0

    report = tmp_path / "junit.xml"
    result = chaoshub(hub, "run", str(path), "--wait", "--junit", str(report))
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    moves = [
        line.split()[1:4] for line in lines if line[:1].isdigit() and "workflow run" not in line
    ]
    assert ["settle", "wait", "running"] in moves and ["settle", "wait", "passed"] in moves
    assert ["check", "probe", "passed"] in moves
    assert any("verdict pass" in line for line in lines), lines

    (suite,) = JUnitXml.fromfile(str(report))
    assert suite.name == "cli-holds"
    names = {(c.classname, c.name) for c in suite}
    assert ("cli-holds.step", "settle") in names and ("cli-holds.step", "check") in names
    assert ("cli-holds.steadyState-before", "service-healthy") in names
    assert (suite.failures, suite.errors) == (0, 0)
    # nothing was injected, so the steady state is not checked again after: skipped, not failed
    (again,) = [c for c in suite if c.classname == "cli-holds.steadyState-after"]
    assert again.is_skipped
    assert all(c.is_passed for c in suite if c.classname != again.classname)

    as_json = chaoshub(hub, "run", str(path), "--wait", "--output", "json")
    assert as_json.returncode == 0, as_json
    final = json.loads(as_json.stdout)
    assert final["verdict"] == "pass" and final["phase"] == "completed"
    (check,) = [s for s in final["steps"] if s["stepId"] == "check"]
    assert check["probe"]["checks"] >= 1 and check["probe"]["score"] == 1.0


def test_a_workflow_whose_probe_fails_exits_one_and_the_report_says_which(
    hub: tuple[str, str], service: str, tmp_path: Path
) -> None:
    path = workflow(tmp_path, "cli-fails", "/missing", service)
    report = tmp_path / "junit.xml"
    result = chaoshub(hub, "run", str(path), "--wait", "--junit", str(report))
    assert result.returncode == 1, result
    assert any("verdict fail" in line for line in result.stdout.splitlines()), result.stdout

    (suite,) = JUnitXml.fromfile(str(report))
    (check,) = [c for c in suite if c.name == "check"]
    (failure,) = check.result
    assert isinstance(failure, Failure)
    assert "404" in (failure.text or "")
    assert suite.failures >= 1


def test_an_invalid_workflow_is_refused_naming_the_path_and_nothing_runs(
    hub: tuple[str, str], service: str, tmp_path: Path
) -> None:
    path = workflow(tmp_path, "cli-invalid", "/health", service)
    doc = yaml.safe_load(path.read_text())
    doc["steps"][1]["after"] = ["setle"]
    path.write_text(yaml.safe_dump(doc))

    checked = chaoshub(hub, "validate", str(path))
    assert checked.returncode == 1, checked
    assert any(line.startswith("steps[1].after") for line in checked.stdout.splitlines()), checked

    refused = chaoshub(hub, "run", str(path), "--wait")
    assert refused.returncode == 2, refused
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "steps[1].after" in line, line
    runs = GraphQL(*hub)("{ workflowRuns { totalCount edges { node { workflowName } } } }")
    assert "cli-invalid" not in {e["node"]["workflowName"] for e in runs["workflowRuns"]["edges"]}


def test_validate_checks_a_single_fault_by_the_hub_s_rules(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    assert chaoshub(hub, "validate", str(fault(tmp_path, "pass"))).returncode == 0
    bad = chaoshub(hub, "validate", str(fault(tmp_path, "maybe")))
    assert bad.returncode == 1, bad
    assert bad.stdout.splitlines()[0].startswith("params.verdict: "), bad.stdout


EXAMPLE = Path(__file__).parent.parent / "examples" / "api-survives-a-paused-dependency.yaml"


def test_the_example_as_written_fails_when_the_api_needs_its_paused_cache(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    """The repository's example, unchanged: the API on 127.0.0.1:8081 answers only while
    the `cache-server` process does, and the local agent of `chaoshub up` pauses it. The
    API does not survive, so the run exits 1, the report says which checks failed, and the
    cache runs again afterwards."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8081)) == 0:
            pytest.skip("127.0.0.1:8081, the example's API port, is taken on this machine")
    gql = GraphQL(*hub)
    wait_for(
        lambda: any(a["online"] for a in gql("{ agents { online } }")["agents"]),
        30,
        what="the local agent",
    )
    report = tmp_path / "junit.xml"
    with api_with_cache("cache-server", api_port=8081) as services:
        result = chaoshub(hub, "run", str(EXAMPLE), "--wait", "--junit", str(report))
        cache_after = services.cache_state()
    assert result.returncode == 1, result
    assert "verdict fail" in result.stdout, result.stdout
    assert cache_after != "T"  # not left paused
    (suite,) = JUnitXml.fromfile(str(report))
    assert suite.name == "api-survives-a-paused-dependency"
    cases = {(c.classname.rsplit(".", 1)[1], c.name): c for c in suite}
    assert {("step", "settle"), ("step", "pause-cache"), ("step", "api-during")} <= set(cases)
    assert ("stopCondition", "api-error-budget") in cases
    assert ("steadyState-before", "api-healthy") in cases
    assert cases["step", "settle"].is_passed
    # the breach fails its stop condition; the fault it stopped is an error (no outcome)
    assert isinstance(cases["stopCondition", "api-error-budget"].result[0], Failure)
    assert isinstance(cases["step", "pause-cache"].result[0], Error)
    assert "503" in (cases["stopCondition", "api-error-budget"].result[0].message or "")


def test_ctrl_c_while_following_aborts_the_workflow_run(
    hub: tuple[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "kind": "Workflow",
                "name": "cli-interrupted",
                "steps": [{"id": "hold", "wait": {"seconds": 600}}],
            }
        )
    )
    with following(
        hub, "run", str(path), "--wait", until=lambda line: "hold" in line and "running" in line
    ) as cmd:
        run_id = cmd.seen[0].split()[2]
        status = cmd.interrupt()
    assert status == 130, (cmd.seen, cmd.out, cmd.err)
    assert cmd.err.strip() == f"workflow run {run_id}: abort requested"
    gql = GraphQL(*hub)
    ended = wait_for(
        lambda: (
            (r := gql("query($id: ID!) { workflowRun(id: $id) { phase } }", id=run_id))[
                "workflowRun"
            ]["phase"]
            == "aborted"
            and r
        ),
        30,
        what="the abort",
    )
    assert ended
