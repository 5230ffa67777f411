"""The catalog entries of ``litmus`` and ``chaos-mesh`` agree with the adapters' code.

Pure: no cluster. Every fault's entry loads, carries the selector schema the adapter
validates against, and builds an object of the right kind from its defaults.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaoshub import catalog
from chaoshub.adapters.chaos_mesh import SELECTOR_SCHEMA, ChaosMeshAdapter
from chaoshub.adapters.chaos_mesh_faults import FAULTS
from chaoshub.adapters.litmus import NODE_FAULTS, NODE_SELECTOR, POD_SELECTOR, LitmusAdapter
from chaoshub.contract import Execution, Target
from chaoshub.lifecycle import TimeControl

#: values for the params an entry requires (no default)
REQUIRED_SAMPLES: dict[str, Any] = {"volume_path": "/data", "port": 8080}


def _entries(adapter: str) -> list[catalog.FaultType]:
    return [f for f in catalog.load().all() if f.adapter == adapter]


def test_every_fault_has_exactly_one_entry() -> None:
    assert {f.name for f in _entries("litmus")} == set(LitmusAdapter.capabilities.faults)
    assert {f.name for f in _entries("chaos-mesh")} == set(FAULTS)
    assert not [p for p in catalog.load().problems if "litmus" in p or "chaos-mesh" in p]


@pytest.mark.parametrize("fault", sorted(LitmusAdapter.capabilities.faults))
def test_litmus_entries_are_external_and_send_only_given_env(fault: str) -> None:
    entry = catalog.load().get(f"litmus/{fault}")
    assert entry.time_control is TimeControl.EXTERNAL
    assert dict(entry.selector) == (NODE_SELECTOR if fault in NODE_FAULTS else POD_SELECTOR)
    params = entry.validate_params({})
    assert params == {"keep_resources": False}, "env defaults stay the ChaosExperiment's"
    attributes = {"node": "node-a"} if fault in NODE_FAULTS else {"labels": "app=web"}
    execution = Execution(
        id="run-0", fault=fault, params=params, target=Target("t", "t", attributes)
    )
    body = LitmusAdapter({}).engine_body(execution, "chaos", "chaoshub-run-0")
    env = body["spec"]["experiments"][0]["spec"]["components"]["env"]
    assert env == (
        [{"name": NODE_FAULTS[fault], "value": "node-a"}] if fault in NODE_FAULTS else []
    )


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_chaos_mesh_entries_build_their_kind_from_defaults(fault: str) -> None:
    entry = catalog.load().get(f"chaos-mesh/{fault}")
    spec = FAULTS[fault]
    expected_control = TimeControl.INSTANT if spec.one_shot else TimeControl.TIMED
    assert entry.time_control is expected_control
    assert entry.reversible is not spec.one_shot
    assert dict(entry.selector)["properties"] == SELECTOR_SCHEMA["properties"]
    required = {k: REQUIRED_SAMPLES[k] for k in entry.params.get("required", [])}
    params = entry.validate_params(required)
    attributes = {"namespaces": ["shop"], "labels": {"app": "web"}, "mode": "all"}
    if spec.needs_containers:
        attributes["containers"] = ["app"]
    execution = Execution(
        id="run-0",
        fault=fault,
        params=params,
        target=Target("t", "t", attributes),
        duration_seconds=None if spec.one_shot else 30,
    )
    body = ChaosMeshAdapter({"wait_seconds": 5}).object_body(execution, "chaos", "chaoshub-run-0")
    assert body["kind"] == spec.kind and body["apiVersion"] == "chaos-mesh.org/v1alpha1"
    assert body["spec"].get("action") == spec.action
    assert body["spec"]["selector"] == {"namespaces": ["shop"], "labelSelectors": {"app": "web"}}
    assert body["spec"].get("duration") == (None if spec.one_shot else "35s")
    assert "keep_resources" not in str(body["spec"])
