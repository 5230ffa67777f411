"""The ``http`` adapter turns a real injector's problem bodies into the hub's errors."""

from __future__ import annotations

import pytest

from chaoshub.adapters.http import HttpAdapter, lease_for, observation
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import InvalidInput, NotFound, RejectedByTool


@pytest.fixture
def adapter(injector):
    a = HttpAdapter({"url": injector.url, "token": injector.token}, backend="inj")
    yield a
    a.close()


def _execution(fault: str, target: Target, params: dict | None = None, **kw) -> Execution:
    return Execution(
        id=f"err-{fault}-{target.id}", fault=fault, params=params or {}, target=target, **kw
    )


def test_a_refused_token_is_shown_as_rejected(injector):
    a = HttpAdapter({"url": injector.url, "token": "wrong"}, backend="inj")
    try:
        with pytest.raises(RejectedByTool) as err:
            a.discover("cpu-stress", {})
        assert err.value.native_code == "unauthorized"
        assert not a.health().ok
    finally:
        a.close()


def test_invalid_input_keeps_the_field(adapter):
    with pytest.raises(InvalidInput) as err:
        adapter.discover("process-pause", {"pid": 1, "name": "init"})
    assert err.value.field[0] == "selector"


def test_a_missing_capability_is_rejected_by_the_tool_with_its_reason(adapter):
    health = adapter.health()
    if health.faults["network-delay"].available:
        pytest.skip("this kernel has sch_netem")
    target = adapter.discover("network-delay", {"interface": "lo"})[0]
    with pytest.raises(RejectedByTool) as err:
        adapter.inject(_execution("network-delay", target, {"latency_ms": 10}))
    assert "sch_netem" in err.value.message and err.value.native_code == "rejected"


def test_a_gone_process_is_not_found(adapter):
    gone = Target(id="4194303", label="gone")
    with pytest.raises(NotFound):
        adapter.inject(_execution("process-pause", gone))


def test_status_of_an_execution_the_injector_never_saw_is_recovered(adapter):
    handle = Handle(_execution("cpu-stress", Target(id="host", label="h")), None)
    assert adapter.status(handle).state is Observed.RECOVERED


def test_an_unmapped_phase_is_unknown_with_the_native_text_kept():
    seen = observation({"phase": "half-way", "native": "tool says half-way", "metrics": {"x": 1}})
    assert seen.state is Observed.UNKNOWN and seen.native == "tool says half-way"
    assert seen.metrics == {"x": 1.0}


def test_the_lease_follows_the_execution_or_its_duration():
    target = Target(id="host", label="h")
    assert lease_for(_execution("cpu-stress", target, lease_seconds=42)) == 42
    assert lease_for(_execution("cpu-stress", target, duration_seconds=30)) == 90
    assert lease_for(_execution("cpu-stress", target)) == 300
