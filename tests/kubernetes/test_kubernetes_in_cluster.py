"""A backend with ``in_cluster: true`` reaches its cluster as a pod does: the service
account's token and CA bundle and the ``KUBERNETES_SERVICE_HOST``/``_PORT`` environment,
over HTTPS (the fake serves TLS with a certificate made for the test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fake_apiserver import CHAOS_MESH, LITMUS, FakeApiServer
from kubernetes.config import incluster_config

from chaoshub.adapters.chaos_mesh import ChaosMeshAdapter
from chaoshub.adapters.litmus import LitmusAdapter
from chaoshub.errors import InvalidInput


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (``cryptography`` comes with moto)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def pod_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    cert, key = self_signed(tmp_path)
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
