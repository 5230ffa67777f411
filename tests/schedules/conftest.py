"""One real ``chaoshub up`` per test module that asks for ``hub`` (see tests.workflows.hub)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflows.hub import Hub, running_hub


@pytest.fixture(scope="module")
def module_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("schedules-hub")) as hub:
        yield hub


@pytest.fixture
def hub(module_hub: Hub) -> Iterator[Hub]:
    try:
        yield module_hub
    finally:
        module_hub.quiet()
