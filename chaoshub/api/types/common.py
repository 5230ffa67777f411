"""Plumbing every domain's types share: the JSON scalar, Relay page info and edges, cursors,
and the typed errors a mutation answers with instead of a GraphQL error."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union

import strawberry
from strawberry.scalars import JSON

from chaoshub.errors import HubError, InvalidInput

if TYPE_CHECKING:
    JSONValue = Any
else:
    JSONValue = JSON


# -- connections (Relay) ------------------------------------------------------------------------

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except Exception:
        raise InvalidInput(f"{field} is not a cursor this API gave out", field=[field]) from None


# -- typed errors ----------------------------------------------------------------------------------


@strawberry.interface(description="A typed error: what went wrong and which input field to fix")
class Error:
    code: str
    message: str
    field: list[str]


@strawberry.type
class InvalidInputError(Error):
    pass


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type
class ConflictError(Error):
    pass


@strawberry.type
class ForbiddenError(Error):
    pass


@strawberry.type
class IllegalTransitionError(Error):
    pass


@strawberry.type
class BackendUnavailableError(Error):
    native_message: str | None = None


@strawberry.type
class RejectedByToolError(Error):
    native_code: str | None = None
    native_message: str | None = None


ERROR_TYPES: dict[str, type] = {
    "INVALID_INPUT": InvalidInputError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "FORBIDDEN": ForbiddenError,
    "ILLEGAL_TRANSITION": IllegalTransitionError,
    "BACKEND_UNAVAILABLE": BackendUnavailableError,
    "REJECTED_BY_TOOL": RejectedByToolError,
    "RECOVERY_FAILED": RejectedByToolError,
}


def error_from(exc: HubError) -> Any:
    cls = ERROR_TYPES.get(exc.code, InvalidInputError)
    kwargs: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
    if cls is BackendUnavailableError:
        kwargs["native_message"] = exc.native_message
    if cls is RejectedByToolError:
        kwargs["native_code"] = None if exc.native_code is None else str(exc.native_code)
        kwargs["native_message"] = exc.native_message
    return cls(**kwargs)


#: the typed errors any mutation may answer with; a result union is ``Union[Thing, ERRORS]``
ERRORS = Union[  # noqa: UP007
    InvalidInputError,
    NotFoundError,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    BackendUnavailableError,
    RejectedByToolError,
]


@strawberry.type
class Deleted:
    id: strawberry.ID


DeleteResult = Annotated[Union[Deleted, ERRORS], strawberry.union("DeleteResult")]  # noqa: UP007
