"""Regular expressions that users give (selector patterns), matched with RE2.

A selector's pattern is matched against every container name, proxy name or process
command line a tool lists, in a worker or on an agent. Python's ``re`` backtracks: a
pattern such as ``(a+)+$`` can hold a worker or an injector for minutes on one long
command line. RE2 (Google's engine, the one Pumba's ``re2:`` prefix names) runs in time
linear in the input whatever the pattern, at the price of look-around and
back-references, which it refuses when the pattern is compiled — so a pattern it cannot
run is an invalid-input error naming the field, before any tool is asked.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2

#: RE2 refuses patterns whose compiled program would exceed this (bytes)
MAX_PROGRAM_BYTES = 8 << 20


class Pattern(Protocol):
    pattern: str

    def search(self, text: str) -> Any: ...


class PatternError(ValueError):
    """The pattern is not one RE2 can run; the message says why."""


def compile_pattern(text: str) -> Pattern:
    """The compiled pattern, or :class:`PatternError` with RE2's reason."""
    options = re2.Options()
    options.log_errors = False  # the reason is raised; nothing for stderr
    options.max_mem = MAX_PROGRAM_BYTES
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"{reason} (patterns are RE2: no look-around or back-references)"
        ) from None
