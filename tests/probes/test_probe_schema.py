"""Each probe kind's JSON Schema (what the console generates its probe forms from) accepts the
probes the documentation writes and refuses what parsing refuses, field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chaoshub.errors import InvalidInput
from chaoshub.probes import KINDS, parse_probe
from chaoshub.probes.schema import probe_schema

EXAMPLE = Path(__file__).parents[2] / "examples" / "api-survives-a-paused-dependency.yaml"


def example_probes() -> list[dict[str, Any]]:
    doc = yaml.safe_load(EXAMPLE.read_text())
    steps = [s["probe"] for s in doc["steps"] if "probe" in s]
    return [*doc["steadyState"], *doc["stopConditions"], *steps]


@pytest.mark.parametrize("probe", example_probes(), ids=lambda p: str(p.get("name", "step")))
def test_the_examples_probes_are_valid_for_their_kinds_schema(probe: dict[str, Any]) -> None:
    parse_probe(probe)
    jsonschema.validate(probe, probe_schema("http"))


def test_every_kind_has_a_schema_with_its_block_required_and_the_timing_fields() -> None:
    for kind in KINDS:
        schema = probe_schema(kind)
        assert schema["required"] == [kind]
        assert {"intervalSeconds", "failureThreshold", "forSeconds"} <= set(schema["properties"])
        block = schema["properties"][kind]
        assert block["description"], kind
        assert "expect" in block["properties"], kind


def test_an_optional_field_is_written_as_its_type_with_the_names_the_yaml_uses() -> None:
    props = probe_schema("http")["properties"]
    assert props["forSeconds"]["type"] == "number" and "anyOf" not in props["forSeconds"]
    assert "title" not in props["intervalSeconds"]
    assert props["intervalSeconds"]["default"] == 1.0


@pytest.mark.parametrize(
    ("probe", "where"),
    [
        ({"http": {"url": "http://x/", "verb": "GET"}}, ["http"]),
        ({"http": {"url": "http://x/"}, "intervalSeconds": 0}, ["intervalSeconds"]),
        ({"tcp": {"host": "h", "port": 70000}}, ["tcp", "port"]),
        ({"command": {"agent": "local", "argv": []}}, ["command", "argv"]),
    ],
)
def test_what_parsing_refuses_the_schema_refuses_too(
    probe: dict[str, Any], where: list[str]
) -> None:
    kind = next(k for k in probe if k in KINDS)
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(probe, probe_schema(kind))
    assert list(refused.value.absolute_path)[: len(where)] == where
    with pytest.raises(InvalidInput):
        parse_probe(probe)
