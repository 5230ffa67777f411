"""How GraphQL errors are told: typed for the caller, one log line each for the operator.

Strawberry logs every error with its traceback, so a viewer sending a bad request in a loop
could fill the log. An error the hub raised on purpose (a :class:`~chaoshub.errors.HubError`)
or one the request itself caused (syntax, validation) is told in one line per request,
however many fields failed; an unexpected exception keeps its traceback, but at most once a
minute per exception type.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from chaoshub.errors import HubError

log = logging.getLogger("chaoshub.api.errors")

TRACEBACK_EVERY_SECONDS = 60.0

_lock = threading.Lock()
_last_traceback: dict[str, float] = {}


def _traceback_due(kind: str) -> bool:
    now = time.monotonic()
    with _lock:
        if now - _last_traceback.get(kind, -TRACEBACK_EVERY_SECONDS) < TRACEBACK_EVERY_SECONDS:
            return False
        _last_traceback[kind] = now
        return True


def _typed(error: GraphQLError, exc: HubError) -> None:
    extensions: dict[str, Any] = dict(error.extensions or {})
    extensions["code"] = exc.code
    if exc.field:
        extensions["field"] = exc.field
    error.extensions = extensions


def _summary(errors: list[str]) -> str:
    shown = "; ".join(errors[:3])
    return shown + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")


class HubSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        operation = (execution_context.operation_name if execution_context else None) or "-"
        expected: list[str] = []
        unexpected: list[tuple[str, BaseException]] = []
        for error in errors:
            original = error.original_error
            path = ".".join(str(p) for p in error.path or [])
            if isinstance(original, HubError):
                _typed(error, original)
                expected.append(f"{path} {original.code} {original.message}".strip())
            elif original is None or isinstance(original, GraphQLError):
                expected.append(error.message)
            else:
                unexpected.append((f"{path} {type(original).__name__}: {original}", original))
        if expected:  # one line per request, however many fields failed
            log.info("%s refused: %s", operation, _summary(expected))
        if unexpected:
            first = unexpected[0][1]
            log.error(
                "%s failed: %s",
                operation,
                _summary([text for text, _ in unexpected]),
                exc_info=first if _traceback_due(type(first).__name__) else None,
            )
