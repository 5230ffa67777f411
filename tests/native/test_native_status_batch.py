"""``POST /v1/status/batch`` (protocol v1.1): the status of many executions in one call, each
answered and its lease renewed exactly as ``/v1/status`` does, so the hub's watch asks an
agent once per tick instead of once per run. The single call stays for older hubs."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from native_peers import inject, observe

PROBLEM = "application/problem+json"


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _script(api: httpx.Client, eid: str, marker: Path) -> None:
    inject(
        api,
        eid,
        "host-script",
        {},
        {
            "script": "mark.sh",
            "args": [str(marker)],
            "recover_script": "unmark.sh",
            "recover_args": [str(marker)],
        },
    )


def _batch(api: httpx.Client, *execution_ids: str) -> list[dict[str, Any]]:
    answer = api.post(
        "/v1/status/batch", json={"items": [{"execution_id": e} for e in execution_ids]}
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _lease_left(api: httpx.Client, eid: str) -> float:
    live = api.get("/v1/executions").json()["executions"]
    return float(next(e["lease_remaining_seconds"] for e in live if e["execution_id"] == eid))


@pytest.fixture
def live(api: httpx.Client, tmp_path: Path):
    """Executions this test injects (host scripts writing a marker), recovered at the end."""
    made: list[str] = []

    def make() -> str:
        eid = _id("batch")
        _script(api, eid, tmp_path / eid)
        made.append(eid)
        return eid

    yield make
    for eid in made:
        api.post("/v1/recover", json={"execution_id": eid})


def test_describe_advertises_the_batch_call_and_the_protocol_revision(api):
    body = api.get("/v1/describe").json()
    assert body["protocol"] == "v1" and body["protocol_version"] == "1.1"
    assert body["features"] == {"batch_status": True}


def test_a_batch_answers_each_execution_in_order_as_status_does(api, live):
    first, second, ended = live(), live(), live()
    observe(api, "recover", ended)

    items = _batch(api, first, "never-injected-here", second, ended)

    assert [i["execution_id"] for i in items] == [first, "never-injected-here", second, ended]
    assert [i["observation"]["phase"] for i in items] == [
        "injected",
        "recovered",  # nothing of an unknown execution is active here, as /v1/status says
        "injected",
        "recovered",
    ]
    for item in items:
        single = observe(api, "status", item["execution_id"])
        assert item["observation"]["phase"] == single["phase"]


def test_a_batch_renews_every_lease_it_asks_about(api, live):
    first, second = live(), live()
    time.sleep(1.0)  # so that a renewed lease is told from one left as it was
    before = {e: _lease_left(api, e) for e in (first, second)}

    _batch(api, first, second)

    assert all(_lease_left(api, e) > before[e] for e in (first, second))


def test_an_empty_batch_is_answered_with_no_items(api):
    assert _batch(api) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, ["items"]),
        ({"items": "all of them"}, ["items"]),
        ({"items": [{"execution_id": f"e{i}"} for i in range(501)]}, ["items"]),
        (
            {"items": [{"execution_id": "ok"}, {"execution_id": "a b"}]},
            ["items", "1", "execution_id"],
        ),
        ({"items": [{"execution_id": "ok", "lease": 5}]}, ["items", "0", "lease"]),
        ({"items": [{"execution_id": "a"}, {"execution_id": "a"}]}, ["items", "1", "execution_id"]),
        ({"items": [], "renew": False}, ["renew"]),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(api, body, field):
    answer = api.post("/v1/status/batch", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem = answer.json()
    assert problem["type"] == "invalid-input" and problem["field"] == field


def test_a_refused_batch_renews_nothing(api, live):
    eid = live()
    time.sleep(1.0)
    before = _lease_left(api, eid)
    body = {"items": [{"execution_id": eid}, {"execution_id": eid}]}
    assert api.post("/v1/status/batch", json=body).status_code == 422
    assert _lease_left(api, eid) <= before


def test_the_single_status_call_stays(api, live):
    eid = live()
    assert observe(api, "status", eid)["phase"] == "injected"


def test_an_execution_that_cannot_be_answered_is_its_problem_and_the_others_are_answered(
    fresh_injector, tmp_path
):
    inj = fresh_injector.start()
    with inj.client() as api:
        broken, fine = _id("broken"), _id("fine")
        for eid in (broken, fine):
            _script(api, eid, tmp_path / eid)
        # the broken one's record can no longer be saved: renewing its lease fails
        digest = hashlib.sha256(broken.encode()).hexdigest()[:32]
        blocker = inj.state_dir / "executions" / f"{digest}.tmp"
        blocker.mkdir()
        try:
            items = _batch(api, broken, fine)
        finally:
            blocker.rmdir()
            for eid in (broken, fine):
                api.post("/v1/recover", json={"execution_id": eid})

    assert [i["execution_id"] for i in items] == [broken, fine]
    assert "observation" not in items[0]
    problem = items[0]["error"]
    assert problem["type"] == "unavailable" and problem["status"] == 503
    assert broken in problem["detail"]
    assert items[1]["observation"]["phase"] == "injected"
