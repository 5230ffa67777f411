"""The hub's JSON Schema validation: patterns as ECMA-262 matches them (``$`` is the end of
the value, never "before a final newline" as in Python's ``re``), asserted formats, and
catalog entries whose patterns RE2 cannot run reported at load."""

from __future__ import annotations

import jsonschema
import pytest

from chaoshub.catalog import FaultType
from chaoshub.schemas import validator

NAME = {"type": "string", "pattern": "^[a-z0-9]+$"}
PEER = {"type": "string", "format": "ipv4-network"}


@pytest.mark.parametrize("value", ["chv0\n", "ok\n\n", "\nok", "a b", ""])
def test_an_anchored_pattern_refuses_a_trailing_newline_and_other_extras(value: str) -> None:
    assert not validator(NAME).is_valid(value)
    assert jsonschema.Draft202012Validator(NAME).is_valid("chv0\n")  # what plain jsonschema does


def test_an_anchored_pattern_takes_a_plain_value() -> None:
    assert validator(NAME).is_valid("chv0")


@pytest.mark.parametrize("value", ["10.0.0.1", "10.1.2.3/8", "0.0.0.0/0"])
def test_ipv4_networks_are_addresses_or_cidrs(value: str) -> None:
    assert validator(PEER).is_valid(value)


@pytest.mark.parametrize("value", ["$(id)", "1.2.3.4;id", "1.2.3.4\n", "::1", "10.0.0.0/33", "a b"])
def test_anything_else_is_not_an_ipv4_network(value: str) -> None:
    assert not validator(PEER).is_valid(value)


def test_an_entry_with_a_pattern_re2_cannot_run_is_refused_at_load() -> None:
    entry = {
        "id": "memory/latency",
        "title": "t",
        "description": "d",
        "category": "network",
        "target_kind": "proxy",
        "time_control": "timed",
        "reversible": True,
        "params": {"type": "object", "properties": {"x": {"type": "string", "pattern": "(?=a)"}}},
    }
    with pytest.raises(jsonschema.SchemaError, match="pattern"):
        FaultType.from_dict(entry)
