"""Other tools' documents as hub documents: one module per foreign format, one registry.

:func:`import_text` reads a YAML or JSON document, picks its format (given, or told by its
``apiVersion``/``kind``, or by Chaos Toolkit's ``method``), maps it onto a hub Experiment,
Workflow or Schedule document with notes on what was not mapped (path and why), and puts
the result through the hub's own checks (:mod:`chaoshub.formats.checks`) before handing it
back. Every refusal is an :class:`~chaoshub.errors.InvalidInput` naming the field path in
the foreign document (``spec.delay.latncy``), or in the hub document when the hub's own
checks refuse what was mapped.

| format | kinds |
|---|---|
| ``chaos-mesh`` | PodChaos, NetworkChaos, StressChaos, IOChaos, TimeChaos, DNSChaos, |
|  | HTTPChaos, Workflow, Schedule, PhysicalMachineChaos (chaosd's attacks) |
| ``chaosd`` | an attack body as chaosd's server takes it, with its ``kind`` (network, stress, process, disk) |
| ``litmus`` | ChaosEngine (with probes), an Argo Workflow of ChaosEngines in sequence |
| ``chaostoolkit`` | an experiment (JSON or YAML) |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from chaoshub.errors import InvalidInput
from chaoshub.formats.base import Imported, Note, Notes

__all__ = ["FORMATS", "Imported", "Note", "Options", "detect", "import_document", "import_text"]


@dataclass(frozen=True)
class Options:
    """What the person chose for the import: the backend of the tool's faults, and the agent
    that runs host faults and command probes (``native``)."""

    backend: str | None = None
    agent: str | None = None


Importer = Callable[[dict[str, Any], Notes, Options], tuple[str, dict[str, Any]]]


def _chaos_mesh(doc: dict[str, Any], notes: Notes, options: Options) -> tuple[str, dict[str, Any]]:
    from chaoshub.formats import chaos_mesh, chaos_mesh_workflow, chaosd

    kind = doc.get("kind")
    if kind in chaos_mesh.SPECS:
        return "Experiment", chaos_mesh.import_chaos(doc, notes, options.backend)
    if kind == "Workflow":
        return "Workflow", chaos_mesh_workflow.import_workflow(doc, notes, options.backend)
    if kind == "Schedule":
        return "Schedule", chaos_mesh_workflow.import_schedule(doc, notes, options.backend)
    if kind == "PhysicalMachineChaos":
        return "Experiment", chaosd.import_physical(doc, notes, options.backend, options.agent)
    known = [*chaos_mesh.SPECS, "Workflow", "Schedule", "PhysicalMachineChaos"]
    why = "it has no hub adapter" if kind in chaos_mesh.OTHER_KINDS else "unknown kind"
    raise InvalidInput(f"{why}: {kind!r} (the hub imports {', '.join(known)})", field=["kind"])


def _litmus(doc: dict[str, Any], notes: Notes, options: Options) -> tuple[str, dict[str, Any]]:
    from chaoshub.formats import litmus

    if str(doc.get("apiVersion") or "").startswith("argoproj.io/"):
        return litmus.import_argo(doc, notes, options.backend, options.agent)
    return litmus.import_engine(doc, notes, options.backend, options.agent)


def _chaostoolkit(
    doc: dict[str, Any], notes: Notes, options: Options
) -> tuple[str, dict[str, Any]]:
    from chaoshub.formats import chaostoolkit

    return "Workflow", chaostoolkit.import_experiment(doc, notes, options.agent)


def _chaosd(doc: dict[str, Any], notes: Notes, options: Options) -> tuple[str, dict[str, Any]]:
    from chaoshub.formats import chaosd

    return "Experiment", chaosd.import_attack(doc, notes, options.backend, options.agent)


#: every format, by the name ``--format`` and ``importDocument(format:)`` take
FORMATS: dict[str, Importer] = {
    "chaos-mesh": _chaos_mesh,
    "chaosd": _chaosd,
    "litmus": _litmus,
    "chaostoolkit": _chaostoolkit,
}


def detect(doc: Any) -> str:
    """The format ``doc`` is written in, or :class:`InvalidInput` saying why none is."""
    if not isinstance(doc, dict):
        raise InvalidInput("a document is a mapping (an object)", field=["document"])
    api = str(doc.get("apiVersion") or "")
    if api.startswith("chaos-mesh.org/"):
        return "chaos-mesh"
    if api.startswith(("litmuschaos.io/", "argoproj.io/")):
        return "litmus"
    if "method" in doc or "steady-state-hypothesis" in doc:
        return "chaostoolkit"
    if not api and doc.get("kind") in ("network", "stress", "process", "disk"):
        return "chaosd"
    if api:
        raise InvalidInput(
            f"no importer for apiVersion {api!r} (chaos-mesh.org/v1alpha1 or "
            "litmuschaos.io/v1alpha1)",
            field=["apiVersion"],
        )
    raise InvalidInput(
        "not a document the hub can import: a Chaos Mesh or Litmus object has apiVersion, "
        "a Chaos Toolkit experiment has method",
        field=["apiVersion"],
    )


def parse_text(text: str) -> Any:
    """YAML (JSON is YAML) as a value; a document that does not parse names line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InvalidInput(
            f"{where}not valid YAML or JSON: {exc.problem or exc.context}", field=["document"]
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML or JSON: {exc}", field=["document"]) from None


def import_document(
    doc: Any, fmt: str = "auto", options: Options | None = None, *, validate: bool = True
) -> Imported:
    """``doc`` (already parsed) as a hub document, checked offline (:func:`checks.offline`)."""
    from chaoshub.formats import checks

    chosen = detect(doc) if fmt == "auto" else fmt
    if chosen not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r} (auto, {', '.join(FORMATS)})", field=["format"])
    notes = Notes()
    kind, document = FORMATS[chosen](doc, notes, options or Options())
    if validate:
        checks.offline(kind, document)
    argo = str(doc.get("apiVersion") or "").startswith("argoproj.io/")
    source = f"{chosen} {'Argo ' if argo else ''}{doc.get('kind') or 'experiment'}"
    return Imported(kind, document, source, notes.items)


def import_text(text: str, fmt: str = "auto", options: Options | None = None) -> Imported:
    return import_document(parse_text(text), fmt, options)


def dump(document: dict[str, Any], output: str = "yaml") -> str:
    if output == "json":
        return json.dumps(document, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
