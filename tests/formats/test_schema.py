"""The published JSON Schema of the hub's documents: generated from the models the hub
validates with (the shipped file is exactly what is generated), served by the API, valid
for every example and every imported document, and refusing bad documents."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from chaoshub.api.app import create_app
from chaoshub.formats import Options, import_document
from chaoshub.formats.schema import FOLDER, document_schema, dumps, files
from tests.support.stack import in_process_runtime

ROOT = Path(__file__).resolve().parents[2]
DOCS = Path(__file__).parent / "documents"
SCHEMA = document_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

SEARCH = {
    "kind": "ThresholdSearch",
    "name": "checkout-latency-tolerance",
    "fault": {
        "faultType": "toxiproxy/latency",
        "backend": "toxiproxy",
        "selector": {"names": ["payments"]},
        "params": {"jitter": 0},
    },
    "vary": {"param": "latency", "from": 0, "to": 2000, "resolution": 25, "strategy": "bisect"},
    "trialSeconds": 15,
    "coolDownSeconds": 5,
    "slo": [
        {
            "name": "checkout-p95",
            "http": {"url": "http://127.0.0.1:8081/checkout", "timeoutSeconds": 5},
            "intervalSeconds": 0.5,
            "objective": {"latencyMsP95": {"<": 800}, "successRatio": {">=": 0.99}},
        }
    ],
}


def errors(document: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(document)
    ]


def test_the_shipped_schema_is_the_generated_one() -> None:
    for name, schema in files().items():
        shipped = (FOLDER / name).read_text(encoding="utf-8")
        assert shipped == dumps(schema), f"run: python -m chaoshub.formats.schema ({name})"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.y*ml")), ids=lambda p: p.name
)
def test_every_example_validates(example: Path) -> None:
    assert errors(yaml.safe_load(example.read_text())) == []


@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.iterdir()))
def test_every_imported_document_validates(name: str) -> None:
    hub = import_document(yaml.safe_load((DOCS / name).read_text()), options=Options(backend="b"))
    assert errors(hub.document) == []


def test_a_threshold_search_and_a_single_fault_file_validate() -> None:
    assert errors(SEARCH) == []
    single = {
        "faultType": "native/process-pause",
        "backend": "native",
        "selector": {"pid": 4},
        "durationSeconds": 5,
    }
    assert errors(single) == []


EXAMPLE = yaml.safe_load((ROOT / "examples" / "api-survives-a-paused-dependency.yaml").read_text())


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        ("descripton", "x", "'descripton' was unexpected"),
        ("steps.1.fault.params", {"percent": 5}, "'percent' was unexpected"),
        ("steps.1.fault.durationSeconds", "10s", "is not of type 'number'"),
        ("steps.1.fault.faultType", "native/process-explode", "is not one of"),
        ("steps.0.sleep", {"seconds": 2}, "'sleep' was unexpected"),
        ("steps.2.probe.tcp", {"host": "127.0.0.1", "port": 1}, "is not valid under any of"),
        ("steadyState.0.intervalSeconds", 0, "steadyState.0: "),
    ],
)
def test_a_bad_document_does_not_validate(where: str, value: Any, said: str) -> None:
    doc = copy.deepcopy(EXAMPLE)
    *parents, last = where.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    found = errors(doc)
    assert any(said in e for e in found), found


def test_a_schedule_starts_exactly_one_thing() -> None:
    hub = import_document(yaml.safe_load((DOCS / "cm-schedule.yaml").read_text())).document
    assert errors(hub) == []
    both = {**hub, "workflow": EXAMPLE}
    assert errors(both) != []
    neither = {k: v for k, v in hub.items() if k != "experiment"}
    assert errors(neither) != []


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    runtime = in_process_runtime(tmp_path, admin="schema-admin")
    with TestClient(create_app(runtime, lambda *_: None)) as client:
        yield client


def test_the_api_serves_the_schema_and_each_kinds(client: TestClient) -> None:
    whole = client.get("/schemas/chaoshub.json")
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("application/schema+json")
    assert whole.json() == SCHEMA
    workflow = client.get("/schemas/Workflow.json").json()
    assert workflow["$ref"] == "#/$defs/Workflow"
    check = jsonschema.Draft202012Validator(workflow)
    assert not list(check.iter_errors(EXAMPLE))
    assert list(check.iter_errors(SEARCH))  # a search is not a workflow
    assert client.get("/schemas/Nope.json").status_code == 404
