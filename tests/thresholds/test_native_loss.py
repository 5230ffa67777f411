"""Threshold search on real packet loss: the native agent of `chaoshub up` drops a share of
the packets leaving namespace ``a`` with iptables (``native/network-loss``), and the search
varies that share (``percent``) against a service whose tolerance the test built: its items
travel from ``a`` to ``b`` and each is retried a number of times the test sets
(``tests/thresholds/lossy.py``); with 2 retries it tolerates
``100 * 0.1 ** (1 / 3)`` = 46.4 % loss. The search must land there within its resolution,
and leave no rule behind.

Needs root (network namespaces, iptables). Run with ``python -m pytest``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.native.native_peers import NetPair
from tests.support.stack import GraphQL, wait_for
from tests.thresholds.lossy import Lossy, lossy_checkout, tolerated_loss_percent
from tests.thresholds.test_end_to_end import START, VALIDATE, search

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and iptables need root"),
]

RESOLUTION = 5
RETRIES = 2


@pytest.fixture
def netpair() -> Iterator[NetPair]:
    pair = NetPair.create()
    try:
        yield pair
    finally:
        pair.delete()  # the namespaces take any rule with them


@pytest.fixture
def lossy(netpair: NetPair) -> Iterator[Lossy]:
    with lossy_checkout(netpair.a, netpair.b, netpair.addr_b) as svc:
        svc.retries = RETRIES
        yield svc


def document(pair: NetPair, svc: Lossy) -> dict[str, Any]:
    return {
        "kind": "ThresholdSearch",
        "name": f"checkout-loss-tolerance-{uuid.uuid4().hex[:6]}",
        "fault": {
            "faultType": "native/network-loss",
            "backend": "native",
            "selector": {"agents": ["local"], **pair.selector},
            "params": {"direction": "egress"},
        },
        "vary": {"param": "percent", "from": 1, "to": 99, "resolution": RESOLUTION},
        "trialSeconds": 6,
        "coolDownSeconds": 1,
        "slo": [
            {
                "name": "checkout",
                "http": {"url": svc.url, "timeoutSeconds": 5},
                "intervalSeconds": 0.3,
                "objective": {"successRatio": {">=": 0.8}},
            }
        ],
    }


def test_the_search_finds_the_loss_the_retries_tolerate_within_the_resolution(
    hub: GraphQL, netpair: NetPair, lossy: Lossy
) -> None:
    doc = document(netpair, lossy)
    # the local agent of `chaoshub up` registers, then serves: the tools' checks pass once
    # it answers
    wait_for(
        lambda: hub(VALIDATE, doc=doc)["validateThresholdSearch"] == [],
        60,
        interval=0.5,
        what="the local agent to accept the fault",
    )
    built = tolerated_loss_percent(RETRIES)
    began = time.monotonic()
    started = hub(START, **{"in": {"document": doc}})
    started = started["startThresholdSearch"]
    assert started["__typename"] == "ThresholdSearch", started
    assert started["expectedTrials"] == 2 + 5  # log2(98 / 5) = 4.3
    seen_rules: list[int] = []

    def ended() -> Any:
        s = search(hub, started["id"])
        seen_rules.append(len(netpair.rules()))
        return s["phase"] in ("completed", "failed", "aborted") and s

    done = wait_for(ended, 300, interval=0.5, what="the search to end")
    took = time.monotonic() - began
    result = done["result"]
    print(
        f"\nloss search (built tolerance {built:.1f} %): {result['trials']} trials in "
        f"{took:.1f} s: {result['message']}"
    )
    for t in done["trials"]:
        ratio = {o["metric"]: o["value"] for o in t["slo"][0]["objectives"]}["successRatio"]
        print(f"  percent={t['magnitude']:g}: {t['outcome']} (success ratio {ratio})")

    assert done["phase"] == "completed", done["reasons"]
    assert result["found"] and result["noisy"] == [], result
    assert result["brokeMin"] - result["heldMax"] <= RESOLUTION
    # a checkout's outcome is sharp within a couple of points of the built tolerance: the
    # band lands on it, give or take the resolution
    assert result["heldMax"] - RESOLUTION <= built <= result["brokeMin"] + RESOLUTION, result
    assert max(seen_rules) >= 1, "the loss was never seen as an iptables rule in the namespace"
    assert netpair.rules() == [], "LEFT BEHIND: an iptables rule"
