"""Heartbeats answered on the event loop, without a database statement or a thread hop.

An ordinary beat (a known agent token, an agent this process has seen online, nothing
changed) needs only two facts the database holds: the token (its role, its agent, not
revoked) and the agent (registered by that token, online, its capabilities). This process
keeps both, as read by the last beat that went to the database, and answers such a beat
from them (before FastAPI: :mod:`chaoshub.api.beat_path`): the last-seen time and host
report go to the presence store as before (:mod:`chaoshub.services.presence`), gathered
with other beats in one write. Any other beat — an unknown or stale entry, a change
of capabilities, an agent offline or silent for an offline timeout, a presence store that
could not keep it, any bad input — goes the database's way (:func:`agents.heartbeat`),
which writes, audits and refuses as it always did, and refreshes the entries.

Staying right:

- a revoked token is forgotten at once in this process (the revocation's after-commit)
  and on the bus's revocation notice in every other (:mod:`chaoshub.api.ws`);
- every entry is read again, all of them in one statement per 500, every
  ``REFRESH_SECONDS``: a token revoked or changed where no notice was sent, an agent marked
  offline by the reconciler, is seen within that time; an entry not confirmed within
  ``TTL_SECONDS`` (the refresh failing) is not used;
- an agent this process last heard more than an offline timeout ago goes the database's
  way, so an agent the reconciler marked offline is written back online by its first beat;
- a presence store that failed to keep a beat is not asked on the event loop again for
  ``STORE_PAUSE_SECONDS``: meanwhile beats go the database's way and write the row.

The token's ``last_used_at`` is written by the refresh, for the tokens used since the last
one, when older than a minute (as :func:`auth.authenticate` does per request).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from anyio import to_thread
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chaoshub.services import auth
from chaoshub.services.auth import Actor
from chaoshub.store.models import Agent, ApiToken

log = logging.getLogger("chaoshub.api.beats")

#: how often every entry is read again
REFRESH_SECONDS = 5.0
#: an entry not confirmed by the database for this long is not used
TTL_SECONDS = 10.0
_CHUNK = 500
#: after the presence store failed to keep a beat, beats skip the cache for this long
STORE_PAUSE_SECONDS = 5.0


@dataclass
class _Token:
    actor: Actor
    checked: float
    used: bool = False


@dataclass
class _Agent:
    token_id: str | None
    online: bool
    capabilities: dict[str, Any]
    checked: float
    heard: float = field(default_factory=time.monotonic)


_caches: weakref.WeakSet[BeatCache] = weakref.WeakSet()


def forget_token(token_id: str) -> None:
    """Drop ``token_id`` from every cache of this process (it was revoked or changed)."""
    for cache in list(_caches):
        cache.forget_token(token_id)


def bearer_hash(authorization: str | None) -> str | None:
    """The hash of the header's bearer token; ``None`` for a header that is not one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return auth.hash_token(token.strip())


class BeatCache:
    """Token hash → actor, and agent name → (token, online, capabilities), of one API
    process. Only the event loop's thread touches it."""

    def __init__(self, agent_timeout: float) -> None:
        self.agent_timeout = agent_timeout
        self._tokens: dict[str, _Token] = {}
        self._agents: dict[str, _Agent] = {}
        #: counts forgotten tokens: a beat read before a revocation does not cache it after
        self.generation = 0
        #: until then (monotonic) the presence store is not asked on the event loop
        self.store_down_until = 0.0
        _caches.add(self)

    # -- reading -------------------------------------------------------------------------

    def actor(self, token_hash: str) -> Actor | None:
        entry = self._tokens.get(token_hash)
        if entry is None or time.monotonic() - entry.checked > TTL_SECONDS:
            return None
        entry.used = True
        return entry.actor

    def agent(self, name: str) -> _Agent | None:
        entry = self._agents.get(name)
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry.checked > TTL_SECONDS or now - entry.heard > self.agent_timeout:
            return None
        return entry

    # -- writing -------------------------------------------------------------------------

    def keep(self, generation: int, token_hash: str, actor: Actor, name: str, agent: Agent) -> None:
        """What a beat that went to the database (and committed) read and wrote;
        ``generation`` is :attr:`generation` from before it read."""
        now = time.monotonic()
        if actor.token_id is None or generation != self.generation:
            return
        self._tokens[token_hash] = _Token(actor, now)
        self._agents[name] = _Agent(agent.token_id, agent.online, dict(agent.capabilities), now)

    def heard(self, entry: _Agent) -> None:
        entry.heard = time.monotonic()

    def forget_token(self, token_id: str) -> None:
        self.generation += 1
        for key in [k for k, v in self._tokens.items() if v.actor.token_id == token_id]:
            del self._tokens[key]

    def forget_agent(self, name: str) -> None:
        self._agents.pop(name, None)

    # -- the refresh ---------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, Actor], set[str], list[str]]:
        """What the refresh reads again: tokens by id, the used ones, agent names."""
        tokens = {e.actor.token_id: e.actor for e in self._tokens.values() if e.actor.token_id}
        used = {e.actor.token_id for e in self._tokens.values() if e.used and e.actor.token_id}
        for entry in self._tokens.values():
            entry.used = False
        return tokens, used, list(self._agents)

    def apply(
        self,
        began: float,
        tokens: dict[str, tuple[str, str | None, bool]],
        agents: dict[str, tuple[str | None, bool, dict[str, Any]]],
        names: list[str],
    ) -> None:
        """Confirm, change or drop each entry from what the database said at ``began``."""
        for key, entry in list(self._tokens.items()):
            if entry.checked > began or entry.actor.token_id is None:
                continue  # written by a beat after the refresh read
            found = tokens.get(entry.actor.token_id)
            if found is None:
                del self._tokens[key]
                continue
            role, agent_name, revoked = found
            if revoked or role != entry.actor.role or agent_name != entry.actor.agent_name:
                del self._tokens[key]
            else:
                entry.checked = began
        for name in names:
            entry_a = self._agents.get(name)
            if entry_a is None or entry_a.checked > began:
                continue
            row = agents.get(name)
            if row is None:
                del self._agents[name]
                continue
            entry_a.token_id, entry_a.online, entry_a.capabilities = row
            entry_a.checked = began


def read_again(
    s: Session, token_ids: list[str], used: set[str], names: list[str]
) -> tuple[dict[str, tuple[str, str | None, bool]], dict[str, Any]]:
    """The refresh's statements: the tokens and agents, and the used tokens' last use."""
    tokens: dict[str, tuple[str, str | None, bool]] = {}
    for i in range(0, len(token_ids), _CHUNK):
        rows = s.execute(
            select(ApiToken.id, ApiToken.role, ApiToken.agent_name, ApiToken.revoked_at).where(
                ApiToken.id.in_(token_ids[i : i + _CHUNK])
            )
        )
        for tid, role, agent_name, revoked_at in rows:
            tokens[tid] = (role, agent_name, revoked_at is not None)
    agents: dict[str, tuple[str | None, bool, dict[str, Any]]] = {}
    for i in range(0, len(names), _CHUNK):
        found = s.execute(
            select(Agent.name, Agent.token_id, Agent.online, Agent.capabilities).where(
                Agent.name.in_(names[i : i + _CHUNK])
            )
        )
        for name, token_id, online, capabilities in found:
            agents[name] = (token_id, bool(online), dict(capabilities or {}))
    used_ids = sorted(used)
    now = datetime.now(UTC)
    for i in range(0, len(used_ids), _CHUNK):
        s.execute(
            update(ApiToken)
            .where(
                ApiToken.id.in_(used_ids[i : i + _CHUNK]),
                (ApiToken.last_used_at.is_(None))
                | (ApiToken.last_used_at < now - timedelta(seconds=60)),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return tokens, agents


def _in_session(runtime: Any, fn: Any) -> Any:
    with runtime.session() as s:
        return fn(s)


async def refresh_forever(cache: BeatCache, runtime: Any) -> None:
    """Read every entry again every ``REFRESH_SECONDS``, until cancelled."""
    # its own limiter: beats queued for the shared worker threads do not delay the refresh
    # past TTL_SECONDS (which would send every beat to the database at once)
    own = anyio.CapacityLimiter(1)
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        tokens, used, names = cache.snapshot()
        if not tokens and not names:
            continue
        began = time.monotonic()
        try:
            again = functools.partial(read_again, token_ids=list(tokens), used=used, names=names)
            found, agents = await to_thread.run_sync(_in_session, runtime, again, limiter=own)
        except Exception as exc:  # entries lapse after TTL_SECONDS: beats go to the database
            log.warning("heartbeat cache refresh failed: %s", exc)
            continue
        cache.apply(began, found, agents, names)
