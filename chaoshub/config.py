"""Settings, read from the environment (``CHAOSHUB_*``) once per process."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _networks(value: str) -> tuple[str, ...]:
    out = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ValueError(f"CHAOSHUB_AGENT_NETWORKS: {item!r} is not a CIDR ({exc})") from exc
    return tuple(out)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _bool(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


#: below this a status call's own latency could let a lease lapse under a live hub
MIN_FAULT_LEASE_SECONDS = 4.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    #: where run updates are published: a redis:// URL, or ``local`` (one process)
    bus_url: str
    admin_token: str | None = None
    reconcile_seconds: float = 1.0
    run_lease_seconds: float = 10.0
    agent_timeout_seconds: float = 15.0
    recover_backoff_max_seconds: float = 60.0
    #: how often the orphan sweep lists the agents and http backends; 0 turns it off
    orphan_sweep_seconds: float = 30.0
    #: how long a tool with a dead-man's switch (the native injector, any protocol-v1
    #: server) keeps a fault without hearing from the hub; the watch renews it well within
    fault_lease_seconds: float = 60.0
    #: how often a held (timed) fault's status is refreshed; each refresh costs a worker
    #: thread a few tens of ms, so fewer, later refreshes let one worker hold more runs.
    #: Never more than a quarter of the fault lease, whatever is set here.
    watch_seconds: float = 5.0
    #: networks (CIDRs) an agent's URL may resolve into; empty: any
    agent_networks: tuple[str, ...] = ()
    #: how often open GraphQL websockets have their token checked again (a revocation
    #: notice on the bus closes them at once; this bounds a role changed in the database)
    ws_token_recheck_seconds: float = 5.0
    #: events out: the first retry of a failed delivery waits this long, each next one
    #: twice as long (with jitter) up to ``event_retry_max_seconds``
    event_retry_seconds: float = 2.0
    event_retry_max_seconds: float = 300.0
    #: how long one webhook call may take before it counts as failed
    event_delivery_timeout_seconds: float = 10.0
    embedded: bool = False
    #: API limits (README "Limits"): request body, query depth, aliases, tokens, expensive
    #: fields (those that call a tool) per request and per token per minute
    max_body_bytes: int = 1_000_000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_tokens: int = 5000
    max_expensive_fields: int = 5
    expensive_per_minute: int = 60
    #: serve /docs, /openapi.json and /redoc without a token (off: not served at all)
    public_schema: bool = False
    #: write the query string of each request into the access log
    log_queries: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        data_dir = Path(os.environ.get("CHAOSHUB_DATA_DIR") or Path.home() / ".chaoshub")
        if "data_dir" in overrides:
            data_dir = Path(str(overrides["data_dir"]))
        database_url = (
            os.environ.get("CHAOSHUB_DATABASE_URL") or f"sqlite:///{data_dir / 'chaoshub.db'}"
        )
        broker_url = os.environ.get("CHAOSHUB_BROKER_URL") or "redis://127.0.0.1:6379/0"
        bus_url = os.environ.get("CHAOSHUB_BUS_URL") or (
            broker_url if broker_url.startswith(("redis://", "rediss://")) else "local"
        )
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url,
            bus_url=bus_url,
            admin_token=os.environ.get("CHAOSHUB_ADMIN_TOKEN") or None,
            reconcile_seconds=_float("CHAOSHUB_RECONCILE_SECONDS", 1.0),
            run_lease_seconds=_float("CHAOSHUB_RUN_LEASE_SECONDS", 10.0),
            agent_timeout_seconds=_float("CHAOSHUB_AGENT_TIMEOUT_SECONDS", 15.0),
            recover_backoff_max_seconds=_float("CHAOSHUB_RECOVER_BACKOFF_MAX_SECONDS", 60.0),
            orphan_sweep_seconds=_float("CHAOSHUB_ORPHAN_SWEEP_SECONDS", 30.0),
            fault_lease_seconds=_float("CHAOSHUB_FAULT_LEASE_SECONDS", 60.0),
            watch_seconds=_float("CHAOSHUB_WATCH_SECONDS", 5.0),
            agent_networks=_networks(os.environ.get("CHAOSHUB_AGENT_NETWORKS", "")),
            ws_token_recheck_seconds=_float("CHAOSHUB_WS_TOKEN_RECHECK_SECONDS", 5.0),
            max_body_bytes=_int("CHAOSHUB_MAX_BODY_BYTES", 1_000_000),
            max_query_depth=_int("CHAOSHUB_MAX_QUERY_DEPTH", 12),
            max_aliases=_int("CHAOSHUB_MAX_ALIASES", 30),
            max_query_tokens=_int("CHAOSHUB_MAX_QUERY_TOKENS", 5000),
            max_expensive_fields=_int("CHAOSHUB_MAX_EXPENSIVE_FIELDS", 5),
            expensive_per_minute=_int("CHAOSHUB_EXPENSIVE_PER_MINUTE", 60),
            public_schema=_bool("CHAOSHUB_PUBLIC_SCHEMA"),
            log_queries=_bool("CHAOSHUB_LOG_QUERIES"),
            event_retry_seconds=_float("CHAOSHUB_EVENT_RETRY_SECONDS", 2.0),
            event_retry_max_seconds=_float("CHAOSHUB_EVENT_RETRY_MAX_SECONDS", 300.0),
            event_delivery_timeout_seconds=_float("CHAOSHUB_EVENT_DELIVERY_TIMEOUT_SECONDS", 10.0),
        )
        overrides.pop("data_dir", None)
        settings = replace(settings, **overrides)  # type: ignore[arg-type]
        if settings.fault_lease_seconds < MIN_FAULT_LEASE_SECONDS:
            raise ValueError(
                f"CHAOSHUB_FAULT_LEASE_SECONDS must be at least {MIN_FAULT_LEASE_SECONDS:g} "
                f"(got {settings.fault_lease_seconds:g}): the hub renews leases every quarter "
                "of it and needs time to do so"
            )
        _networks(",".join(settings.agent_networks))
        if settings.ws_token_recheck_seconds <= 0:
            raise ValueError(
                "CHAOSHUB_WS_TOKEN_RECHECK_SECONDS must be more than 0 "
                f"(got {settings.ws_token_recheck_seconds:g})"
            )
        if settings.watch_seconds <= 0:
            raise ValueError(
                f"CHAOSHUB_WATCH_SECONDS must be more than 0 (got {settings.watch_seconds:g})"
            )
        return settings


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def set_settings(settings: Settings) -> Settings:
    global _current
    _current = settings
    return settings
