"""What `chaoshub run` and `chaoshub validate` make of a file and of the states a hub
sends, without a hub: which kind a file is, the lines printed as a workflow moves, the
exit status, and the JUnit report (read back with junitparser, a JUnit reader of its own,
as a CI system would)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from chaoshub import cli_junit
from chaoshub.cli_documents import (
    RUN,
    WORKFLOW,
    UsageProblem,
    field_path,
    parse_document,
    read_document,
)
from chaoshub.cli_progress import (
    clock,
    run_exit,
    workflow_changes,
    workflow_exit,
    workflow_summary,
)
from chaoshub.cli_validate import as_workflow, issue_line, relative

EXAMPLE = Path(__file__).parent.parent / "examples" / "api-survives-a-paused-dependency.yaml"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
T0 = "2030-01-02T03:00:00+00:00"


def at(second: int) -> str:
    return f"2030-01-02T03:00:{second:02d}+00:00"


def step(step_id: str, kind: str, state: str, **more: Any) -> dict[str, Any]:
    return {"stepId": step_id, "kind": kind, "role": "step", "state": state, **more}


def workflow_run(**more: Any) -> dict[str, Any]:
    """A finished, passing workflow run as `workflowRun(id)` answers it."""
    run: dict[str, Any] = {
        "id": "wr-1",
        "workflowId": "wf-1",
        "workflowName": "api-survives",
        "version": 2,
        "phase": "completed",
        "desiredState": "completed",
        "verdict": "pass",
        "reasons": [],
        "score": 1.0,
        "error": None,
        "startedAt": T0,
        "endedAt": at(20),
        "steps": [
            {
                **step("api-healthy", "probe", "passed", role="steadyState-before"),
                "startedAt": at(0),
                "endedAt": at(1),
                "probe": {
                    "name": "api-healthy",
                    "kind": "http",
                    "outcome": "passed",
                    "checks": 1,
                    "passed": 1,
                    "score": 1.0,
                    "samples": [{"at": at(0), "ok": True, "value": 200, "latencyMs": 3.2}],
                },
            },
            {**step("settle", "wait", "passed"), "startedAt": at(1), "endedAt": at(3)},
            {
                **step("api-during", "probe", "passed"),
                "startedAt": at(3),
                "endedAt": at(11),
                "probe": {
                    "name": "api-during",
                    "kind": "http",
                    "outcome": "passed",
                    "checks": 8,
                    "passed": 8,
                    "score": 1.0,
                    "samples": [],
                },
            },
            {**step("only-on-failure", "wait", "skipped", reason="api-during passed")},
        ],
    }
    run.update(more)
    return run


# -- which kind a file is --------------------------------------------------------------------


def test_the_document_says_whether_it_is_a_workflow_or_one_fault(tmp_path: Path) -> None:
    file = tmp_path / "f.yaml"
    assert parse_document(file, {"kind": "Workflow", "name": "w"}).kind == WORKFLOW
    one = parse_document(file, {"faultType": "memory/job", "backend": "m"})
    assert one.kind == RUN and one.body == {"faultType": "memory/job", "backend": "m"}
    # kind: Run is said outright, and not sent to startRun
    explicit = parse_document(file, {"kind": "Run", "experimentId": "e"})
    assert explicit.kind == RUN and explicit.body == {"experimentId": "e"}


def test_the_example_in_the_repository_is_a_workflow() -> None:
    document = read_document(EXAMPLE)
    assert document.is_workflow
    assert document.body["name"] == "api-survives-a-paused-dependency"
    assert [s["id"] for s in document.body["steps"]] == ["settle", "pause-cache", "api-during"]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (
            {"kind": "Experiment"},
            "kind: unknown kind 'Experiment' (expected Workflow, ThresholdSearch or Run)",
        ),
        ({"kind": "workflow"}, "kind: unknown kind 'workflow'"),
        ({"faultTyp": "x"}, "unknown key 'faultTyp'"),
        (["a", "list"], "expected a mapping"),
        ("text", "expected a mapping"),
    ],
)
def test_a_file_that_asks_for_nothing_known_is_refused_in_one_line(
    tmp_path: Path, value: Any, said: str
) -> None:
    with pytest.raises(UsageProblem) as refused:
        parse_document(tmp_path / "f.yaml", value)
    assert refused.value.exit_code == 2
    assert refused.value.message.startswith(f"{tmp_path / 'f.yaml'}: ")
    assert said in refused.value.message and "\n" not in refused.value.message


def test_malformed_yaml_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "w.yaml"
    file.write_text("kind: Workflow\nsteps: [\n  - id: a\n")
    with pytest.raises(UsageProblem) as refused:
        read_document(file)
    assert refused.value.message.startswith(f"{file}:3:3: not valid YAML"), refused.value.message


def test_field_paths_read_as_people_write_them() -> None:
    assert field_path(["steps", "2", "fault", "params", "percent"]) == (
        "steps[2].fault.params.percent"
    )
    assert field_path(["steadyState", 0, "http", "url"]) == "steadyState[0].http.url"
    assert field_path([]) == "" and field_path(None) == ""


# -- what is printed as it moves -------------------------------------------------------------


def test_each_step_that_moves_is_one_line_and_a_repeated_state_prints_nothing() -> None:
    first = {
        "id": "wr-1",
        "phase": "pending",
        "steps": [step("settle", "wait", "waiting"), step("api-during", "probe", "waiting")],
    }
    assert workflow_changes(None, first, NOW) == [f"{clock(NOW)}  workflow run wr-1 is pending"]

    second = {
        "id": "wr-1",
        "phase": "running",
        "steps": [
            step("settle", "wait", "running", startedAt=at(1)),
            step("api-during", "probe", "waiting"),
        ],
    }
    lines = workflow_changes(first, second, NOW)
    assert lines[0].endswith("workflow run wr-1 is running")
    assert lines[1].split() == [clock(datetime.fromisoformat(at(1))), "settle", "wait", "running"]
    assert len(lines) == 2
    assert workflow_changes(second, second, NOW) == []

    third = {
        "id": "wr-1",
        "phase": "running",
        "steps": [
            step("settle", "wait", "passed", startedAt=at(1), endedAt=at(3)),
            step("api-during", "probe", "failed", endedAt=at(9), reason="status 503 (3 in a row)"),
        ],
    }
    (settle, probe) = workflow_changes(second, third, NOW)
    assert settle.split()[1:] == ["settle", "wait", "passed"]
    assert settle.split()[0] == clock(datetime.fromisoformat(at(3)))
    assert probe.split()[1:4] == ["api-during", "probe", "failed"]
    assert probe.endswith("status 503 (3 in a row)")


def test_a_steady_state_check_before_and_after_are_two_steps_under_one_id() -> None:
    before = step("api-healthy", "probe", "passed", role="steadyState-before")
    after = step("api-healthy", "probe", "running", role="steadyState-after")
    one = {"id": "wr", "phase": "running", "steps": [before]}
    two = {"id": "wr", "phase": "running", "steps": [before, after]}
    (line,) = workflow_changes(one, two, NOW)
    assert "steadyState-after api-healthy" in line and "running" in line


def test_the_summary_gives_verdict_score_reasons_and_each_probe() -> None:
    failed = workflow_run(
        phase="failed",
        verdict="fail",
        score=0.5,
        reasons=["probe api-during failed: status 503"],
    )
    failed["steps"].append(
        {
            **step("api-healthy", "probe", "skipped", role="steadyState-after"),
            "probe": {"name": "api-healthy", "checks": 0, "passed": 0, "score": None},
        }
    )
    lines = workflow_summary(failed)
    assert lines[0] == "workflow run wr-1 failed: verdict fail, score 0.50"
    assert "  reason: probe api-during failed: status 503" in lines
    assert "  probe api-during: 8/8 checks held, score 1.00" in lines
    assert "  probe steadyState-before api-healthy: 1/1 checks held, score 1.00" in lines
    assert "  probe steadyState-after api-healthy: not checked" in lines


# -- exit status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "verdict", "status"),
    [
        ("completed", "pass", 0),
        ("completed", "fail", 1),
        ("failed", "fail", 1),
        ("aborted", "fail", 1),
        ("aborted", "none", 1),
        ("completed", "none", 1),  # a workflow that answers nothing did not pass
        ("running", "none", 1),  # not over (a --timeout that passed)
    ],
)
def test_a_workflow_exits_zero_only_on_a_completed_pass(
    phase: str, verdict: str, status: int
) -> None:
    assert workflow_exit({"phase": phase, "verdict": verdict}) == status


def test_a_single_fault_exits_zero_when_completed_with_a_passing_or_no_verdict() -> None:
    assert run_exit({"phase": "completed", "verdict": "none"}) == 0
    assert run_exit({"phase": "completed", "verdict": "pass"}) == 0
    assert run_exit({"phase": "completed", "verdict": "fail"}) == 1
    assert run_exit({"phase": "aborted", "verdict": "none"}) == 1


# -- the JUnit report ------------------------------------------------------------------------


def read_report(path: Path) -> JUnitXml:
    report = JUnitXml.fromfile(str(path))
    assert isinstance(report, JUnitXml)
    return report


def test_a_passing_workflow_is_one_suite_with_a_testcase_per_step_and_check(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reports" / "junit.xml"
    cli_junit.write(path, [cli_junit.workflow_suite(workflow_run())])
    (suite,) = read_report(path)
    assert suite.name == "api-survives"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (4, 0, 0, 1)
    assert suite.time == 20.0
    cases = {(c.classname, c.name): c for c in suite}
    assert set(cases) == {
        ("api-survives.steadyState-before", "api-healthy"),
        ("api-survives.step", "settle"),
        ("api-survives.step", "api-during"),
        ("api-survives.step", "only-on-failure"),
    }
    assert cases["api-survives.step", "settle"].time == 2.0
    assert cases["api-survives.step", "api-during"].is_passed
    skipped = cases["api-survives.step", "only-on-failure"]
    assert skipped.is_skipped and isinstance(skipped.result[0], Skipped)
    assert skipped.result[0].message == "api-during passed"
    healthy = cases["api-survives.steadyState-before", "api-healthy"]
    assert "1/1 checks held, score 1.00" in (healthy.system_out or "")
    props = {p.get("name"): p.get("value") for p in healthy._elem.iter("property")}
    assert props["probe.score"] == "1.0" and props["probe.checks"] == "1"
    suite_props = {p.name: p.value for p in suite.properties()}
    assert suite_props["verdict"] == "pass" and suite_props["workflowRunId"] == "wr-1"


def test_a_failed_probe_is_a_failure_with_its_reason_and_samples(tmp_path: Path) -> None:
    run = workflow_run(phase="completed", verdict="fail", score=0.25, reasons=["api-during"])
    during = run["steps"][2]
    during.update(state="failed", reason="status 503 <not 200> & slow")
    during["probe"].update(
        outcome="failed",
        checks=4,
        passed=1,
        score=0.25,
        samples=[
            {"at": at(4), "ok": True, "value": 200, "latencyMs": 2.0},
            {"at": at(5), "ok": False, "value": 503, "latencyMs": 2.5, "error": "status 503"},
        ],
    )
    path = tmp_path / "junit.xml"
    cli_junit.write(path, [cli_junit.workflow_suite(run)])
    (suite,) = read_report(path)
    assert (suite.tests, suite.failures) == (4, 1)
    (failed,) = [c for c in suite if c.name == "api-during"]
    (failure,) = failed.result
    assert isinstance(failure, Failure)
    assert failure.message == "status 503 <not 200> & slow"  # escaped and read back whole
    assert "not ok value=503 latencyMs=2 error=status 503" in (failure.text or "")
    assert "1/4 checks held, score 0.25" in (failure.text or "")


def test_aborted_steps_are_errors_and_a_silent_failure_still_fails_the_report(
    tmp_path: Path,
) -> None:
    run = workflow_run(phase="aborted", verdict="fail", reasons=["the deadline passed"])
    run["steps"] = [
        {**step("settle", "wait", "passed"), "startedAt": at(1), "endedAt": at(3)},
        {**step("hold", "wait", "aborted", reason="stop condition api-error-budget breached")},
    ]
    aborted = cli_junit.workflow_suite(run)
    assert (aborted.get("errors"), aborted.get("failures")) == ("1", "0")
    (case,) = [c for c in aborted.iter("testcase") if c.get("name") == "hold"]
    error = case.find("error")
    assert error is not None and error.get("type") == "aborted"

    # no step says why (a workflow deadline): one `verdict` testcase carries the reasons
    run["steps"] = run["steps"][:1]
    path = tmp_path / "junit.xml"
    cli_junit.write(path, [cli_junit.workflow_suite(run)])
    (suite,) = read_report(path)
    (verdict,) = [c for c in suite if c.name == "verdict"]
    assert isinstance(verdict.result[0], Failure)
    assert verdict.result[0].message == "the deadline passed"
    assert (suite.tests, suite.failures) == (2, 1)


def test_a_single_fault_run_is_one_testcase(tmp_path: Path) -> None:
    run = {
        "id": "r-1",
        "phase": "completed",
        "verdict": "fail",
        "error": None,
        "faultType": "memory/job",
        "backend": "mem",
        "startedAt": at(0),
        "endedAt": at(2),
        "targets": [{"label": "beta", "phase": "recovered", "error": None}],
    }
    path = tmp_path / "junit.xml"
    cli_junit.write(path, [cli_junit.run_suite(run)])
    report = read_report(path)
    (suite,) = report
    (case,) = suite
    assert case.name == "memory/job on mem" and case.time == 2.0
    assert isinstance(case.result[0], Failure)
    assert "beta: recovered" in (case.system_out or "")
    cli_junit.write(path, [cli_junit.run_suite({**run, "verdict": "none"})])
    (suite,) = read_report(path)
    assert next(iter(suite)).is_passed
    assert not any(isinstance(r, Error) for c in suite for r in c.result)


# -- validate ----------------------------------------------------------------------------------


def test_a_single_fault_is_checked_as_the_one_step_of_a_workflow_and_read_back_by_its_keys() -> (
    None
):
    fault = {"faultType": "native/process-pause", "backend": "native", "durationSeconds": 5}
    wrapped = as_workflow(fault)
    assert wrapped["kind"] == "Workflow" and wrapped["steps"] == [{"id": "fault", "fault": fault}]
    issue = {"field": ["steps", "0", "fault", "params", "percent"], "message": "too high"}
    assert issue_line(relative(issue)) == "params.percent: too high"
    assert issue_line({"field": ["steps", "1", "after"], "message": "x"}) == "steps[1].after: x"
