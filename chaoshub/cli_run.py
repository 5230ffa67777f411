"""``chaoshub run FILE``: start a run from a YAML experiment, for pipelines.

Exit status: 0 the run completed with a passing (or no) verdict; 1 it did not (failed,
aborted, a failing verdict, or not over in time); 2 the request could not be made (a file
that is not a valid experiment, a hub that cannot be reached or answers wrongly, a token
refused, a start refused by the hub's validation), always as one line on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
import yaml

TERMINAL = {"completed", "aborted", "failed"}
KEYS = {"experimentId", "faultType", "backend", "params", "selector", "durationSeconds"}

START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id phase } ... on Error { code message field } } }"""
RUN = """query($id: ID!) { run(id: $id) { id phase verdict error desiredState
  targets { label phase error nativeStatus } } }"""
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "interrupted by chaoshub run") { __typename } }"""


class UsageProblem(click.ClickException):
    """Something the person must fix before the command can do anything: one line, exit 2."""

    exit_code = 2


def read_experiment(file: Path) -> dict[str, Any]:
    """The experiment in ``file``, or a one-line :class:`UsageProblem` saying where it is wrong."""
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        what = exc.problem or exc.context or "malformed"
        raise UsageProblem(f"{where}: not valid YAML: {what}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageProblem(f"{file}: expected a mapping of {', '.join(sorted(KEYS))}")
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        raise UsageProblem(
            f"{file}: unknown key {unknown[0]!r} (expected {', '.join(sorted(KEYS))})"
        )
    return doc


def gql(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL call; anything but an answer is a one-line :class:`UsageProblem`."""
    where = f"{client.base_url}graphql"
    try:
        response = client.post("/graphql", json={"query": query, "variables": variables})
    except httpx.TransportError as exc:
        raise UsageProblem(
            f"cannot reach the hub at {client.base_url}: {str(exc) or type(exc).__name__}"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UsageProblem(
            f"{where} answered HTTP {response.status_code} without a GraphQL body: is it a hub?"
        )
    if body.get("errors"):
        raise UsageProblem("; ".join(str(e.get("message")) for e in body["errors"]))
    if response.status_code != 200 or not isinstance(body.get("data"), dict):
        raise UsageProblem(f"{where} answered HTTP {response.status_code}")
    return body["data"]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--wait/--no-wait", default=False, help="wait for the run to end; exit 0 only if it passed"
)
@click.option(
    "--url",
    envvar="CHAOSHUB_URL",
    show_envvar=True,
    default="http://127.0.0.1:8080",
    show_default=True,
    help="the hub",
)
@click.option("--token", envvar="CHAOSHUB_TOKEN", show_envvar=True, required=True, help="API token")
@click.option("--timeout", default=3600.0, show_default=True, help="seconds to wait at most")
def run(file: Path, wait: bool, url: str, token: str, timeout: float) -> None:
    """Start a run from a YAML experiment; with --wait, exit 0 only when it completes with a
    passing or empty verdict (for pipelines).

    The file holds either `experimentId: ID` or `faultType`, `backend`, `params`,
    `selector` and `durationSeconds`. Exit status 1: the run did not pass; 2: it could
    not be started (bad file, hub unreachable, token or input refused).
    """
    doc = read_experiment(file)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        result = gql(client, START, {"input": doc})["startRun"]
        if result["__typename"] != "Run":
            field = ".".join(result.get("field") or [])
            raise UsageProblem(
                f"{result['code']}: {field + ': ' if field else ''}{result['message']}"
            )
        run_id = result["id"]
        click.echo(f"run {run_id} started")
        if not wait:
            return
        try:
            state = _wait(client, run_id, timeout)
        except KeyboardInterrupt:
            gql(client, ABORT, {"id": run_id})
            click.echo(f"run {run_id}: abort requested", err=True)
            sys.exit(130)
    for t in state["targets"]:
        click.echo(f"  {t['label']}: {t['phase']}{' - ' + t['error'] if t['error'] else ''}")
    if state["error"]:
        click.echo(f"  error: {state['error']}", err=True)
    ok = state["phase"] == "completed" and state["verdict"] in ("pass", "none")
    sys.exit(0 if ok else 1)


def _wait(client: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        state: dict[str, Any] = gql(client, RUN, {"id": run_id})["run"]
        line = f"{state['phase']} (desired {state['desiredState']}, verdict {state['verdict']})"
        if line != last:
            click.echo(f"run {run_id}: {line}")
            last = line
        if state["phase"] in TERMINAL:
            return state
        if time.monotonic() > deadline:
            click.echo(
                f"run {run_id} did not end within {timeout:.0f}s; it is {state['phase']}", err=True
            )
            sys.exit(1)
        time.sleep(1)
