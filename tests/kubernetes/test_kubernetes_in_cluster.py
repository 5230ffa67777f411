"""A backend with ``in_cluster: true`` reaches its cluster as a pod does: the service
account's token and CA bundle and the ``KUBERNETES_SERVICE_HOST``/``_PORT`` environment,
over HTTPS (the fake serves TLS with a certificate made for the test)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_apiserver import CHAOS_MESH, LITMUS, FakeApiServer
from kubernetes.config import incluster_config

from adapters.chaos_mesh import ChaosMeshAdapter
from adapters.litmus import LitmusAdapter
from hub.errors import InvalidInput


@pytest.fixture
def pod_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    cert, key = tmp_path / "ca.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    fake = FakeApiServer(tls=(cert, key))
    fake.store.install(LITMUS + CHAOS_MESH)
    fake.store.add_pod("shop", "cart-0", {"app": "cart"})
    fake.start()
    token = tmp_path / "token"
    token.write_text(fake.token)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(cert))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", fake.url.rsplit(":", 1)[1])
    try:
        yield fake
    finally:
        fake.stop()


def test_in_cluster_backends_reach_the_api_over_tls(pod_identity: FakeApiServer) -> None:
    for adapter in (
        LitmusAdapter({"in_cluster": True, "namespace": "shop"}),
        ChaosMeshAdapter({"in_cluster": True, "namespace": "shop"}),
    ):
        try:
            assert adapter.health().ok, adapter.health().message
            assert adapter.discover(
                "pod-delete" if adapter.name == "litmus" else "pod-kill",
                {"labels": {"app": "cart"}},
            )
        finally:
            adapter.close()
    assert any(p.endswith("/pods") for _, p, _ in pod_identity.requests)


def test_in_cluster_outside_a_pod_is_invalid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    adapter = ChaosMeshAdapter({"in_cluster": True})
    with pytest.raises(InvalidInput) as err:
        adapter.discover("pod-kill", {"labels": {"app": "cart"}})
    assert err.value.field == ["config", "in_cluster"]
