"""``Adapter.status_many`` for the ``http`` and ``native`` adapters: the hub's watch asks each
protocol-v1 server once for all the executions it holds there (``/v1/status/batch``), and a
server from before that call is asked one ``/v1/status`` per execution, as before."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from old_protocol_server import TOKEN, old_server

from chaoshub.adapters.http import HttpAdapter
from chaoshub.adapters.native import NativeAdapter
from chaoshub.contract import Adapter, Execution, Handle, Observation, Observed, Target
from chaoshub.errors import BackendUnavailable, HubError, NotFound

DEAD_URL = "http://127.0.0.1:9"


def _script(target: str, marker: Path) -> Execution:
    return Execution(
        id=f"many-{uuid.uuid4().hex[:8]}",
        fault="host-script",
        params={
            "script": "mark.sh",
            "args": [str(marker)],
            "recover_script": "unmark.sh",
            "recover_args": [str(marker)],
        },
        target=Target(id=target, label=target),
        lease_seconds=60,
    )


def _leases(adapter: HttpAdapter | NativeAdapter, agent: str = "") -> dict[str, float]:
    listed = adapter.active_executions()
    return {
        e["execution_id"]: float(e["lease_remaining_seconds"])
        for e in listed
        if not agent or e.get("agent") == agent
    }


def _state(answer: Observation | HubError) -> Observed:
    assert isinstance(answer, Observation), answer
    return answer.state


@pytest.fixture
def http_adapter(injector) -> Iterator[HttpAdapter]:
    adapter = HttpAdapter({"url": injector.url, "token": injector.token}, backend="inj")
    yield adapter
    adapter.close()


@pytest.fixture
def native_adapter(injector) -> Iterator[NativeAdapter]:
    agents = [
        {"name": "local", "url": injector.url, "token": injector.token, "online": True},
        {"name": "asleep", "url": DEAD_URL, "token": "x", "online": False},
        {"name": "gone", "url": DEAD_URL, "token": "x", "online": True},
    ]
    adapter = NativeAdapter({"agents": agents, "timeout": 2}, backend="native")
    yield adapter
    adapter.close()


@pytest.fixture
def injected(tmp_path: Path):
    """Inject host scripts through an adapter; each is recovered when the test ends."""
    made: list[tuple[Adapter, Handle]] = []

    def make(adapter: Adapter, target: str) -> Handle:
        execution = _script(target, tmp_path / uuid.uuid4().hex)
        data, _ = adapter.inject(execution)
        made.append((adapter, Handle(execution, data)))
        return made[-1][1]

    yield make
    for adapter, handle in made:
        try:
            adapter.recover(handle)
        except HubError:
            pass


def test_the_http_adapter_asks_the_batch_call_and_renews_every_lease(http_adapter, injected):
    first, second = injected(http_adapter, "host"), injected(http_adapter, "host")
    time.sleep(1.0)  # so that a renewed lease is told from one left as it was
    before = _leases(http_adapter)
    never = Handle(_script("host", Path("/nonexistent")), None)

    answers = http_adapter.status_many([first, never, second])

    assert http_adapter.client.batch_status is True  # the server answered the batch call
    assert {k: v.state for k, v in answers.items() if isinstance(v, Observation)} == {
        first.execution.id: Observed.INJECTED,
        second.execution.id: Observed.INJECTED,
        never.execution.id: Observed.RECOVERED,  # nothing of it holds there, as status says
    }
    after = _leases(http_adapter)
    assert all(after[h.execution.id] > before[h.execution.id] for h in (first, second))


def test_describe_tells_the_http_adapter_the_server_has_the_batch_call(http_adapter):
    assert http_adapter.client.batch_status is None
    http_adapter.describe()
    assert http_adapter.client.batch_status is True


def test_an_execution_asked_twice_is_answered_once(http_adapter, injected):
    handle = injected(http_adapter, "host")
    answers = http_adapter.status_many([handle, handle])
    assert list(answers) == [handle.execution.id]
    assert isinstance(answers[handle.execution.id], Observation)


def test_an_unreachable_server_is_the_retry_error_for_each_execution():
    adapter = HttpAdapter({"url": DEAD_URL, "token": "x", "timeout": 2}, backend="gone")
    try:
        handles = [Handle(_script("host", Path(f"/x{i}")), None) for i in range(2)]
        answers = adapter.status_many(handles)
    finally:
        adapter.close()
    assert set(answers) == {h.execution.id for h in handles}
    for handle in handles:
        error = answers[handle.execution.id]
        assert isinstance(error, BackendUnavailable) and error.target == "host"


def test_the_native_adapter_asks_each_agent_once_and_names_what_it_cannot_ask(
    native_adapter, injected
):
    first = injected(native_adapter, "local/host")
    second = injected(native_adapter, "local/host")
    time.sleep(1.0)
    before = _leases(native_adapter, "local")
    offline = Handle(_script("asleep/host", Path("/x")), None)
    unknown = Handle(_script("nobody/host", Path("/x")), None)
    unreachable = Handle(_script("gone/host", Path("/x")), None)

    answers = native_adapter.status_many([first, offline, unknown, unreachable, second])

    assert _state(answers[first.execution.id]) is Observed.INJECTED
    assert _state(answers[second.execution.id]) is Observed.INJECTED
    assert isinstance(answers[offline.execution.id], BackendUnavailable)
    assert isinstance(answers[unknown.execution.id], NotFound)
    assert isinstance(answers[unreachable.execution.id], BackendUnavailable)
    assert answers[unreachable.execution.id].target == "gone/host"
    after = _leases(native_adapter, "local")
    assert all(after[h.execution.id] > before[h.execution.id] for h in (first, second))


@pytest.mark.parametrize("batch", ["absent", "wrong-method", "not-implemented"])
def test_a_server_without_the_batch_call_is_asked_once_per_execution(batch):
    with old_server({"held-1", "held-2"}, batch) as server:
        adapter = HttpAdapter({"url": server.url, "token": TOKEN}, backend="old")
        try:
            ids = ["held-1", "never-there", "held-2"]
            handles = [Handle(Execution(e, "x", {}, Target("host", "host")), None) for e in ids]
            answers = adapter.status_many(handles)
            again = adapter.status_many(handles)
        finally:
            adapter.close()

    for found in (answers, again):
        assert {k: v.state for k, v in found.items() if isinstance(v, Observation)} == {
            "held-1": Observed.INJECTED,
            "never-there": Observed.RECOVERED,
            "held-2": Observed.INJECTED,
        }
    assert server.calls("/v1/status/batch") == 1  # asked once, then remembered
    assert server.calls("/v1/status") == 6


def test_a_server_without_the_batch_call_is_remembered_by_the_next_adapter():
    # the hub makes an adapter per step of a run: the next one must not ask again
    with old_server({"held-1"}) as server:
        handle = Handle(Execution("held-1", "x", {}, Target("host", "host")), None)
        for _ in range(3):
            adapter = HttpAdapter({"url": server.url, "token": TOKEN}, backend="old")
            try:
                assert _state(adapter.status_many([handle])["held-1"]) is Observed.INJECTED
            finally:
                adapter.close()
    assert server.calls("/v1/status/batch") == 1 and server.calls("/v1/status") == 3


def test_a_server_whose_describe_lacks_the_feature_is_never_asked_the_batch_call():
    with old_server({"held-1"}) as server:
        adapter = HttpAdapter({"url": server.url, "token": TOKEN}, backend="old")
        try:
            adapter.describe()
            handle = Handle(Execution("held-1", "x", {}, Target("host", "host")), None)
            answers = adapter.status_many([handle])
        finally:
            adapter.close()
    assert _state(answers["held-1"]) is Observed.INJECTED
    assert server.calls("/v1/status/batch") == 0 and server.calls("/v1/status") == 1


def test_the_native_adapter_falls_back_per_agent(injector, injected):
    with old_server({"held-1"}) as server:
        agents = [
            {"name": "new", "url": injector.url, "token": injector.token, "online": True},
            {"name": "old", "url": server.url, "token": TOKEN, "online": True},
        ]
        adapter = NativeAdapter({"agents": agents}, backend="native")
        try:
            fresh = injected(adapter, "new/host")
            held = Handle(Execution("held-1", "x", {}, Target("old/host", "host on old")), None)
            answers = adapter.status_many([fresh, held])
        finally:
            adapter.close()
    assert _state(answers[fresh.execution.id]) is Observed.INJECTED
    assert _state(answers["held-1"]) is Observed.INJECTED
    assert server.calls("/v1/status/batch") == 1 and server.calls("/v1/status") == 1


@pytest.fixture
def own_adapter(fresh_injector) -> Iterator[HttpAdapter]:
    """An http adapter in front of an injector of the test's own."""
    inj = fresh_injector.start()
    adapter = HttpAdapter({"url": inj.url, "token": inj.token}, backend="own")
    yield adapter
    adapter.close()


def test_an_execution_the_server_cannot_answer_is_its_error_and_the_others_stand(
    fresh_injector, own_adapter, injected
):
    broken, fine = injected(own_adapter, "host"), injected(own_adapter, "host")
    # the broken one's record can no longer be saved: renewing its lease fails there
    digest = hashlib.sha256(broken.execution.id.encode()).hexdigest()[:32]
    blocker = fresh_injector.state_dir / "executions" / f"{digest}.tmp"
    blocker.mkdir()
    try:
        answers = own_adapter.status_many([broken, fine])
    finally:
        blocker.rmdir()

    error = answers[broken.execution.id]
    assert isinstance(error, BackendUnavailable) and error.target == "host"
    assert _state(answers[fine.execution.id]) is Observed.INJECTED
