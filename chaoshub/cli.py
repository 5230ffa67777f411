"""The ``chaoshub`` command: the embedded hub, the production processes, and tools for
pipelines (``run FILE --wait`` in :mod:`chaoshub.cli_run`, ``validate FILE`` in
:mod:`chaoshub.cli_validate`).

A mistake a person can fix (a port in use, a file that is not YAML, a hub that cannot be
reached) is one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import click

from chaoshub import __version__
from chaoshub.cli_documents import UsageProblem
from chaoshub.cli_import import export_, import_
from chaoshub.cli_run import run
from chaoshub.cli_validate import validate
from chaoshub.config import Settings, set_settings

ENVIRONMENT = """\b
Environment:
  CHAOSHUB_URL     the hub `chaoshub run` and `validate` talk to (default http://127.0.0.1:8080)
  CHAOSHUB_TOKEN   the API token `chaoshub run` and `validate` send
  CHAOSHUB_DATA_DIR, CHAOSHUB_DATABASE_URL, CHAOSHUB_BROKER_URL and the timings in the
  README configure the hub processes (up, api, worker, beat)."""


def _logging(level: str, fmt: str) -> None:
    from chaoshub import logs

    logs.configure(level, fmt)


#: how the hub processes write their log: text, or one JSON object per line
log_format_option = click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    envvar="CHAOSHUB_LOG_FORMAT",
    default="text",
    show_default=True,
    help="text, or one JSON object per line (also CHAOSHUB_LOG_FORMAT)",
)


def _say(fmt: str, message: str, *, err: bool = False, **fields: Any) -> None:
    """A line for the person who started the process: as it is in text (on stderr when
    ``err``), a log line in JSON (so every line of a JSON log parses)."""
    if fmt == "json":
        import logging

        logging.getLogger("chaoshub.cli").log(
            logging.WARNING if err else logging.INFO, message, extra=fields
        )
    else:
        click.echo(message, err=err)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENVIRONMENT)
@click.version_option(__version__, prog_name="chaoshub")
def main() -> None:
    """Chaos Hub: one API in front of many chaos-engineering tools."""


main.add_command(run)
main.add_command(validate)
main.add_command(import_)
main.add_command(export_)


# -- serving ---------------------------------------------------------------------------------------


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening before anything is announced: a port in use
    is one line and exit 2, with no token printed and nothing started."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageProblem(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageProblem(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    embedded: bool,
    log_level: str,
    log_format: str = "text",
) -> None:
    sock = _listen(host, port)
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
        _say(log_format, f"catalog: {problem}", err=True)
    for reason in runtime.catalog.unavailable.values():
        _say(log_format, f"unavailable: {reason}", err=True)
    token_file = settings.data_dir / "admin-token"
    if created and log_format == "json":
        # a JSON log is usually shipped somewhere: the token stays in its 0600 file
        _say(log_format, f"admin token created: read it from {token_file}", path=str(token_file))
    elif created:
        click.echo(f"\nAdmin token (shown once; also in {token_file}):\n\n    {created}\n")
    elif not settings.admin_token:
        _say(log_format, f"Admin token: {token_file}", path=str(token_file))
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
    _say(
        log_format,
        f"Chaos Hub {__version__} on http://{host}:{port}  (GraphQL: /graphql)",
        url=f"http://{host}:{port}",
        version=__version__,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=log_level.lower(),
            log_config=uvicorn_log_config(settings.log_queries, log_format),
            ws_max_size=settings.max_body_bytes,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
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
@log_format_option
def up(host: str, port: int, data_dir: Path | None, log_level: str, log_format: str) -> None:
    """The embedded hub: SQLite, in-process worker and beat, a local agent, the console."""
    log_format = log_format.lower()
    _logging(log_level, log_format)
    overrides: dict[str, Any] = {"broker_url": "memory://", "bus_url": "local", "embedded": True}
    if data_dir:
        overrides["data_dir"] = data_dir
        os.environ["CHAOSHUB_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env(**overrides)
    if "CHAOSHUB_DATABASE_URL" not in os.environ:
        settings = Settings.from_env(
            **overrides, database_url=f"sqlite:///{settings.data_dir / 'chaoshub.db'}"
        )
    _serve(settings, host, port, embedded=True, log_level=log_level, log_format=log_format)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
@log_format_option
def api(host: str, port: int, log_level: str, log_format: str) -> None:
    """The API process (production): CHAOSHUB_DATABASE_URL, CHAOSHUB_BROKER_URL."""
    log_format = log_format.lower()
    _logging(log_level, log_format)
    _serve(
        Settings.from_env(),
        host,
        port,
        embedded=False,
        log_level=log_level,
        log_format=log_format,
    )


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
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="the address --metrics-port listens on (0.0.0.0 for a Prometheus in another container)",
)
@click.option("--log-level", default="info", show_default=True)
@log_format_option
def worker(
    queues: str | None,
    concurrency: int,
    pool: str,
    hostname: str | None,
    metrics_port: int | None,
    metrics_host: str,
    log_level: str,
    log_format: str,
) -> None:
    """A Celery worker (production). Consumes every adapter queue unless told otherwise."""
    from chaoshub.execution.celery_app import all_queues, configure
    from chaoshub.runtime import Runtime, set_runtime

    log_format = log_format.lower()
    _logging(log_level, log_format)
    settings = set_settings(Settings.from_env())
    set_runtime(Runtime(settings))
    app = configure(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        from chaoshub import metrics, registry

        metrics.start_series(registry.names())
        start_http_server(metrics_port, addr=metrics_host)
    # in JSON, no banner: every line of the log is a JSON object
    argv = [
        *(["--quiet"] if log_format == "json" else []),
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
@log_format_option
def beat(log_level: str, log_format: str) -> None:
    """Celery beat (production): runs the reconciler every CHAOSHUB_RECONCILE_SECONDS."""
    from chaoshub.execution.celery_app import configure

    log_format = log_format.lower()
    _logging(log_level, log_format)
    settings = set_settings(Settings.from_env())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = configure(settings)
    quiet = ["--quiet"] if log_format == "json" else []
    app.start([*quiet, "beat", "-l", log_level, "-s", str(settings.data_dir / "beat-schedule")])


# -- inspection ------------------------------------------------------------------------------------


@main.command("adapters")
def list_adapters() -> None:
    """List the installed adapters and what they declare."""
    from chaoshub import registry

    click.echo(f"{'ADAPTER':<12} {'PAUSE':<6} FAULTS")
    for name in registry.names():
        reason = registry.unavailable(name)
        if reason is not None:
            click.echo(f"{name:<12} {'-':<6} unavailable: {reason}")
            continue
        caps = registry.get(name).capabilities
        faults = ", ".join(sorted(caps.faults)) or "(faults from the server)"
        click.echo(f"{name:<12} {'yes' if caps.pause else '-':<6} {faults}")


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
                        "installed": not f.unavailable,
                        "install_hint": f.unavailable or None,
                    }
                    for f in entries
                ],
                indent=2,
            )
        )
    else:
        click.echo(f"{'ID':<36} {'CATEGORY':<12} {'CONTROL':<9} {'INSTALLED':<10} TITLE")
        for f in entries:
            installed = "no" if f.unavailable else "yes"
            click.echo(
                f"{f.id:<36} {f.category:<12} {f.time_control.value:<9} {installed:<10} {f.title}"
            )
    shown = {f.adapter for f in entries}
    for name, reason in sorted(loaded.unavailable.items()):
        if name in shown:
            click.echo(f"unavailable: {reason}", err=True)
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


if __name__ == "__main__":
    main()
