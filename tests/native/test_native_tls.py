"""Beyond loopback the injector serves TLS, optionally mutual; the adapters speak it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from native_peers import INJECTOR, Injector, free_port, run

from chaoshub.adapters.http import HttpAdapter
from chaoshub.adapters.native import NativeAdapter
from chaoshub.errors import BackendUnavailable


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    d = tmp_path_factory.mktemp("pki")
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.pem"),
    )
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        run(
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.csr"),
        )
        (d / f"{name}.ext").write_text(ext + "\n")
        run(
            "openssl",
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            str(d / f"{name}.ext"),
            "-out",
            str(d / f"{name}.pem"),
        )
    return d


@pytest.fixture(scope="module")
def tls_injector(pki: Path, tmp_path_factory: pytest.TempPathFactory):
    inj = Injector(
        tmp_path_factory.mktemp("tls-state"),
        extra=[
            "--tls-cert",
            str(pki / "server.pem"),
            "--tls-key",
            str(pki / "server.key"),
            "--tls-ca",
            str(pki / "ca.pem"),
        ],
    )
    inj.proc = subprocess.Popen(
        [
            str(INJECTOR),
            "--listen",
            f"127.0.0.1:{inj.port}",
            "--api-token",
            inj.token,
            "--state-dir",
            str(inj.state_dir),
            *inj.extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # /livez needs a client certificate too here: wait through the adapter
        adapter = _adapter(inj, pki)
        for _ in range(100):
            if adapter.health().ok:
                break
            time.sleep(0.2)
        adapter.close()
        yield inj
    finally:
        inj.stop()


def _adapter(inj: Injector, pki: Path, client_cert: bool = True) -> HttpAdapter:
    config = {
        "url": f"https://127.0.0.1:{inj.port}",
        "token": inj.token,
        "timeout": 5,
        "ca_file": str(pki / "ca.pem"),
    }
    if client_cert:
        config |= {"cert_file": str(pki / "client.pem"), "key_file": str(pki / "client.key")}
    return HttpAdapter(config, backend="tls")


def test_the_http_adapter_speaks_mutual_tls(tls_injector: Injector, pki: Path):
    adapter = _adapter(tls_injector, pki)
    try:
        assert adapter.health().ok
        assert adapter.discover("cpu-stress", {})[0].id == "host"
    finally:
        adapter.close()


def test_a_caller_without_a_client_certificate_is_refused(tls_injector: Injector, pki: Path):
    adapter = _adapter(tls_injector, pki, client_cert=False)
    try:
        with pytest.raises(BackendUnavailable):
            adapter.discover("cpu-stress", {})
    finally:
        adapter.close()


def test_the_native_adapter_reaches_https_agents(tls_injector: Injector, pki: Path):
    agent = {
        "name": "secure",
        "url": f"https://127.0.0.1:{tls_injector.port}",
        "token": tls_injector.token,
        "labels": {},
        "online": True,
    }
    adapter = NativeAdapter(
        {
            "agents": [agent],
            "ca_file": str(pki / "ca.pem"),
            "cert_file": str(pki / "client.pem"),
            "key_file": str(pki / "client.key"),
        }
    )
    try:
        assert adapter.discover("cpu-stress", {"agents": ["secure"]})[0].id == "secure/host"
    finally:
        adapter.close()


def test_plain_http_beyond_loopback_is_refused_at_start(tmp_path: Path):
    done = subprocess.run(
        [str(INJECTOR), "--listen", f"0.0.0.0:{free_port()}", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not loopback" in done.stderr
