"""The peers every end-to-end search module shares, one set per module: the fake Toxiproxy
(its own process), a proxy ``payments`` in front of an upstream, the checkout service
calling it with its 500 ms client timeout, and a whole hub (`chaoshub up`) with a
``toxiproxy`` backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support import queries as Q
from tests.support.stack import GraphQL, embedded_hub
from tests.thresholds.services import Checkout, FakeToxiproxy, checkout, fake_toxiproxy, proxy


@pytest.fixture(scope="module")
def toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeToxiproxy]:
    with fake_toxiproxy(tmp_path_factory.mktemp("toxiproxy") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def payments(toxiproxy: FakeToxiproxy) -> Iterator[tuple[str, int]]:
    """The proxy in front of the dependency: its name and port."""
    with proxy(toxiproxy, f"payments-{uuid.uuid4().hex[:6]}") as made:
        yield made


@pytest.fixture(scope="module")
def service(payments: tuple[str, int]) -> Iterator[Checkout]:
    with checkout(payments[1]) as svc:
        yield svc


@pytest.fixture(scope="module")
def hub_access(
    tmp_path_factory: pytest.TempPathFactory, toxiproxy: FakeToxiproxy
) -> Iterator[tuple[str, str]]:
    """The hub's URL and admin token, its ``toxiproxy`` backend made."""
    with embedded_hub(tmp_path_factory.mktemp("threshold-hub")) as (url, token):
        gql = GraphQL(url, token)
        try:
            created = gql(
                Q.CREATE_BACKEND,
                input={
                    "name": "toxiproxy",
                    "adapter": "toxiproxy",
                    "config": {"url": toxiproxy.url},
                },
            )
            assert created["createBackend"]["__typename"] == "Backend", created
        finally:
            gql.close()
        yield url, token


@pytest.fixture(scope="module")
def hub(hub_access: tuple[str, str]) -> Iterator[GraphQL]:
    gql = GraphQL(*hub_access)
    try:
        yield gql
    finally:
        gql.close()
