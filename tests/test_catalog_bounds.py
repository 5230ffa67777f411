"""Every harmful parameter has a bound: a walk over the whole catalog (issue 12, security 5).

Each numeric parameter needs a maximum, each array a ``maxItems``, each string a ``maxLength``
(or an ``enum``), each free-form object a ``maxProperties`` — so a new entry cannot forget one.
The magnitude a bound allows is the entry's business; that there is one is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import pytest
import yaml

from chaoshub.catalog import FaultType


def _entries() -> list[dict[str, Any]]:
    root = resources.files("chaoshub.catalog")
    out = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if folder.is_dir() and not folder.name.startswith("_"):
            for item in sorted(folder.iterdir(), key=lambda p: p.name):
                if item.name.endswith(".yaml"):
                    out.append(yaml.safe_load(item.read_text(encoding="utf-8")))
    return out


ENTRIES = _entries()


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    return set(declared or ())


def unbounded(schema: Any, path: str = "params") -> Iterator[str]:
    """Each place under ``schema`` where a value of unbounded size is accepted."""
    if not isinstance(schema, Mapping):
        return
    fixed = "enum" in schema or "const" in schema
    types = _types(schema)
    if types & {"integer", "number"} and not fixed:
        if "maximum" not in schema and "exclusiveMaximum" not in schema:
            yield f"{path}: a number without maximum"
    if "string" in types and not fixed and "maxLength" not in schema:
        yield f"{path}: a string without maxLength"
    if "array" in types and "maxItems" not in schema:
        yield f"{path}: an array without maxItems"
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping) and "maxProperties" not in schema:
        yield f"{path}: an object of free keys without maxProperties"
    for name, sub in (schema.get("properties") or {}).items():
        yield from unbounded(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from unbounded(schema["items"], f"{path}[]")
    if isinstance(extra, Mapping):
        yield from unbounded(extra, f"{path}.*")
    for word in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(word) or ()):
            yield from unbounded(sub, f"{path}/{word}[{i}]")
    for name, sub in (schema.get("$defs") or {}).items():
        yield from unbounded(sub, f"{path}/$defs/{name}")


def test_the_walk_covers_every_adapters_entries() -> None:
    adapters = {e["id"].split("/", 1)[0] for e in ENTRIES}
    assert {"native", "docker", "toxiproxy", "aws-ssm", "litmus", "chaos-mesh"} <= adapters


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_every_parameter_of_the_entry_has_an_upper_bound(entry: dict[str, Any]) -> None:
    assert list(unbounded(entry["params"])) == []


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "integer", "minimum": 1}, "a number without maximum"),
        ({"type": ["number", "null"]}, "a number without maximum"),
        ({"type": "string", "pattern": "^[0-9]+$"}, "a string without maxLength"),
        ({"type": "array", "items": {"type": "integer", "maximum": 9}}, "without maxItems"),
        (
            {"type": "array", "maxItems": 4, "items": {"type": "string"}},
            "params.p[]: a string without maxLength",
        ),
        ({"type": "object", "additionalProperties": {"enum": ["a"]}}, "without maxProperties"),
        ({"oneOf": [{"type": "integer"}]}, "a number without maximum"),
    ],
)
def test_the_walk_finds_each_kind_of_unbounded_parameter(
    schema: dict[str, Any], problem: str
) -> None:
    found = list(unbounded({"type": "object", "properties": {"p": schema}}))
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize(
    ("fault", "params", "field"),
    [
        ("native/disk-fill", {"path": "/", "bytes": 10**18}, "bytes"),
        ("native/disk-fill", {"path": "/", "percent": 100}, "percent"),
        ("native/memory-stress", {"bytes": 2**64}, "bytes"),
        ("native/io-stress", {"bytes_per_worker": 10**15}, "bytes_per_worker"),
        ("native/cpu-stress", {"workers": 1024}, "workers"),
        ("native/host-script", {"script": "a.sh", "args": ["x"] * 65}, "args"),
        ("native/network-loss", {"peers": ["10.0.0.1"] * 65}, "peers"),
    ],
)
def test_the_issues_harmful_values_are_refused_by_the_schema(
    fault: str, params: dict[str, Any], field: str
) -> None:
    from chaoshub.errors import InvalidInput

    entry = next(e for e in ENTRIES if e["id"] == fault)
    with pytest.raises(InvalidInput) as err:
        FaultType.from_dict(entry).validate_params(params)
    assert err.value.field == ["params", field]
