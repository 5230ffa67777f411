"""``chaoshub run`` for a threshold-search file (``kind: ThresholdSearch``): the hub
validates the document whole and starts the search (``startThresholdSearch``); with
``--wait`` the CLI follows it by asking ``thresholdSearch(id)`` every half second, prints
each trial as it ends (its magnitude, held or broke, each objective's value), and at the end
the threshold band:

    highest held 475, lowest broke 500: latency in (475, 500], within resolution 25;
    7 trials, wall time 92.4 s

Exit status (:func:`search_exit`): 0 when a threshold was found; 1 when even the lowest
magnitude broke the SLO or even the highest held (the last line says which), when the
trials disagree (noisy), when the search was aborted or failed, or did not end within
``--timeout``; 2 as for any ``chaoshub run`` (bad file, hub unreachable, a refusal naming
the field); 130 after Ctrl-C, which asks the hub to abort the search."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chaoshub.cli_documents import Document, UsageProblem
from chaoshub.cli_hub import POLL_SECONDS, Hub
from chaoshub.cli_progress import ended, parse_time

FIELDS = """id name phase desiredState param strategy expectedTrials currentMagnitude
  currentWorkflowRunId reasons document createdAt endedAt
  trials { magnitude workflowRunId outcome reason startedAt endedAt windowSeconds
    slo { probe samples passed objectives { metric comparator target value held } } }
  result { found heldMax brokeMin noisy message trials expectedTrials }"""
ERROR = "... on Error { code message field }"
START = f"""mutation($document: JSON!) {{ startThresholdSearch(input: {{document: $document}}) {{
  __typename ... on ThresholdSearch {{ {FIELDS} }} {ERROR} }} }}"""
SEARCH = f"query($id: ID!) {{ thresholdSearch(id: $id) {{ {FIELDS} }} }}"
ABORT = """mutation($id: ID!) {
  abortThresholdSearch(id: $id, reason: "interrupted by chaoshub run") { __typename } }"""


def start(hub: Hub, document: Document) -> dict[str, Any]:
    """Start the search; a refusal is a UsageProblem naming the field path."""
    from chaoshub.cli_workflow import refusal

    result: dict[str, Any] = hub.call(START, {"document": document.body})["startThresholdSearch"]
    if result.get("__typename") != "ThresholdSearch":
        raise UsageProblem(refusal(result))
    return result


def _num(value: Any) -> str:
    return "none" if value is None else f"{float(value):.4g}"


def started_line(search: dict[str, Any]) -> str:
    vary = (search.get("document") or {}).get("vary") or {}
    how = (
        f"bisection of {search['param']} in [{_num(vary.get('from'))}, {_num(vary.get('to'))}] "
        f"within {_num(vary.get('resolution'))}"
        if search.get("strategy") == "bisect"
        else f"{search['param']} from {_num(vary.get('from'))} to {_num(vary.get('to'))} in "
        f"steps of {_num(vary.get('step'))}"
    )
    return (
        f"threshold search {search['id']} started ({search['name']}): {how}, at most "
        f"{search['expectedTrials']} trials"
    )


def trial_line(number: int, param: str, trial: dict[str, Any]) -> str:
    """One ended trial: ``trial 3: latency=500: broke: checkout successRatio=0.4 (>= 0.99) ✗``."""
    values = [
        f"{slo['probe']} {o['metric']}={_num(o['value'])} ({o['comparator']} {_num(o['target'])})"
        + (" ok" if o["held"] else " BROKE")
        for slo in trial.get("slo") or []
        for o in slo["objectives"]
    ]
    samples = sum(slo["samples"] for slo in trial.get("slo") or [])
    head = f"trial {number}: {param}={_num(trial['magnitude'])}: {trial['outcome']}"
    if values:
        return f"{head}: " + ", ".join(values) + f"; {samples} samples"
    return f"{head}: {trial.get('reason', '')}"


def wall_seconds(search: dict[str, Any]) -> float | None:
    begun, done = parse_time(search.get("createdAt")), parse_time(search.get("endedAt"))
    if begun is None or done is None:
        return None
    return (done - begun).total_seconds()


def summary(search: dict[str, Any]) -> list[str]:
    """The end: the band (or why there is none), the trials and the wall time."""
    result = search.get("result") or {}
    vary = (search.get("document") or {}).get("vary") or {}
    param = search["param"]
    wall = wall_seconds(search)
    tail = f"{len(search.get('trials') or [])} trials" + (
        f", wall time {wall:.1f} s" if wall is not None else ""
    )
    lines = [f"threshold search {search['id']} {search['phase']}"]
    lines += [f"  {r}" for r in search.get("reasons") or []]
    held, broke = result.get("heldMax"), result.get("brokeMin")
    if result.get("found"):
        lines.append(
            f"highest held {_num(held)}, lowest broke {_num(broke)}: threshold {param} in "
            f"({_num(held)}, {_num(broke)}], within resolution {_num(vary.get('resolution'))}; "
            f"{tail}"
        )
    else:
        lines.append(f"no threshold found: {result.get('message') or search['phase']}; {tail}")
    return lines


def search_exit(search: dict[str, Any]) -> int:
    """0: a threshold was found; 1: anything else (see the module's docstring)."""
    result = search.get("result") or {}
    return 0 if search.get("phase") == "completed" and result.get("found") else 1


def follow(
    hub: Hub, search_id: str, say: Callable[[str], None], timeout: float | None
) -> tuple[dict[str, Any], bool]:
    """Print each trial as it ends and each phase change until the search ends (or
    ``timeout`` seconds pass); the last state and whether it ended. Ctrl-C aborts it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    phase = desired = running = None
    try:
        while True:
            state: dict[str, Any] | None = hub.call(SEARCH, {"id": search_id})["thresholdSearch"]
            if state is None:
                raise UsageProblem(f"the hub has no threshold search {search_id}")
            trials = state.get("trials") or []
            for trial in trials[printed:]:
                printed += 1
                say(trial_line(printed, state["param"], trial))
            if (state["phase"], state["desiredState"]) != (phase, desired):
                phase, desired = state["phase"], state["desiredState"]
                asked = f" (asked to {desired})" if desired != "run" else ""
                say(f"search {phase}{asked}")
            current = state.get("currentWorkflowRunId")
            if current and current != running:
                say(
                    f"trial {printed + 1}: {state['param']}={_num(state['currentMagnitude'])} "
                    f"started (workflow run {current})"
                )
            running = current
            if ended(state):
                return state, True
            if deadline is not None and time.monotonic() >= deadline:
                return state, False
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        hub.call(ABORT, {"id": search_id})
        raise
