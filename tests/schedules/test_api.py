"""Schedules through GraphQL on a real hub: save, read, change, pause, resume and delete
them, each audited; see the next fire times of a saved or an unsaved timetable; bad input
is refused with a typed error naming the field, and nothing is stored."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.schedules.api import (
    DELETE_SCHEDULE,
    DELETE_WORKFLOW,
    PAUSE_SCHEDULE,
    RESUME_SCHEDULE,
    UPDATE_SCHEDULE,
    create,
    wait_workflow,
)
from tests.workflows.hub import Hub

NEXT = """query($id: ID, $cron: String, $tz: String!, $blackouts: JSON, $count: Int!) {
  nextFireTimes(id: $id, cron: $cron, timeZone: $tz, blackouts: $blackouts, count: $count) {
    __typename ... on FireTimes { times } ... on Error { code message field } } }"""
AUDIT = (
    """query($action: String!) { auditLog(action: $action, first: 5) { action subject result } }"""
)


def audited(hub: Hub, action: str, subject: str) -> bool:
    return any(
        e["subject"] == subject and e["result"] == "ok"
        for e in hub.gql(AUDIT, action=action)["auditLog"]
    )


def test_a_schedule_is_saved_read_changed_paused_resumed_and_deleted(hub: Hub) -> None:
    flow = wait_workflow(hub, 1)
    try:
        saved = create(
            hub,
            name="nightly-drill",
            workflowId=flow,
            cron="0 3 * * 1-5",
            timeZone="Europe/Paris",
            blackouts=[{"days": ["fri"]}],
        )
        assert saved["__typename"] == "Schedule", saved
        assert saved["concurrencyPolicy"] == "forbid"
        assert saved["startingDeadlineSeconds"] == 60
        assert saved["enabled"] and saved["targetName"].startswith("sched-wait-")
        assert saved["createdBy"] == "bootstrap-admin"
        sid = saved["id"]
        assert audited(hub, "createSchedule", "nightly-drill")

        listed = hub.gql("{ schedules { id name } }")["schedules"]
        assert {"id": sid, "name": "nightly-drill"} in listed
        times = hub.gql("query($id: ID!) { schedule(id: $id) { nextFireTimes(count: 3) } }", id=sid)
        # 03:00 Paris, Monday to Thursday (Fridays are blacked out)
        paris = [
            datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Paris"))
            for t in times["schedule"]["nextFireTimes"]
        ]
        assert len(paris) == 3
        assert all((p.hour, p.minute) == (3, 0) and p.weekday() in (0, 1, 2, 3) for p in paris)

        changed = hub.gql(
            UPDATE_SCHEDULE,
            **{"in": {"id": sid, "cron": "@every 5m", "concurrencyPolicy": "allow"}},
        )["updateSchedule"]
        assert (changed["cron"], changed["concurrencyPolicy"]) == ("@every 5m", "allow")
        assert changed["timeZone"] == "Europe/Paris", "a field left out was changed"
        assert audited(hub, "updateSchedule", "nightly-drill")

        paused = hub.gql(PAUSE_SCHEDULE, id=sid, reason="release freeze")["pauseSchedule"]
        assert not paused["enabled"]
        assert paused["pausedReason"] == "paused by bootstrap-admin: release freeze"
        assert audited(hub, "pauseSchedule", "nightly-drill")
        resumed = hub.gql(RESUME_SCHEDULE, id=sid)["resumeSchedule"]
        assert resumed["enabled"] and resumed["pausedReason"] == ""
        assert audited(hub, "resumeSchedule", "nightly-drill")

        gone = hub.gql(DELETE_SCHEDULE, id=sid)["deleteSchedule"]
        assert gone == {"__typename": "Deleted", "id": sid}
        assert audited(hub, "deleteSchedule", "nightly-drill")
        assert hub.gql("query($id: ID!) { schedule(id: $id) { id } }", id=sid)["schedule"] is None
    finally:
        for s in hub.gql("{ schedules { id name } }")["schedules"]:
            if s["name"] == "nightly-drill":
                hub.gql(DELETE_SCHEDULE, id=s["id"])
        hub.gql(DELETE_WORKFLOW, id=flow)


def test_next_fire_times_of_a_timetable_not_saved_yet(hub: Hub) -> None:
    answer = hub.gql(NEXT, cron="30 2 * * *", tz="America/New_York", count=3)["nextFireTimes"]
    assert answer["__typename"] == "FireTimes"
    assert len(answer["times"]) == 3
    offsets = {datetime.fromisoformat(t).utcoffset() for t in answer["times"]}
    assert offsets == {datetime.fromisoformat("2026-01-01T00:00:00+00:00").utcoffset()}
    hours = {datetime.fromisoformat(t).hour for t in answer["times"]}
    assert hours <= {6, 7}, "02:30 New York is 06:30 or 07:30 UTC"
    refused = hub.gql(NEXT, cron="0 25 * * *", tz="UTC", count=3)["nextFireTimes"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", ["cron"])
    refused = hub.gql(NEXT, cron="@hourly", tz="Nowhere/City", count=3)["nextFireTimes"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", ["timeZone"])
    refused = hub.gql(NEXT, cron="@hourly", tz="UTC", count=0)["nextFireTimes"]
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", ["count"])


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"cron": "every tuesday"}, "INVALID_INPUT", ["cron"]),
        ({"cron": "@every 10 minutes"}, "INVALID_INPUT", ["cron"]),
        ({"timeZone": "Europe/Atlantis"}, "INVALID_INPUT", ["timeZone"]),
        (
            {"blackouts": [{"start": "22:00", "end": "6am"}]},
            "INVALID_INPUT",
            ["blackouts", "0", "end"],
        ),
        ({"blackouts": [{"days": ["someday"]}]}, "INVALID_INPUT", ["blackouts", "0", "days", "0"]),
        ({"concurrencyPolicy": "queue"}, "INVALID_INPUT", ["concurrencyPolicy"]),
        ({"startingDeadlineSeconds": 0}, "INVALID_INPUT", ["startingDeadlineSeconds"]),
        ({"workflowId": "nope"}, "NOT_FOUND", ["workflowId"]),
        ({"experimentId": "nope", "workflowId": None}, "NOT_FOUND", ["experimentId"]),
        ({"experimentId": "also"}, "INVALID_INPUT", ["workflowId"]),
        ({"name": ""}, "INVALID_INPUT", ["name"]),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    hub: Hub, fields: dict[str, object], code: str, field: list[str]
) -> None:
    flow = wait_workflow(hub, 1)
    try:
        before = len(hub.gql("{ schedules { id } }")["schedules"])
        answer = create(hub, **{"workflowId": flow, "cron": "@hourly", **fields})
        assert (answer["__typename"], answer["code"], answer["field"]) == (
            {"INVALID_INPUT": "InvalidInputError", "NOT_FOUND": "NotFoundError"}[code],
            code,
            field,
        ), answer
        assert len(hub.gql("{ schedules { id } }")["schedules"]) == before
    finally:
        hub.gql(DELETE_WORKFLOW, id=flow)


def test_an_update_with_bad_input_changes_nothing(hub: Hub) -> None:
    flow = wait_workflow(hub, 1)
    saved = create(hub, workflowId=flow, cron="@hourly")
    try:
        answer = hub.gql(
            UPDATE_SCHEDULE,
            **{"in": {"id": saved["id"], "cron": "@daily", "timeZone": "Mars/Base"}},
        )["updateSchedule"]
        assert (answer["code"], answer["field"]) == ("INVALID_INPUT", ["timeZone"])
        kept = hub.gql("query($id: ID!) { schedule(id: $id) { cron timeZone } }", id=saved["id"])
        assert kept["schedule"] == {"cron": "@hourly", "timeZone": "UTC"}
    finally:
        hub.gql(DELETE_SCHEDULE, id=saved["id"])
        hub.gql(DELETE_WORKFLOW, id=flow)
