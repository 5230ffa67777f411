"""The conformance kit run against the in-memory adapter."""

from __future__ import annotations

import uuid

import pytest

from chaoshub.testing.conformance import AdapterConformance, FaultCase
from chaoshub.testing.memory import MemoryAdapter
from chaoshub.testing.shared_memory import SharedMemoryAdapter
from tests.support.stack import REDIS_TEST_URL


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


class TestSharedMemoryAdapterConformance(AdapterConformance):
    """The same tool with its state in Redis (the test database), shared by processes."""

    @pytest.fixture
    def adapter(self):
        backend = f"mem-{uuid.uuid4().hex[:6]}"
        adapter = SharedMemoryAdapter({"redis_url": REDIS_TEST_URL}, backend=backend)
        yield adapter
        for what in ("active", "applied", "recover_calls"):
            adapter._redis.delete(adapter._key(what))

    @pytest.fixture
    def unreachable_adapter(self):
        return SharedMemoryAdapter({"redis_url": "redis://127.0.0.1:9/0"}, backend="gone")

    @pytest.fixture
    def case(self):
        return FaultCase(
            fault="latency",
            params={"latency_ms": 250},
            selector={"names": ["alpha"]},
            invalid_params={"latency_ms": -5},
            unknown_selector={"names": ["omega"]},
        )
