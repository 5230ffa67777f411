"""What every foreign format shares: the result of an import (the hub document and the
notes on what was not mapped), and a strict reader of the foreign document's shape.

A shape is written as data: a ``dict`` of field name to shape (an object whose other fields
are refused by name), :class:`ListOf`, :class:`MapOf`, a Python type or tuple of types, or
:data:`ANY` (a free value the format passes through, such as a Kubernetes pod spec). The
tools themselves ignore a misspelt field (chaosd's JSON binding, Litmus's
``x-kubernetes-preserve-unknown-fields``); here it is an :class:`~chaoshub.errors.InvalidInput`
naming its path, ``spec.delay.latncy``, before anything is mapped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoshub.errors import InvalidInput

Path = Sequence[str | int]


@dataclass(frozen=True)
class Note:
    """Something in the foreign document the hub document does not say, and why."""

    path: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "why": self.why}


@dataclass
class Imported:
    """A hub document made from a foreign one: its ``kind`` (Experiment, Workflow, Schedule),
    the document, which format and kind it came from, and the notes."""

    kind: str
    document: dict[str, Any]
    source: str
    notes: list[Note] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "document": self.document,
            "notes": [n.to_dict() for n in self.notes],
        }


def dotted(path: Path) -> str:
    """``["spec", "templates", 2, "name"]`` as people write it: ``spec.templates[2].name``."""
    out = ""
    for part in path:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class Notes:
    """The notes of one import, added as the mapping goes."""

    def __init__(self) -> None:
        self.items: list[Note] = []

    def add(self, path: Path, why: str) -> None:
        self.items.append(Note(dotted(path), why))


def refuse(path: Path, message: str) -> InvalidInput:
    return InvalidInput(message, field=[str(p) for p in path])


# -- shapes ------------------------------------------------------------------------------------


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


Str = str
Int = int
Bool = bool
Num = (int, float)
IntOrStr = (int, str)

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _words(types: tuple[type, ...]) -> str:
    return " or ".join(dict.fromkeys(_TYPE_WORDS.get(t, t.__name__) for t in types))


def check(value: Any, shape: Any, path: Path = ()) -> None:
    """Refuse ``value`` unless it has ``shape``: the first unknown field or wrong type, by path."""
    where = list(path)
    if shape is ANY:
        return
    if isinstance(shape, dict):
        if not isinstance(value, Mapping):
            raise refuse(where, "must be an object")
        for key, item in value.items():
            if key not in shape:
                raise refuse([*where, str(key)], f"unknown field {key!r}")
            check(item, shape[key], [*where, str(key)])
        return
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            raise refuse(where, "must be a list")
        for i, item in enumerate(value):
            check(item, shape.item, [*where, i])
        return
    if isinstance(shape, MapOf):
        if not isinstance(value, Mapping):
            raise refuse(where, "must be an object")
        for key, item in value.items():
            check(item, shape.value, [*where, str(key)])
        return
    types = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in types:
        raise refuse(where, f"must be {_words(types)}, not {value!r}")
    if value is not None and not isinstance(value, types):
        raise refuse(where, f"must be {_words(types)}, not {type(value).__name__} {value!r}")


def one_of(value: Any, choices: Sequence[str], path: Path) -> str:
    if value not in choices:
        raise refuse(path, f"{value!r} is not one of {', '.join(choices)}")
    return str(value)


# -- values ------------------------------------------------------------------------------------

_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_seconds(text: Any, path: Path) -> float:
    """A Go duration (``1h30m``, ``100ms``) in seconds; anything else refused naming ``path``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        raise refuse(path, f"a duration such as 30s or 1h30m, not {text!r}")
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    parts = _GO_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise refuse(path, f"a duration such as 30s or 1h30m, not {text!r}")
    return sign * sum(float(n) * _GO_UNITS[u] for n, u in parts)


def go_duration(seconds: float) -> str:
    """Seconds as a Go duration (whole seconds as ``90s``, else milliseconds)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds * 1000:g}ms"


def number(text: Any, path: Path) -> float:
    """A number written as a number or a string (Chaos Mesh's ``"25"``)."""
    if isinstance(text, bool):
        raise refuse(path, f"a number, not {text!r}")
    try:
        return float(text)
    except (TypeError, ValueError):
        raise refuse(path, f"a number, not {text!r}") from None


def whole(value: float) -> int | float:
    """An integral float as an int, so documents read ``25``, not ``25.0``."""
    return int(value) if float(value).is_integer() else value


def step_id(name: str, taken: set[str]) -> str:
    """A hub step id made from a foreign name (lower-case, ``[a-z0-9_-]``), unique in ``taken``."""
    base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:56] or "step"
    if not base[0].isalnum():
        base = "s" + base
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate
