"""Writing hub documents back as Chaos Mesh and Litmus documents: every imported document
whose tool has an equivalent makes the round trip (import → export → import gives the same
hub document); what has none is refused with the reason. And the CLI's import and export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chaoshub.errors import InvalidInput
from chaoshub.formats import Options, import_document
from chaoshub.formats.export import export

DOCS = Path(__file__).parent / "documents"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "api-survives-a-paused-dependency.yaml"

ROUND_TRIPS = [
    *[(p.name, "chaos-mesh") for p in sorted(DOCS.glob("cm-*.yaml"))],
    ("litmus-engine-plain.yaml", "litmus"),
    ("litmus-engine-nodes.yaml", "litmus"),
    ("litmus-engine-probes.yaml", "litmus"),
]


@pytest.mark.parametrize(("name", "target"), ROUND_TRIPS)
def test_import_export_import_gives_the_same_hub_document(name: str, target: str) -> None:
    options = Options(backend="east", agent="edge-1")
    first = import_document(yaml.safe_load((DOCS / name).read_text()), options=options)
    written = export(first.kind, first.document, target)
    assert written["apiVersion"].split("/")[0] in ("chaos-mesh.org", "litmuschaos.io")
    again = import_document(yaml.safe_load(yaml.safe_dump(written)), options=options)
    assert again.kind == first.kind
    assert again.document == first.document


def test_a_network_chaos_is_written_as_the_adapter_would_create_it() -> None:
    hub = import_document(yaml.safe_load((DOCS / "cm-network-loss.yaml").read_text())).document
    written = export("Experiment", hub, "chaos-mesh")
    assert written == {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": "NetworkChaos",
        "metadata": {"name": "cart-loss"},
        "spec": {
            "selector": {"labelSelectors": {"app": "cart"}},
            "mode": "one",
            "action": "loss",
            "direction": "to",
            "loss": {"loss": "25", "correlation": "10"},
            "duration": "60s",
        },
    }


@pytest.mark.parametrize(
    ("document", "target", "field", "words"),
    [
        ("chaosd-process.yaml", "chaos-mesh", ["faultType"], "no equivalent"),
        ("cm-network-delay.yaml", "litmus", ["faultType"], "not a litmus fault"),
        ("ctk-experiment.yaml", "chaos-mesh", ["steadyState"], "no steady state"),
        ("cm-workflow.yaml", "litmus", ["steps", "2"], "not other steps"),
        ("cm-schedule.yaml", "litmus", ["kind"], "Experiment and Workflow"),
    ],
)
def test_what_the_tool_cannot_say_is_refused_with_the_reason(
    document: str, target: str, field: list[str], words: str
) -> None:
    hub = import_document(yaml.safe_load((DOCS / document).read_text()))
    with pytest.raises(InvalidInput) as refused:
        export(hub.kind, hub.document, target)
    assert refused.value.field == field and words in refused.value.message


def test_a_workflow_whose_steps_are_not_series_of_parallel_groups_is_refused() -> None:
    hub = import_document(yaml.safe_load((DOCS / "cm-workflow.yaml").read_text())).document
    settle = next(s for s in hub["steps"] if s["id"] == "settle")
    settle["after"] = ["cart-cpu"]  # waits for half of a parallel group
    with pytest.raises(InvalidInput) as refused:
        export("Workflow", hub, "chaos-mesh")
    assert refused.value.field[0] == "steps" and "parallel group" in refused.value.message


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_cli_prints_the_hub_document_with_the_notes_as_comments(tmp_path: Path) -> None:
    done = _cli("import", str(DOCS / "cm-network-delay.yaml"), "--backend", "east")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# imported from chaos-mesh NetworkChaos as a hub Experiment"
    assert (
        "# not mapped: spec.delay.reorder: the hub's network-delay does not reorder packets"
        in lines
    )
    hub = yaml.safe_load(done.stdout)
    assert hub["faultType"] == "chaos-mesh/network-delay" and hub["backend"] == "east"
    file = tmp_path / "hub.yaml"
    file.write_text(done.stdout)
    written = _cli("export", str(file), "--to", "chaos-mesh")
    assert written.returncode == 0, written.stderr
    assert yaml.safe_load(written.stdout)["spec"]["delay"]["latency"] == "200ms"
    as_json = _cli("import", str(DOCS / "ctk-experiment.yaml"), "--output", "json")
    assert as_json.returncode == 0 and '"notes": [' in as_json.stdout


def test_the_cli_refuses_a_bad_document_in_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (DOCS / "cm-network-delay.yaml").read_text().replace("latency: 200ms", "latncy: 200ms")
    )
    done = _cli("import", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"Error: {bad}: spec.delay.latncy: unknown field 'latncy'"
    refused = _cli("export", str(EXAMPLE), "--to", "chaos-mesh")
    assert refused.returncode == 2
    assert "steadyState: Chaos Mesh has no steady state" in refused.stderr
    same = _cli("export", str(EXAMPLE), "--to", "hub")
    assert same.returncode == 0 and yaml.safe_load(same.stdout) == yaml.safe_load(
        EXAMPLE.read_text()
    )
