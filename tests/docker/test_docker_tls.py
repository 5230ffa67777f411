"""A Docker host over tcp:// with mutual TLS: podman's API behind a TLS terminator that
demands a client certificate signed by the test's CA (as dockerd's --tlsverify does)."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker_peers import state

from chaoshub.adapters.docker_engine import DockerAdapter
from chaoshub.contract import Execution, Handle, Observed
from chaoshub.errors import BackendUnavailable


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _certificates(folder: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all from the CA."""
    ca_key, ca = folder / "ca-key.pem", folder / "ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    out = {"ca": str(ca)}
    for who in ("server", "client"):
        key, csr, cert = folder / f"{who}-key.pem", folder / f"{who}.csr", folder / f"{who}.pem"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
        out[f"{who}_cert"], out[f"{who}_key"] = str(cert), str(key)
    return out


def _pipe(outside: ssl.SSLSocket, inside: socket.socket) -> None:
    with contextlib.suppress(OSError), outside, inside:
        while True:
            ready, _, _ = select.select([outside, inside], [], [], 60)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (inside if sock is outside else outside).sendall(data)
                while sock is outside and outside.pending():
                    inside.sendall(outside.recv(outside.pending()))


@pytest.fixture(scope="module")
def tls_host(
    tmp_path_factory: pytest.TempPathFactory, docker_host: str
) -> Iterator[dict[str, Any]]:
    certs = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certs["ca"])
    context.load_cert_chain(certs["server_cert"], certs["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    unix_path = docker_host.removeprefix("unix://")
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                outside = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()  # no or a wrong client certificate
                continue
            inside = socket.socket(socket.AF_UNIX)
            inside.connect(unix_path)
            threading.Thread(target=_pipe, args=(outside, inside), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield {"url": f"tcp://127.0.0.1:{listener.getsockname()[1]}", **certs}
    stopping.set()
    listener.close()


def test_the_adapter_reaches_the_host_over_mutual_tls(
    tls_host: dict[str, Any],
    adapter_config: dict[str, Any],
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    config = {
        **adapter_config,
        "base_url": tls_host["url"],
        "tls": {
            "ca_cert": tls_host["ca"],
            "client_cert": tls_host["client_cert"],
            "client_key": tls_host["client_key"],
        },
    }
    DockerAdapter.validate_config(config)
    adapter = DockerAdapter(config, backend="tls")
    health = adapter.health()
    assert health.ok and "API 1." in health.version, health

    container = make_container()
    [target] = adapter.discover("container-pause", {"names": [container.name]})
    execution = Execution(
        id=f"tls-{uuid.uuid4().hex[:8]}", fault="container-pause", params={}, target=target
    )
    data, _ = adapter.inject(execution)
    assert state(client, container.id)["Paused"] is True
    assert adapter.recover(Handle(execution, data)).state is Observed.RECOVERED
    assert state(client, container.id)["Paused"] is False
    adapter.close()


def test_a_client_without_the_certificate_is_turned_away(tls_host: dict[str, Any]) -> None:
    adapter = DockerAdapter(
        {"base_url": tls_host["url"], "timeout": 5, "tls": {"ca_cert": tls_host["ca"]}},
        backend="tls-nocert",
    )
    with pytest.raises(BackendUnavailable):
        adapter.discover("container-kill", {"names": ["anything"]})
    assert not adapter.health().ok
