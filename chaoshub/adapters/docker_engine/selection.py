"""Which containers a selector means.

A selector names containers (``names``: names, full or 12-character ids, or ``re2:<regex>``
matched anywhere in the name, as Pumba does) and/or labels (``labels``: ``{key: value}``,
a value ``None`` meaning "has the key"; all must match), then optionally samples them
(``limit``: keep N at random; ``random``: keep one at random).

Unlike Pumba, a selector that names nothing is refused: it would mean "every container on
the host". Containers labelled ``chaoshub.skip=true`` (the hub's own helpers) or
``com.gaiaadm.pumba.skip=true`` (Pumba's) are never selected, whatever the selector says.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chaoshub.errors import InvalidInput, NotFound
from chaoshub.patterns import Pattern, PatternError, compile_pattern

KEYS = frozenset({"names", "labels", "limit", "random"})
SKIP_LABELS = ("chaoshub.skip", "com.gaiaadm.pumba.skip", "com.gaiaadm.pumba")
REGEX_PREFIX = "re2:"


@dataclass(frozen=True)
class Selector:
    names: tuple[str, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    labels: tuple[tuple[str, str | None], ...] = ()
    limit: int | None = None
    pick_random: bool = False

    @property
    def label_filters(self) -> list[str]:
        """The engine-side ``label`` filter (AND of every entry)."""
        return [key if value is None else f"{key}={value}" for key, value in self.labels]


def parse(selector: Mapping[str, Any]) -> Selector:
    """Check a selector and return it parsed; pure; raises ``InvalidInput`` naming the field."""
    if not isinstance(selector, Mapping):
        raise InvalidInput("the selector must be an object", field=["selector"])
    unknown = sorted(set(selector) - KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown selector key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})",
            field=["selector", unknown[0]],
        )
    raw_names = selector.get("names") or []
    if isinstance(raw_names, str) or not isinstance(raw_names, list):
        raise InvalidInput("names is a list of strings", field=["selector", "names"])
    names: list[str] = []
    patterns: list[Pattern] = []
    for i, name in enumerate(raw_names):
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("a name is a non-empty string", field=["selector", "names", i])
        if name.startswith(REGEX_PREFIX):
            try:
                patterns.append(compile_pattern(name[len(REGEX_PREFIX) :]))
            except PatternError as exc:
                raise InvalidInput(f"bad regex: {exc}", field=["selector", "names", i]) from exc
        else:
            names.append(name.lstrip("/"))
    labels = _labels(selector.get("labels"))
    if not names and not patterns and not labels:
        raise InvalidInput(
            "the selector names no container; give names or labels "
            "(an empty selector would hit every container)",
            field=["selector", "names"],
        )
    limit = selector.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput("limit is a whole number >= 1", field=["selector", "limit"])
    pick_random = selector.get("random", False)
    if not isinstance(pick_random, bool):
        raise InvalidInput("random is true or false", field=["selector", "random"])
    return Selector(tuple(names), tuple(patterns), labels, limit, pick_random)


def _labels(raw: Any) -> tuple[tuple[str, str | None], ...]:
    if raw is None:
        return ()
    items: list[tuple[str, str | None]] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if not isinstance(key, str) or not key:
                raise InvalidInput(
                    "a label key is a non-empty string", field=["selector", "labels"]
                )
            if value is not None and not isinstance(value, str | int | float | bool):
                raise InvalidInput("a label value is a string", field=["selector", "labels", key])
            items.append((key, None if value is None else _label_value(value)))
    elif isinstance(raw, list):
        for i, entry in enumerate(raw):
            if not isinstance(entry, str) or not entry or entry.startswith("="):
                raise InvalidInput(
                    "a label is 'key' or 'key=value'", field=["selector", "labels", i]
                )
            key, sep, value = entry.partition("=")
            items.append((key, value if sep else None))
    else:
        raise InvalidInput(
            "labels is an object or a list of 'key=value'", field=["selector", "labels"]
        )
    return tuple(items)


def _label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_skipped(labels: Mapping[str, str] | None) -> bool:
    return any(str((labels or {}).get(key, "")).lower() == "true" for key in SKIP_LABELS)


def container_name(attrs: Mapping[str, Any]) -> str:
    """The name of a container from ``GET /containers/json`` or ``/containers/{id}/json``."""
    if attrs.get("Name"):
        return str(attrs["Name"]).lstrip("/")
    names = attrs.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(attrs.get("Id", ""))[:12]


def matches(sel: Selector, attrs: Mapping[str, Any]) -> bool:
    """Does one listed container match the names/regexes and labels?"""
    labels = attrs.get("Labels") or {}
    for key, value in sel.labels:
        if key not in labels or (value is not None and str(labels[key]) != value):
            return False
    if not sel.names and not sel.patterns:
        return True
    if any(_named(n, attrs) for n in sel.names):
        return True
    return any(p.search(container_name(attrs)) for p in sel.patterns)


def _named(name: str, attrs: Mapping[str, Any]) -> bool:
    """A name, a full id or an id prefix of at least 12 characters."""
    cid = str(attrs.get("Id", ""))
    return name in (container_name(attrs), cid) or (len(name) >= 12 and cid.startswith(name))


def choose(
    sel: Selector, listed: Iterable[Mapping[str, Any]], *, states: frozenset[str] | None = None
) -> list[Mapping[str, Any]]:
    """Apply the selector to listed containers; raise ``NotFound`` when nothing is left."""
    found: list[Mapping[str, Any]] = []
    skipped: list[str] = []
    wrong_state: list[str] = []
    for attrs in listed:
        if not matches(sel, attrs):
            continue
        if is_skipped(attrs.get("Labels")):
            skipped.append(container_name(attrs))
        elif states is not None and str(attrs.get("State", "")).lower() not in states:
            wrong_state.append(f"{container_name(attrs)} ({attrs.get('State')})")
        else:
            found.append(attrs)
    missing = [n for n in sel.names if not any(_named(n, a) for a in found)]
    if missing:
        raise NotFound(
            f"no selectable container named {missing[0]!r}" + _why(skipped, wrong_state),
            field=["selector", "names"],
        )
    if not found:
        raise NotFound(
            "the selector matches no container" + _why(skipped, wrong_state), field=["selector"]
        )
    found.sort(key=container_name)
    if sel.pick_random:
        return [random.choice(found)]
    if sel.limit is not None and sel.limit < len(found):
        return random.sample(found, sel.limit)
    return found


def _why(skipped: list[str], wrong_state: list[str]) -> str:
    parts = []
    if skipped:
        parts.append(f"skipped by label: {', '.join(sorted(skipped))}")
    if wrong_state:
        parts.append(f"not in a state this fault acts on: {', '.join(sorted(wrong_state))}")
    return f" ({'; '.join(parts)})" if parts else ""
