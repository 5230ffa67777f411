"""Repeats and noise, end to end: with ``repeats: 2`` every magnitude is tried twice and
counts as held only when both held; a service that flips between the two (the test changes
its client timeout to ``payments`` the moment the first trial at a magnitude has ended) is
reported as noisy, naming the magnitude and the trials that disagree, never smoothed into a
threshold.

Run with ``python -m pytest`` so that ``tests.support`` imports.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.stack import GraphQL, wait_for
from tests.thresholds.services import Checkout, FakeToxiproxy, toxics
from tests.thresholds.test_end_to_end import START, search

pytestmark = pytest.mark.slow


def document(service: Checkout, proxy: str) -> dict[str, Any]:
    return {
        "kind": "ThresholdSearch",
        "name": f"checkout-repeats-{uuid.uuid4().hex[:6]}",
        "fault": {
            "faultType": "toxiproxy/latency",
            "backend": "toxiproxy",
            "selector": {"names": [proxy]},
            "params": {"jitter": 0},
        },
        "vary": {"param": "latency", "from": 0, "to": 1000, "resolution": 250},
        "trialSeconds": 2,
        "coolDownSeconds": 0.5,
        "repeats": 2,
        "slo": [
            {
                "name": "checkout",
                "http": {"url": service.url, "timeoutSeconds": 2},
                "intervalSeconds": 0.2,
                "objective": {"successRatio": {">=": 0.99}},
            }
        ],
    }


def ended(hub: GraphQL, search_id: str, flip: Any = None) -> dict[str, Any]:
    def check() -> Any:
        s = search(hub, search_id)
        if flip is not None:
            flip(s)
        return s["phase"] in ("completed", "failed", "aborted") and s

    return wait_for(check, 300, interval=0.2, what="the search to end")  # type: ignore[no-any-return]


def report(what: str, done: dict[str, Any], took: float) -> None:
    print(
        f"\n{what}: {done['result']['trials']} trials in {took:.1f} s: {done['result']['message']}"
    )
    for t in done["trials"]:
        print(f"  latency={t['magnitude']:g}: {t['outcome']}")


def test_repeats_try_every_magnitude_twice_and_a_steady_service_gives_its_threshold(
    hub: GraphQL, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout
) -> None:
    began = time.monotonic()
    started = start_search(hub, document(service, payments[0]))
    assert started["expectedTrials"] == 2 * (2 + 2)  # log2(1000 / 250) = 2, twice each
    done = ended(hub, started["id"])
    report("repeats: 2, a steady service", done, time.monotonic() - began)
    result = done["result"]
    assert done["phase"] == "completed" and result["found"] and result["noisy"] == [], result
    magnitudes = [t["magnitude"] for t in done["trials"]]
    assert magnitudes == [m for m in dict.fromkeys(magnitudes) for _ in range(2)]
    assert magnitudes[:4] == [0, 0, 1000, 1000]
    assert result["heldMax"] < 500 <= result["brokeMin"], result
    assert toxics(toxiproxy, payments[0]) == []


def test_a_service_that_flips_between_repeats_is_reported_noisy(
    hub: GraphQL, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout
) -> None:
    # 0 holds twice, 1000 breaks twice, and the first trial at 500 holds (a 700 ms client
    # timeout); then the service flips to a 300 ms timeout and the second trial at 500 breaks
    service.client_timeout = 0.7
    flipped: list[int] = []

    def flip(state: dict[str, Any]) -> None:
        trials = state["trials"]
        if not flipped and len(trials) == 5:
            assert trials[4]["magnitude"] == 500 and trials[4]["outcome"] == "held", trials
            service.client_timeout = 0.3
            flipped.append(len(trials))

    try:
        began = time.monotonic()
        started = start_search(hub, document(service, payments[0]))
        done = ended(hub, started["id"], flip)
        report("repeats: 2, a service that flips", done, time.monotonic() - began)
    finally:
        service.client_timeout = 0.5
    assert flipped, "the search never reached its first trial at 500"
    result = done["result"]
    assert done["phase"] == "completed", done["reasons"]
    assert [(t["magnitude"], t["outcome"]) for t in done["trials"]] == [
        (0, "held"),
        (0, "held"),
        (1000, "broke"),
        (1000, "broke"),
        (500, "held"),
        (500, "broke"),
    ]
    assert not result["found"]
    assert result["noisy"] == ["the 2 trials at 500 disagree (1 held, 1 broke)"], result
    assert "noisy" in result["message"]
    assert toxics(toxiproxy, payments[0]) == []


def start_search(hub: GraphQL, doc: dict[str, Any]) -> dict[str, Any]:
    started = hub(START, **{"in": {"document": doc}})["startThresholdSearch"]
    assert started["__typename"] == "ThresholdSearch", started
    return started  # type: ignore[no-any-return]
