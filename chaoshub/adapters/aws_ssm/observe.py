"""SSM invocation states mapped onto the hub's vocabulary, with the output's tail kept.

A document with several steps (the ``AWSFIS-Run-*`` ones have ``InstallDependencies``
then the fault step) is read step by step with GetCommandInvocation's ``PluginName``;
the steps' states are folded into one, as SSM folds them for the invocation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chaoshub.contract import Observation, Observed

#: every invocation Status SSM documents, mapped (DESIGN.md §4)
STATE_MAP: Mapping[str, Observed] = {
    "Pending": Observed.PENDING,
    "Delayed": Observed.PENDING,
    "InProgress": Observed.INJECTED,
    # the agent is stopping the script; the fault may still be in effect
    "Cancelling": Observed.INJECTED,
    "Success": Observed.DONE,
    "Cancelled": Observed.ABORTED,
    "Failed": Observed.FAILED,
    "TimedOut": Observed.FAILED,
}
ENDED = frozenset({"Success", "Cancelled", "Failed", "TimedOut"})
#: how much of the output's last line goes into the native status text
_LAST_LINE_CHARS = 200


def parse_time(value: Any) -> datetime | None:
    """SSM's StringDateTime (ISO 8601, empty before the step starts) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tail(text: str, chars: int) -> str:
    if chars <= 0 or len(text) <= chars:
        return text if chars > 0 else ""
    return "…" + text[-chars:]


@dataclass(frozen=True)
class Invocation:
    """One instance's invocation of a command, its steps folded into one state."""

    status: str
    details: str
    steps: Sequence[Mapping[str, Any]]

    @classmethod
    def fold(cls, steps: Sequence[Mapping[str, Any]]) -> Invocation:
        statuses = [s.get("Status", "") for s in steps]
        status = _fold(statuses)
        current = next((s for s in steps if s.get("Status") == status), steps[-1])
        return cls(status=status, details=str(current.get("StatusDetails") or ""), steps=steps)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def fault_step(self) -> Mapping[str, Any]:
        """The document's last step, taken as the one that applies the fault."""
        return self.steps[-1]

    @property
    def fault_started(self) -> datetime | None:
        return parse_time(self.fault_step.get("ExecutionStartDateTime"))

    def native(self) -> str:
        """The status, its details, each step's status and the output's last line.

        The hub keeps ``native`` on the target record; the longer output tail goes in
        the observation's messages.
        """
        text = self.status
        if self.details and self.details != self.status:
            text += f" ({self.details})"
        if len(self.steps) > 1:
            states = ", ".join(f"{s.get('PluginName')}: {s.get('Status')}" for s in self.steps)
            text += f" [{states}]"
        last = self.last_line()
        return f"{text} — {last}" if last else text

    def last_line(self, chars: int = _LAST_LINE_CHARS) -> str:
        """The last line the latest step that wrote anything wrote (stderr first)."""
        for step in reversed(self.steps):
            for key, label in (
                ("StandardErrorContent", "stderr"),
                ("StandardOutputContent", "stdout"),
            ):
                lines = [line for line in str(step.get(key) or "").splitlines() if line.strip()]
                if lines:
                    return f"{label}: {tail(lines[-1].strip(), chars)}"
        return ""

    def output(self, chars: int) -> tuple[str, ...]:
        """The tail of each step's standard output and error, as messages."""
        messages = []
        for step in self.steps:
            name = step.get("PluginName") or "command"
            for key, label in (
                ("StandardOutputContent", "stdout"),
                ("StandardErrorContent", "stderr"),
            ):
                text = str(step.get(key) or "")
                if text:
                    messages.append(f"{name} {label}: {tail(text, chars)}")
        return tuple(messages)

    def metrics(self) -> dict[str, float]:
        code = self.fault_step.get("ResponseCode")
        return {"response_code": float(code)} if isinstance(code, int) else {}

    def observation(self, chars: int, *, extra: Sequence[str] = ()) -> Observation:
        state = STATE_MAP.get(self.status, Observed.UNKNOWN)
        if state is Observed.INJECTED and self.fault_step.get("Status") in ("Pending", "Delayed"):
            state = Observed.PENDING  # an earlier step (installing dependencies) runs
        return Observation(
            state,
            native=self.native(),
            metrics=self.metrics(),
            messages=(*extra, *self.output(chars)),
        )


def _fold(statuses: Sequence[str]) -> str:
    for bad in ("Failed", "TimedOut", "Cancelling", "Cancelled"):
        if bad in statuses:
            return bad
    if all(s == "Success" for s in statuses):
        return "Success"
    for active in ("InProgress", "Delayed"):
        if active in statuses:
            return active
    if "Success" in statuses:
        return "InProgress"  # between two steps
    if all(s == "Pending" for s in statuses):
        return "Pending"
    return next(s for s in statuses if s not in ("Success", "Pending"))
