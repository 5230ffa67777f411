"""How GraphQL errors are told: typed for the caller, one log line each for the operator.

Strawberry logs every error with its traceback, so a viewer sending a bad request in a loop
could fill the log. An error the hub raised on purpose (a :class:`~chaoshub.errors.HubError`)
or one the request itself caused (syntax, validation) is a single line; an unexpected
exception keeps its traceback, but at most once a minute per exception type.
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


class HubSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            original = error.original_error
            path = ".".join(str(p) for p in error.path or [])
            if isinstance(original, HubError):
                _typed(error, original)
                log.info("%s %s: %s %s", operation or "-", path, original.code, original.message)
            elif original is None or isinstance(original, GraphQLError):
                log.info("%s refused: %s", operation or "-", error.message)
            else:
                kind = type(original).__name__
                log.error(
                    "%s %s failed: %s: %s",
                    operation or "-",
                    path,
                    kind,
                    original,
                    exc_info=original if _traceback_due(kind) else None,
                )
