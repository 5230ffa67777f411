"""Who a request's token is, without a database statement per request.

Every GraphQL request names its token (``Authorization: Bearer …``); reading the token's row
each time costs a connection, a statement and a transaction, twice (the HTTP check before
any resolver, then the resolvers' own). This process keeps token hash → actor, as
:func:`auth.authenticate` last answered it, for at most ``TTL_SECONDS``; a request within
that time is answered from it, any other goes to the database (which refuses, and writes
``last_used_at`` once a minute, as before) and refreshes the entry.

Staying right:

- a revoked token is forgotten at once in this process (the revocation's after-commit,
  before its answer is sent) and on the bus's revocation notice in every other
  (:mod:`chaoshub.api.ws`); a request read from the database before the revocation does
  not put the token back (the cache's generation);
- a token revoked or changed where no notice is sent (``chaoshub api`` restarted with a
  different ``CHAOSHUB_ADMIN_TOKEN`` role, an agent name taken over) or whose notice was
  lost is seen within ``TTL_SECONDS``;
- refusals are never kept: an unknown or revoked token goes to the database every time.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

from chaoshub.api import beats
from chaoshub.runtime import Runtime
from chaoshub.services import auth
from chaoshub.services.auth import Actor

#: how long an actor read from the database answers for its token
TTL_SECONDS = 5.0
#: at most this many tokens are kept (the oldest entries go first)
MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    actor: Actor
    checked: float


_caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()


def forget_token(token_id: str) -> None:
    """Drop ``token_id`` from every cache of this process, the heartbeats' too (it was
    revoked or changed)."""
    for cache in list(_caches):
        cache.forget(token_id)
    beats.forget_token(token_id)


class TokenCache:
    """Token hash → actor of one API process; only its event loop's thread touches it."""

    def __init__(self, runtime: Runtime, ttl: float = TTL_SECONDS) -> None:
        self.runtime = runtime
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        #: counts forgotten tokens: a read begun before a revocation does not cache after it
        self.generation = 0
        _caches.add(self)

    def forget(self, token_id: str) -> None:
        self.generation += 1
        for key in [k for k, e in self._entries.items() if e.actor.token_id == token_id]:
            del self._entries[key]

    async def authenticate(self, authorization: str | None) -> Actor:
        """The actor of ``authorization`` (:func:`auth.authenticate`'s answer, or its
        refusal), from this cache while it is fresh."""
        from chaoshub.api.resolvers import in_db

        key = beats.bearer_hash(authorization)
        now = time.monotonic()
        if key is not None:
            entry = self._entries.get(key)
            if entry is not None and now - entry.checked <= self.ttl:
                return entry.actor
        generation = self.generation
        actor = await in_db(self.runtime, lambda s: auth.authenticate(s, authorization))
        if key is not None and generation == self.generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries.pop(key, None)
            self._entries[key] = _Entry(actor, now)
        return actor
