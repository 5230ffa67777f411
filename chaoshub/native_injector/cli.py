"""``chaoshub-injector``: start the host daemon.

It restores what a previous run left (re-adopting faults whose lease still holds,
recovering the rest), probes what the host can do, serves protocol v1 and, with
``--hub``, registers and heartbeats. On a clean stop it recovers every active fault
unless ``--keep-faults-on-exit`` is given (a restart then re-adopts them).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click
import uvicorn

from chaoshub.native_injector import __version__, restart
from chaoshub.native_injector.engine import Injector
from chaoshub.native_injector.guards import Guards, MiB
from chaoshub.native_injector.hubclient import HubClient, Registration
from chaoshub.native_injector.lease import LeaseWatcher
from chaoshub.native_injector.server import create_app

log = logging.getLogger("chaoshub.injector")

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/chaoshub-injector")
    return Path.home() / ".local" / "state" / "chaoshub-injector"


def _labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not k=v", param_hint="--labels")
        labels[key.strip()] = value.strip()
    return labels


def _api_token(given: str | None, state_dir: Path) -> str:
    if given:
        return given
    path = state_dir / "api-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter("expected HOST:PORT", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--listen", default="127.0.0.1:31767", show_default=True, help="HOST:PORT to serve")
@click.option("--hub", default=None, help="the hub's URL; register and heartbeat there")
@click.option(
    "--token",
    envvar="CHAOSHUB_AGENT_TOKEN",
    default=None,
    help="this agent's hub token (env CHAOSHUB_AGENT_TOKEN)",
)
@click.option(
    "--api-token",
    envvar="CHAOSHUB_INJECTOR_API_TOKEN",
    default=None,
    help="bearer token callers must send; generated under --state-dir if not given",
)
@click.option("--name", default=None, help="agent name (default: the host name)")
@click.option("--labels", default="", help="k=v,k=v labels the hub selects agents by")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="where active injections and the API token are kept",
)
@click.option(
    "--scripts-dir",
    envvar="CHAOSHUB_INJECTOR_SCRIPTS_DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="the only directory host-script and command probes may run scripts from "
    "(env CHAOSHUB_INJECTOR_SCRIPTS_DIR; `chaoshub up` passes it to its local agent)",
)
@click.option(
    "--advertise-url",
    default=None,
    help="URL the hub calls this injector at (default: from --listen)",
)
@click.option("--tls-cert", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(exists=True, path_type=Path), default=None)
@click.option(
    "--tls-ca",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="require client certificates signed by this CA (mutual TLS)",
)
@click.option("--insecure-listen", is_flag=True, help="allow plain HTTP on a non-loopback address")
@click.option(
    "--keep-faults-on-exit",
    is_flag=True,
    help="on a clean stop, leave active faults for the next start to re-adopt",
)
@click.option(
    "--min-free-disk-percent",
    envvar="CHAOSHUB_INJECTOR_MIN_FREE_DISK_PERCENT",
    type=click.FloatRange(0, 100),
    default=10.0,
    show_default=True,
    help="free space disk-fill and io-stress must leave, percent of the filesystem",
)
@click.option(
    "--min-free-disk-bytes",
    envvar="CHAOSHUB_INJECTOR_MIN_FREE_DISK_BYTES",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="free space they must leave, bytes (the larger of the two applies)",
)
@click.option(
    "--memory-headroom-percent",
    envvar="CHAOSHUB_INJECTOR_MEMORY_HEADROOM_PERCENT",
    type=click.FloatRange(0, 100),
    default=10.0,
    show_default=True,
    help="available memory memory-stress must leave, percent of RAM",
)
@click.option(
    "--memory-headroom-bytes",
    envvar="CHAOSHUB_INJECTOR_MEMORY_HEADROOM_BYTES",
    type=click.IntRange(min=0),
    default=256 * MiB,
    show_default=True,
    help="available memory it must leave, bytes (the larger of the two applies)",
)
@click.option(
    "--max-stressors",
    envvar="CHAOSHUB_INJECTOR_MAX_STRESSORS",
    type=click.IntRange(min=0),
    default=0,
    help="stress-ng workers that may run at once, over all stress faults (0: twice the CPUs)",
)
@click.option(
    "--listen-fd",
    type=click.IntRange(min=0),
    default=None,
    hidden=True,
    help="serve on this already bound, listening socket (inherited from the parent, which "
    "bound --listen's address: no race for the port between choosing and binding it)",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.version_option(__version__)
def main(
    listen: str,
    hub: str | None,
    token: str | None,
    api_token: str | None,
    name: str | None,
    labels: str,
    state_dir: Path | None,
    scripts_dir: Path | None,
    advertise_url: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    insecure_listen: bool,
    keep_faults_on_exit: bool,
    min_free_disk_percent: float,
    min_free_disk_bytes: int,
    memory_headroom_percent: float,
    memory_headroom_bytes: int,
    max_stressors: int,
    listen_fd: int | None,
    log_level: str,
) -> None:
    """Serve HTTP adapter protocol v1 for this host (the native injector)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    logging.basicConfig(level=log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per heartbeat

    host, port = _split_listen(listen)
    if not _loopback(host) and not tls_cert and not insecure_listen:
        raise click.UsageError(
            f"{host} is not loopback: give --tls-cert/--tls-key, or --insecure-listen"
        )
    if hub and not token:
        raise click.UsageError("--hub needs --token (the agent token the hub issued)")
    state = state_dir or _default_state_dir()
    state.mkdir(parents=True, exist_ok=True)
    secret = _api_token(api_token, state)
    agent = name or socket.gethostname()

    limits = Guards(
        min_free_disk_percent=min_free_disk_percent,
        min_free_disk_bytes=min_free_disk_bytes,
        memory_headroom_percent=memory_headroom_percent,
        memory_headroom_bytes=memory_headroom_bytes,
        max_stressors=max_stressors,
    )
    log.info("guards", extra=limits.as_dict())
    injector = Injector(state, scripts_dir, limits=limits)
    caps = injector.prober.faults(fresh=True)
    for fault, check in caps.items():
        log.info(
            "capability", extra={"fault": fault, "available": check.ok, "reason": check.detail}
        )
    try:
        restart.restore(injector)
    except Exception:  # serve anyway: the hub can still see and recover what is recorded
        log.exception("restoring the previous run's injections failed")
    watcher = LeaseWatcher(injector)
    watcher.start()

    client = None
    if hub and token:
        scheme = "https" if tls_cert else "http"
        # an address that means "every interface" is no address to call back
        reachable = socket.gethostname() if host in ("0.0.0.0", "::") else host
        if ":" in reachable:
            reachable = f"[{reachable}]"
        url = advertise_url or f"{scheme}://{reachable}:{port}"
        client = HubClient(
            Registration(
                hub=hub,
                token=token,
                name=agent,
                url=url,
                api_token=secret,
                version=__version__,
                labels=_labels(labels),
            ),
            capabilities=lambda: {
                f: {"available": c.ok, "reason": c.detail}
                for f, c in injector.prober.faults().items()
            },
            active=lambda: [r.execution_id for r in injector.live()],
            limits=injector.guard_report,
        )
        injector.on_guarded_change = client.nudge
        client.start()

    app = create_app(injector, secret, agent)
    ssl: dict[str, Any] = {}
    if tls_cert:
        ssl = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key) if tls_key else None}
        if tls_ca:
            ssl |= {"ssl_ca_certs": str(tls_ca), "ssl_cert_reqs": 2}  # ssl.CERT_REQUIRED
    log.info("serving", extra={"listen": f"{host}:{port}", "agent": agent, "state_dir": str(state)})
    # uvicorn re-raises the stop signal once it has shut down; with these no-op handlers
    # in place that reaches the cleanup below instead of ending the process first
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, **ssl
        )
        server = uvicorn.Server(config)
        if listen_fd is not None:
            server.run(sockets=[socket.socket(fileno=listen_fd)])
        else:
            server.run()
    finally:
        if client is not None:
            client.stop()
        watcher.stop()
        if not keep_faults_on_exit:
            for record in injector.live():
                try:
                    injector.recover(record.execution_id, "injector stopped")
                except Exception:
                    log.exception(
                        "could not recover on exit", extra={"execution_id": record.execution_id}
                    )
