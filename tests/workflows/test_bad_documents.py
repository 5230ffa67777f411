"""A bad workflow document is refused whole, before anything is stored or run.

Each refusal is a typed error naming the field path inside the document — the same answer
from ``validateWorkflow`` (which lists every refusal), ``createWorkflow`` and
``startWorkflow`` — and afterwards the hub holds no workflow, no workflow run and no run,
and the process the document aims at was never stopped (watched from ``/proc`` throughout).
A fault step gets exactly the refusal ``startRun`` gives the same fault, under its path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import queries as Q
from tests.workflows.hub import ALLOWED_SCRIPT, CREATE, VALIDATE, Hub
from tests.workflows.processes import StateWatch, idle_process

pytestmark = pytest.mark.slow

TARGET = "bad-doc-target"
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def target() -> Iterator[StateWatch]:
    """The process every document's fault step aims at, watched for the whole module."""
    with idle_process(TARGET) as proc, StateWatch(proc.pid) as watch:
        yield watch


def good() -> Doc:
    """A valid document: pause the target, then check an API."""
    return {
        "kind": "Workflow",
        "name": "refused",
        "steps": [
            {
                "id": "pause",
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": TARGET},
                    "durationSeconds": 1,
                },
            },
            {
                "id": "check",
                "after": ["pause"],
                "probe": {"http": {"url": "http://127.0.0.1:9/health"}},
            },
        ],
    }


@dataclass
class Case:
    id: str
    change: Callable[[Doc], object]
    field: list[str]
    says: str


def cpu_stress(params: dict[str, Any]) -> Callable[[Doc], object]:
    def change(doc: Doc) -> None:
        doc["steps"][0]["fault"].update(
            faultType="native/cpu-stress", selector={"agents": ["local"]}, params=params
        )

    return change


def command_probe(argv: list[str]) -> dict[str, Any]:
    return {"command": {"agent": "local", "argv": argv}}


CASES = [
    Case(
        "cycle",
        lambda d: d["steps"][0].update(after=["check"]),
        ["steps", "1", "after"],
        "cycle: check → pause → check",
    ),
    Case(
        "unknown-step-in-after",
        lambda d: d["steps"][1].update(after=["settle"]),
        ["steps", "1", "after", "0"],
        "no step with id 'settle'",
    ),
    Case("unknown-field-at-the-top", lambda d: d.update(colour="red"), ["colour"], "colour"),
    Case(
        "unknown-field-in-a-step",
        lambda d: d["steps"][0].update(retries=3),
        ["steps", "0", "retries"],
        "retries",
    ),
    Case(
        "unknown-field-in-a-probe",
        lambda d: d["steps"][1]["probe"].update(retries=3),
        ["steps", "1", "probe", "retries"],
        "retries",
    ),
    Case(
        "unknown-field-in-a-probe-kind",
        lambda d: d["steps"][1]["probe"]["http"].update(verb="GET"),
        ["steps", "1", "probe", "http", "verb"],
        "verb",
    ),
    Case(
        "unknown-field-in-a-fault",
        lambda d: d["steps"][0]["fault"].update(force=True),
        ["steps", "0", "fault", "force"],
        "force",
    ),
    Case(
        "unknown-fault-type",
        lambda d: d["steps"][0]["fault"].update(faultType="native/teleport"),
        ["steps", "0", "fault", "faultType"],
        "native/teleport",
    ),
    Case(
        "negative-param",
        cpu_stress({"workers": -1}),
        ["steps", "0", "fault", "params", "workers"],
        "minimum",
    ),
    Case(
        "out-of-bounds-param",
        cpu_stress({"load_percent": 101}),
        ["steps", "0", "fault", "params", "load_percent"],
        "maximum",
    ),
    Case(
        "unknown-param",
        lambda d: d["steps"][0]["fault"].update(params={"signal": "KILL"}),
        ["steps", "0", "fault", "params", "signal"],
        "signal",
    ),
    Case(
        "negative-duration",
        lambda d: d["steps"][0]["fault"].update(durationSeconds=-1),
        ["steps", "0", "fault", "durationSeconds"],
        "",
    ),
    Case(
        "selector-matching-nothing",
        lambda d: d["steps"][0]["fault"]["selector"].update(name="no-such-process"),
        ["steps", "0", "fault", "selector"],
        "matches no target",
    ),
    Case(
        "when-naming-a-step-not-in-after",
        lambda d: d["steps"].append(
            {"id": "branch", "after": ["pause"], "when": "check.failed", "wait": {"seconds": 1}}
        ),
        ["steps", "2", "when"],
        "must also be in after",
    ),
    Case(
        "when-following-a-fault",
        lambda d: d["steps"].append(
            {"id": "branch", "after": ["pause"], "when": "pause.passed", "wait": {"seconds": 1}}
        ),
        ["steps", "2", "when"],
        "probe or an approval",
    ),
    Case(
        "command-probe-outside-the-allow-list",
        lambda d: d["steps"][1].update(probe=command_probe(["wipe-disk.sh"])),
        ["steps", "1", "probe", "command", "argv", "0"],
        "no script 'wipe-disk.sh'",
    ),
    Case(
        "command-probe-with-a-path",
        lambda d: d["steps"][1].update(probe=command_probe(["/bin/sh", "-c", "id"])),
        ["steps", "1", "probe", "command", "argv", "0"],
        "no shell",
    ),
    Case(
        "steady-state-command-outside-the-allow-list",
        lambda d: d.update(steadyState=[{"name": "disk", **command_probe(["wipe-disk.sh"])}]),
        ["steadyState", "0", "command", "argv", "0"],
        "no script 'wipe-disk.sh'",
    ),
]


def test_the_document_the_cases_break_is_valid(hub: Hub, target: StateWatch) -> None:
    doc = good()
    doc["steps"].append({"id": "script", "probe": command_probe([ALLOWED_SCRIPT])})
    assert hub.gql(VALIDATE, doc=doc)["validateWorkflow"] == []
    assert hub.counts() == (0, 0, 0)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_document_is_refused_naming_the_path_and_nothing_is_stored_or_run(
    hub: Hub, target: StateWatch, case: Case
) -> None:
    doc = good()
    case.change(doc)

    issues = hub.gql(VALIDATE, doc=doc)["validateWorkflow"]
    assert [i["field"] for i in issues] == [case.field], issues
    assert case.says in issues[0]["message"]

    created = hub.gql(CREATE, **{"in": {"document": copy.deepcopy(doc)}})["createWorkflow"]
    started = hub.start_result(copy.deepcopy(doc))
    for refused in (created, started):
        assert refused["__typename"].endswith("Error"), refused
        assert refused["field"] == case.field
        assert refused["message"] == issues[0]["message"]

    assert hub.counts() == (0, 0, 0)  # no workflow, no workflow run, no run
    assert not target.ever_stopped


#: the fault-block cases startRun's input can carry (its input type has no unknown fields)
FAULT_CASES = [
    c
    for c in CASES
    if c.field[:3] == ["steps", "0", "fault"] and c.id != "unknown-field-in-a-fault"
]


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.id for c in FAULT_CASES])
def test_a_fault_step_gets_the_refusal_start_run_gives_the_same_fault(
    hub: Hub, target: StateWatch, case: Case
) -> None:
    doc = good()
    case.change(doc)
    fault = doc["steps"][0]["fault"]

    alone = hub.gql(Q.START_RUN, input=fault)["startRun"]
    in_workflow = hub.start_result(doc)

    assert alone["__typename"] == in_workflow["__typename"] != "Run"
    assert alone["message"] == in_workflow["message"]
    assert ["steps", "0", "fault", *alone["field"]] == in_workflow["field"]
    assert hub.counts() == (0, 0, 0)
    assert not target.ever_stopped


def test_every_refusal_in_the_steps_is_listed_at_once(hub: Hub, target: StateWatch) -> None:
    doc = good()
    doc["steps"][0]["retries"] = 3
    doc["steps"][1]["probe"]["http"]["verb"] = "GET"

    issues = hub.gql(VALIDATE, doc=doc)["validateWorkflow"]

    assert [i["field"] for i in issues] == [
        ["steps", "0", "retries"],
        ["steps", "1", "probe", "http", "verb"],
    ]
    assert {i["code"] for i in issues} == {"INVALID_INPUT"}
    assert hub.counts() == (0, 0, 0)
