"""The fake Toxiproxy server answers as the reference says the real one does (§1.2-1.6).

These pin the fake to the reference, so the adapter tests cannot pass because the fake
drifted towards what the adapter happens to do.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest
from toxiproxy_peers import ProxyInfo, Upstream, fake_toxiproxy

TEXT = "text/plain; charset=utf-8"


def test_creating_a_proxy_answers_201_with_the_resolved_listen_address(
    api: httpx.Client, upstream: Upstream
) -> None:
    answer = api.post(
        "/proxies", json={"name": "fresh", "listen": "127.0.0.1:0", "upstream": upstream.address}
    )
    try:
        assert answer.status_code == 201
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["enabled"] is True and body["toxics"] == []
        assert not body["listen"].endswith(":0")
    finally:
        assert api.delete("/proxies/fresh").status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/proxies", {"upstream": "x:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "n"}, 400, "missing required field: upstream"),
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope/toxics/t", None, 404, "proxy not found"),
    ],
)
def test_errors_are_json_sent_as_text_plain(
    api: httpx.Client, method: str, path: str, body: object, status: int, message: str
) -> None:
    answer = api.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == TEXT
    assert answer.json() == {"error": message, "status": status}


def test_toxic_create_follows_the_reference_defaults_and_checks(
    api: httpx.Client, proxy: ProxyInfo
) -> None:
    toxics = f"/proxies/{proxy.name}/toxics"
    made = api.post(toxics, json={"type": "latency", "attributes": {"latency": 10, "unknown": 1}})
    assert made.status_code == 200
    assert made.json() == {
        "attributes": {"latency": 10, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }
    # names are unique across both streams
    clash = api.post(
        toxics, json={"type": "latency", "name": "latency_downstream", "stream": "UPSTREAM"}
    )
    assert clash.status_code == 409 and clash.json()["error"] == "toxic already exists"
    bad_stream = api.post(toxics, json={"type": "nope", "stream": "sideways"})
    assert bad_stream.json()["error"] == "stream was invalid, can be either upstream or downstream"
    assert api.post(toxics, json={"type": "nope"}).json()["error"] == "invalid toxic type"
    wrong_type = api.post(
        toxics, json={"type": "latency", "name": "x", "attributes": {"latency": "1"}}
    )
    assert wrong_type.status_code == 400 and wrong_type.json()["error"].startswith(
        "bad request body"
    )


def test_toxic_update_merges_attributes_and_keeps_name_type_and_stream(
    api: httpx.Client, proxy: ProxyInfo
) -> None:
    path = f"/proxies/{proxy.name}/toxics/slow"
    api.post(
        f"/proxies/{proxy.name}/toxics",
        json={"type": "latency", "name": "slow", "attributes": {"latency": 10, "jitter": 3}},
    )
    updated = api.patch(
        path, json={"type": "timeout", "stream": "upstream", "attributes": {"latency": 20}}
    )
    assert updated.json()["attributes"] == {"latency": 20, "jitter": 3}
    assert updated.json()["type"] == "latency" and updated.json()["stream"] == "downstream"


def test_wrong_methods_unknown_paths_and_browsers(api: httpx.Client, proxy: ProxyInfo) -> None:
    assert api.put(f"/proxies/{proxy.name}").status_code == 405
    unknown = api.get("/nowhere")
    assert (unknown.status_code, unknown.text) == (404, "404 page not found\n")
    browser = api.get("/version", headers={"User-Agent": "Mozilla/5.0"})
    assert browser.status_code == 403
    assert "x-toxiproxy-request-id" in api.get("/version").headers


def test_reset_enables_every_proxy_and_removes_every_toxic(
    api: httpx.Client, proxy: ProxyInfo
) -> None:
    api.post(f"/proxies/{proxy.name}/toxics", json={"type": "latency"})
    api.patch(f"/proxies/{proxy.name}", json={"enabled": False})
    assert api.post("/reset").status_code == 204
    state = api.get(f"/proxies/{proxy.name}").json()
    assert state["enabled"] is True and state["toxics"] == []


# -- where the adapter relies on the real server's behaviour ---------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer ends the connection (EOF or reset) within ``seconds``."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True  # reset
    return True


def test_deleting_a_proxy_closes_its_open_connections(
    api: httpx.Client, upstream: Upstream
) -> None:
    name = f"del-{uuid.uuid4().hex[:6]}"
    made = api.post(
        "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream.address}
    )
    port = int(made.json()["listen"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /bytes/2 HTTP/1.1\r\nHost: x\r\n")  # unfinished: stays open
        time.sleep(0.3)
        assert not _closed_within(client, 0.3)
        assert api.delete(f"/proxies/{name}").status_code == 204
        assert _closed_within(client, 5)


def test_deleting_a_proxy_closes_a_connection_still_dialling_its_upstream(
    api: httpx.Client,
) -> None:
    # an upstream whose accept queue is full drops the proxy's SYN: the dial hangs until
    # a slot frees and the kernel retries (about a second later)
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen(0)
        address = f"127.0.0.1:{upstream.getsockname()[1]}"
        filler = socket.create_connection(upstream.getsockname(), timeout=5)
        name = f"dial-{uuid.uuid4().hex[:6]}"
        made = api.post(
            "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": address}
        )
        port = int(made.json()["listen"].rsplit(":", 1)[1])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                time.sleep(0.3)  # the proxy is dialling
                assert api.delete(f"/proxies/{name}").status_code == 204
                upstream.accept()[0].close()  # the filler: the proxy's retried SYN gets in
                filler.close()
                upstream.settimeout(10)
                dialled, _ = upstream.accept()
                with dialled:
                    assert _closed_within(client, 5)
                    assert _closed_within(dialled, 5)
        finally:
            filler.close()
            api.delete(f"/proxies/{name}")


@pytest.mark.parametrize(
    ("attributes", "toxicity", "refused"),
    [
        ({"latency": 2**63 - 1}, 1, False),
        ({"latency": 2**63}, 1, True),
        ({"latency": -(2**63) - 1}, 1, True),
        ({"latency": 1}, 3.5e38, True),
    ],
)
def test_values_beyond_go_types_are_refused_with_400(
    api: httpx.Client, proxy: ProxyInfo, attributes: dict[str, int], toxicity: float, refused: bool
) -> None:
    answer = api.post(
        f"/proxies/{proxy.name}/toxics",
        json={"type": "latency", "attributes": attributes, "toxicity": toxicity},
    )
    if refused:
        assert answer.status_code == 400 and answer.headers["content-type"] == TEXT
        assert answer.json()["error"].startswith("bad request body: json: cannot unmarshal number")
        assert api.get(f"/proxies/{proxy.name}/toxics").json() == []
    else:
        assert answer.status_code == 200 and answer.json()["attributes"]["latency"] == 2**63 - 1


@pytest.mark.parametrize(
    ("version", "content_type", "body", "patch"),
    [
        ("2.5.0", TEXT, "2.5.0", 405),
        ("2.6.0", TEXT, "2.6.0", 200),
        ("2.12.0", "application/json;charset=utf-8", '{"version":"2.12.0"}\n', 200),
    ],
)
def test_the_fake_answers_as_the_release_it_is_started_as(
    tmp_path: Path, upstream: Upstream, version: str, content_type: str, body: str, patch: int
) -> None:
    with (
        fake_toxiproxy(tmp_path / "server.log", version) as server,
        httpx.Client(base_url=server.url, timeout=10) as api,
    ):
        answer = api.get("/version")
        assert (answer.headers["content-type"], answer.text) == (content_type, body)
        api.post(
            "/proxies", json={"name": "p", "listen": "127.0.0.1:0", "upstream": upstream.address}
        )
        assert api.patch("/proxies/p", json={"enabled": False}).status_code == patch
        assert api.post("/proxies/p", json={"enabled": False}).status_code == 200
