"""The published JSON Schema of the hub's own documents (Experiment, Workflow, Schedule,
ThresholdSearch), for editors to validate against.

It is generated from the models the hub validates documents with — the workflow, step and
fault models (:mod:`chaoshub.workflows.document`), every probe kind's
(:func:`chaoshub.probes.schema.probe_schema`), the threshold search's, the experiment and
schedule documents' (:mod:`chaoshub.formats.hub`) — and each fault type's params and
selector schemas from the catalog (``if faultType is X then params is X's``), so nothing is
written twice. What only the hub can check (that a backend exists, a step graph has no
cycle, a deadline fits) is not in a JSON Schema; ``chaoshub validate`` asks the hub.

``python -m chaoshub.formats.schema`` writes ``chaoshub/formats/schemas/*.json`` (shipped in
the wheel); a test keeps them equal to what this module generates. The API serves them at
``/schemas/chaoshub.json`` and ``/schemas/<Kind>.json``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from chaoshub import catalog
from chaoshub.formats.hub import ExperimentDocument, ScheduleDocument
from chaoshub.probes import KINDS as PROBE_KINDS
from chaoshub.probes.schema import _plain, probe_schema
from chaoshub.thresholds.document import METRICS, SearchSpec, VarySpec
from chaoshub.workflows.document import (
    STEP_KINDS,
    ApprovalSpec,
    FaultSpec,
    StepSpec,
    WaitSpec,
    WorkflowSpec,
)

DOCUMENT_KINDS = ("Experiment", "Workflow", "Schedule", "ThresholdSearch")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
FOLDER = Path(__file__).parent / "schemas"


def _model(model: Any, **override: Any) -> dict[str, Any]:
    schema: dict[str, Any] = _plain(copy.deepcopy(model.model_json_schema(by_alias=True)))
    schema["properties"].update(override)
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _packaged() -> list[catalog.FaultType]:
    """The catalog as shipped (not what an installed outside adapter adds), by id."""
    folder = catalog.default_dir()
    return sorted(
        (e for e in catalog.load().all() if (folder / e.adapter / f"{e.name}.yaml").exists()),
        key=lambda e: e.id,
    )


def _fault_types() -> list[dict[str, Any]]:
    """One ``if faultType is X then params and selector are X's`` per catalog entry."""
    rules = []
    for entry in _packaged():
        then: dict[str, Any] = {"properties": {"params": entry.params}}
        if entry.selector:
            then["properties"]["selector"] = entry.selector
        rules.append(
            {
                "if": {"properties": {"faultType": {"const": entry.id}}, "required": ["faultType"]},
                "then": then,
            }
        )
    return rules


def definitions() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for kind in PROBE_KINDS:
        defs[f"Probe-{kind}"] = probe_schema(kind)
    defs["Probe"] = {
        "description": "a check of the system under test: timing fields and one kind's block",
        "oneOf": [_ref(f"Probe-{k}") for k in PROBE_KINDS],
    }
    fault = _model(
        FaultSpec,
        faultType={
            **_plain(FaultSpec.model_json_schema())["properties"]["faultType"],
            "enum": [e.id for e in _packaged()],
        },
    )
    fault["description"] = "one fault: its type, the backend it runs on, its targets and values"
    defs["FaultTypes"] = {
        "description": "each fault type's params and selector, from the catalog",
        "allOf": _fault_types(),
    }
    fault["allOf"] = [_ref("FaultTypes")]
    defs["Fault"] = fault
    step = _model(
        StepSpec,
        fault=_ref("Fault"),
        probe=_ref("Probe"),
        wait=_plain(WaitSpec.model_json_schema()),
        approval=_plain(ApprovalSpec.model_json_schema()),
    )
    step["properties"]["id"]["pattern"] = "^[a-z0-9][a-z0-9_-]{0,62}$"
    step["properties"]["when"] = {
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9_-]{0,62}\\.(passed|failed)$",
        "description": "run only on that outcome of a probe or approval step in after",
    }
    step["oneOf"] = [{"required": [k]} for k in STEP_KINDS]
    defs["Step"] = step
    defs["Workflow"] = _model(
        WorkflowSpec,
        steadyState={"type": "array", "maxItems": 20, "items": _ref("Probe")},
        stopConditions={"type": "array", "maxItems": 20, "items": _ref("Probe")},
        steps={"type": "array", "minItems": 1, "maxItems": 200, "items": _ref("Step")},
    )
    defs["Workflow"]["required"] = sorted({"kind", *defs["Workflow"].get("required", [])})
    experiment = copy.deepcopy(fault)
    experiment["properties"].update(
        {
            k: v
            for k, v in _plain(ExperimentDocument.model_json_schema())["properties"].items()
            if k in ("kind", "name", "description")
        }
    )
    experiment["properties"]["kind"] = {
        "enum": ["Experiment", "Run"],
        "default": "Experiment",
        "description": "Run, or no kind: a single fault file without a name",
    }
    experiment["description"] = "a saved experiment: one fault with a name"
    defs["Experiment"] = experiment
    schedule = _model(ScheduleDocument, experiment=_ref("Experiment"), workflow=_ref("Workflow"))
    schedule["oneOf"] = [{"required": ["experiment"]}, {"required": ["workflow"]}]
    schedule["required"] = sorted({"kind", *schedule.get("required", [])})
    defs["Schedule"] = schedule
    slo = {
        "type": "object",
        "description": "an SLO probe: a probe with the objective each trial is judged by",
        "required": ["objective"],
        "properties": {
            "objective": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    m: {"type": "object", "minProperties": 1, "maxProperties": 1} for m in METRICS
                },
            }
        },
    }
    search = _model(
        SearchSpec,
        fault=_ref("Fault"),
        vary=_plain(VarySpec.model_json_schema(by_alias=True)),
        slo={"type": "array", "minItems": 1, "maxItems": 20, "items": slo},
        stopConditions={"type": "array", "maxItems": 20, "items": _ref("Probe")},
    )
    defs["ThresholdSearch"] = search
    return defs


def document_schema(kind: str | None = None) -> dict[str, Any]:
    """The schema of every hub document (dispatched on ``kind``), or of one kind."""
    defs = definitions()
    if kind is not None:
        if kind not in DOCUMENT_KINDS:
            raise KeyError(kind)
        return {
            "$schema": DIALECT,
            "$id": f"urn:chaoshub:schema:{kind}",
            "title": f"Chaos Hub {kind}",
            "$ref": f"#/$defs/{kind}",
            "$defs": defs,
        }

    def by_kind(name: str) -> dict[str, Any]:
        return {"properties": {"kind": {"const": name}}, "required": ["kind"]}

    return {
        "$schema": DIALECT,
        "$id": "urn:chaoshub:schema:document",
        "title": "Chaos Hub document",
        "description": "An Experiment (or a single fault, kind Run or none), a Workflow, a "
        "Schedule or a ThresholdSearch, told apart by kind",
        "if": by_kind("Workflow"),
        "then": _ref("Workflow"),
        "else": {
            "if": by_kind("Schedule"),
            "then": _ref("Schedule"),
            "else": {
                "if": by_kind("ThresholdSearch"),
                "then": _ref("ThresholdSearch"),
                "else": _ref("Experiment"),
            },
        },
        "$defs": defs,
    }


def files() -> dict[str, dict[str, Any]]:
    """Every schema shipped in the wheel, by file name (one kind's is served from the same
    definitions: :func:`document_schema`)."""
    return {"chaoshub.json": document_schema()}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(folder: Path = FOLDER) -> list[Path]:
    folder.mkdir(exist_ok=True)
    written = []
    for name, schema in files().items():
        (folder / name).write_text(dumps(schema), encoding="utf-8")
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}", file=sys.stderr)


def published(kind: str | None = None) -> dict[str, Any]:
    """The schema as shipped (``schemas/chaoshub.json``), whole or rooted at one kind."""
    shipped: dict[str, Any] = json.loads((FOLDER / "chaoshub.json").read_text(encoding="utf-8"))
    if kind is None:
        return shipped
    if kind not in DOCUMENT_KINDS:
        raise KeyError(kind)
    return {
        "$schema": DIALECT,
        "$id": f"urn:chaoshub:schema:{kind}",
        "title": f"Chaos Hub {kind}",
        "$ref": f"#/$defs/{kind}",
        "$defs": shipped["$defs"],
    }
