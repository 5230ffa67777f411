"""Network faults in real containers' namespaces: iptables loss measured between two
containers on an internal network, tbf seen from outside, netem refused where the kernel
has none, and recovery deleting exactly what the execution added."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from typing import Any

import docker
import pytest
from docker_peers import TOOLS, remove_container, state

from chaoshub import catalog as catalog_mod
from chaoshub.adapters.docker_engine import DockerAdapter, netns
from chaoshub.adapters.docker_engine.network import qdisc_handle, rule_comment
from chaoshub.contract import Execution, Handle, Observed, Target
from chaoshub.errors import RejectedByTool

PINGS = 200


@pytest.fixture(scope="module")
def catalog() -> catalog_mod.Catalog:
    return catalog_mod.load()


def _execution(
    adapter: DockerAdapter, catalog: catalog_mod.Catalog, fault: str, container: Any, **params: Any
) -> Execution:
    full = catalog.get(f"docker/{fault}").validate_params(params)
    adapter.validate(fault, full, {"names": [container.name]})
    [target] = adapter.discover(fault, {"names": [container.name]})
    return Execution(
        id=f"test-{uuid.uuid4().hex[:10]}",
        fault=fault,
        params=full,
        target=target,
        duration_seconds=60,
    )


def _in_netns(client: docker.DockerClient, container: Any, *argv: str) -> str:
    """Run a host tool in the container's network namespace: a look from outside the adapter."""
    pid = str(state(client, container.id)["Pid"])
    return subprocess.run(
        ["nsenter", "-t", pid, "-n", "--", *argv], check=True, capture_output=True, text=True
    ).stdout


def _loss_percent(client_container: Any, address: str, count: int = PINGS) -> float:
    result = client_container.exec_run(
        ["ping", "-q", "-c", str(count), "-i", "0.01", "-W", "1", address]
    )
    match = re.search(rb"(\d+) packets transmitted, (\d+) (?:packets )?received", result.output)
    assert match, result.output
    sent, received = int(match[1]), int(match[2])
    return 100.0 * (sent - received) / sent


@pytest.fixture
def pair(make_container: Any, internal_network: str) -> tuple[Any, Any, str]:
    """A server and a client on an internal network; the client may send ICMP."""
    server = make_container("server", network=internal_network)
    client_container = make_container("client", network=internal_network, cap_add=["NET_RAW"])
    address = server.attrs["NetworkSettings"]["Networks"][internal_network]["IPAddress"]
    return server, client_container, address


def test_iptables_loss_drops_about_the_asked_share_and_recovery_restores(
    adapter: DockerAdapter, catalog: catalog_mod.Catalog, pair: tuple[Any, Any, str]
) -> None:
    server, client_container, address = pair
    assert _loss_percent(client_container, address, 20) == 0.0

    execution = _execution(
        adapter, catalog, "network-loss-iptables", server, percent=50, protocol="icmp"
    )
    data, observation = adapter.inject(execution)
    assert observation.state is Observed.INJECTED and observation.metrics["loss_percent"] == 50.0
    during = _loss_percent(client_container, address)
    # 200 pings at p=0.5: 25..75 % is more than seven standard deviations wide
    assert 25.0 <= during <= 75.0, f"measured {during}% loss"

    assert adapter.recover(Handle(execution, data)).state is Observed.RECOVERED
    assert _loss_percent(client_container, address, 20) == 0.0


def test_iptables_inject_is_idempotent_and_recovery_deletes_only_its_own_rules(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    foreign = [
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "9",
        "-m",
        "comment",
        "--comment",
        "someone-else",
        "-j",
        "DROP",
    ]
    _in_netns(client, container, "iptables", "-w", "5", "-A", *foreign)

    execution = _execution(adapter, catalog, "network-loss-iptables", container, direction="both")
    adapter.inject(execution)
    adapter.inject(execution)
    rules = _in_netns(client, container, "iptables", "-S")
    assert rules.count(rule_comment(execution.id)) == 2, rules  # one INPUT, one OUTPUT, not four

    recovered = adapter.recover(Handle(execution, None))
    assert recovered.state is Observed.RECOVERED
    rules = _in_netns(client, container, "iptables", "-S")
    assert rule_comment(execution.id) not in rules
    assert "someone-else" in rules


def test_iptables_loss_through_nsenter_on_the_docker_host(
    adapter_config: dict[str, Any],
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    nsenter = DockerAdapter(
        {**adapter_config, "network_helper": "nsenter"}, backend="podman-nsenter"
    )
    faults = nsenter.health().faults
    assert faults["network-loss-iptables"].available and faults["network-rate"].available
    container = make_container()
    execution = _execution(
        nsenter, catalog, "network-loss-iptables", container, mode="nth", every=4
    )
    _, observation = nsenter.inject(execution)
    assert observation.metrics["loss_percent"] == 25.0
    assert "--every 4" in _in_netns(client, container, "iptables", "-S", "INPUT")
    nsenter.recover(Handle(execution, None))
    assert rule_comment(execution.id) not in _in_netns(client, container, "iptables", "-S", "INPUT")


def test_rate_refuses_an_interface_whose_root_qdisc_is_someone_elses(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    _in_netns(client, container, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "77:", "tbf",
              "rate", "2mbit", "burst", "32kbit", "latency", "50ms")  # fmt: skip
    execution = _execution(adapter, catalog, "network-rate", container)
    with pytest.raises(RejectedByTool, match="did not add"):
        adapter.inject(execution)
    adapter.recover(Handle(execution, None))
    assert "tbf 77:" in _in_netns(client, container, "tc", "qdisc", "show", "dev", "eth0")


def _kernel_has_netem() -> bool:
    probe = [
        "unshare",
        "--net",
        "--",
        "tc",
        "qdisc",
        "add",
        "dev",
        "lo",
        "root",
        "netem",
        "delay",
        "1ms",
    ]
    return subprocess.run(probe, capture_output=True).returncode == 0


NETEM = ("network-delay", "network-loss", "network-duplicate", "network-corrupt")


def test_netem_faults_follow_the_kernel(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    faults = adapter.health().faults
    has_netem = _kernel_has_netem()
    for fault in NETEM:
        execution = _execution(adapter, catalog, fault, container)
        if not has_netem:
            assert not faults[fault].available and "sch_netem" in faults[fault].reason
            with pytest.raises(RejectedByTool, match="sch_netem"):
                adapter.inject(execution)
            assert "netem" not in _in_netns(client, container, "tc", "qdisc", "show")
            continue
        assert faults[fault].available
        adapter.inject(execution)
        assert "netem" in _in_netns(client, container, "tc", "qdisc", "show", "dev", "eth0")
        adapter.recover(Handle(execution, None))
        assert "netem" not in _in_netns(client, container, "tc", "qdisc", "show", "dev", "eth0")


def test_network_status_after_the_container_stopped_is_recovered(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    execution = _execution(adapter, catalog, "network-loss-iptables", container)
    adapter.inject(execution)
    client.api.kill(container.id)
    observation = adapter.recover(Handle(execution, None))
    assert observation.state is Observed.RECOVERED
    assert any("network namespace" in m for m in observation.messages)


def test_a_container_on_the_host_network_is_refused(
    adapter: DockerAdapter, catalog: catalog_mod.Catalog, make_container: Any
) -> None:
    container = make_container(network_mode="host")
    execution = _execution(adapter, catalog, "network-loss-iptables", container)
    with pytest.raises(RejectedByTool, match="host's network namespace"):
        adapter.inject(execution)


def test_rate_adds_a_tbf_qdisc_that_slows_a_download_until_recovery(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    internal_network: str,
    client: docker.DockerClient,
) -> None:
    serve = (
        "mkdir -p /www && dd if=/dev/zero of=/www/blob bs=1024 count=512 && httpd -f -p 80 -h /www"
    )
    server = make_container("httpd", network=internal_network, command=["sh", "-c", serve])
    client_container = make_container("wget", network=internal_network)
    url = (
        f"http://{server.attrs['NetworkSettings']['Networks'][internal_network]['IPAddress']}/blob"
    )

    def download_seconds() -> float:
        started = time.monotonic()
        result = client_container.exec_run(["wget", "-q", "-O", "/dev/null", url])
        assert result.exit_code == 0, result.output
        return time.monotonic() - started

    download_seconds()  # the server is up
    execution = _execution(adapter, catalog, "network-rate", server, rate_kbit=1000)
    data, _ = adapter.inject(execution)
    shown = _in_netns(client, server, "tc", "qdisc", "show", "dev", "eth0")
    assert f"qdisc tbf {qdisc_handle(execution.id)}: root" in shown and "rate 1Mbit" in shown
    _, again = adapter.inject(execution)
    assert "adopted" in again.native
    assert adapter.status(Handle(execution, data)).state is Observed.INJECTED
    limited = download_seconds()

    adapter.recover(Handle(execution, None))
    assert "tbf" not in _in_netns(client, server, "tc", "qdisc", "show", "dev", "eth0")
    free = download_seconds()
    # 512 KiB is 4.19 Mbit: at 1000 kbit/s it cannot arrive in less than about 4 s
    assert limited >= 3.5, f"{limited:.2f}s with the limit"
    assert free < limited, f"{free:.2f}s without the limit, {limited:.2f}s with it"


def test_without_a_helper_image_network_faults_are_unavailable_not_the_backend(
    adapter_config: dict[str, Any], catalog: catalog_mod.Catalog
) -> None:
    config = {**adapter_config, "helper_image": "localhost/chaoshub-no-such-image:1"}
    adapter = DockerAdapter(config, backend="no-helper")
    health = adapter.health()
    assert health.ok
    assert health.faults["container-pause"].available
    for fault in ("network-loss-iptables", "network-rate"):
        assert not health.faults[fault].available
        assert "chaoshub-no-such-image" in health.faults[fault].reason
    params = catalog.get("docker/network-loss-iptables").validate_params({})
    execution = Execution(
        id="no-helper", fault="network-loss-iptables", params=params, target=Target("x", "x")
    )
    with pytest.raises(RejectedByTool, match="not available"):
        adapter.inject(execution)


def test_iptables_loss_with_sources_drops_only_those_peers(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    pair: tuple[Any, Any, str],
    make_container: Any,
    internal_network: str,
) -> None:
    server, blocked, address = pair
    other = make_container("other", network=internal_network, cap_add=["NET_RAW"])
    blocked_ip = blocked.attrs["NetworkSettings"]["Networks"][internal_network]["IPAddress"]
    execution = _execution(
        adapter, catalog, "network-loss-iptables", server, percent=100, sources=[f"{blocked_ip}/32"]
    )
    adapter.inject(execution)
    try:
        assert _loss_percent(blocked, address, 20) == 100.0
        assert _loss_percent(other, address, 20) == 0.0
    finally:
        adapter.recover(Handle(execution, None))
    assert _loss_percent(blocked, address, 20) == 0.0


def _leaked_helper(client: docker.DockerClient, container: Any, execution_id: str) -> Any:
    """A helper as a worker killed mid-call leaves it: running, in the target's namespace."""
    return client.containers.run(
        TOOLS,
        ["sleep", "3600"],
        detach=True,
        network_mode=f"container:{container.id}",
        labels={"chaoshub.skip": "true", netns.HELPER_LABEL: execution_id},
    )


def test_recovery_removes_the_helpers_a_killed_worker_left(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    execution = _execution(adapter, catalog, "network-loss-iptables", container)
    adapter.inject(execution)
    leaked = _leaked_helper(client, container, execution.id)
    other = _leaked_helper(client, container, "another-execution")
    try:
        adapter.recover(Handle(execution, None))
        assert not client.containers.list(all=True, filters={"id": leaked.id})
        assert client.containers.list(filters={"id": other.id}), "another execution's is kept"
    finally:
        remove_container(client, leaked.id)
        remove_container(client, other.id)


def test_helpers_end_by_themselves_and_ended_ones_are_swept(
    adapter: DockerAdapter, make_container: Any, client: docker.DockerClient
) -> None:
    container = make_container()
    engine = adapter._engine()
    with engine.netns(container.id, "test-lifetime"):
        [helper] = client.api.containers(filters={"label": f"{netns.HELPER_LABEL}=test-lifetime"})
        attrs = client.api.inspect_container(helper["Id"])
    assert attrs["Config"]["Entrypoint"] == ["sleep", str(netns.HELPER_LIFETIME)]
    assert not client.containers.list(all=True, filters={"id": helper["Id"]})

    ended = _leaked_helper(client, container, "killed-worker")
    ended.kill()  # as it is once its lifetime is over
    with engine.netns(container.id, "test-next"):
        pass  # any later helper sweeps the ended ones first
    assert not client.containers.list(all=True, filters={"id": ended.id})


def test_a_helper_another_call_just_created_is_not_swept_and_a_stale_one_is(
    adapter: DockerAdapter,
    make_container: Any,
    client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Statuses of one backend run side by side (the watch's ``status_many``): a helper one
    call created and has not started yet is not an ended one for the next call's sweep."""
    container = make_container()
    about_to_start = client.containers.create(
        TOOLS,
        ["sleep", "3600"],
        network_mode=f"container:{container.id}",
        labels={"chaoshub.skip": "true", netns.HELPER_LABEL: "about-to-start"},
    )
    try:
        engine = adapter._engine()
        with engine.netns(container.id, "test-beside"):
            pass  # sweeps the ended helpers first
        assert client.containers.list(all=True, filters={"id": about_to_start.id})

        monkeypatch.setattr(netns, "CREATED_GRACE_SECONDS", 0.0)  # as if a minute had passed
        with engine.netns(container.id, "test-later"):
            pass
        assert not client.containers.list(all=True, filters={"id": about_to_start.id})
    finally:
        remove_container(client, about_to_start.id)


def test_removing_a_container_is_not_blocked_by_a_leaked_helper(
    adapter: DockerAdapter,
    catalog: catalog_mod.Catalog,
    make_container: Any,
    client: docker.DockerClient,
) -> None:
    container = make_container()
    leaked = _leaked_helper(client, container, "killed-worker")
    try:
        execution = _execution(adapter, catalog, "container-remove", container, confirm=True)
        adapter.inject(execution)
        assert not client.containers.list(all=True, filters={"id": container.id})
    finally:
        remove_container(client, leaked.id)
