"""The ``chaoshub`` command: the embedded hub, the production processes, and tools for
pipelines (``run FILE --wait``)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx
import yaml

from chaoshub import __version__
from chaoshub.config import Settings, set_settings

TERMINAL = {"completed", "aborted", "failed"}


def _logging(level: str) -> None:
    from chaoshub import logs

    logs.configure(level)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chaoshub")
def main() -> None:
    """Chaos Hub: one API in front of many chaos-engineering tools."""


# -- serving ---------------------------------------------------------------------------------------


def _serve(settings: Settings, host: str, port: int, *, embedded: bool, log_level: str) -> None:
    import uvicorn

    from chaoshub.api.app import bootstrap, create_app
    from chaoshub.execution import tasks
    from chaoshub.execution.celery_app import configure
    from chaoshub.logs import uvicorn_log_config
    from chaoshub.runtime import Runtime, set_runtime

    set_settings(settings)
    runtime = Runtime(settings)
    set_runtime(runtime)
    configure(settings)
    created = bootstrap(runtime)
    for problem in runtime.catalog.problems:
        click.echo(f"catalog: {problem}", err=True)
    if created:
        click.echo(
            f"\nAdmin token (shown once; also in {settings.data_dir / 'admin-token'}):\n\n    {created}\n"
        )
    elif not settings.admin_token:
        click.echo(f"Admin token: {settings.data_dir / 'admin-token'}")
    worker = None
    local_agent = None
    if embedded:
        from chaoshub.embedded import EmbeddedWorker

        worker = EmbeddedWorker(settings)
        worker.start()
        local_agent = _start_local_agent(runtime, host, port)

    def shutdown() -> None:
        if local_agent is not None:
            local_agent.stop()
        if worker is not None:
            worker.stop()

    app = create_app(runtime, tasks.dispatch, on_shutdown=shutdown)
    click.echo(f"Chaos Hub {__version__} on http://{host}:{port}  (GraphQL: /graphql)")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level.lower(),
            log_config=uvicorn_log_config(settings.log_queries),
            ws_max_size=settings.max_body_bytes,
        )
    finally:
        shutdown()


def _start_local_agent(runtime: Any, host: str, port: int) -> Any:
    """Start the local native injector on loopback and let it register with this hub."""
    from chaoshub.embedded import LocalAgent

    hub_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    agent = LocalAgent(runtime, f"http://{hub_host}:{port}")
    return agent if agent.start() else None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="where the database and admin token live"
)
@click.option("--log-level", default="info", show_default=True)
def up(host: str, port: int, data_dir: Path | None, log_level: str) -> None:
    """The embedded hub: SQLite, in-process worker and beat, a local agent, the console."""
    _logging(log_level)
    overrides: dict[str, Any] = {"broker_url": "memory://", "bus_url": "local", "embedded": True}
    if data_dir:
        overrides["data_dir"] = data_dir
        os.environ["CHAOSHUB_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env(**overrides)
    if "CHAOSHUB_DATABASE_URL" not in os.environ:
        settings = Settings.from_env(
            **overrides, database_url=f"sqlite:///{settings.data_dir / 'chaoshub.db'}"
        )
    _serve(settings, host, port, embedded=True, log_level=log_level)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
def api(host: str, port: int, log_level: str) -> None:
    """The API process (production): CHAOSHUB_DATABASE_URL, CHAOSHUB_BROKER_URL."""
    _logging(log_level)
    _serve(Settings.from_env(), host, port, embedded=False, log_level=log_level)


@main.command()
@click.option(
    "--queues", "-Q", help="comma-separated queues (default: hub and every adapter.<name>)"
)
@click.option("--concurrency", "-c", default=8, show_default=True, type=int)
@click.option(
    "--pool",
    default="threads",
    show_default=True,
    type=click.Choice(["threads", "prefork", "solo"]),
)
@click.option("--hostname", "-n", default=None, help="Celery node name")
@click.option(
    "--metrics-port", type=int, default=None, help="serve this worker's /metrics on this port"
)
@click.option("--log-level", default="info", show_default=True)
def worker(
    queues: str | None,
    concurrency: int,
    pool: str,
    hostname: str | None,
    metrics_port: int | None,
    log_level: str,
) -> None:
    """A Celery worker (production). Consumes every adapter queue unless told otherwise."""
    from chaoshub.execution.celery_app import all_queues, configure
    from chaoshub.runtime import Runtime, set_runtime

    _logging(log_level)
    settings = set_settings(Settings.from_env())
    set_runtime(Runtime(settings))
    app = configure(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    argv = [
        "worker",
        "-Q",
        queues or ",".join(all_queues()),
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-l",
        log_level,
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv += ["-n", hostname]
    app.worker_main(argv)


@main.command()
@click.option("--log-level", default="info", show_default=True)
def beat(log_level: str) -> None:
    """Celery beat (production): runs the reconciler every CHAOSHUB_RECONCILE_SECONDS."""
    from chaoshub.execution.celery_app import configure

    _logging(log_level)
    settings = set_settings(Settings.from_env())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = configure(settings)
    app.start(["beat", "-l", log_level, "-s", str(settings.data_dir / "beat-schedule")])


# -- inspection ------------------------------------------------------------------------------------


@main.command("adapters")
def list_adapters() -> None:
    """List the installed adapters and what they declare."""
    from chaoshub import registry

    for name in registry.names():
        try:
            cls = registry.get(name)
        except Exception as exc:
            click.echo(f"{name:<12} cannot be imported: {exc}")
            continue
        pause = "pause" if cls.capabilities.pause else "-"
        click.echo(
            f"{name:<12} {pause:<6} {', '.join(sorted(cls.capabilities.faults)) or '(faults from the server)'}"
        )


@main.command("faults")
@click.option("--adapter", default=None)
@click.option("--json", "as_json", is_flag=True, help="print the entries as JSON")
def list_faults(adapter: str | None, as_json: bool) -> None:
    """List the fault catalog, and entries that could not be loaded."""
    from chaoshub import catalog

    loaded = catalog.load()
    entries = [f for f in loaded.all() if not adapter or f.adapter == adapter]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": f.id,
                        "title": f.title,
                        "category": f.category,
                        "time_control": f.time_control.value,
                        "params": f.params,
                    }
                    for f in entries
                ],
                indent=2,
            )
        )
    else:
        for f in entries:
            click.echo(f"{f.id:<36} {f.category:<12} {f.time_control.value:<9} {f.title}")
    for problem in loaded.problems:
        click.echo(f"not loaded: {problem}", err=True)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to CHAOSHUB_DATABASE_URL."""
    from chaoshub.store.db import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo("database is at the latest revision")


# -- pipelines -------------------------------------------------------------------------------------

START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id phase } ... on Error { code message field } } }"""
RUN = """query($id: ID!) { run(id: $id) { id phase verdict error desiredState
  targets { label phase error nativeStatus } } }"""
ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "interrupted by chaoshub run") { __typename } }"""


def _gql(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    if response.status_code == 401:
        raise click.ClickException(response.json()["errors"][0]["message"])
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise click.ClickException("; ".join(e["message"] for e in body["errors"]))
    return body["data"]


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--wait/--no-wait", default=False, help="wait for the run to end; exit 0 only if it passed"
)
@click.option("--url", envvar="CHAOSHUB_URL", default="http://127.0.0.1:8080", show_default=True)
@click.option(
    "--token", envvar="CHAOSHUB_TOKEN", required=True, help="API token (or CHAOSHUB_TOKEN)"
)
@click.option("--timeout", default=3600.0, show_default=True, help="seconds to wait at most")
def run(file: Path, wait: bool, url: str, token: str, timeout: float) -> None:
    """Start a run from a YAML experiment; with --wait, exit 0 only when it completes with a
    passing or empty verdict (for pipelines).

    The file holds either `experimentId: ID` or `faultType`, `backend`, `params`,
    `selector` and `durationSeconds`.
    """
    doc = yaml.safe_load(file.read_text()) or {}
    if not isinstance(doc, dict):
        raise click.ClickException(f"{file}: expected a mapping")
    keys = {"experimentId", "faultType", "backend", "params", "selector", "durationSeconds"}
    unknown = sorted(set(doc) - keys)
    if unknown:
        raise click.ClickException(
            f"{file}: unknown key {unknown[0]!r} (expected {', '.join(sorted(keys))})"
        )
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        result = _gql(client, START, {"input": doc})["startRun"]
        if result["__typename"] != "Run":
            field = ".".join(result.get("field") or [])
            raise click.ClickException(
                f"{result['code']}: {field + ': ' if field else ''}{result['message']}"
            )
        run_id = result["id"]
        click.echo(f"run {run_id} started")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        last = ""
        try:
            while True:
                state = _gql(client, RUN, {"id": run_id})["run"]
                line = f"{state['phase']} (desired {state['desiredState']}, verdict {state['verdict']})"
                if line != last:
                    click.echo(f"run {run_id}: {line}")
                    last = line
                if state["phase"] in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise click.ClickException(
                        f"run {run_id} did not end within {timeout:.0f}s; it is {state['phase']}"
                    )
                time.sleep(1)
        except KeyboardInterrupt:
            _gql(client, ABORT, {"id": run_id})
            click.echo(f"run {run_id}: abort requested", err=True)
            sys.exit(130)
    for t in state["targets"]:
        click.echo(f"  {t['label']}: {t['phase']}{' - ' + t['error'] if t['error'] else ''}")
    if state["error"]:
        click.echo(f"  error: {state['error']}", err=True)
    ok = state["phase"] == "completed" and state["verdict"] in ("pass", "none")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
