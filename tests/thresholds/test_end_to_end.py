"""A threshold search run through the whole hub (`chaoshub up`: API, worker, beat) against a
service whose tolerance the test built: a checkout service calling its dependency,
``payments``, through the fake Toxiproxy with a 500 ms client timeout. Searching latency on
``payments`` must land on 500 ms within the resolution; an abort leaves nothing injected;
documents the tools refuse are refused naming the field, and start nothing.

Run with ``python -m pytest`` so that ``tests.support`` imports.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.stack import GraphQL, wait_for
from tests.thresholds.documents import search_document
from tests.thresholds.services import CLIENT_TIMEOUT, Checkout, FakeToxiproxy, toxics

pytestmark = pytest.mark.slow

ERROR = "... on Error { code message field }"
SEARCH_FIELDS = """id name phase desiredState param strategy expectedTrials currentMagnitude
  currentWorkflowRunId reasons
  trials { magnitude workflowRunId outcome reason windowSeconds
    slo { probe samples passed objectives { metric comparator target value held } } }
  result { found heldMax brokeMin noisy message trials expectedTrials }"""
START = f"""mutation($in: StartThresholdSearchInput!) {{ startThresholdSearch(input: $in) {{
  __typename ... on ThresholdSearch {{ {SEARCH_FIELDS} }} {ERROR} }} }}"""
SEARCH = f"""query($id: ID!) {{ thresholdSearch(id: $id) {{ {SEARCH_FIELDS} }} }}"""
ABORT = f"""mutation($id: ID!) {{ abortThresholdSearch(id: $id, reason: "test") {{
  __typename ... on ThresholdSearch {{ {SEARCH_FIELDS} }} {ERROR} }} }}"""
PAUSE = f"""mutation($id: ID!) {{ pauseThresholdSearch(id: $id) {{
  __typename ... on ThresholdSearch {{ {SEARCH_FIELDS} }} {ERROR} }} }}"""
RESUME = f"""mutation($id: ID!) {{ resumeThresholdSearch(id: $id) {{
  __typename ... on ThresholdSearch {{ {SEARCH_FIELDS} }} {ERROR} }} }}"""
WORKFLOW_RUN = """query($id: ID!) { workflowRun(id: $id) { id phase workflowId
  steps { stepId state run { id phase } } } }"""
VALIDATE = (
    """query($doc: JSON!) { validateThresholdSearch(document: $doc) { field message code } }"""
)
COUNTS = "{ workflowRuns { totalCount } workflows { id } }"


def document(service: Checkout, proxy: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        name=f"checkout-latency-{uuid.uuid4().hex[:6]}",
        fault={
            "faultType": "toxiproxy/latency",
            "backend": "toxiproxy",
            "selector": {"names": [proxy]},
            "params": {"jitter": 0},
        },
        vary={"param": "latency", "from": 0, "to": 1000, "resolution": 50, "strategy": "bisect"},
        trialSeconds=2,
        coolDownSeconds=0.5,
        slo=[
            {
                "name": "checkout",
                "http": {"url": service.url, "timeoutSeconds": 2},
                "intervalSeconds": 0.2,
                "objective": {"latencyMsP95": {"<": 800}, "successRatio": {">=": 0.99}},
            }
        ],
    )
    return search_document(**{**fields, **overrides})


def start(hub: GraphQL, doc: dict[str, Any]) -> dict[str, Any]:
    return hub(START, **{"in": {"document": doc}})["startThresholdSearch"]  # type: ignore[no-any-return]


def search(hub: GraphQL, search_id: str) -> dict[str, Any]:
    return hub(SEARCH, id=search_id)["thresholdSearch"]  # type: ignore[no-any-return]


def test_the_search_finds_the_client_timeout_of_the_service_within_the_resolution(
    hub: GraphQL, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout
) -> None:
    proxy = payments[0]
    began = time.monotonic()
    started = start(hub, document(service, proxy))
    assert started["__typename"] == "ThresholdSearch", started
    assert started["expectedTrials"] == 2 + 5  # log2(1000 / 50) = 4.3
    done = wait_for(
        lambda: (
            (s := search(hub, started["id"]))["phase"] in ("completed", "failed", "aborted") and s
        ),
        240,
        interval=0.5,
        what="the search to end",
    )
    took = time.monotonic() - began
    result = done["result"]
    print(f"\nthreshold search: {result['trials']} trials in {took:.1f} s: {result['message']}")
    for t in done["trials"]:
        print(f"  latency={t['magnitude']:g}: {t['outcome']}: {t['reason']}")

    assert done["phase"] == "completed", done["reasons"]
    assert result["found"] and result["noisy"] == [], result
    timeout_ms = CLIENT_TIMEOUT * 1000
    # the band lies at the timeout, less what the proxy and the service themselves add to
    # each answer (a few ms; tens on a loaded machine): one resolution step below it at most
    assert timeout_ms - 50 - 25 <= result["heldMax"] < timeout_ms, result
    assert result["brokeMin"] <= timeout_ms, result
    assert result["brokeMin"] - result["heldMax"] <= 50
    assert result["trials"] == len(done["trials"]) <= result["expectedTrials"]
    assert [t["magnitude"] for t in done["trials"][:3]] == [0, 1000, 500]
    for t in done["trials"]:
        assert t["outcome"] == ("held" if t["magnitude"] <= result["heldMax"] else "broke")
        (slo,) = t["slo"]
        # 2 s of samples while the fault was held (a run ends at its deadline): one every
        # 0.2 s, or one per answer when the fault makes an answer take up to the client
        # timeout (0.5 s) — at least three either way
        assert slo["samples"] >= 3, t
        values = {o["metric"]: o for o in slo["objectives"]}
        if t["outcome"] == "held":
            assert values["successRatio"]["value"] == 1.0
            assert values["latencyMsP95"]["value"] >= t["magnitude"] * 0.9
        else:
            assert values["successRatio"]["value"] < 0.99
    # every trial is a real workflow run that ended with its fault recovered, and none is
    # saved as a workflow of its own
    for t in done["trials"]:
        wr = hub(WORKFLOW_RUN, id=t["workflowRunId"])["workflowRun"]
        assert wr["phase"] == "completed" and wr["workflowId"] is None, wr
        fault = next(s for s in wr["steps"] if s["stepId"] == "fault")
        assert fault["run"]["phase"] == "completed"
    assert toxics(toxiproxy, proxy) == []


def test_an_abort_stops_the_current_trial_and_leaves_nothing_injected(
    hub: GraphQL, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout
) -> None:
    proxy = payments[0]
    started = start(hub, document(service, proxy, trialSeconds=120))
    assert started["__typename"] == "ThresholdSearch", started
    wait_for(lambda: toxics(toxiproxy, proxy), 60, interval=0.2, what="the first trial's fault")
    current = search(hub, started["id"])["currentWorkflowRunId"]
    assert current

    aborted = hub(ABORT, id=started["id"])["abortThresholdSearch"]
    assert aborted["__typename"] == "ThresholdSearch" and aborted["desiredState"] == "stop"
    done = wait_for(
        lambda: (s := search(hub, started["id"]))["phase"] == "aborted" and s,
        60,
        interval=0.3,
        what="the search to be aborted",
    )
    assert toxics(toxiproxy, proxy) == []
    assert hub(WORKFLOW_RUN, id=current)["workflowRun"]["phase"] == "aborted"
    assert done["trials"][0]["workflowRunId"] == current
    assert "aborted on request" in done["reasons"]
    again = hub(ABORT, id=started["id"])["abortThresholdSearch"]
    assert again["__typename"].endswith("Error") and "aborted already" in again["message"], again


def test_a_paused_search_holds_nothing_injected_and_reruns_the_interrupted_trial_on_resume(
    hub: GraphQL, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout
) -> None:
    proxy = payments[0]
    started = start(hub, document(service, proxy, trialSeconds=120))
    assert started["__typename"] == "ThresholdSearch", started
    sid = started["id"]
    try:
        wait_for(lambda: toxics(toxiproxy, proxy), 60, interval=0.2, what="the first trial's fault")
        first = search(hub, sid)["currentWorkflowRunId"]
        assert first

        paused = hub(PAUSE, id=sid)["pauseThresholdSearch"]
        assert paused["__typename"] == "ThresholdSearch", paused
        assert (paused["phase"], paused["desiredState"]) == ("paused", "pause")
        # the trial's workflow run is paused and its fault recovered at once
        wait_for(lambda: not toxics(toxiproxy, proxy), 30, interval=0.2, what="the fault out")
        wait_for(
            lambda: hub(WORKFLOW_RUN, id=first)["workflowRun"]["phase"] == "paused",
            30,
            interval=0.2,
            what="the trial's workflow run paused",
        )
        again = hub(PAUSE, id=sid)["pauseThresholdSearch"]
        assert again["__typename"] == "ThresholdSearch" and again["phase"] == "paused"
        # several beats later: still nothing injected, no trial counted, none started
        time.sleep(3)
        held = search(hub, sid)
        assert toxics(toxiproxy, proxy) == []
        assert (held["phase"], held["trials"], held["currentWorkflowRunId"]) == (
            "paused",
            [],
            first,
        )

        resumed = hub(RESUME, id=sid)["resumeThresholdSearch"]
        assert resumed["__typename"] == "ThresholdSearch" and resumed["desiredState"] == "run"
        # the interrupted trial is kept, not counted, and its magnitude re-run from scratch
        rerun = wait_for(
            lambda: (s := search(hub, sid))["currentWorkflowRunId"] not in (None, first) and s,
            60,
            interval=0.3,
            what="the interrupted trial re-run",
        )
        assert rerun["phase"] == "running"
        (interrupted,) = rerun["trials"]
        assert (interrupted["outcome"], interrupted["workflowRunId"]) == ("interrupted", first)
        assert interrupted["magnitude"] == rerun["currentMagnitude"] == 0
        assert hub(WORKFLOW_RUN, id=first)["workflowRun"]["phase"] == "aborted"
        wait_for(lambda: toxics(toxiproxy, proxy), 60, interval=0.2, what="the re-run's fault")
        not_paused = hub(RESUME, id=sid)["resumeThresholdSearch"]
        assert "is not paused" in not_paused.get("message", ""), not_paused
    finally:
        hub(ABORT, id=sid)
        wait_for(lambda: search(hub, sid)["phase"] == "aborted", 60, interval=0.3, what="the abort")
    assert toxics(toxiproxy, proxy) == []
    audit = hub("{ auditLog(first: 50) { action result subject } }")["auditLog"]
    actions = [(a["action"], a["subject"]) for a in audit]
    assert ("pauseThresholdSearch", sid) in actions and ("resumeThresholdSearch", sid) in actions


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(_set(["fault", "backend"], "nope"), ["fault", "backend"], id="no backend"),
        pytest.param(
            _set(["fault", "selector"], {"names": ["no-such-proxy"]}),
            ["fault", "selector"],
            id="no such proxy",
        ),
        pytest.param(_set(["vary", "param"], "toxicity"), ["vary", "to"], id="to out of bounds"),
        pytest.param(_set(["vary", "param"], "stream"), ["vary", "param"], id="not numeric"),
        pytest.param(_set(["vary", "strategy"], "linear"), ["vary", "step"], id="no step"),
    ],
)
def test_a_document_the_hub_refuses_names_the_field_and_starts_nothing(
    hub: GraphQL,
    payments: tuple[str, int],
    service: Checkout,
    change: Callable[[dict[str, Any]], None],
    field: list[str],
) -> None:
    doc = document(service, payments[0])
    change(doc)
    before = hub(COUNTS)
    refused = start(hub, doc)
    assert refused["__typename"].endswith("Error"), refused
    assert refused["field"][: len(field)] == field, refused
    issues = hub(VALIDATE, doc=doc)["validateThresholdSearch"]
    assert issues and issues[0]["field"][: len(field)] == field, issues
    assert hub(COUNTS) == before
