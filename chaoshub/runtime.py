"""One process's wiring: settings, database sessions, the catalog, the bus, adapters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import catalog as catalog_mod
from chaoshub import registry, schemas, secrets
from chaoshub.bus import Bus, make_bus
from chaoshub.config import Settings, get_settings
from chaoshub.contract import Adapter
from chaoshub.errors import InvalidInput
from chaoshub.services import presence
from chaoshub.services.presence import Presence
from chaoshub.store import db
from chaoshub.store.models import Agent, Backend, FaultTypeRow

log = logging.getLogger("chaoshub.runtime")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._catalog: catalog_mod.Catalog | None = None
        self._bus: Bus | None = None
        self._presence: Presence | None = None
        self._lock = threading.Lock()

    # -- database --------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.settings.database_url) as session:
            yield session

    def migrate(self) -> None:
        db.upgrade(self.settings.database_url)

    # -- catalog and bus ---------------------------------------------------------------------------

    @property
    def catalog(self) -> catalog_mod.Catalog:
        """The packaged catalog plus what ``http`` backends described of themselves."""
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    self._catalog = catalog_mod.load()
        with self.session() as s:
            rows = s.scalars(select(FaultTypeRow).where(FaultTypeRow.described_by.is_not(None)))
            described = [(f"backend {r.described_by}", dict(r.spec)) for r in rows]
        return self._catalog.with_described(described)

    def fault_type(self, fault_id: str) -> catalog_mod.FaultType:
        """One fault type. A packaged entry is answered without reading the database: what
        a backend describes of itself never replaces a packaged entry
        (:meth:`Catalog.with_described`), so only an id the package lacks is looked up
        among the described ones."""
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    self._catalog = catalog_mod.load()
        entry = self._catalog.entries.get(fault_id)
        return entry if entry is not None else self.catalog.get(fault_id)

    def reload_catalog(self) -> catalog_mod.Catalog:
        with self._lock:
            self._catalog = catalog_mod.load(fresh=True)
        return self._catalog

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            with self._lock:
                if self._bus is None:
                    self._bus = make_bus(self.settings.bus_url)
        return self._bus

    @property
    def presence(self) -> Presence:
        """Where agents' heartbeats and host reports are kept (not the database rows)."""
        if self._presence is None:
            with self._lock:
                if self._presence is None:
                    self._presence = presence.for_hub(
                        self.settings.broker_url, self.settings.database_url
                    )
        return self._presence

    def report_max_age(self) -> float:
        """How old an agent's stored host report may be for a start to rely on it instead
        of asking the agent: two heartbeat intervals (one beat may be lost or late)."""
        return 2 * presence.heartbeat_seconds(self.settings.agent_timeout_seconds)

    def publish_run(self, run_id: str, event_ids: list[int] | None = None) -> None:
        self.bus.publish(run_notice(run_id, event_ids))

    def publish_events(self, event_ids: list[int], run_id: str | None = None) -> None:
        if event_ids:
            self.bus.publish({"kind": "events", "run_id": run_id, "event_ids": event_ids})

    # -- adapters ----------------------------------------------------------------------------------

    def adapter_for(self, session: Session, backend: Backend) -> Adapter:
        cls = registry.get(backend.adapter)
        config: dict[str, Any] = dict(backend.config or {})
        if getattr(cls, "needs_agents", False):
            agents = session.scalars(select(Agent).order_by(Agent.name)).all()
            config["agents"] = [
                {
                    "name": a.name,
                    "url": a.url,
                    "token": a.api_token,
                    "labels": a.labels or {},
                    "online": a.online,
                    "capabilities": a.capabilities or {},
                }
                for a in agents
            ]
        adapter = cls(config, backend=backend.name)
        if getattr(cls, "needs_agents", False):
            store = self.presence
            adapter.stored_reports = store.reports  # type: ignore[attr-defined]
            adapter.report_max_age = self.report_max_age()  # type: ignore[attr-defined]
        return adapter


def validate_backend_config(adapter: str, config: dict[str, Any]) -> type[Adapter]:
    cls = registry.get(adapter)
    hidden = secrets.values(config, cls.config_schema)
    for error in sorted(
        schemas.validator(cls.config_schema).iter_errors(config), key=lambda e: list(e.path)
    ):
        path = [str(p) for p in error.absolute_path]
        # jsonschema's messages quote the value: never a secret's
        message = secrets.scrub(
            error.message, hidden, f"{'.'.join(path) or 'config'} fails {error.validator!r}"
        )
        raise InvalidInput(message, field=["config", *path])
    try:
        cls.validate_config(config)
    except InvalidInput as exc:
        text = secrets.scrub(str(exc), hidden, "the config is not valid")
        if text != str(exc):
            raise InvalidInput(text, field=exc.field) from None
        raise
    return cls


def run_notice(run_id: str, event_ids: list[int] | None = None) -> dict[str, Any]:
    """The bus message saying a run changed."""
    return {"kind": "run", "run_id": run_id, "event_ids": event_ids or []}


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(get_settings())
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime
