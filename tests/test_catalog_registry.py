"""The catalog loader and the adapter registry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chaoshub import catalog, registry
from chaoshub.errors import Conflict, InvalidInput, NotFound
from chaoshub.testing.memory import MemoryAdapter

ENTRY = """\
id: memory/latency
title: Latency
description: Adds latency.
category: network
target_kind: memory-target
time_control: timed
reversible: true
params:
  type: object
  additionalProperties: false
  properties:
    latency_ms: {type: integer, minimum: 0, default: 100, description: "milliseconds"}
selector:
  type: object
  properties:
    names: {type: array, items: {type: string}}
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_a_valid_entry_loads_with_its_defaults(tmp_path: Path) -> None:
    write(tmp_path, "memory/latency.yaml", ENTRY)
    loaded = catalog.load(tmp_path)
    assert not [p for p in loaded.problems if "latency.yaml" in p]
    entry = loaded.get("memory/latency")
    assert entry.adapter == "memory" and entry.name == "latency"
    assert entry.validate_params({}) == {"latency_ms": 100}


def test_an_entry_whose_adapter_is_not_installed_is_reported_not_loaded(tmp_path: Path) -> None:
    write(tmp_path, "nosuch/latency.yaml", ENTRY.replace("memory/latency", "nosuch/latency"))
    loaded = catalog.load(tmp_path)
    assert "nosuch/latency" not in loaded.entries
    assert any("nosuch/latency.yaml" in p and "not installed" in p for p in loaded.problems)


def test_an_entry_the_adapter_does_not_implement_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "memory/teleport.yaml", ENTRY.replace("memory/latency", "memory/teleport"))
    loaded = catalog.load(tmp_path)
    assert any("does not implement 'teleport'" in p for p in loaded.problems)


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (lambda t: t.replace("category: network", "category: weather"), "weather"),
        (lambda t: t.replace("reversible: true\n", ""), "reversible"),
        (lambda t: t.replace("id: memory/latency", "id: memory/other"), "does not match its path"),
        (lambda t: t.replace("type: integer", "type: integr"), "integr"),
        (lambda t: t + "surprise: 1\n", "surprise"),
        (lambda t: t.replace("params:", "params: [\n"), ""),
    ],
)
def test_a_broken_entry_is_reported_with_the_reason(tmp_path: Path, mutation, problem: str) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, "memory/latency.yaml", mutation(ENTRY))
    loaded = catalog.load(tmp_path)
    mine = [p for p in loaded.problems if p.startswith("memory/latency.yaml")]
    assert mine and problem in mine[0]


def test_every_shipped_entry_loads() -> None:
    loaded = catalog.load()
    assert loaded.problems == []
    assert loaded.entries, "the catalog ships entries"
    for entry in loaded.all():
        for name, prop in (entry.params.get("properties") or {}).items():
            assert prop.get("description"), f"{entry.id}: param {name} has no description (units?)"


def test_params_errors_name_the_field() -> None:
    entry = catalog.load().get("memory/latency")
    with pytest.raises(InvalidInput) as err:
        entry.validate_params({"latency_ms": -1})
    assert err.value.field == ["params", "latency_ms"]
    with pytest.raises(InvalidInput) as err:
        entry.validate_params({"latencyms": 1})
    assert err.value.field == ["params", "latencyms"]


def test_an_unknown_fault_type_gets_a_did_you_mean() -> None:
    with pytest.raises(NotFound, match="did you mean 'memory/latency'"):
        catalog.load().get("memory/latncy")


def test_an_unknown_adapter_gets_a_did_you_mean() -> None:
    with pytest.raises(NotFound, match="did you mean 'memory'"):
        registry.get("memroy")


def test_a_taken_name_is_refused() -> None:
    class Impostor(MemoryAdapter):
        pass

    with pytest.raises(Conflict):
        registry.register("memory", Impostor)
    assert registry.get("memory") is MemoryAdapter


def test_built_in_adapters_come_from_entry_points_and_import_lazily() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=registry.GROUP)}
    assert {"native", "http", "toxiproxy", "docker", "aws-ssm"} <= names
    assert set(registry.names()) >= names
