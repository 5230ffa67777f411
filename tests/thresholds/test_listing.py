"""The list of threshold searches through GraphQL (the console's list page reads it): newest
first, a page at a time, filtered by phase, readable by a viewer; an unknown phase is refused
naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chaoshub.store import db
from chaoshub.store.models import ThresholdSearch
from tests.support.api_server import Hub, serve
from tests.thresholds.documents import search_document

LIST = """query($first: Int, $after: String, $phase: [String!]) {
  thresholdSearches(first: $first, after: $after, phase: $phase) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name phase param trials { magnitude outcome } result { heldMax brokeMin } } } } }"""


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with serve(tmp_path) as h:
        try:
            yield h
        finally:
            db.dispose_all()


def store(hub: Hub, name: str, phase: str, minutes_ago: int) -> str:
    """A search as the driver leaves it: its trials, and a result once it ended."""
    ended = phase in ("completed", "aborted", "failed")
    with hub.runtime.session() as s:
        row = ThresholdSearch(
            name=name,
            document=search_document(name=name),
            phase=phase,
            trials=[{"magnitude": 0, "outcome": "held", "workflowRunId": None, "slo": []}],
            reasons=[],
            created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
            result={
                "found": False,
                "heldMax": 0.0,
                "brokeMin": None,
                "noisy": [],
                "message": "only one trial",
                "trials": 1,
                "expectedTrials": 9,
            }
            if ended
            else None,
        )
        s.add(row)
        s.flush()
        return row.id


def listed(hub: Hub, token: str | None = None, **variables: Any) -> dict[str, Any]:
    answer = hub.gql(LIST, **({"token": token} if token else {}), **variables)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert not body.get("errors"), body
    return body["data"]["thresholdSearches"]  # type: ignore[no-any-return]


def test_searches_are_listed_newest_first_a_page_at_a_time_and_by_phase(hub: Hub) -> None:
    oldest = store(hub, "oldest", "completed", 30)
    middle = store(hub, "middle", "aborted", 20)
    newest = store(hub, "newest", "running", 10)

    first = listed(hub, first=2)
    assert first["totalCount"] == 3
    assert [e["node"]["id"] for e in first["edges"]] == [newest, middle]
    assert first["pageInfo"]["hasNextPage"] is True
    node = first["edges"][0]["node"]
    assert node["param"] == "latency" and node["trials"] == [{"magnitude": 0, "outcome": "held"}]
    assert node["result"] is None  # running: no result yet
    assert first["edges"][1]["node"]["result"] == {"heldMax": 0.0, "brokeMin": None}

    rest = listed(hub, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == [oldest]
    assert rest["pageInfo"]["hasNextPage"] is False

    ended = listed(hub, phase=["completed", "aborted"])
    assert [e["node"]["name"] for e in ended["edges"]] == ["middle", "oldest"]
    assert ended["totalCount"] == 2

    viewer, _ = hub.token(role="viewer")
    assert listed(hub, token=viewer)["totalCount"] == 3


def test_an_unknown_phase_is_refused_naming_the_field(hub: Hub) -> None:
    answer = hub.gql(LIST, phase=["sideways"]).json()
    (error,) = answer["errors"]
    assert error["extensions"]["field"] == ["phase"], error
    assert "sideways" in error["message"]
