"""``command`` probe: run an allow-listed script on a native agent, judge how it ended.

```yaml
command:
  agent: local                             # an agent the hub knows (registered or static)
  argv: [check-cache.sh, --port, "6380"]   # argv[0]: a script in the agent's --scripts-dir
  timeoutSeconds: 5                        # killed after, with its whole process group
  expect:
    exitCode: 0                            # or [0, 1], or {"<=": 1}; default 0
    stdout: {contains: PONG}               # or {matches: RE2}, or {"<": 100} on a number
```

The argv is a list, never a shell string: the agent runs ``argv[0]`` from its scripts
directory (as ``host-script`` runs scripts: a regular executable there, also once symlinks
are followed) with the rest as literal arguments, so ``$(id)`` stays ``$(id)``. Parsing
checks only what needs no I/O (``argv[0]`` is a plain file name); :meth:`check_remote`
asks the agent whether it would run the command (``POST /v1/probe/command/validate``),
naming ``["command", "argv", "0"]`` or ``["command", "agent"]`` when not.

stdout is judged on what the agent kept (its last 16 KiB) with one final line break
removed, since nearly every command ends its output with one; a numeric comparator reads
the whole (stripped) stdout as a number. The sample's value is that number, else the stdout
text when there is a stdout expectation, else the exit code; its latency is how long the
command ran. An agent that cannot be found, reached, or cannot run probe commands (a server
answering 404 to the call) gives a failing sample with the reason, never an exception.
"""

from __future__ import annotations

import re
import time
from contextlib import closing
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from chaoshub.errors import HubError, InvalidInput
from chaoshub.probes.agents import AgentAddress, find_agent
from chaoshub.probes.base import Probe, Sample, Spec, clip
from chaoshub.probes.comparators import NUMERIC, Expectation, parse_expectation

if TYPE_CHECKING:
    from chaoshub.runtime import Runtime

#: a script name as the agent accepts it: a plain file name, no path, no leading dot
SCRIPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NO_COMMANDS = "this agent cannot run command probes (its injector has no /v1/probe/command)"


class CommandSpec(Spec):
    agent: str = Field(min_length=1, max_length=200)
    argv: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=64)
    timeoutSeconds: float | None = Field(default=None, gt=0, le=300)
    expect: dict[str, Any] = Field(default_factory=dict)


class CommandProbe(Probe):
    kind = "command"
    spec_model = CommandSpec
    default_timeout = 10.0

    def __init__(self, spec: Spec, timeout: float) -> None:
        super().__init__(spec, timeout)
        assert isinstance(spec, CommandSpec)
        self.command = spec
        if not SCRIPT_NAME.fullmatch(spec.argv[0]):
            raise InvalidInput(
                "argv[0] is the file name of a script in the agent's scripts directory "
                "(no path, no shell)",
                field=["command", "argv", 0],
            )
        for i, arg in enumerate(spec.argv):
            if "\x00" in arg:
                raise InvalidInput("an argument cannot hold NUL", field=["command", "argv", i])
        self.exit_code, self.stdout = _expectations(spec.expect)
        self._runtime: Runtime | None = None

    # -- the hooks the engine calls ------------------------------------------------------------

    def bind(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def check_remote(self, runtime: Runtime) -> None:
        address = self._address(runtime)
        if isinstance(address, str):
            raise InvalidInput(address, field=["command", "agent"])
        with closing(address.client()) as client:
            try:
                able = client.validate_command(self.command.argv)
            except InvalidInput as exc:
                where = exc.field or ["argv"]
                raise InvalidInput(
                    f"agent {address.name!r} refuses {where[0]}"
                    + (f"[{where[1]}]" if len(where) > 1 else "")
                    + f": {exc.message}",
                    field=["command", *where],
                ) from None
            except HubError as exc:
                raise InvalidInput(
                    f"agent {address.name!r} could not check the command: {exc.message}",
                    field=["command", "agent"],
                ) from None
        if not able:
            raise InvalidInput(f"agent {address.name!r}: {NO_COMMANDS}", field=["command", "agent"])

    def check(self) -> Sample:
        at = self.now()
        if self._runtime is None:
            return Sample(at, False, error="the probe was not bound to the hub (no agent to ask)")
        try:
            address = self._address(self._runtime)
        except Exception as exc:  # the hub's own database: still a sample, with the reason
            return Sample(at, False, error=clip(f"could not look the agent up: {exc}"))
        if isinstance(address, str):
            return Sample(at, False, error=address)
        started = time.perf_counter()
        with closing(address.client()) as client:
            try:
                answer = client.run_command(self.command.argv, self.timeout)
            except HubError as exc:
                return Sample(at, False, error=clip(f"agent {address.name!r}: {exc.message}"))
        if answer is None:
            return Sample(at, False, error=f"agent {address.name!r}: {NO_COMMANDS}")
        ran = answer.get("duration_ms")
        latency = float(ran) if isinstance(ran, int | float) else _ms_since(started)
        return self._judge(at, answer, latency)

    # -- helpers ---------------------------------------------------------------------------------

    def _address(self, runtime: Runtime) -> AgentAddress | str:
        """The agent to ask, or why there is none."""
        name = self.command.agent
        address = find_agent(runtime, name)
        if address is None:
            return f"no agent named {name!r}"
        if not address.online:
            return f"agent {name!r} is offline"
        return address

    def _judge(self, at: float, answer: dict[str, Any], latency: float) -> Sample:
        script = self.command.argv[0]
        if answer.get("timed_out"):
            return Sample(
                at,
                False,
                error=f"{script} did not finish within {self.timeout:g} s (killed)",
                latency_ms=latency,
            )
        code = answer.get("exit_code")
        stdout = _without_final_newline(str(answer.get("stdout") or ""))
        failures: list[str] = []
        if not self.exit_code.holds(code):
            failures.append(f"exit code {code} is not {self.exit_code.describe()}")
        value: float | str | None = code if isinstance(code, int) else None
        if self.stdout is not None:
            value = _value(stdout, self.stdout)
            if not self.stdout.holds(stdout):
                failures.append(f"stdout {clip(stdout)!r} is not {self.stdout.describe()}")
        stderr = str(answer.get("stderr") or "").strip()
        if failures and stderr:
            failures.append(f"stderr: {stderr[-300:]}")
        return Sample(
            at,
            not failures,
            value=clip(value) if isinstance(value, str) else value,
            error=clip("; ".join(failures)) or None,
            latency_ms=round(latency, 3),
        )


def _expectations(expect: dict[str, Any]) -> tuple[Expectation, Expectation | None]:
    field: list[str | int] = ["command", "expect"]
    unknown = set(expect) - {"exitCode", "stdout"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"unknown field {name!r}", field=[*field, name])
    code = expect.get("exitCode", 0)
    where = [*field, "exitCode"]
    if isinstance(code, bool):
        raise InvalidInput("an exit code, a list of them, or a comparator", field=where)
    if isinstance(code, int):
        exit_code = Expectation("oneOf", (code,))
    elif isinstance(code, list):
        if not code or not all(isinstance(c, int) and not isinstance(c, bool) for c in code):
            raise InvalidInput("a list of exit codes (integers)", field=where)
        exit_code = Expectation("oneOf", tuple(code))
    else:
        exit_code = parse_expectation(code, where)
    stdout = expect.get("stdout")
    return exit_code, (
        parse_expectation(stdout, [*field, "stdout"]) if stdout is not None else None
    )


def _without_final_newline(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


def _value(stdout: str, expectation: Expectation) -> float | str:
    """A number when the expectation compares numbers and stdout is one, else the text."""
    if expectation.op in (*NUMERIC, "between") and not isinstance(expectation.operand, str):
        try:
            return float(stdout.strip())
        except ValueError:
            pass
    return stdout


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
