"""The adapter conformance kit (DESIGN.md §5.3), shipped in the wheel for outside authors.

An adapter's test module subclasses :class:`AdapterConformance` and supplies fixtures;
every test below then runs against it::

    from chaoshub.testing.conformance import AdapterConformance, FaultCase

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def adapter(self, my_backend):           # reachable backend
            return MyAdapter(my_backend.config, backend="test")

        @pytest.fixture
        def unreachable_adapter(self):           # same adapter, backend that is not there
            return MyAdapter({"url": "http://127.0.0.1:9"}, backend="gone")

        @pytest.fixture
        def case(self, my_target):               # one reversible fault on one target
            return FaultCase(fault="latency", params={"latency": 100},
                             selector={"names": [my_target]},
                             invalid_params={"latency": -1},
                             unknown_selector={"names": ["no-such-target"]})

Optional hooks: override :meth:`AdapterConformance.fault_is_present` to check the effect
from outside the adapter (the process state, the toxic, the container); by default the
kit trusts ``status``. :meth:`AdapterConformance.lease_remaining` says how long an
injection's lease has left, so the kit checks that ``status_many`` renews it; by default it
reads ``active_executions()`` (a protocol-v1 server's ``lease_remaining_seconds``) when the
adapter has it, and skips that check otherwise.

An adapter whose faults come from its tool rather than from the packaged catalog (the
``http`` adapter, in front of any protocol-v1 server) offers ``describe()``; the kit then
takes the fault types and capabilities from that answer, so an HTTP adapter author runs
the kit against ``HttpAdapter({"url": ..., "token": ...})`` with nothing to override.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from chaoshub import catalog as catalog_mod
from chaoshub.contract import Adapter, Execution, Handle, Observation, Observed, Target
from chaoshub.errors import BackendUnavailable, HubError, InvalidInput, NotFound


@dataclass
class FaultCase:
    """One reversible, timed fault the kit injects and recovers."""

    fault: str
    params: Mapping[str, Any]
    selector: Mapping[str, Any]
    invalid_params: Mapping[str, Any]
    unknown_selector: Mapping[str, Any]
    duration_seconds: float = 30.0
    extra: Mapping[str, Any] = field(default_factory=dict)


def described(adapter: Adapter) -> Mapping[str, Any] | None:
    """The adapter's ``describe()`` answer, or None when it has no such method (its faults
    are then the packaged catalog's ``<adapter>/<fault>`` entries)."""
    describe = getattr(adapter, "describe", None)
    return describe() if callable(describe) else None


def described_entries(answer: Mapping[str, Any]) -> dict[str, catalog_mod.FaultType]:
    """The fault types a ``describe()`` answer lists, by name (each checked as a catalog
    entry)."""
    entries = (catalog_mod.FaultType.from_dict(e) for e in answer.get("fault_types") or [])
    return {f.name: f for f in entries}


def _execution(case: FaultCase, target: Target, params: Mapping[str, Any]) -> Execution:
    return Execution(
        id=f"conformance-{uuid.uuid4().hex[:12]}",
        fault=case.fault,
        params=params,
        target=target,
        duration_seconds=case.duration_seconds,
        lease_seconds=max(case.duration_seconds * 2, 60.0),
    )


def _inject(
    adapter: Adapter, execution: Execution, cleanup: list[Handle]
) -> tuple[Handle, Observation]:
    """Inject ``execution``; its handle is recovered at the test's end whatever happens."""
    data, observation = adapter.inject(execution)
    handle = Handle(execution, data)
    cleanup.append(handle)
    return handle, observation


def _observation(answers: Mapping[str, Observation | HubError], handle: Handle) -> Observation:
    """``status_many``'s answer for ``handle``, which must be an observation."""
    answer = answers[handle.execution.id]
    assert isinstance(answer, Observation), answer
    return answer


class AdapterConformance:
    """Behaviour every adapter must show. Subclass and provide the fixtures named above."""

    # -- hooks ---------------------------------------------------------------------------------

    def fault_is_present(self, adapter: Adapter, handle: Handle) -> bool:
        """Is the fault in effect? Override to look from outside the adapter."""
        return adapter.status(handle).state in (Observed.INJECTED, Observed.PENDING)

    def lease_remaining(self, adapter: Adapter, handle: Handle) -> float | None:
        """Seconds the injection's lease has left, or None when the kit cannot tell."""
        listing = getattr(adapter, "active_executions", None)
        if not callable(listing):
            return None
        for entry in listing():
            if entry.get("execution_id") == handle.execution.id:
                left = entry.get("lease_remaining_seconds")
                return float(left) if isinstance(left, int | float) else None
        return None

    # -- helpers -------------------------------------------------------------------------------

    @pytest.fixture
    def fault_type(self, adapter: Adapter, case: FaultCase) -> catalog_mod.FaultType:
        answer = described(adapter)
        if answer is not None:
            entries = described_entries(answer)
            assert case.fault in entries, f"{case.fault} is not in the adapter's describe"
            return entries[case.fault]
        return catalog_mod.load().get(f"{adapter.name}/{case.fault}")

    @pytest.fixture
    def target(self, adapter: Adapter, case: FaultCase) -> Target:
        return adapter.discover(case.fault, case.selector)[0]

    @pytest.fixture
    def params(self, fault_type: catalog_mod.FaultType, case: FaultCase) -> dict[str, Any]:
        return fault_type.validate_params(case.params)

    @pytest.fixture
    def cleanup(self, adapter: Adapter):
        handles: list[Handle] = []
        yield handles
        for handle in handles:
            with contextlib.suppress(HubError):
                adapter.recover(handle)

    # -- the behaviour -----------------------------------------------------------------------------

    def test_capabilities_are_declared_and_catalogued(self, adapter: Adapter) -> None:
        assert adapter.name, "an adapter has a name"
        answer = described(adapter)
        if answer is not None:
            # faults from the tool: every described entry must be a valid catalog entry,
            # and the tool must say it implements each
            entries = described_entries(answer)
            assert entries, "the tool describes no fault type"
            capabilities = answer.get("capabilities") or {}
            missing = [f for f in entries if f not in capabilities]
            assert not missing, f"described faults missing from capabilities: {missing}"
            return
        assert adapter.capabilities.faults, "an adapter declares the faults it implements"
        loaded = {f.id for f in catalog_mod.load().all()}
        missing = [f for f in adapter.capabilities.faults if f"{adapter.name}/{f}" not in loaded]
        assert not missing, f"faults without a catalog entry: {missing}"

    def test_health_reports_reachable_backend(self, adapter: Adapter) -> None:
        health = adapter.health()
        assert health.ok, health.message

    def test_discover_finds_the_target(self, adapter: Adapter, case: FaultCase) -> None:
        targets = adapter.discover(case.fault, case.selector)
        assert targets and all(t.id and t.label for t in targets)

    def test_unknown_target_is_refused(self, adapter: Adapter, case: FaultCase) -> None:
        with pytest.raises((NotFound, InvalidInput)):
            adapter.discover(case.fault, case.unknown_selector)

    def test_invalid_params_are_refused_before_any_io(
        self, unreachable_adapter: Adapter, fault_type: catalog_mod.FaultType, case: FaultCase
    ) -> None:
        # the backend is unreachable: only a check that does no I/O can answer InvalidInput
        with pytest.raises(InvalidInput) as err:
            params = fault_type.validate_params(case.invalid_params)
            unreachable_adapter.validate(case.fault, params, case.selector)
        assert err.value.field, "the error names the field"

    def test_unreachable_backend_raises_the_retry_error(
        self, unreachable_adapter: Adapter, case: FaultCase
    ) -> None:
        with pytest.raises(BackendUnavailable):
            unreachable_adapter.discover(case.fault, case.selector)
        assert not unreachable_adapter.health().ok

    def test_inject_then_recover(
        self,
        adapter: Adapter,
        case: FaultCase,
        target: Target,
        params: dict[str, Any],
        cleanup: list[Handle],
    ) -> None:
        handle, observation = _inject(adapter, _execution(case, target, params), cleanup)
        assert observation.state in (Observed.INJECTED, Observed.PENDING)
        assert self.fault_is_present(adapter, handle)
        assert adapter.status(handle).state is Observed.INJECTED

        recovered = adapter.recover(handle)
        assert recovered.state is Observed.RECOVERED
        assert adapter.status(handle).state is Observed.RECOVERED
        assert not self.fault_is_present(adapter, handle)

    def test_inject_twice_with_one_execution_injects_once(
        self,
        adapter: Adapter,
        case: FaultCase,
        target: Target,
        params: dict[str, Any],
        cleanup: list[Handle],
    ) -> None:
        execution = _execution(case, target, params)
        first, _ = _inject(adapter, execution, cleanup)
        second, observation = adapter.inject(execution)
        assert observation.state in (Observed.INJECTED, Observed.PENDING)
        # one recovery must leave nothing behind: a second copy would survive it
        adapter.recover(Handle(execution, second))
        assert not self.fault_is_present(adapter, first)

    def test_recover_twice_is_fine(
        self,
        adapter: Adapter,
        case: FaultCase,
        target: Target,
        params: dict[str, Any],
        cleanup: list[Handle],
    ) -> None:
        handle, _ = _inject(adapter, _execution(case, target, params), cleanup)
        assert adapter.recover(handle).state is Observed.RECOVERED
        assert adapter.recover(handle).state is Observed.RECOVERED

    def test_recover_finds_the_injection_from_the_execution_id_alone(
        self,
        adapter: Adapter,
        case: FaultCase,
        target: Target,
        params: dict[str, Any],
        cleanup: list[Handle],
    ) -> None:
        # a worker that died between the tool's answer and storing the handle left no data
        handle, _ = _inject(adapter, _execution(case, target, params), cleanup)
        assert adapter.recover(Handle(handle.execution, None)).state is Observed.RECOVERED
        assert not self.fault_is_present(adapter, handle)

    def test_recover_of_something_never_injected_is_success(
        self, adapter: Adapter, case: FaultCase, target: Target, params: dict[str, Any]
    ) -> None:
        execution = _execution(case, target, params)
        assert adapter.recover(Handle(execution, None)).state is Observed.RECOVERED

    def test_status_many_answers_each_execution_as_status_does(
        self,
        adapter: Adapter,
        case: FaultCase,
        target: Target,
        params: dict[str, Any],
        cleanup: list[Handle],
    ) -> None:
        # one recovered, one held, one never injected: the watch asks about all at once
        ended, _ = _inject(adapter, _execution(case, target, params), cleanup)
        adapter.recover(ended)
        held, _ = _inject(adapter, _execution(case, target, params), cleanup)
        never = Handle(_execution(case, target, params), None)
        before = self.lease_remaining(adapter, held)
        if before is not None:
            time.sleep(1.0)  # so that a renewed lease is told from one left as it was
            before = self.lease_remaining(adapter, held)

        answers = adapter.status_many([held, never, ended])

        assert set(answers) == {h.execution.id for h in (held, never, ended)}
        assert _observation(answers, held).state in (Observed.INJECTED, Observed.PENDING)
        assert _observation(answers, ended).state is Observed.RECOVERED
        # the never-injected one is answered as status answers it alone: an error, or that
        # nothing of it holds, and never at the cost of the others
        unknown = answers[never.execution.id]
        try:
            alone: Observation | HubError = adapter.status(never)
        except HubError as exc:
            alone = exc
        if isinstance(alone, HubError):
            assert isinstance(unknown, type(alone)), unknown
        else:
            assert _observation(answers, never).state is alone.state
        if before is not None:
            after = self.lease_remaining(adapter, held)
            assert after is not None and after > before, "status_many renews the lease"
