"""Find a native agent by name, for probes that run on one (``command``).

An agent is looked up where the ``native`` adapter finds agents: a registered agent (an
``agents`` row, called with its own API token and the timeout and TLS files of its fleet
backend) or, when no agent registered under that name, an injector added by hand to a
``native`` backend (``static_agents``: always taken as online, that backend's TLS files).
The lookup reads the database each time it is asked, so an agent that registered again
from a new URL, or came back online, is reached where it is now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from chaoshub.adapters.http import DEFAULT_TIMEOUT, ProtocolClient, tls_context
from chaoshub.store.models import Agent, Backend

if TYPE_CHECKING:
    from chaoshub.runtime import Runtime


@dataclass(frozen=True)
class AgentAddress:
    name: str
    url: str
    token: str
    online: bool
    #: the config of the backend it belongs to: ``timeout`` and the TLS files
    config: dict[str, Any] = field(default_factory=dict)

    def client(self) -> ProtocolClient:
        return ProtocolClient(
            self.url,
            self.token,
            timeout=float(self.config.get("timeout") or DEFAULT_TIMEOUT),
            adapter="native",
            backend=self.name,
            tls=tls_context(self.config),
        )


def find_agent(runtime: Runtime, name: str) -> AgentAddress | None:
    """The agent called ``name``, or None when the hub knows no such agent."""
    with runtime.session() as s:
        row = s.scalars(select(Agent).where(Agent.name == name)).one_or_none()
        if row is not None:
            backend = s.get(Backend, row.backend_id) if row.backend_id else None
            config = dict(backend.config or {}) if backend is not None else {}
            return AgentAddress(row.name, row.url, row.api_token, row.online, config)
        natives = s.scalars(
            select(Backend).where(Backend.adapter == "native").order_by(Backend.name)
        )
        for backend in natives:
            config = dict(backend.config or {})
            for agent in config.get("static_agents") or []:
                if isinstance(agent, dict) and agent.get("name") == name:
                    return AgentAddress(
                        name, str(agent["url"]), str(agent.get("token") or ""), True, config
                    )
    return None
