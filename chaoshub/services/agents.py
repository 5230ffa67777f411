"""Agents: native injectors that register themselves and heartbeat.

Every registered agent is reachable through the fleet backend ``native`` (adapter
``native``), whose selector picks agents by name or labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chaoshub import registry
from chaoshub.errors import Forbidden, InvalidInput, NotFound
from chaoshub.lifecycle import Phase
from chaoshub.services import audit, auth, events, presence
from chaoshub.services.agent_urls import check_agent_url
from chaoshub.services.auth import Actor
from chaoshub.store.models import Agent, ApiToken, Backend, Run, RunTarget

FLEET_BACKEND = "native"
HEARTBEAT_SECONDS = presence.HEARTBEAT_SECONDS
heartbeat_seconds = presence.heartbeat_seconds


def ensure_fleet_backend(session: Session) -> Backend | None:
    if not registry.is_registered("native"):
        return None
    row = session.scalars(select(Backend).where(Backend.name == FLEET_BACKEND)).one_or_none()
    if row is None:
        row = Backend(name=FLEET_BACKEND, adapter="native", config={})
        session.add(row)
        session.flush()
    return row


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{key} must be text of at most {limit} characters", field=[key])
    return value


def object_field(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object", field=[key])
    return value


def _claim(session: Session, actor: Actor, name: str, agent: Agent | None) -> None:
    """Refuse ``name`` unless this token may speak for it; an unbound agent token takes it.

    A name belongs to the one live token bound to it. An agent token is bound at creation
    (``createApiToken(agentName)``) or by its first registration; a token still unbound
    may not take a name another live token registered before the binding existed."""
    if actor.role == "agent" and actor.agent_name is not None:
        if actor.agent_name != name:
            raise Forbidden(
                f"this token is bound to agent {actor.agent_name!r}, not {name!r}", field=["name"]
            )
        return
    holder = auth.bound_token(session, name)
    if holder is not None and holder.id != actor.token_id:
        raise Forbidden(f"agent {name!r} belongs to another token", field=["name"])
    if agent is not None and agent.token_id and agent.token_id != actor.token_id:
        owner = session.get(ApiToken, agent.token_id)
        if owner is not None and owner.revoked_at is None:
            raise Forbidden(f"agent {name!r} belongs to another token", field=["name"])
    if actor.role == "agent" and actor.token_id:
        token = session.get(ApiToken, actor.token_id)
        assert token is not None
        token.agent_name = name
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError as exc:  # another token claimed it in the meantime
            raise Forbidden(f"agent {name!r} belongs to another token", field=["name"]) from exc


def live_runs_on(session: Session, name: str) -> list[str]:
    """Runs not yet ended with a target on agent ``name``."""
    ended = [p.value for p in Phase if p.terminal]
    return list(
        session.scalars(
            select(Run.id)
            .join(RunTarget, RunTarget.run_id == Run.id)
            .where(
                Run.adapter == "native",
                Run.phase.not_in(ended),
                RunTarget.target_id.startswith(f"{name}/", autoescape=True),
            )
            .distinct()
        )
    )


def host_report(body: dict[str, Any]) -> dict[str, Any] | None:
    """The agent's guards and what they are checked against (``{"guards", "host"}``, as in
    its health answer), sent with registration and every beat; ``None`` when not sent."""
    report = object_field(body, "limits")
    if not report:
        return None
    if not isinstance(report.get("guards"), dict) or not isinstance(report.get("host"), dict):
        raise InvalidInput("limits holds the objects guards and host", field=["limits"])
    return {"guards": report["guards"], "host": report["host"]}


def register(
    session: Session,
    actor: Actor,
    body: dict[str, Any],
    networks: Sequence[str] = (),
    store: presence.Presence | None = None,
) -> Agent:
    name = auth.check_agent_name(body.get("name"))
    url = check_agent_url(body.get("url"), networks)
    labels = object_field(body, "labels")
    capabilities = object_field(body, "capabilities")
    report = host_report(body)
    version = _text(body, "version", 100)
    api_token = _text(body, "api_token", 200)
    agent = session.scalars(select(Agent).where(Agent.name == name)).one_or_none()
    _claim(session, actor, name, agent)
    now = datetime.now(UTC)
    was_online = agent.online if agent else False
    old_url = agent.url if agent else None
    if agent is None:
        agent = Agent(name=name, url=url)
        session.add(agent)
    agent.url = url
    agent.labels = {str(k): str(v) for k, v in labels.items()}
    agent.version = version
    agent.capabilities = dict(capabilities)
    agent.api_token = api_token
    agent.online = True
    agent.last_heartbeat = now
    agent.token_id = actor.token_id
    fleet = ensure_fleet_backend(session)
    agent.backend_id = fleet.id if fleet else None
    session.flush()
    if store is not None:
        store.beat(name, now.timestamp(), report)
    message = ""
    if old_url is not None and old_url != url:
        # a live run's next call (status, recover) is built from this row: it goes here now
        runs = live_runs_on(session, name)
        message = f"url changed from {old_url} to {url}"
        events.record(
            session,
            "agent-url-changed",
            message + (f"; live runs now called there: {', '.join(runs)}" if runs else ""),
            agent=name,
            data={"from": old_url, "to": url, "live_runs": runs},
        )
    if not was_online:
        events.record(
            session, "agent-online", f"registered from {url} (version {agent.version})", agent=name
        )
    audit.write(
        session,
        actor,
        "registerAgent",
        subject=name,
        input={"name": name, "url": url, "labels": agent.labels, "version": version},
        result="ok",
        message=message,
    )
    return agent


def heartbeat(
    session: Session, actor: Actor, body: dict[str, Any], store: presence.Presence | None = None
) -> Agent:
    """Keep an agent online. A beat that changes nothing writes no row: it is kept in
    ``store`` (memory or Redis; :mod:`chaoshub.services.presence`), with the host report the
    agent sends, and the reconciler writes ``last_heartbeat`` in batches. Only a beat that
    changes something (capabilities, back online) writes the row and is audited."""
    name = auth.check_agent_name(body.get("name"))
    capabilities = object_field(body, "capabilities")
    report = host_report(body)
    agent = session.scalars(select(Agent).where(Agent.name == name)).one_or_none()
    if actor.role == "agent" and actor.agent_name not in (None, name):
        raise Forbidden(
            f"this token is bound to agent {actor.agent_name!r}, not {name!r}", field=["name"]
        )
    if agent is None:
        raise NotFound(f"no agent named {name!r}: register first", field=["name"])
    if agent.token_id != actor.token_id:
        raise Forbidden(f"agent {name!r} was registered by another token", field=["name"])
    now = datetime.now(UTC)
    kept = store is not None and store.beat(name, now.timestamp(), report)
    changes = []
    if capabilities and capabilities != agent.capabilities:
        agent.capabilities = dict(capabilities)
        changes.append("capabilities changed")
    if not agent.online:
        agent.online = True
        changes.append("back online")
        events.record(session, "agent-online", "heartbeats resumed", agent=name)
    if changes or not kept:
        agent.last_heartbeat = now
    if changes:
        audit.write(
            session,
            actor,
            "agentHeartbeat",
            subject=name,
            input={"name": name},
            result="ok",
            message="; ".join(changes),
        )
    return agent
