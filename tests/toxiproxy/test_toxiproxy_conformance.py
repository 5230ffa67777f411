"""The conformance kit run against the Toxiproxy adapter and the fake Toxiproxy server.

Three shapes of fault: a toxic on an existing proxy, ``down`` (the proxy disabled), and a
toxic on a proxy the run asks to exist. Presence is checked through the server's own API,
not through the adapter.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from toxiproxy_peers import ProxyInfo, Upstream

from chaoshub.contract import Adapter, Handle
from chaoshub.testing.conformance import AdapterConformance, FaultCase


def _proxy(api: httpx.Client, name: str) -> dict | None:
    answer = api.get(f"/proxies/{name}")
    return answer.json() if answer.status_code == 200 else None


class TestLatencyOnAProxy(AdapterConformance):
    @pytest.fixture
    def case(self, proxy: ProxyInfo, api: httpx.Client) -> FaultCase:
        self.api = api
        return FaultCase(
            fault="latency",
            params={"latency": 150, "jitter": 10},
            selector={"names": [proxy.name]},
            invalid_params={"latency": -1},
            unknown_selector={"names": ["no-such-proxy"]},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        proxy = _proxy(self.api, handle.execution.target.id)
        return bool(proxy and any(t["type"] == "latency" for t in proxy["toxics"]))


class TestDown(AdapterConformance):
    @pytest.fixture
    def case(self, proxy: ProxyInfo, api: httpx.Client) -> FaultCase:
        self.api = api
        return FaultCase(
            fault="down",
            params={},
            selector={"pattern": f"^{proxy.name}$"},
            invalid_params={"stream": "upstream"},
            unknown_selector={"pattern": "^no-such-proxy$"},
        )

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        proxy = _proxy(self.api, handle.execution.target.id)
        return bool(proxy and not proxy["enabled"])


class TestBandwidthOnAProxyTheRunCreates(AdapterConformance):
    @pytest.fixture
    def case(self, api: httpx.Client, upstream: Upstream) -> FaultCase:
        self.api = api
        name = f"ensured-{uuid.uuid4().hex[:8]}"
        yield FaultCase(
            fault="bandwidth",
            params={"rate": 50},
            selector={"ensure_proxy": {"name": name, "upstream": upstream.address}},
            invalid_params={"rate": "fast"},
            unknown_selector={"names": [name]},
        )
        api.delete(f"/proxies/{name}")

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        proxy = _proxy(self.api, handle.execution.target.id)
        return bool(proxy and any(t["type"] == "bandwidth" for t in proxy["toxics"]))
