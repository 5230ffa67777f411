"""The `chaoshub` command as a person meets it, in real processes: a mistake is one line
and exit status 2 (never a traceback, never a token printed for a hub that did not start),
the listings have headers, and `--help` says which environment variables are read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import chaoshub_bin, free_port, wait_for

pytestmark = pytest.mark.slow

# a module set to None in sys.modules fails to import as a missing one does: the hub as it
# is after `pip install chaoshub` without the `aws` extra
WITHOUT_BOTO = (
    "import sys; sys.modules['botocore'] = sys.modules['boto3'] = None; "
    "from chaoshub.cli import main; main()"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSHUB_")}
    return {**env, **extra}


def chaoshub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*chaoshub_bin(), *args],
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return (result.stdout + result.stderr).strip().splitlines()


def test_up_on_a_port_in_use_says_so_in_one_line_and_announces_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = chaoshub("up", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 2, result
    assert _lines(result) == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert not (tmp_path / "admin-token").exists()
    assert not (tmp_path / "chaoshub.db").exists()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("faultType: [native/process-pause\nbackend: native\n", ":2:8: not valid YAML"),
        ("faultType: native/process-pause\n  backend: native\n", ":2:10: not valid YAML"),
        ("- just\n- a list\n", ": expected a mapping"),
        ("faultTyp: native/process-pause\n", ": unknown key 'faultTyp'"),
    ],
)
def test_run_with_a_bad_file_says_what_and_where_in_one_line(
    tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    url = f"http://127.0.0.1:{free_port()}"
    result = chaoshub("run", str(path), env=_env(CHAOSHUB_URL=url, CHAOSHUB_TOKEN="t"))
    assert result.returncode == 2, result
    (line,) = _lines(result)
    assert line.startswith(f"Error: {path}") and where in line, line


def test_run_against_an_unreachable_hub_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text("experimentId: x\n")
    url = f"http://127.0.0.1:{free_port()}"
    result = chaoshub("run", str(path), "--wait", env=_env(CHAOSHUB_URL=url, CHAOSHUB_TOKEN="t"))
    assert result.returncode == 2, result
    (line,) = _lines(result)
    assert line.startswith(f"Error: cannot reach the hub at {url}"), line


def test_run_against_a_server_that_is_not_a_hub_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text("experimentId: x\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), 1).close() or True, 20)
        url = f"http://127.0.0.1:{port}"
        result = chaoshub("run", str(path), env=_env(CHAOSHUB_URL=url, CHAOSHUB_TOKEN="t"))
    finally:
        server.terminate()
        server.wait(10)
    assert result.returncode == 2, result
    (line,) = _lines(result)
    assert "answered HTTP 501 without a GraphQL body" in line, line


def test_adapters_and_faults_have_headers_and_name_a_missing_extra(tmp_path: Path) -> None:
    adapters = subprocess.run(
        [sys.executable, "-c", WITHOUT_BOTO, "adapters"], env=_env(), capture_output=True, text=True
    )
    assert adapters.returncode == 0, adapters
    rows = adapters.stdout.splitlines()
    assert rows[0].split() == ["ADAPTER", "PAUSE", "FAULTS"]
    (aws,) = [r for r in rows if r.startswith("aws-ssm ")]
    assert "unavailable" in aws and "pip install 'chaoshub[aws]'" in aws
    (native,) = [r for r in rows if r.startswith("native ")]
    assert "process-pause" in native

    faults = subprocess.run(
        [sys.executable, "-c", WITHOUT_BOTO, "faults"], env=_env(), capture_output=True, text=True
    )
    assert faults.returncode == 0, faults
    rows = faults.stdout.splitlines()
    assert rows[0].split() == ["ID", "CATEGORY", "CONTROL", "INSTALLED", "TITLE"]
    assert {r.split()[3] for r in rows if r.startswith("aws-ssm/")} == {"no"}
    assert {r.split()[3] for r in rows if r.startswith("native/")} == {"yes"}
    assert "pip install 'chaoshub[aws]'" in faults.stderr


def test_help_says_which_environment_variables_are_read() -> None:
    top = chaoshub("--help")
    assert top.returncode == 0
    assert "CHAOSHUB_URL" in top.stdout and "CHAOSHUB_TOKEN" in top.stdout
    run = chaoshub("run", "--help")
    assert run.returncode == 0
    flat = " ".join(run.stdout.split())
    assert "env var: CHAOSHUB_URL" in flat and "env var: CHAOSHUB_TOKEN" in flat


def test_validate_a_malformed_file_says_where_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text("kind: Workflow\nsteps: [\n  - id: a\n")
    url = f"http://127.0.0.1:{free_port()}"
    result = chaoshub("validate", str(path), env=_env(CHAOSHUB_URL=url, CHAOSHUB_TOKEN="t"))
    assert result.returncode == 2, result
    (line,) = _lines(result)
    assert line.startswith(f"Error: {path}:3:3: not valid YAML"), line


def test_validate_and_run_a_workflow_against_an_unreachable_hub_say_so_in_one_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text("kind: Workflow\nname: w\nsteps: [{id: a, wait: {seconds: 1}}]\n")
    url = f"http://127.0.0.1:{free_port()}"
    env = _env(CHAOSHUB_URL=url, CHAOSHUB_TOKEN="t")
    for args in (["validate", str(path)], ["run", str(path), "--wait"]):
        result = chaoshub(*args, env=env)
        assert result.returncode == 2, result
        (line,) = _lines(result)
        assert line.startswith(f"Error: cannot reach the hub at {url}"), line
