"""Auth types: who is calling, API tokens, and the audit log of every mutation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Union

import strawberry

from chaoshub import secrets
from chaoshub.api.types.common import ERRORS, JSONValue
from chaoshub.store import models


@strawberry.type(description="Whoever is calling")
class Viewer:
    name: str
    role: str


@strawberry.type
class ApiToken:
    id: strawberry.ID
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    agent_name: str | None = strawberry.field(
        description="agent tokens: the agent name it is bound to (None until it registers)"
    )

    @classmethod
    def build(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            agent_name=row.agent_name,
        )


@strawberry.type(description="A new token; `token` is shown this once and stored only hashed")
class CreatedApiToken:
    token: str
    api_token: ApiToken


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    role: str
    action: str
    subject: str | None
    input: JSONValue
    result: str
    message: str

    @classmethod
    def build(cls, row: models.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            actor=row.actor,
            role=row.role,
            action=row.action,
            subject=row.subject,
            input=secrets.mask(row.input or {}),
            result=row.result,
            message=row.message,
        )


CreateApiTokenResult = Annotated[CreatedApiToken | ERRORS, strawberry.union("CreateApiTokenResult")]
ApiTokenResult = Annotated[Union[ApiToken, ERRORS], strawberry.union("ApiTokenResult")]  # noqa: UP007
