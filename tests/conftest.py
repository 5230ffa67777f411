"""Shared fixtures: the in-memory adapter registered for the test process."""

from __future__ import annotations

import pytest

from chaoshub import registry
from chaoshub.testing.memory import MemoryAdapter

registry.register("memory", MemoryAdapter)


@pytest.fixture
def memory_registered() -> type[MemoryAdapter]:
    return MemoryAdapter
