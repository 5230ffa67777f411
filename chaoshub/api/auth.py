"""Who may do what: the caller's identity, API tokens, and the audit log of every mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoshub.api import tokens
from chaoshub.api.paging import page_size
from chaoshub.api.resolvers import Outcome, ctx, mutate, read
from chaoshub.api.types.auth import (
    ApiToken,
    ApiTokenResult,
    AuditEntry,
    CreateApiTokenResult,
    CreatedApiToken,
    Viewer,
)
from chaoshub.api.ws import TOKEN_CHANGED
from chaoshub.services import auth
from chaoshub.services.auth import Actor
from chaoshub.store import models


@strawberry.type
class AuthQuery:
    @strawberry.field(description="Who is calling, and with which role")
    async def viewer(self, info: strawberry.Info) -> Viewer:
        actor = await ctx(info).actor()
        return Viewer(name=actor.name, role=actor.role)

    @strawberry.field(description="API tokens (admin)")
    async def api_tokens(self, info: strawberry.Info) -> list[ApiToken]:
        return await read(
            info,
            lambda s, a: [
                ApiToken.build(t)
                for t in s.scalars(select(models.ApiToken).order_by(models.ApiToken.created_at))
            ],
            role="admin",
        )

    @strawberry.field(description="Every mutation: who, what, when, result (admin)")
    async def audit_log(
        self, info: strawberry.Info, first: int = 100, action: str | None = None
    ) -> list[AuditEntry]:
        def q(s: Session, _a: Actor) -> list[AuditEntry]:
            stmt = (
                select(models.AuditEntry)
                .order_by(models.AuditEntry.id.desc())
                .limit(page_size(first))
            )
            if action:
                stmt = stmt.where(models.AuditEntry.action == action)
            return [AuditEntry.build(e) for e in s.scalars(stmt)]

        return await read(info, q, role="admin")


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def create_api_token(
        self,
        info: strawberry.Info,
        name: str,
        role: str,
        agent_name: Annotated[
            str | None,
            strawberry.argument(
                description="agent tokens: the one agent name this token may register as "
                "(otherwise its first registration binds it)"
            ),
        ] = None,
    ) -> CreateApiTokenResult:
        def fn(s: Session, a: Actor) -> Outcome:
            row, plain = auth.create_token(s, name, role, agent_name=agent_name)
            return Outcome(
                CreatedApiToken(token=plain, api_token=ApiToken.build(row)), subject=row.name
            )

        given = {"name": name, "role": role, "agentName": agent_name}
        return await mutate(info, "createApiToken", "admin", given, fn)

    @strawberry.mutation
    async def revoke_api_token(self, info: strawberry.Info, id: strawberry.ID) -> ApiTokenResult:
        rt = ctx(info).runtime

        def fn(s: Session, a: Actor) -> Outcome:
            row = auth.revoke_token(s, str(id))
            # every API process closes this token's open websockets at once
            notice = {"kind": TOKEN_CHANGED, "token_id": row.id}
            return Outcome(
                ApiToken.build(row),
                subject=row.name,
                # this process's token caches forget it before the answer is sent
                after_commit=[lambda: tokens.forget_token(row.id), lambda: rt.bus.publish(notice)],
            )

        return await mutate(info, "revokeApiToken", "admin", {"id": str(id)}, fn)
