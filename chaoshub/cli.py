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


def _logging(level: str) -> None:
    from chaoshub import logs

    logs.configure(level)


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


def _serve(settings: Settings, host: str, port: int, *, embedded: bool, log_level: str) -> None:
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
        click.echo(f"catalog: {problem}", err=True)
    for reason in runtime.catalog.unavailable.values():
        click.echo(f"unavailable: {reason}", err=True)
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
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=log_level.lower(),
            log_config=uvicorn_log_config(settings.log_queries),
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
