"""The conformance kit for the ``http`` and ``native`` adapters, against a real injector
process, pausing a real process (the kit checks its state from ``/proc``)."""

from __future__ import annotations

import pytest
from native_peers import proc_state

from chaoshub.adapters.http import HttpAdapter
from chaoshub.adapters.native import NativeAdapter
from chaoshub.contract import Adapter, Handle
from chaoshub.errors import BackendUnavailable, NotFound
from chaoshub.testing.conformance import AdapterConformance, FaultCase

DEAD_URL = "http://127.0.0.1:9"


def _paused(adapter: Adapter, handle: Handle) -> bool:
    pid = int(handle.execution.target.id.rsplit("/", 1)[-1])
    try:
        return proc_state(pid) == "T"
    except FileNotFoundError:
        return False


class TestHttpAdapterConformance(AdapterConformance):
    @pytest.fixture
    def adapter(self, injector):
        adapter = HttpAdapter({"url": injector.url, "token": injector.token}, backend="inj")
        yield adapter
        adapter.close()

    @pytest.fixture
    def unreachable_adapter(self):
        return HttpAdapter({"url": DEAD_URL, "token": "x", "timeout": 2}, backend="gone")

    @pytest.fixture
    def case(self, sleeper):
        return FaultCase(
            fault="process-pause",
            params={},
            selector={"pid": sleeper.pid},
            invalid_params={"signal": "SIGSTOP"},
            unknown_selector={"pattern": "^no-such-process-anywhere$"},
        )

    def fault_is_present(self, adapter, handle):
        return _paused(adapter, handle)

    def test_health_says_which_faults_are_unavailable_and_why(self, adapter):
        health = adapter.health()
        assert health.ok and health.version
        assert health.faults["process-pause"].available
        for availability in health.faults.values():
            assert availability.available or availability.reason


class TestNativeAdapterConformance(AdapterConformance):
    @pytest.fixture
    def agents(self, injector):
        return [
            {
                "name": "local",
                "url": injector.url,
                "token": injector.token,
                "labels": {"zone": "a"},
                "online": True,
            },
            {
                "name": "asleep",
                "url": DEAD_URL,
                "token": "x",
                "labels": {"zone": "a"},
                "online": False,
            },
        ]

    @pytest.fixture
    def adapter(self, agents):
        adapter = NativeAdapter({"agents": agents}, backend="native")
        yield adapter
        adapter.close()

    @pytest.fixture
    def unreachable_adapter(self):
        agents = [{"name": "local", "url": DEAD_URL, "token": "x", "labels": {}, "online": True}]
        return NativeAdapter({"agents": agents, "timeout": 2}, backend="gone")

    @pytest.fixture
    def case(self, sleeper):
        return FaultCase(
            fault="process-pause",
            params={},
            selector={"agents": ["local"], "pid": sleeper.pid},
            invalid_params={"signal": "SIGSTOP"},
            unknown_selector={"agents": ["local"], "pattern": "^no-such-process-anywhere$"},
        )

    def fault_is_present(self, adapter, handle):
        return _paused(adapter, handle)

    def test_target_ids_name_the_agent(self, adapter, case, sleeper):
        (target,) = adapter.discover(case.fault, case.selector)
        assert target.id == f"local/{sleeper.pid}"
        assert target.attributes["agent"] == "local"

    def test_labels_choose_agents_and_an_offline_agent_is_never_chosen(self, adapter, sleeper):
        targets = adapter.discover("process-pause", {"labels": {"zone": "a"}, "pid": sleeper.pid})
        assert [t.id.split("/")[0] for t in targets] == ["local"]
        with pytest.raises(NotFound):
            adapter.discover("process-pause", {"agents": ["asleep"], "pid": sleeper.pid})
        with pytest.raises(NotFound):
            adapter.discover("process-pause", {"labels": {"zone": "b"}, "pid": sleeper.pid})

    def test_an_unreachable_agent_is_skipped_by_labels_but_not_when_named(self, agents, sleeper):
        flaky = {
            "name": "flaky",
            "url": DEAD_URL,
            "token": "x",
            "labels": {"zone": "a"},
            "online": True,
        }
        adapter = NativeAdapter({"agents": [*agents, flaky], "timeout": 2}, backend="native")
        try:
            found = adapter.discover("process-pause", {"labels": {"zone": "a"}, "pid": sleeper.pid})
            assert [t.id.split("/")[0] for t in found] == ["local"]
            with pytest.raises(BackendUnavailable):
                adapter.discover(
                    "process-pause", {"agents": ["local", "flaky"], "pid": sleeper.pid}
                )
        finally:
            adapter.close()

    def test_limit_with_random_sampling(self, adapter, sleeper):
        selector = {"agents": ["local"], "name": "sleep", "limit": 1, "random": True}
        assert len(adapter.discover("process-pause", selector)) == 1

    def test_an_unknown_agent_is_not_found(self, adapter):
        with pytest.raises(NotFound):
            adapter.discover("process-pause", {"agents": ["nobody"], "pid": 1})

    def test_an_offline_agent_refuses_work_with_the_retry_error(self, adapter, case):
        from chaoshub.contract import Execution, Target

        execution = Execution(
            id="offline-1",
            fault="process-pause",
            params={},
            target=Target(id="asleep/123", label="x"),
        )
        with pytest.raises(BackendUnavailable):
            adapter.inject(execution)

    def test_active_executions_name_their_agent(self, adapter, case, sleeper):
        from chaoshub.contract import Execution, Handle

        (target,) = adapter.discover(case.fault, case.selector)
        execution = Execution(
            id=f"active-{sleeper.pid}", fault=case.fault, params={}, target=target, lease_seconds=60
        )
        data, _ = adapter.inject(execution)
        try:
            active = [e for e in adapter.active_executions() if e["execution_id"] == execution.id]
            assert [(e["agent"], e["fault"]) for e in active] == [("local", "process-pause")]
        finally:
            adapter.recover(Handle(execution, data))

    def test_health_merges_the_agents_capabilities(self, adapter):
        health = adapter.health()
        assert health.ok
        assert health.faults["process-pause"].available
        assert set(health.faults) == set(adapter.capabilities.faults)
