"""``chaoshub run FILE``: start a run or a workflow from a YAML file, for pipelines.

The file says which (:mod:`chaoshub.cli_documents`): ``kind: Workflow`` is a workflow;
``kind: ThresholdSearch`` a threshold search (:mod:`chaoshub.cli_threshold`: exit 0 when it
found a threshold, 1 when not, saying why); no ``kind`` (or ``kind: Run``) is one fault.
With ``--wait`` the command follows it to its end, printing each change, and its exit
status is the answer a pipeline needs:

- 0: it passed (a workflow: verdict ``pass``; a single fault: completed with a passing or
  no verdict);
- 1: it ended without passing (failed, aborted, a failing verdict), or did not end within
  ``--timeout``;
- 2: it could not run (a file that is not valid, a hub that cannot be reached or answers
  wrongly, a token refused, an input refused by the hub's validation, which names the
  field path), always as one line on stderr, never a traceback;
- 130: interrupted (Ctrl-C), after asking the hub to abort what was started.

``--junit PATH`` writes a JUnit XML report (:mod:`chaoshub.cli_junit`); ``--output json``
prints the final state as JSON on stdout, and the progress lines on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chaoshub import cli_junit, cli_threshold, cli_workflow
from chaoshub.cli_documents import Document, UsageProblem, read_document
from chaoshub.cli_hub import FollowTimeout, Hub
from chaoshub.cli_progress import (
    ended,
    run_exit,
    run_line,
    run_summary,
    workflow_exit,
    workflow_summary,
)

__all__ = ["UsageProblem", "run"]

#: how long a single-fault run is waited for when --timeout is not given
RUN_TIMEOUT = 3600.0
EXIT_INTERRUPTED = 130

RUN_FIELDS = """id phase desiredState verdict error faultType backend experimentId
  createdAt startedAt endedAt targets { label phase error nativeStatus }"""
START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id phase } ... on Error { code message field } } }"""
UPDATES = f"subscription($id: ID!) {{ runUpdates(runId: $id) {{ {RUN_FIELDS} }} }}"
RUN = f"query($id: ID!) {{ run(id: $id) {{ {RUN_FIELDS} }} }}"
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "interrupted by chaoshub run") {
  __typename } }"""


def hub_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--url`` and ``--token``, from the environment in a pipeline."""
    fn = click.option(
        "--token", envvar="CHAOSHUB_TOKEN", show_envvar=True, required=True, help="API token"
    )(fn)
    return click.option(
        "--url",
        envvar="CHAOSHUB_URL",
        show_envvar=True,
        default="http://127.0.0.1:8080",
        show_default=True,
        help="the hub",
    )(fn)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--wait/--no-wait", default=False, help="follow it to its end; exit 0 only if it passed"
)
@hub_options
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="seconds to wait at most (default: a workflow until it ends, as its deadlines "
    f"bound it; a single fault {RUN_TIMEOUT:.0f})",
)
@click.option(
    "--junit",
    "junit",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="with --wait: write a JUnit XML report here (one testcase per step and probe)",
)
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the final state as JSON on stdout (progress goes to stderr)",
)
def run(
    file: Path,
    wait: bool,
    url: str,
    token: str,
    timeout: float | None,
    junit: Path | None,
    output: str,
) -> None:
    """Start a workflow (kind: Workflow), a threshold search (kind: ThresholdSearch) or a
    single fault from a YAML file; with --wait, follow it and exit 0 only when it passes
    (a search: when it found a threshold), for pipelines.

    A single-fault file holds `experimentId: ID`, or `faultType`, `backend`, `params`,
    `selector` and `durationSeconds`. Exit status 1: it did not pass; 2: it could not run
    (bad file, hub unreachable, token or input refused).
    """
    if junit is not None and not wait:
        raise UsageProblem("--junit needs --wait: the report is written when the run ends")
    document = read_document(file)
    as_json = output == "json"

    def say(line: str) -> None:
        click.echo(line, err=as_json)

    with Hub(url, token) as hub:
        if document.is_search:
            if junit is not None:
                raise UsageProblem("--junit is for workflows and single faults, not searches")
            status = _search(hub, document, wait, timeout, as_json, say)
        elif document.is_workflow:
            status = _workflow(hub, document, wait, timeout, junit, as_json, say)
        else:
            status = _single(hub, document, wait, timeout, junit, as_json, say)
    sys.exit(status)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def _search(
    hub: Hub,
    document: Document,
    wait: bool,
    timeout: float | None,
    as_json: bool,
    say: Callable[[str], None],
) -> int:
    started = cli_threshold.start(hub, document)
    search_id = started["id"]
    say(cli_threshold.started_line(started))
    if not wait:
        if as_json:
            _print_json(started)
        return 0
    try:
        final, finished = cli_threshold.follow(hub, search_id, say, timeout)
    except KeyboardInterrupt:
        click.echo(f"threshold search {search_id}: abort requested", err=True)
        return EXIT_INTERRUPTED
    if not finished:
        click.echo(
            f"threshold search {search_id} did not end within {timeout:.0f}s; it is "
            f"{final['phase']}",
            err=True,
        )
    for line in cli_threshold.summary(final):
        say(line)
    if as_json:
        _print_json(final)
    return cli_threshold.search_exit(final) if finished else 1


def _workflow(
    hub: Hub,
    document: Document,
    wait: bool,
    timeout: float | None,
    junit: Path | None,
    as_json: bool,
    say: Callable[[str], None],
) -> int:
    started = cli_workflow.start(hub, document)
    run_id = started["id"]
    say(f"workflow run {run_id} started ({started['workflowName']} version {started['version']})")
    if not wait:
        if as_json:
            _print_json(started)
        return 0
    try:
        final, finished = cli_workflow.follow(hub, run_id, say, timeout)
    except KeyboardInterrupt:
        click.echo(f"workflow run {run_id}: abort requested", err=True)
        return EXIT_INTERRUPTED
    if not finished:
        click.echo(
            f"workflow run {run_id} did not end within {timeout:.0f}s; it is {final['phase']}",
            err=True,
        )
    for line in workflow_summary(final):
        say(line)
    if junit is not None:
        cli_junit.write(junit, [cli_junit.workflow_suite(final)])
    if as_json:
        _print_json(final)
    return workflow_exit(final) if finished else 1


def _single(
    hub: Hub,
    document: Document,
    wait: bool,
    timeout: float | None,
    junit: Path | None,
    as_json: bool,
    say: Callable[[str], None],
) -> int:
    result = hub.call(START, {"input": document.body})["startRun"]
    if result["__typename"] != "Run":
        raise UsageProblem(cli_workflow.refusal(result))
    run_id = result["id"]
    say(f"run {run_id} started")
    if not wait:
        if as_json:
            _print_json(result)
        return 0
    limit = RUN_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + limit
    last = ""
    finished = True
    try:
        for state in hub.follow(UPDATES, RUN, {"id": run_id}, ended=ended, deadline=deadline):
            if run_line(state) != last:
                last = run_line(state)
                say(last)
    except FollowTimeout:
        finished = False
    except KeyboardInterrupt:
        hub.call(ABORT, {"id": run_id})
        click.echo(f"run {run_id}: abort requested", err=True)
        return EXIT_INTERRUPTED
    final: dict[str, Any] = hub.call(RUN, {"id": run_id})["run"]
    if not finished:
        click.echo(
            f"run {run_id} did not end within {limit:.0f}s; it is {final['phase']}", err=True
        )
    for line in run_summary(final):
        say(line)
    if junit is not None:
        cli_junit.write(junit, [cli_junit.run_suite(final)])
    if as_json:
        _print_json(final)
    return run_exit(final) if finished and ended(final) else 1
