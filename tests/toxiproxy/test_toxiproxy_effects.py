"""What each fault does to real TCP traffic through a proxy, measured from the client side.

The adapter injects and recovers; a plain socket client fetches from a loopback HTTP
server through the (fake) Toxiproxy proxy and times and counts what comes back. Bands are
wide on purpose: they tell a working fault from a missing one, not a fast machine from a
slow one.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from toxiproxy_peers import ProxyInfo, fetch

from chaoshub import catalog
from chaoshub.adapters.toxiproxy import ToxiproxyAdapter
from chaoshub.contract import Execution, Handle, Observed


def _inject(adapter: ToxiproxyAdapter, proxy: ProxyInfo, fault: str, **params: Any) -> Handle:
    fault_type = catalog.load().get(f"toxiproxy/{fault}")
    full: Mapping[str, Any] = fault_type.validate_params(params)
    adapter.validate(fault, full, {"names": [proxy.name]})
    target = adapter.discover(fault, {"names": [proxy.name]})[0]
    execution = Execution(
        id=f"effect-{uuid.uuid4().hex[:8]}", fault=fault, params=full, target=target
    )
    data, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED
    return Handle(execution, data)


def _fastest(port: int, size: int = 2, runs: int = 3) -> float:
    """The quickest of a few fetches: the least noisy figure on a busy machine."""
    return min(fetch(port, size).seconds for _ in range(runs))


def test_latency_adds_its_delay_and_recovery_removes_it(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    baseline = _fastest(proxy.port)
    handle = _inject(adapter, proxy, "latency", latency=200)
    delayed = _fastest(proxy.port)
    adapter.recover(handle)
    after = _fastest(proxy.port)

    assert delayed >= 0.2, (baseline, delayed)
    assert 0.19 <= delayed - baseline < 1.5, (baseline, delayed)
    assert after - baseline < 0.1, (baseline, after)
    assert adapter.status(handle).state is Observed.RECOVERED


def test_latency_status_reports_the_applied_milliseconds(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    handle = _inject(adapter, proxy, "latency", latency=200, jitter=5)
    observed = adapter.status(handle)
    assert observed.metrics["latency_ms"] == 200
    assert observed.metrics["jitter_ms"] == 5
    assert "latency" in observed.native and proxy.name in observed.native


def test_latency_with_toxicity_zero_leaves_connections_alone(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    _inject(adapter, proxy, "latency", latency=500, toxicity=0.0)
    assert _fastest(proxy.port) < 0.4


def test_upstream_latency_delays_the_request(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    _inject(adapter, proxy, "latency", latency=200, stream="upstream")
    assert fetch(proxy.port).seconds >= 0.2


def test_bandwidth_limits_throughput(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    size = 60_000
    fast = fetch(proxy.port, size)
    handle = _inject(adapter, proxy, "bandwidth", rate=50)  # 50 KB/s: 60 kB takes >= 1.2 s
    slow = fetch(proxy.port, size)
    adapter.recover(handle)

    assert slow.received > size and fast.received > size
    assert slow.seconds >= 1.0, slow
    assert fast.seconds < 0.5, fast


def test_timeout_drops_data_and_closes_the_connection(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    # upstream: the request never reaches the server, which would otherwise answer and close
    _inject(adapter, proxy, "timeout", timeout=300, stream="upstream")
    cut = fetch(proxy.port, 100)
    assert cut.received == 0
    assert 0.25 <= cut.seconds < 3, cut


def test_limit_data_closes_after_the_limit(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    handle = _inject(adapter, proxy, "limit-data", bytes=1000)
    limited = fetch(proxy.port, 50_000)
    adapter.recover(handle)
    whole = fetch(proxy.port, 50_000)

    assert limited.received == 1000
    assert whole.received > 50_000


def test_reset_peer_resets_new_connections(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    _inject(adapter, proxy, "reset-peer", timeout=0)
    reset = fetch(proxy.port, 100)
    assert reset.error == "ConnectionResetError"
    assert reset.received == 0


def test_slow_close_holds_back_the_close(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    # the upstream answers and closes at once; the client sees the close 300 ms later
    _inject(adapter, proxy, "slow-close", delay=300)
    held = fetch(proxy.port, 100)
    assert held.received > 100
    assert 0.3 <= held.seconds < 3, held


def test_slicer_still_delivers_everything(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> None:
    _inject(adapter, proxy, "slicer", average_size=100, size_variation=50, delay=100)
    assert fetch(proxy.port, 5_000).received > 5_000


def test_down_closes_open_connections_and_refuses_new_ones_until_recovery(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    held = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    try:
        handle = _inject(adapter, proxy, "down")
        assert held.recv(1) == b"", "the open connection is closed"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5).close()
        adapter.recover(handle)
        assert fetch(proxy.port, 10).received > 10, "the same port answers again"
    finally:
        held.close()
