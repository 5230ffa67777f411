"""The fake Toxiproxy server answers as the reference says the real one does (§1.2-1.6).

These pin the fake to the reference, so the adapter tests cannot pass because the fake
drifted towards what the adapter happens to do.
"""

from __future__ import annotations

import httpx
import pytest
from toxiproxy_peers import ProxyInfo, Upstream

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
