"""How the Toxiproxy adapter selects proxies, finds its own toxics again and cleans up.

Everything runs against the fake Toxiproxy server; ``api`` looks from outside the adapter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from toxiproxy_peers import ProxyInfo, Upstream, fake_toxiproxy

from chaoshub import catalog
from chaoshub.adapters.toxiproxy import (
    SELECTOR_SCHEMA,
    ToxiproxyAdapter,
    api_url,
    parse_selector,
    toxic_name,
)
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import Conflict, InvalidInput, NotFound


def _execution(fault: str, target: Target, **params: Any) -> Execution:
    full = catalog.load().get(f"toxiproxy/{fault}").validate_params(params)
    return Execution(
        id=f"run-{uuid.uuid4().hex[:8]}:{target.id}", fault=fault, params=full, target=target
    )


def _toxics(api: httpx.Client, proxy: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in api.get(f"/proxies/{proxy}/toxics").json()}


def _target(adapter: ToxiproxyAdapter, proxy: ProxyInfo) -> Target:
    return adapter.discover("latency", {"names": [proxy.name]})[0]


# -- selection -------------------------------------------------------------------------------------


def test_discover_by_pattern_with_a_limit_takes_the_first_names(
    adapter: ToxiproxyAdapter, api: httpx.Client, upstream: Upstream
) -> None:
    prefix = f"pick-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i}" for i in (3, 1, 2)]
    try:
        for name in names:
            api.post(
                "/proxies",
                json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream.address},
            )
        targets = adapter.discover("latency", {"pattern": f"^{prefix}-", "limit": 2})
        assert [t.id for t in targets] == [f"{prefix}-1", f"{prefix}-2"]
        assert targets[0].attributes["upstream"] == upstream.address
    finally:
        for name in names:
            api.delete(f"/proxies/{name}")


def test_discover_refuses_a_name_that_does_not_exist(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    with pytest.raises(NotFound) as err:
        adapter.discover("latency", {"names": [proxy.name, "missing-proxy"]})
    assert err.value.field == ["selector", "names"]


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ({}, ["selector", "names"]),
        ({"names": ["a"], "pattern": "a"}, ["selector", "names"]),
        ({"pattern": "("}, ["selector", "pattern"]),
        ({"pattern": "(a)\\1"}, ["selector", "pattern"]),  # RE2: no back-references
        ({"names": ["a"], "limit": 0}, ["selector", "limit"]),
        ({"names": ["a"], "labels": {}}, ["selector", "labels"]),
        (
            {"ensure_proxy": {"name": "x", "upstream": "no-port"}},
            ["selector", "ensure_proxy", "upstream"],
        ),
    ],
)
def test_bad_selectors_are_refused_without_io(selector: dict[str, Any], field: list[str]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_selector(selector)
    assert err.value.field == field


def test_slicer_variation_must_stay_below_the_average(
    unreachable_adapter: ToxiproxyAdapter,
) -> None:
    params = {"average_size": 10, "size_variation": 10, "delay": 5}
    with pytest.raises(InvalidInput) as err:
        unreachable_adapter.validate("slicer", params, {"names": ["a"]})
    assert err.value.field == ["params", "size_variation"]


def test_the_catalog_entries_carry_the_adapter_selector_schema() -> None:
    entries = [e for e in catalog.load().all() if e.adapter == "toxiproxy"]
    assert len(entries) == 8
    for entry in entries:
        assert entry.selector == SELECTOR_SCHEMA, entry.id
        assert entry.params.get("additionalProperties") is False, entry.id


# -- finding its own toxic again -------------------------------------------------------------------


def test_a_retried_inject_adopts_its_toxic_and_makes_it_say_what_was_asked(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("latency", _target(adapter, proxy), latency=300)
    # a first attempt that left a toxic of that name with other values behind
    stale = {"name": toxic_name(execution.id), "type": "latency", "attributes": {"latency": 5}}
    assert api.post(f"/proxies/{proxy.name}/toxics", json=stale).status_code == 200

    data, observation = adapter.inject(execution)

    assert observation.native.startswith("adopted")
    assert observation.metrics["latency_ms"] == 300
    toxics = _toxics(api, proxy.name)
    assert list(toxics) == [data["toxic"]]
    assert toxics[data["toxic"]]["attributes"]["latency"] == 300


def test_a_toxic_of_another_type_under_its_name_is_a_conflict(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("latency", _target(adapter, proxy), latency=300)
    api.post(
        f"/proxies/{proxy.name}/toxics", json={"name": toxic_name(execution.id), "type": "timeout"}
    )
    with pytest.raises(Conflict) as err:
        adapter.inject(execution)
    assert err.value.target == proxy.name and err.value.native_code == 409


def test_recovery_deletes_only_its_own_toxic(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    api.post(f"/proxies/{proxy.name}/toxics", json={"name": "someone-elses", "type": "latency"})
    execution = _execution("latency", _target(adapter, proxy), latency=300)
    adapter.inject(execution)

    adapter.recover(Handle(execution, None))

    assert list(_toxics(api, proxy.name)) == ["someone-elses"]


def test_status_of_a_toxic_removed_by_reset_reads_recovered(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("bandwidth", _target(adapter, proxy), rate=10)
    data, _ = adapter.inject(execution)
    assert adapter.status(Handle(execution, data)).metrics["rate_kb_per_s"] == 10
    api.post("/reset")
    assert adapter.status(Handle(execution, data)).state is Observed.RECOVERED


def test_a_deleted_proxy_counts_as_recovered(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("latency", _target(adapter, proxy))
    data, _ = adapter.inject(execution)
    api.delete(f"/proxies/{proxy.name}")
    assert adapter.recover(Handle(execution, data)).state is Observed.RECOVERED
    assert adapter.status(Handle(execution, data)).state is Observed.RECOVERED


# -- down ------------------------------------------------------------------------------------------


def test_down_recovery_enables_the_proxy_and_leaves_no_marker(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("down", _target(adapter, proxy))
    adapter.inject(execution)
    assert api.get(f"/proxies/{proxy.name}").json()["enabled"] is False

    adapter.recover(Handle(execution, None))

    state = api.get(f"/proxies/{proxy.name}").json()
    assert state["enabled"] is True and state["toxics"] == []


def test_down_on_a_proxy_someone_else_disabled_leaves_it_disabled(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    target = _target(adapter, proxy)
    api.patch(f"/proxies/{proxy.name}", json={"enabled": False})
    execution = _execution("down", target)
    data, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED

    observed = adapter.recover(Handle(execution, data))

    assert "left disabled" in observed.native
    state = api.get(f"/proxies/{proxy.name}").json()
    assert state["enabled"] is False and state["toxics"] == []


# -- a proxy the run asks for ----------------------------------------------------------------------


def test_ensure_proxy_creates_the_proxy_and_recovery_deletes_it(
    adapter: ToxiproxyAdapter, api: httpx.Client, upstream: Upstream
) -> None:
    name = f"made-{uuid.uuid4().hex[:6]}"
    selector = {"ensure_proxy": {"name": name, "upstream": upstream.address}}
    try:
        target = adapter.discover("latency", selector)[0]
        execution = _execution("latency", target, latency=50)
        data, _ = adapter.inject(execution)
        assert data["created_proxy"] is True
        assert api.get(f"/proxies/{name}").json()["enabled"] is True

        adapter.recover(Handle(execution, None))
        assert api.get(f"/proxies/{name}").status_code == 404
    finally:
        api.delete(f"/proxies/{name}")


def test_ensure_proxy_uses_an_existing_proxy_and_keeps_it(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo, upstream: Upstream
) -> None:
    spec = {"name": proxy.name, "upstream": upstream.address, "listen": f"127.0.0.1:{proxy.port}"}
    target = adapter.discover("latency", {"ensure_proxy": spec})[0]
    execution = _execution("latency", target)
    data, _ = adapter.inject(execution)
    assert data["created_proxy"] is False

    adapter.recover(Handle(execution, data))

    state = api.get(f"/proxies/{proxy.name}").json()
    assert state["toxics"] == [] and state["enabled"] is True


def test_ensure_proxy_refuses_a_proxy_of_that_name_going_elsewhere(
    adapter: ToxiproxyAdapter, proxy: ProxyInfo
) -> None:
    spec = {"name": proxy.name, "upstream": "127.0.0.1:1"}
    with pytest.raises(Conflict) as err:
        adapter.discover("latency", {"ensure_proxy": spec})
    assert err.value.field == ["selector", "ensure_proxy"]


# -- backend config and health ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "http://127.0.0.1:8474"),
        ("toxiproxy", "http://toxiproxy:8474"),
        ("http://10.0.0.5", "http://10.0.0.5:8474"),
        ("https://chaos.example:9443/toxiproxy/", "https://chaos.example:9443/toxiproxy"),
    ],
)
def test_api_url_defaults_to_port_8474(given: str | None, expected: str) -> None:
    assert api_url(given) == expected


def test_a_config_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        ToxiproxyAdapter.validate_config({"url": "ftp://toxiproxy"})
    assert err.value.field == ["url"]


@pytest.fixture(params=["2.5.0", "2.12.0"])
def release_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A fake server answering as an old (text ``/version``, no PATCH) or a current release."""
    with fake_toxiproxy(tmp_path / "server.log", request.param) as server:
        yield request.param, server.url


def test_health_reads_the_version_of_old_and_current_servers(
    release_server: tuple[str, str],
) -> None:
    version, url = release_server
    adapter = ToxiproxyAdapter({"url": url})
    try:
        health = adapter.health()
    finally:
        adapter.close()
    assert health.ok and health.version == version
    assert set(health.faults) == set(adapter.capabilities.faults)


def test_down_and_its_recovery_work_on_old_and_current_servers(
    release_server: tuple[str, str], upstream: Upstream
) -> None:
    _, url = release_server
    adapter = ToxiproxyAdapter({"url": url})
    try:
        with httpx.Client(base_url=url, timeout=10) as api:
            body = {"name": "db", "listen": "127.0.0.1:0", "upstream": upstream.address}
            assert api.post("/proxies", json=body).status_code == 201
            target = adapter.discover("down", {"names": ["db"]})[0]
            execution = _execution("down", target)
            data, observation = adapter.inject(execution)
            assert observation.state is Observed.INJECTED
            assert api.get("/proxies/db").json()["enabled"] is False
            adapter.recover(Handle(execution, data))
            assert api.get("/proxies/db").json()["enabled"] is True
    finally:
        adapter.close()


# -- params Toxiproxy reads as integers --------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params", "field"),
    [
        ("latency", {"latency": "100"}, "latency"),
        ("latency", {"latency": 1.7}, "latency"),
        ("latency", {"jitter": True}, "jitter"),
        ("latency", {"latency": 2**63}, "latency"),
        ("latency", {"latency": -1}, "latency"),
        ("latency", {"toxicity": "0.5"}, "toxicity"),
        ("latency", {"toxicity": 1.5}, "toxicity"),
        ("latency", {"toxicity": float("nan")}, "toxicity"),
        ("latency", {"stream": "sideways"}, "stream"),
        ("bandwidth", {"rate": "fast"}, "rate"),
        ("slicer", {"delay": 0.5}, "delay"),
    ],
)
def test_values_toxiproxy_cannot_read_are_a_typed_error_naming_the_field(
    adapter: ToxiproxyAdapter,
    api: httpx.Client,
    proxy: ProxyInfo,
    fault: str,
    params: dict[str, Any],
    field: str,
) -> None:
    target = _target(adapter, proxy)
    # the adapter refuses them itself, in validate and when called straight with them
    with pytest.raises(InvalidInput) as refused:
        adapter.validate(fault, params, {"names": [proxy.name]})
    assert refused.value.field == ["params", field]
    execution = Execution(
        id=f"bad-{uuid.uuid4().hex[:6]}", fault=fault, params=params, target=target
    )
    with pytest.raises(InvalidInput) as refused:
        adapter.inject(execution)
    assert refused.value.field == ["params", field]
    assert _toxics(api, proxy.name) == {}
    # and the hub's own validation refuses them before any adapter is asked
    with pytest.raises(InvalidInput) as refused:
        catalog.load().get(f"toxiproxy/{fault}").validate_params(params)
    assert refused.value.field == ["params", field]


def test_a_whole_float_is_sent_as_the_integer_it_is(
    adapter: ToxiproxyAdapter, api: httpx.Client, proxy: ProxyInfo
) -> None:
    execution = _execution("latency", _target(adapter, proxy), latency=250.0)
    adapter.inject(execution)
    try:
        (toxic,) = _toxics(api, proxy.name).values()
        assert toxic["attributes"]["latency"] == 250
    finally:
        adapter.recover(Handle(execution, None))
