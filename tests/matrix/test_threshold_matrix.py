"""The fault matrix for threshold searches: the hub's worker SIGKILLed while a trial's fault
is held, then the whole hub (API, worker, beat) killed mid-trial.

A production-shaped hub (``matrix_world``: API, worker and beat on PostgreSQL and a Redis of
their own, 3 s leases) searches the latency the checkout service of ``tests/thresholds``
tolerates (its client timeout to ``payments``, behind the fake Toxiproxy, is 500 ms). After
a new worker starts, the search must be taken over from what is stored and end with its
result: the threshold at the client timeout within the resolution, every trial a workflow
run that ended, one workflow run per trial (none started twice), and nothing injected.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from matrix_world import CREATE_BACKEND, World, wait_all, world

from tests.thresholds.services import (
    CLIENT_TIMEOUT,
    Checkout,
    FakeToxiproxy,
    checkout,
    fake_toxiproxy,
    proxy,
    toxics,
)

pytestmark = [pytest.mark.slow, pytest.mark.matrix, pytest.mark.timeout(600)]

FIELDS = """id phase reasons currentMagnitude currentWorkflowRunId
  trials { magnitude workflowRunId outcome reason }
  result { found heldMax brokeMin noisy message trials }"""
START = f"""mutation($in: StartThresholdSearchInput!) {{ startThresholdSearch(input: $in) {{
  __typename ... on ThresholdSearch {{ {FIELDS} }} ... on Error {{ code message field }} }} }}"""
SEARCH = f"query($id: ID!) {{ thresholdSearch(id: $id) {{ {FIELDS} }} }}"
WORKFLOW_RUN = "query($id: ID!) { workflowRun(id: $id) { id phase } }"
WORKFLOW_RUNS = "{ workflowRuns(first: 200) { totalCount } }"
RESOLUTION = 50


@pytest.fixture(scope="module")
def w(request: pytest.FixtureRequest) -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="chaoshub-threshold-matrix-"))
    failed_before = request.session.testsfailed
    with world(workdir, tools=False) as w:
        yield w
    if request.session.testsfailed == failed_before:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"threshold matrix logs kept in {workdir}")


@pytest.fixture(scope="module")
def toxiproxy(w: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeToxiproxy]:
    with fake_toxiproxy(tmp_path_factory.mktemp("toxiproxy") / "server.log") as server:
        made = w.client()(
            CREATE_BACKEND,
            input={"name": "toxiproxy", "adapter": "toxiproxy", "config": {"url": server.url}},
        )
        assert made["createBackend"]["__typename"] == "Backend", made
        yield server


def document(name: str, service: Checkout) -> dict[str, Any]:
    return {
        "kind": "ThresholdSearch",
        "name": f"matrix-{uuid.uuid4().hex[:6]}",
        "fault": {
            "faultType": "toxiproxy/latency",
            "backend": "toxiproxy",
            "selector": {"names": [name]},
            "params": {"jitter": 0},
        },
        "vary": {"param": "latency", "from": 0, "to": 1000, "resolution": RESOLUTION},
        "trialSeconds": 4,
        "coolDownSeconds": 0.5,
        "slo": [
            {
                "name": "checkout",
                "http": {"url": service.url, "timeoutSeconds": 2},
                "intervalSeconds": 0.2,
                "objective": {"latencyMsP95": {"<": 800}, "successRatio": {">=": 0.99}},
            }
        ],
    }


def worker_killed(w: World) -> None:
    w.kill_workers()
    time.sleep(1)
    w.start_worker()


def hub_killed(w: World) -> None:
    w.kill_hub()
    time.sleep(1)
    w.start_hub()


POINTS: dict[str, Callable[[World], None]] = {
    "worker-killed-mid-trial": worker_killed,
    "hub-killed-mid-trial": hub_killed,
}


@pytest.mark.parametrize("point", list(POINTS))
def test_a_search_whose_worker_is_killed_mid_trial_ends_with_its_result_and_nothing_injected(
    w: World, toxiproxy: FakeToxiproxy, point: str
) -> None:
    w.ensure_hub()
    name = f"payments-{uuid.uuid4().hex[:6]}"
    with proxy(toxiproxy, name) as (_, port), checkout(port) as service:
        before = w.client()(WORKFLOW_RUNS)["workflowRuns"]["totalCount"]
        began = time.monotonic()
        started = w.client()(START, **{"in": {"document": document(name, service)}})
        started = started["startThresholdSearch"]
        assert started["__typename"] == "ThresholdSearch", started
        sid = started["id"]

        def search() -> dict[str, Any]:
            return w.client()(SEARCH, id=sid)["thresholdSearch"]  # type: ignore[no-any-return]

        # the second trial (latency=1000) holds its fault: the worker dies under it
        wait_all(
            lambda: len(search()["trials"]) == 1 and toxics(toxiproxy, name),
            90,
            what="the second trial's fault in place",
        )
        killed_under = search()
        POINTS[point](w)
        try:
            done = wait_all(
                lambda: (s := search())["phase"] in ("completed", "failed", "aborted") and s,
                240,
                what="the search to end after the kill",
            )
        except BaseException:
            print(w.logs())
            raise
        took = time.monotonic() - began
        result = done["result"]
        print(
            f"\n{point}: killed under trial {len(killed_under['trials']) + 1} "
            f"(latency={killed_under['currentMagnitude']:g}); {result['trials']} trials in "
            f"{took:.1f} s: {result['message']}"
        )
        for t in done["trials"]:
            print(f"  latency={t['magnitude']:g}: {t['outcome']}: {t['reason']}")

        assert toxics(toxiproxy, name) == [], "LEFT BEHIND: a latency toxic"
        assert done["phase"] == "completed", done["reasons"]
        assert result["found"] and result["noisy"] == [], result
        timeout_ms = CLIENT_TIMEOUT * 1000
        assert timeout_ms - 2 * RESOLUTION <= result["heldMax"] < timeout_ms, result
        assert result["brokeMin"] <= timeout_ms, result
        assert result["brokeMin"] - result["heldMax"] <= RESOLUTION
        runs = [t["workflowRunId"] for t in done["trials"]]
        assert len(set(runs)) == len(runs), "a trial's workflow run was used twice"
        assert killed_under["currentWorkflowRunId"] == runs[1]
        # the killed trial counts if its samples were enough to decide it; if they were not
        # (its sampling stopped with the worker) it is inconclusive and run again, once
        decided = [t["magnitude"] for t in done["trials"] if t["outcome"] in ("held", "broke")]
        assert len(set(decided)) == len(decided), "a magnitude was decided twice"
        others = [t for t in done["trials"] if t["outcome"] not in ("held", "broke")]
        assert all(t["outcome"] == "inconclusive" for t in others), others
        assert [t["workflowRunId"] for t in others] in ([], [runs[1]]), others
        for run_id in runs:
            phase = w.client()(WORKFLOW_RUN, id=run_id)["workflowRun"]["phase"]
            # the killed trial's workflow run may outlive its deadline while nobody drives it
            assert phase in (("completed", "failed") if run_id == runs[1] else ("completed",))
        # no trial was started twice: every workflow run of the hub is one of the trials
        counted = w.client()(WORKFLOW_RUNS)["workflowRuns"]["totalCount"]
        assert counted - before == len(runs), (counted, before, runs)
