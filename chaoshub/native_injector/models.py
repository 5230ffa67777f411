"""Protocol v1 request bodies (DESIGN.md §5.4). Unknown fields are refused, never ignored."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

#: execution ids go into iptables comments and file names: printable, no spaces or quotes
EXECUTION_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,199}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetBody(_Body):
    id: str = Field(min_length=1, max_length=300)
    label: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)


class DiscoverBody(_Body):
    fault: str
    selector: dict[str, Any] = Field(default_factory=dict)


class ValidateBody(_Body):
    fault: str
    params: dict[str, Any] = Field(default_factory=dict)


class InjectBody(_Body):
    execution_id: str = Field(pattern=EXECUTION_ID)
    fault: str
    params: dict[str, Any] = Field(default_factory=dict)
    target: TargetBody
    lease_seconds: float = Field(gt=0, le=7 * 24 * 3600, description="seconds")
    duration_seconds: float | None = Field(default=None, ge=0, description="informative")


class ExecutionBody(_Body):
    execution_id: str = Field(pattern=EXECUTION_ID)
    handle: dict[str, Any] | None = None


#: executions one ``/v1/status/batch`` call may ask about
BATCH_LIMIT = 500


class BatchStatusBody(_Body):
    """Several executions' status at once (protocol 1.1); each renews its lease."""

    items: list[ExecutionBody] = Field(max_length=BATCH_LIMIT)


class ForgetBody(ExecutionBody):
    reason: str = Field(default="", max_length=1000, description="why, as the operator said")


#: one argument of a probe command (NUL is refused when the command is checked)
Argument = Annotated[str, Field(max_length=4096)]


class CommandCheckBody(_Body):
    """A probe command to check: ``argv[0]`` a script in the scripts directory."""

    argv: list[Argument] = Field(min_length=1, max_length=64)


class CommandBody(CommandCheckBody):
    timeout_seconds: float = Field(gt=0, le=300, description="seconds; killed after")
