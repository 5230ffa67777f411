"""Agents: native injectors that register themselves and heartbeat.

Every registered agent is reachable through the fleet backend ``native`` (adapter
``native``), whose selector picks agents by name or labels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub import registry
from chaoshub.errors import InvalidInput, NotFound
from chaoshub.services import events
from chaoshub.services.auth import Actor
from chaoshub.store.models import Agent, Backend

FLEET_BACKEND = "native"
HEARTBEAT_SECONDS = 5


def heartbeat_seconds(agent_timeout: float) -> float:
    """How often agents should heartbeat: several times within the offline timeout."""
    return max(0.5, min(HEARTBEAT_SECONDS, agent_timeout / 3))


def ensure_fleet_backend(session: Session) -> Backend | None:
    if not registry.is_registered("native"):
        return None
    row = session.scalars(select(Backend).where(Backend.name == FLEET_BACKEND)).one_or_none()
    if row is None:
        row = Backend(name=FLEET_BACKEND, adapter="native", config={})
        session.add(row)
        session.flush()
    return row


def register(session: Session, actor: Actor, body: dict[str, Any]) -> Agent:
    name = str(body.get("name") or "").strip()
    url = str(body.get("url") or "").strip()
    if not name:
        raise InvalidInput("an agent needs a name", field=["name"])
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("url must be http(s)://host:port", field=["url"])
    labels = body.get("labels") or {}
    if not isinstance(labels, dict):
        raise InvalidInput("labels must be an object", field=["labels"])
    now = datetime.now(UTC)
    agent = session.scalars(select(Agent).where(Agent.name == name)).one_or_none()
    was_online = agent.online if agent else False
    if agent is None:
        agent = Agent(name=name, url=url)
        session.add(agent)
    agent.url = url
    agent.labels = {str(k): str(v) for k, v in labels.items()}
    agent.version = str(body.get("version") or "")
    agent.capabilities = dict(body.get("capabilities") or {})
    agent.api_token = str(body.get("api_token") or "")
    agent.online = True
    agent.last_heartbeat = now
    agent.token_id = actor.token_id
    fleet = ensure_fleet_backend(session)
    agent.backend_id = fleet.id if fleet else None
    session.flush()
    if not was_online:
        events.record(
            session, "agent-online", f"registered from {url} (version {agent.version})", agent=name
        )
    return agent


def heartbeat(session: Session, actor: Actor, body: dict[str, Any]) -> Agent:
    name = str(body.get("name") or "")
    agent = session.scalars(select(Agent).where(Agent.name == name)).one_or_none()
    if agent is None:
        raise NotFound(f"no agent named {name!r}: register first", field=["name"])
    agent.last_heartbeat = datetime.now(UTC)
    if body.get("capabilities"):
        agent.capabilities = dict(body["capabilities"])
    if not agent.online:
        agent.online = True
        events.record(session, "agent-online", "heartbeats resumed", agent=name)
    return agent
