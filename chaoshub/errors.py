"""The hub's one error hierarchy.

Subclasses say what the caller must do, not where the error came from:

- :class:`BackendUnavailable` - try again later (the tool could not be reached);
- :class:`InvalidInput` - fix the request (carries the field path); :class:`AdapterNotInstalled`
  when it asks for an adapter whose extra is not installed;
- :class:`RejectedByTool` - show the tool's answer to a person;
- :class:`RecoveryFailed` - a fault may remain; page someone;
- :class:`IllegalTransition` - the lifecycle refused a move;
- :class:`NotFound`, :class:`Conflict`, :class:`Forbidden`, :class:`Unauthenticated` - API-level.

Every error carries the adapter, backend and target it concerns and the tool's native
code and message, so a log line or an API answer can say exactly what happened where.
Adapters declare which of their tool's exceptions mean which (see
:meth:`chaoshub.contract.Adapter.translate_errors`); the hub translates once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    code = "HUB_ERROR"

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str | int] | None = None,
        adapter: str | None = None,
        backend: str | None = None,
        target: str | None = None,
        native_code: str | int | None = None,
        native_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field: list[str] = [str(p) for p in field] if field else []
        self.adapter = adapter
        self.backend = backend
        self.target = target
        self.native_code = native_code
        self.native_message = native_message

    def with_context(self, **context: Any) -> HubError:
        """Fill in adapter/backend/target where the raiser did not know them."""
        for key in ("adapter", "backend", "target"):
            if getattr(self, key) is None and context.get(key) is not None:
                setattr(self, key, context[key])
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("field", "adapter", "backend", "target", "native_code", "native_message"):
            value = getattr(self, key)
            if value not in (None, []):
                out[key] = value
        return out

    def __str__(self) -> str:
        where = ".".join(self.field)
        return f"{where}: {self.message}" if where else self.message


class BackendUnavailable(HubError):
    """The tool could not be reached or answered with a transient failure: retry."""

    code = "BACKEND_UNAVAILABLE"


class InvalidInput(HubError):
    """The request is wrong; ``field`` names the part to fix. Nothing was changed."""

    code = "INVALID_INPUT"


class AdapterNotInstalled(InvalidInput):
    """The adapter's code or its client library is not installed here (an extra left out of
    ``pip install``); the message says which and gives the command that installs it."""

    code = "ADAPTER_NOT_INSTALLED"


class RejectedByTool(HubError):
    """The tool understood the request and refused it; show its words to a person."""

    code = "REJECTED_BY_TOOL"


class RecoveryFailed(HubError):
    """Reverting a fault failed: the target may still carry it."""

    code = "RECOVERY_FAILED"


class IllegalTransition(HubError):
    """The lifecycle does not allow this move."""

    code = "ILLEGAL_TRANSITION"


class NotFound(HubError):
    """The named object does not exist (a target, a run, a backend...)."""

    code = "NOT_FOUND"


class Conflict(HubError):
    """The object exists already or is in use."""

    code = "CONFLICT"


class Forbidden(HubError):
    """The caller's role does not allow this."""

    code = "FORBIDDEN"


class Unauthenticated(HubError):
    """No token, or a token the hub does not know."""

    code = "UNAUTHENTICATED"
