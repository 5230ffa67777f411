"""GraphQL websockets that follow their token: each operation a connection starts checks
the token again, and a connection whose token is revoked or changes role is closed with
4403, at once on a revocation notice from the bus (any API process) and otherwise within
``CHAOSHUB_WS_TOKEN_RECHECK_SECONDS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from sqlalchemy import select
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage, StartMessage

from chaoshub.api import tokens
from chaoshub.api.resolvers import Context, in_db
from chaoshub.errors import Unauthenticated
from chaoshub.runtime import Runtime
from chaoshub.services import audit, auth
from chaoshub.store.models import ApiToken

log = logging.getLogger("chaoshub.api.ws")

CLOSE_FORBIDDEN = 4403
#: the bus message that says a token changed (revoked); ``token_id`` names it
TOKEN_CHANGED = "token"


class Guarded(Protocol):
    context: Context

    async def refuse(self, reason: str) -> None: ...


def connection_actor(conn: Guarded) -> auth.Actor | None:
    return conn.context.connection_actor


class TokenWatch:
    """The open connections of one API process, by token."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._conns: set[Guarded] = set()

    def add(self, conn: Guarded) -> None:
        self._conns.add(conn)

    def discard(self, conn: Guarded) -> None:
        self._conns.discard(conn)

    async def still_valid(self, conn: Guarded) -> bool:
        """Check the connection's token now (exists, not revoked, same role)."""
        before = connection_actor(conn)
        header = conn.context.authorization()
        try:
            now = await in_db(self.runtime, lambda s: auth.authenticate(s, header))
        except Unauthenticated as exc:
            await self._refuse(conn, exc.message)
            return False
        if before is None or now.token_id != before.token_id or now.role != before.role:
            await self._refuse(conn, f"this token's role changed to {now.role}")
            return False
        return True

    async def check(self, token_ids: set[str] | None = None) -> None:
        """Close every connection (of ``token_ids``, or all) whose token is no longer good."""
        conns = [
            c
            for c in list(self._conns)
            if (a := connection_actor(c)) is not None
            and (token_ids is None or a.token_id in token_ids)
        ]
        ids = {a.token_id for c in conns if (a := connection_actor(c)) and a.token_id}
        if not ids:
            return

        def rows(s: Any) -> dict[str, tuple[str, bool]]:
            found = s.scalars(select(ApiToken).where(ApiToken.id.in_(ids)))
            return {t.id: (t.role, t.revoked_at is not None) for t in found}

        known = await in_db(self.runtime, rows)
        for conn in conns:
            actor = connection_actor(conn)
            assert actor is not None and actor.token_id
            role, revoked = known.get(actor.token_id, ("", True))
            if revoked:
                await self._refuse(conn, "this token was revoked")
            elif role != actor.role:
                await self._refuse(conn, f"this token's role changed to {role}")

    async def _refuse(self, conn: Guarded, reason: str) -> None:
        self.discard(conn)
        actor = connection_actor(conn)
        with contextlib.suppress(Exception):
            await in_db(
                self.runtime,
                lambda s: audit.refusal(s, actor, "websocket", "FORBIDDEN", f"closed: {reason}"),
            )
        await conn.refuse(reason)

    async def run(self) -> None:
        """The process's watch: bus notices and the periodic re-check, until cancelled."""
        await asyncio.gather(self._listen(), self._periodic())

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.runtime.settings.ws_token_recheck_seconds)
            try:
                await self.check()
            except Exception as exc:  # the next round tries again
                log.warning("token re-check failed: %s", exc)

    async def _listen(self) -> None:
        pause = 1.0
        while True:
            stream = self.runtime.bus.subscribe()
            try:
                async for message in stream:
                    pause = 1.0
                    if message.get("kind") == TOKEN_CHANGED and message.get("token_id"):
                        tokens.forget_token(str(message["token_id"]))
                        await self.check({str(message["token_id"])})
            except Exception as exc:  # the periodic check still bounds the delay
                log.warning("bus listener for token changes failed: %s", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()  # type: ignore[attr-defined]


class _Guard:
    """What both protocols' handlers share: the watch, and checking before each operation."""

    view: Any
    context: Context

    @property
    def watch(self) -> TokenWatch:
        return self.view.watch


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None], _Guard):
    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.watch.add(self)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and not await self.watch.still_valid(self):
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        self.watch.discard(self)
        await super().shutdown()

    async def refuse(self, reason: str) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason=reason[:120])


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None], _Guard):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload")
        if isinstance(payload, dict):
            self.context.connection_params = payload
            try:
                await self.view.admit(self.context)  # type: ignore[attr-defined]
            except Exception as exc:  # the same refusal as graphql-transport-ws: 4403
                await self.send_message(
                    {"type": "connection_error", "payload": {"message": str(exc)}}
                )
                await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Forbidden")
                return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.watch.add(self)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged and not await self.watch.still_valid(self):
            return
        await super().handle_start(message)

    async def cleanup(self) -> None:
        self.watch.discard(self)
        await super().cleanup()

    async def refuse(self, reason: str) -> None:
        for operation_id in list(self.tasks):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason=reason[:120])
