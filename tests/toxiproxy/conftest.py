"""Fixtures for the Toxiproxy adapter tests.

One fake Toxiproxy server (a separate process, see ``fake_toxiproxy.py``) and one upstream
HTTP server serve the whole session; every test gets its own proxy, deleted afterwards.
``api`` is a plain HTTP client of the server, for setting up and for looking from outside
the adapter.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from toxiproxy_peers import FakeToxiproxy, ProxyInfo, Upstream, fake_toxiproxy, free_port

from chaoshub import catalog
from chaoshub.adapters.toxiproxy import ToxiproxyAdapter

# `tests.support` (the hub process helpers) imports from the repository root, which
# `python -m pytest` puts on sys.path and the bare `pytest` script does not
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)


@pytest.fixture(scope="session")
def loaded_catalog() -> catalog.Catalog:
    return catalog.load()


@pytest.fixture(autouse=True)
def catalog_loaded_once(monkeypatch: pytest.MonkeyPatch, loaded_catalog: catalog.Catalog) -> None:
    # the conformance kit reads every adapter's catalog in each test (seconds on a busy
    # machine); the entries do not change during a session
    real = catalog.load
    monkeypatch.setattr(
        catalog,
        "load",
        lambda directory=None: loaded_catalog if directory is None else real(directory),
    )


@pytest.fixture(scope="session")
def toxiproxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeToxiproxy]:
    with fake_toxiproxy(tmp_path_factory.mktemp("toxiproxy") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def api(toxiproxy_server: FakeToxiproxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=toxiproxy_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def proxy(api: httpx.Client, upstream: Upstream) -> Iterator[ProxyInfo]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream.address}
    created = api.post("/proxies", json=body)
    assert created.status_code == 201, created.text
    yield ProxyInfo(name, int(created.json()["listen"].rsplit(":", 1)[1]))
    api.delete(f"/proxies/{name}")


@pytest.fixture
def adapter(toxiproxy_server: FakeToxiproxy) -> Iterator[ToxiproxyAdapter]:
    adapter = ToxiproxyAdapter({"url": toxiproxy_server.url}, backend="test-toxiproxy")
    yield adapter
    adapter.close()


@pytest.fixture
def unreachable_adapter() -> Iterator[ToxiproxyAdapter]:
    adapter = ToxiproxyAdapter(
        {"url": f"http://127.0.0.1:{free_port()}", "timeout": 2}, backend="gone"
    )
    yield adapter
    adapter.close()
