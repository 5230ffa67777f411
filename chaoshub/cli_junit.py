"""JUnit XML reports of runs and workflow runs, the format every CI system shows.

One ``<testsuite>`` per workflow run, one ``<testcase>`` per entry of its ``steps``: each
step of the DAG, and each steady-state check (before and after the faults) and stop
condition, told apart by ``classname`` (``<workflow>.<role>``). A step's outcome maps as:

- ``passed`` - a plain testcase;
- ``failed`` - ``<failure>`` with the step's reason (and a probe's last samples);
- ``aborted`` - ``<error type="aborted">``: the step was stopped before it had an outcome
  (a stop condition, a deadline, an operator);
- ``skipped`` - ``<skipped>`` with the reason (a ``when`` branch not taken, a workflow that
  ended first); a step still ``waiting`` or ``running`` is reported skipped as well.

Times are the step's ``startedAt``..``endedAt``. A probe's score, checks and outcome are
testcase properties and are repeated in ``system-out`` for tools that show only that.
When a workflow did not pass and no testcase says so (its deadline, an error of the hub),
one more testcase, ``verdict``, fails with the reasons: a report is never green for a run
whose exit status is not 0.

A single-fault run is one suite with one testcase. Written with the standard library's
ElementTree, which escapes every text and attribute."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chaoshub.cli_progress import parse_time, run_exit, score, step_label, workflow_exit

#: samples of a probe quoted in a failed testcase's text
SAMPLES_SHOWN = 20


def _seconds(start: Any, end: Any) -> float:
    begun, done = parse_time(start), parse_time(end)
    if begun is None or done is None:
        return 0.0
    return max(0.0, (done - begun).total_seconds())


def _properties(parent: ET.Element, values: dict[str, Any]) -> None:
    shown = {k: v for k, v in values.items() if v is not None and v != ""}
    if not shown:
        return
    props = ET.SubElement(parent, "properties")
    for name, value in shown.items():
        ET.SubElement(props, "property", name=name, value=str(value))


def _probe_text(probe: dict[str, Any]) -> list[str]:
    lines = [
        f"probe {probe.get('name')} ({probe.get('kind')}): {probe.get('outcome')}, "
        f"{probe.get('passed', 0)}/{probe.get('checks', 0)} checks held, "
        f"score {score(probe.get('score'))}"
    ]
    for sample in (probe.get("samples") or [])[-SAMPLES_SHOWN:]:
        verdict = "ok" if sample.get("ok") else "not ok"
        extra = f" error={sample['error']}" if sample.get("error") else ""
        latency = sample.get("latencyMs")
        lines.append(
            f"  {sample.get('at')} {verdict} value={sample.get('value')!r}"
            f"{f' latencyMs={latency:.0f}' if isinstance(latency, int | float) else ''}{extra}"
        )
    return lines


def _step_case(workflow: str, step: dict[str, Any]) -> ET.Element:
    role = step.get("role") or "step"
    case = ET.Element(
        "testcase",
        name=str(step["stepId"]),
        classname=f"{workflow}.{role}",
        time=f"{_seconds(step.get('startedAt'), step.get('endedAt')):.3f}",
    )
    probe = step.get("probe") or {}
    _properties(
        case,
        {
            "kind": step.get("kind"),
            "role": role,
            "state": step.get("state"),
            "runId": step.get("runId"),
            "decidedBy": step.get("decidedBy"),
            "probe.outcome": probe.get("outcome"),
            "probe.checks": probe.get("checks"),
            "probe.passed": probe.get("passed"),
            "probe.score": probe.get("score"),
        },
    )
    state = step.get("state")
    reason = step.get("reason") or ""
    text = [f"{step.get('kind')} {step_label(step)}: {state}" + (f": {reason}" if reason else "")]
    if probe:
        text += _probe_text(probe)
    if state == "failed":
        failure = ET.SubElement(case, "failure", message=reason or "failed", type="failed")
        failure.text = "\n".join(text)
    elif state == "aborted":
        error = ET.SubElement(case, "error", message=reason or "aborted", type="aborted")
        error.text = "\n".join(text)
    elif state != "passed":
        ET.SubElement(case, "skipped", message=reason or f"not run (the step is {state})")
    ET.SubElement(case, "system-out").text = "\n".join(text)
    return case


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))


def workflow_suite(run: dict[str, Any]) -> ET.Element:
    """The testsuite of one workflow run (a ``WorkflowRun`` as the API answers it)."""
    name = str(run.get("workflowName") or run.get("workflowId") or "workflow")
    suite = ET.Element(
        "testsuite",
        name=name,
        id=str(run["id"]),
        time=f"{_seconds(run.get('startedAt'), run.get('endedAt')):.3f}",
    )
    if run.get("startedAt"):
        suite.set("timestamp", str(run["startedAt"]))
    _properties(
        suite,
        {
            "workflowRunId": run["id"],
            "workflowId": run.get("workflowId"),
            "version": run.get("version"),
            "phase": run.get("phase"),
            "verdict": run.get("verdict"),
            "score": run.get("score"),
        },
    )
    for step in run.get("steps") or []:
        suite.append(_step_case(name, step))
    reasons = [*(run.get("reasons") or []), *([run["error"]] if run.get("error") else [])]
    said = any(c.find("failure") is not None or c.find("error") is not None for c in suite)
    if workflow_exit(run) != 0 and not said:
        case = ET.SubElement(suite, "testcase", name="verdict", classname=name, time="0.000")
        message = "; ".join(reasons) or f"the workflow run is {run.get('phase')}"
        failure = ET.SubElement(case, "failure", message=message, type=str(run.get("verdict")))
        failure.text = f"phase {run.get('phase')}, verdict {run.get('verdict')}"
    ET.SubElement(suite, "system-out").text = "\n".join(
        [f"verdict {run.get('verdict')}, score {score(run.get('score'))}", *reasons]
    )
    _count(suite)
    return suite


def run_suite(run: dict[str, Any]) -> ET.Element:
    """The testsuite of one single-fault run: one testcase, failed unless it completed
    with a passing or no verdict."""
    what = str(run.get("faultType") or run.get("experimentId") or "run")
    suite = ET.Element(
        "testsuite",
        name=what,
        id=str(run["id"]),
        time=f"{_seconds(run.get('startedAt'), run.get('endedAt')):.3f}",
    )
    if run.get("startedAt"):
        suite.set("timestamp", str(run["startedAt"]))
    case = ET.SubElement(
        suite,
        "testcase",
        name=f"{what} on {run.get('backend')}" if run.get("backend") else what,
        classname="chaoshub.run",
        time=suite.get("time", "0.000"),
    )
    _properties(
        case,
        {"runId": run["id"], "phase": run.get("phase"), "verdict": run.get("verdict")},
    )
    text = [f"phase {run.get('phase')}, verdict {run.get('verdict')}"]
    text += [
        f"{t.get('label')}: {t.get('phase')}" + (f" - {t['error']}" if t.get("error") else "")
        for t in run.get("targets") or []
    ]
    if run.get("error"):
        text.append(f"error: {run['error']}")
    if run_exit(run) != 0:
        message = run.get("error") or text[0]
        failure = ET.SubElement(case, "failure", message=message, type=str(run.get("phase")))
        failure.text = "\n".join(text)
    ET.SubElement(case, "system-out").text = "\n".join(text)
    _count(suite)
    return suite


def report(suites: Iterable[ET.Element]) -> bytes:
    """The whole report: ``<testsuites>`` with the totals of its suites."""
    root = ET.Element("testsuites", name="chaoshub")
    total = 0.0
    for suite in suites:
        root.append(suite)
        total += float(suite.get("time", "0"))
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    root.set("time", f"{total:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(path: Path, suites: Iterable[ET.Element]) -> None:
    """Write the report to ``path`` (its folder is made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(report(suites))
