"""A threshold-search document is checked whole without any I/O; each refusal names its
field, and the magnitude must be a numeric parameter of the fault's catalog schema."""

from __future__ import annotations

from typing import Any

import pytest

from chaoshub.errors import InvalidInput
from chaoshub.thresholds.document import parse_search
from chaoshub.thresholds.search import expected_trials
from chaoshub.thresholds.trials import workflow_document
from chaoshub.workflows.document import Issues, parse_workflow
from tests.thresholds.documents import search_document, with_field


def refusal(doc: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_search(doc)
    return caught.value


def test_the_issue_example_is_valid_and_bisection_says_how_many_trials_it_needs() -> None:
    search = parse_search(search_document())
    assert search is not None
    assert (search.param, search.integer, search.low, search.high) == ("latency", True, 0, 2000)
    # log2(2000 / 25) = 6.3: 7 halvings, after trying both ends
    assert expected_trials(search) == 2 + 7


@pytest.mark.parametrize(
    ("param", "why"),
    [
        ("stream", "not a numeric parameter"),  # an enum: upstream | downstream
        ("latencyy", "not a numeric parameter"),
    ],
)
def test_a_magnitude_that_is_not_a_numeric_param_of_the_fault_is_refused_naming_vary_param(
    param: str, why: str
) -> None:
    exc = refusal(with_field(["vary", "param"], param))
    assert exc.field == ["vary", "param"]
    assert why in exc.message and "jitter, latency, toxicity" in exc.message


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["kind"], "Workflow", ["kind"]),
        (["vary", "to"], -5, ["vary", "to"]),
        (["vary", "to"], 4_000_000, ["vary", "to"]),  # beyond the catalog's maximum
        (["vary", "resolution"], 0, ["vary", "resolution"]),
        (["vary", "resolution"], 0.5, ["vary", "resolution"]),  # latency is an integer
        (["vary", "resolution"], 5000, ["vary", "resolution"]),
        (["vary", "strategy"], "linear", ["vary", "step"]),  # linear needs a step
        (["vary", "strategy"], "golden", ["vary", "strategy"]),
        (["trialSeconds"], 0, ["trialSeconds"]),
        (["fault", "params"], {"latency": 10}, ["fault", "params", "latency"]),
        (["fault", "durationSeconds"], 10, ["fault", "durationSeconds"]),
        (
            ["slo", "0", "objective"],
            {"latencyMsP42": {"<": 1}},
            ["slo", "0", "objective", "latencyMsP42"],
        ),
        (
            ["slo", "0", "objective"],
            {"successRatio": {"matches": "x"}},
            ["slo", "0", "objective", "successRatio"],
        ),
        (["slo", "0", "objective"], None, ["slo", "0", "objective"]),
        (["slo", "0", "forSeconds"], 30, ["slo", "0", "forSeconds"]),
        (["slo", "0", "http"], {"url": "ftp://x"}, ["slo", "0", "http", "url"]),
        (["slo"], [], ["slo"]),
        (["stopConditions"], [{"tcp": {}}], ["stopConditions", "0", "tcp", "host"]),
    ],
)
def test_a_bad_field_is_refused_by_its_path(path: list[str], value: Any, field: list[str]) -> None:
    assert refusal(with_field(path, value)).field == field


def test_every_refusal_is_collected_at_once() -> None:
    doc = with_field(["vary", "param"], "stream")
    doc = with_field(["slo", "0", "objective"], {"nope": {"<": 1}}, doc)
    issues = Issues()
    assert parse_search(doc, issues) is None
    assert [e.field for e in issues.items] == [["vary", "param"], ["slo", "0", "objective", "nope"]]


def test_a_trial_is_a_valid_workflow_holding_the_fault_at_its_magnitude_beside_the_slo_probes() -> (
    None
):
    search = parse_search(search_document())
    assert search is not None
    doc = workflow_document(search, 500.0, "s1")
    workflow = parse_workflow(doc)
    assert workflow is not None
    fault = workflow.step("fault").fault
    assert fault is not None and fault.params == {"jitter": 0, "latency": 500}
    assert fault.durationSeconds == 15
    probe = workflow.step("slo-0").probe
    assert probe is not None and probe.timing.forSeconds is not None
    assert probe.timing.forSeconds >= 15 and workflow.step("slo-0").after == []
    assert workflow.step("cool-down").after == ["fault"]
    assert [p.name for p in workflow.steady_state] == ["checkout-p95"]
    assert "objective" not in workflow.steady_state[0].document


@pytest.mark.parametrize("seconds", [0.5, 3600])
def test_a_trial_of_any_length_fits_its_workflow_deadline(seconds: float) -> None:
    search = parse_search(search_document(trialSeconds=seconds))
    assert search is not None
    assert parse_workflow(workflow_document(search, 10.0, "s1")) is not None
