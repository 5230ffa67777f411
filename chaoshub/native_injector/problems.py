"""RFC 7807 problem details: the only shape an error leaves the injector in.

``type`` is one of the four words protocol v1 defines (``invalid-input``, ``unavailable``,
``rejected``, ``not-found``) plus ``unauthorized`` for a missing or wrong bearer token.
``field`` (a JSON path as a list) says what to fix in an invalid request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Error"
    status: ClassVar[int] = 500

    def __init__(self, detail: str, *, field: Sequence[str | int] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = [str(p) for p in field] if field else []

    def body(self, instance: str = "", status: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": status or self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.field:
            out["field"] = self.field
        return out

    def response(self, instance: str = "", status: int | None = None) -> JSONResponse:
        """The problem as an HTTP answer; ``status`` overrides the class's own."""
        status = status or self.status
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            self.body(instance, status),
            status_code=status,
            media_type=MEDIA_TYPE,
            headers=headers,
        )


class InvalidRequest(Problem):
    """The request is wrong; nothing was changed."""

    type = "invalid-input"
    title = "Invalid input"
    status = 422


class Unavailable(Problem):
    """The injector cannot serve this now; try again later."""

    type = "unavailable"
    title = "Unavailable"
    status = 503


class Rejected(Problem):
    """Understood and refused: this host cannot or will not do it."""

    type = "rejected"
    title = "Rejected"
    status = 409


class Missing(Problem):
    """The named thing does not exist."""

    type = "not-found"
    title = "Not found"
    status = 404


class Unauthorized(Problem):
    type = "unauthorized"
    title = "Unauthorized"
    status = 401


def validation_message(msg: str) -> str:
    """A pydantic message as a person reads it: without the "Value error, " that pydantic
    puts before what a validator raised."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg
