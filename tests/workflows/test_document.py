"""The workflow document is checked whole before anything runs; each refusal names its path.

These are the checks that need no tool (no hub, no agent): shape, unknown fields, the DAG,
`when`, deadlines. The checks that ask a tool are in test_workflow_refusals.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoshub.errors import InvalidInput
from chaoshub.workflows.document import (
    FAULT_MARGIN_SECONDS,
    Issues,
    longest_path_seconds,
    parse_workflow,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "api-survives-a-paused-dependency.yaml"


def doc(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"kind": "Workflow", "name": "w", "steps": list(steps), **top}


def wait(step_id: str, seconds: float = 1, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "wait": {"seconds": seconds}, **extra}


def probe(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "probe": {"tcp": {"host": "127.0.0.1", "port": 9}}, **extra}


def refusals(document: Any) -> list[tuple[str, str]]:
    issues = Issues()
    assert parse_workflow(document, issues) is None
    return [(".".join(e.field), e.message) for e in issues.items]


def refused_at(document: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_workflow(document)
    return ".".join(caught.value.field)


def test_the_example_of_the_documentation_is_a_valid_workflow() -> None:
    workflow = parse_workflow(yaml.safe_load(EXAMPLE.read_text()))
    assert workflow is not None
    assert [s.id for s in workflow.steps] == ["settle", "pause-cache", "api-during"]
    assert [p.name for p in workflow.steady_state] == ["api-healthy"]
    assert [p.name for p in workflow.stop_conditions] == ["api-error-budget"]
    assert workflow.step("pause-cache").after == ["settle"]


def test_unknown_fields_are_refused_by_path_at_every_level() -> None:
    assert refused_at({**doc(wait("a")), "stepz": []}) == "stepz"
    assert refused_at(doc({**wait("a"), "afterr": []})) == "steps.0.afterr"
    assert refused_at(doc({"id": "a", "wait": {"seconds": 1, "x": 1}})) == "steps.0.wait.x"
    assert (
        refused_at(doc({"id": "a", "probe": {"tcp": {"host": "h", "port": 1, "tls": True}}}))
        == "steps.0.probe.tcp.tls"
    )
    fault = {"faultType": "native/process-pause", "backend": "native", "durationSecs": 5}
    assert refused_at(doc({"id": "a", "fault": fault})) == "steps.0.fault.durationSecs"
    assert refused_at(doc(wait("a"), steadyState=[{"http": {"url": "http://x"}, "bogus": 1}])) == (
        "steadyState.0.bogus"
    )


def test_a_step_has_exactly_one_kind() -> None:
    assert refused_at(doc({"id": "a"})) == "steps.0"
    assert refused_at(doc({"id": "a", "wait": {"seconds": 1}, "approval": {}})) == "steps.0"


def test_step_ids_are_unique_and_named_simply() -> None:
    assert ("steps.1.id", "step id 'a' is used twice (also steps[0])") in refusals(
        doc(wait("a"), wait("a"))
    )
    assert refused_at(doc(wait("Has Space"))) == "steps.0.id"


def test_after_must_name_known_steps_once_and_not_itself() -> None:
    assert refusals(doc(wait("a", after=["nope"]))) == [
        ("steps.0.after.0", "no step with id 'nope'")
    ]
    assert refusals(doc(wait("a", after=["a"])))[0][0] == "steps.0.after.0"
    assert refusals(doc(wait("a"), wait("b", after=["a", "a"]))) == [
        ("steps.1.after", "a step is listed twice")
    ]


def test_a_cycle_is_refused_naming_its_steps() -> None:
    found = refusals(doc(wait("a", after=["c"]), wait("b", after=["a"]), wait("c", after=["b"])))
    assert len(found) == 1
    field, message = found[0]
    assert field.startswith("steps.") and field.endswith(".after")
    assert "cycle" in message and all(step in message for step in "abc")


def test_when_follows_a_probe_or_an_approval_it_comes_after() -> None:
    ok = doc(probe("check"), wait("on-pass", after=["check"], when="check.passed"))
    assert parse_workflow(ok) is not None
    assert refusals(doc(probe("check"), wait("x", when="check.passed"))) == [
        ("steps.1.when", "when names 'check', which must also be in after")
    ]
    assert refusals(doc(wait("w"), wait("x", after=["w"], when="w.failed"))) == [
        ("steps.1.when", "when follows a probe or an approval; 'w' is a wait step")
    ]
    assert refused_at(doc(probe("check"), wait("x", after=["check"], when="check.ok"))) == (
        "steps.1.when"
    )


def test_every_refusal_of_a_document_is_collected_at_once() -> None:
    found = refusals(
        doc(
            {"id": "a", "wait": {"seconds": -1}},
            {"id": "b", "probe": {"tcp": {"host": "h"}}},
            {"id": "c", "wait": {"seconds": 1}, "typo": True},
        )
    )
    assert [f for f, _ in found] == [
        "steps.0.wait.seconds",
        "steps.1.probe.tcp.port",
        "steps.2.typo",
    ]


def test_a_stop_condition_has_no_window_of_its_own() -> None:
    stop = {"name": "s", "tcp": {"host": "h", "port": 1}, "forSeconds": 5}
    assert refused_at(doc(wait("a"), stopConditions=[stop])) == "stopConditions.0.forSeconds"


def test_probe_names_are_unique_within_their_list() -> None:
    steady = [{"name": "x", "tcp": {"host": "h", "port": 1}}] * 2
    assert refused_at(doc(wait("a"), steadyState=steady)) == "steadyState.1.name"


def test_default_step_deadlines_fit_what_the_step_needs() -> None:
    fault = {"faultType": "native/process-pause", "backend": "native", "durationSeconds": 20}
    workflow = parse_workflow(
        doc(
            {"id": "f", "fault": fault},
            wait("w", 7),
            {"id": "a", "approval": {"timeoutSeconds": 60}},
            {"id": "p", "probe": {"tcp": {"host": "h", "port": 1}, "forSeconds": 10}},
        )
    )
    assert workflow is not None
    assert workflow.step("f").deadline_seconds == 20 + FAULT_MARGIN_SECONDS
    assert workflow.step("w").deadline_seconds >= 7
    assert workflow.step("a").deadline_seconds >= 60
    assert workflow.step("p").deadline_seconds >= 10


def test_a_step_deadline_shorter_than_the_step_is_refused() -> None:
    assert refused_at(doc(wait("w", 10, deadlineSeconds=5))) == "steps.0.deadlineSeconds"


def test_a_default_deadline_is_cut_to_the_workflows_but_a_given_one_must_fit() -> None:
    workflow = parse_workflow(
        doc({"id": "a", "approval": {"timeoutSeconds": 50}}, deadlineSeconds=60)
    )
    assert workflow is not None and workflow.step("a").deadline_seconds == 60
    assert refused_at(doc(wait("w", 1, deadlineSeconds=100), deadlineSeconds=60)) == (
        "steps.0.deadlineSeconds"
    )


def test_a_workflow_deadline_shorter_than_its_longest_chain_is_refused() -> None:
    document = doc(wait("a", 30), wait("b", 40, after=["a"]), wait("c", 5), deadlineSeconds=60)
    found = refusals(document)
    assert found[0][0] == "deadlineSeconds"
    assert "a → b" in found[0][1]


def test_the_longest_chain_follows_after() -> None:
    workflow = parse_workflow(doc(wait("a", 3), wait("b", 4, after=["a"]), wait("c", 5)))
    assert workflow is not None
    assert longest_path_seconds(workflow.steps) == (7.0, ["a", "b"])


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert refused_at(["not", "an", "object"]) == "document"
    assert refused_at({"kind": "Run", "name": "x", "steps": []}) == "kind"
    assert refused_at(doc()) == "steps"


def test_refusals_at_the_top_do_not_hide_those_of_the_steps() -> None:
    found = refusals({**doc({"id": "a", "wait": {"seconds": 1}, "typo": 1}), "nmae": "x"})
    assert [f for f, _ in found] == ["nmae", "steps.0.typo"]
