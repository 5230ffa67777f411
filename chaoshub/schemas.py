"""JSON Schema validation as the hub means it: ECMA-262 ``pattern`` and asserted formats.

jsonschema runs ``pattern`` with Python's ``re.search``, whose ``$`` also matches before
a final newline, so ``"eth0\\n"`` passes ``^[a-z0-9]+$``. JSON Schema specifies ECMA-262
regular expressions, whose ``$`` matches only at the very end, as RE2's does. ``pattern``
is run with RE2 here, so the hub, the native injector (which checks the same catalog
entries) and the console (a browser's ``RegExp``) refuse the same values.

Formats are asserted, not just annotations: the standard ones jsonschema checks (``ipv4``,
``ipv6``, ...) and ``ipv4-network``, an IPv4 address or CIDR as the native injector takes
a peer.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from chaoshub.patterns import Pattern, PatternError, compile_pattern

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("ipv4-network", raises=ValueError)
def is_ipv4_network(value: object) -> bool:
    """An IPv4 address or CIDR (host bits may be set: ``10.1.2.3/8`` means ``10.0.0.0/8``)."""
    if not isinstance(value, str):
        return True  # a type error is the ``type`` keyword's to report
    return ipv4_network(value) is not None


def ipv4_network(value: str) -> str | None:
    """``value`` as a normalised IPv4 network, or ``None`` when it is not one."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return str(net) if net.version == 4 else None


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Pattern:
    return compile_pattern(pattern)


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = _compiled(pattern).search(instance)
    except PatternError as exc:
        yield jsonschema.ValidationError(f"the schema's pattern {pattern!r} cannot run: {exc}")
        return
    if found is None:
        what = schema.get("description")
        yield jsonschema.ValidationError(
            f"{instance!r} is not of the form this field takes ({what})"
            if isinstance(what, str) and what
            else f"{instance!r} does not match {pattern!r}"
        )


HubValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def validator(schema: Mapping[str, Any]) -> Validator:
    """A validator of ``schema`` with ECMA-like patterns and asserted formats."""
    return HubValidator(dict(schema), format_checker=FORMATS)


def pattern_problems(schema: Any) -> Iterator[str]:
    """Every ``pattern`` in ``schema`` (at any depth) that RE2 cannot run, with why."""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                try:
                    _compiled(value)
                except PatternError as exc:
                    yield f"pattern {value!r}: {exc}"
            elif key not in ("default", "examples", "const", "enum"):
                yield from pattern_problems(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from pattern_problems(item)
