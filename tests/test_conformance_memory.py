"""The conformance kit run against the in-memory adapter."""

from __future__ import annotations

import uuid

import pytest

from chaoshub.testing.conformance import AdapterConformance, FaultCase
from chaoshub.testing.memory import MemoryAdapter


class TestMemoryAdapterConformance(AdapterConformance):
    @pytest.fixture
    def adapter(self, tmp_path):
        return MemoryAdapter(
            {"state_path": str(tmp_path / "tool.json")}, backend=f"mem-{uuid.uuid4().hex[:6]}"
        )

    @pytest.fixture
    def unreachable_adapter(self):
        return MemoryAdapter({"unreachable": True}, backend="gone")

    @pytest.fixture
    def case(self):
        return FaultCase(
            fault="latency",
            params={"latency_ms": 250},
            selector={"names": ["alpha"]},
            invalid_params={"latency_ms": -5},
            unknown_selector={"names": ["omega"]},
        )
