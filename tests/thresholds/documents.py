"""A valid threshold-search document to start from, and a way to change one field of it."""

from __future__ import annotations

import copy
from typing import Any


def search_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "ThresholdSearch",
        "name": "checkout-latency-tolerance",
        "fault": {
            "faultType": "toxiproxy/latency",
            "backend": "toxiproxy",
            "selector": {"names": ["payments"]},
            "params": {"jitter": 0},
        },
        "vary": {"param": "latency", "from": 0, "to": 2000, "resolution": 25},
        "trialSeconds": 15,
        "coolDownSeconds": 5,
        "slo": [
            {
                "name": "checkout-p95",
                "http": {"url": "http://127.0.0.1:8081/checkout", "timeoutSeconds": 5},
                "intervalSeconds": 0.5,
                "objective": {"latencyMsP95": {"<": 800}, "successRatio": {">=": 0.99}},
            }
        ],
        "stopConditions": [],
    }
    doc.update(overrides)
    return doc


def with_field(path: list[str], value: Any, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """``doc`` (the valid one by default) with the field at ``path`` set to ``value``."""
    out = copy.deepcopy(doc or search_document())
    node: Any = out
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value
    return out
