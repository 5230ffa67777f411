"""The console's schedule pages against a real `chaoshub up` (its beat fires the schedules, its
local agent runs the faults): a schedule made from the workflow editor's "Schedule…" and one
made from the experiments list's, each with ``@every`` a few seconds, fire and show in the
schedule page's history with the runs they started; the form shows the next fire times as
the cron is typed and every refusal on the field the API names; pause, resume, edit and
delete from the schedule page; on a desktop and on a phone.

Screenshots go to ``artifacts/screenshots/schedule-*.png``."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.stack import wait_for
from tests.ui.conftest import goto, shot, sign_in
from tests.workflows.hub import CREATE, ERROR, Hub, running_hub

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

SCHEDULES = "{ schedules { id name enabled cron concurrencyPolicy workflowId experimentId } }"
HISTORY = """query($id: ID!) { schedule(id: $id) { enabled history(last: 100) {
  outcome reason workflowRunId runId } } }"""
DELETE_SCHEDULE = "mutation($id: ID!) { deleteSchedule(id: $id) { __typename } }"
CREATE_EXPERIMENT = f"""mutation($in: CreateExperimentInput!) {{ createExperiment(input: $in) {{
  __typename ... on Experiment {{ id name }} {ERROR} }} }}"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("ui-schedules-hub")) as h:
        try:
            yield h
        finally:
            for s in h.gql(SCHEDULES)["schedules"]:
                h.gql(DELETE_SCHEDULE, id=s["id"])
            h.quiet()


@pytest.fixture
def sleeper() -> Iterator[int]:
    """A real process for the experiment's fault to pause."""
    process = subprocess.Popen(["sleep", "600"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(10)


def saved_workflow(hub: Hub) -> dict[str, Any]:
    document = {
        "kind": "Workflow",
        "name": f"ui-sched-wait-{uuid.uuid4().hex[:6]}",
        "steps": [{"id": "settle", "wait": {"seconds": 1}}],
    }
    saved = hub.gql(CREATE, **{"in": {"document": document}})["createWorkflow"]
    assert saved["__typename"] == "Workflow", saved
    return saved  # type: ignore[no-any-return]


def fired(hub: Hub, schedule_id: str, key: str, at_least: int = 1) -> list[dict[str, Any]]:
    """Wait until the schedule fired ``at_least`` times; its fired ticks."""

    def ticks() -> list[dict[str, Any]] | None:
        history = hub.gql(HISTORY, id=schedule_id)["schedule"]["history"]
        done = [f for f in history if f["outcome"] == "fired" and f[key]]
        return done if len(done) >= at_least else None

    return wait_for(ticks, 60, 0.5, what=f"schedule {schedule_id} to fire {at_least} times")


def no_wider_than_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a 390px screen"


def times_of(form: Any) -> list[datetime]:
    texts = form.get_by_test_id("next-fire-time").all_inner_texts()
    year = datetime.now().year
    return [
        datetime.strptime(f"{year} {t.split(' (')[0].replace(',', '')}", "%Y %a %d %b %H:%M:%S")
        for t in texts
    ]


def test_a_schedule_made_in_the_workflow_editor_fires_and_shows_in_its_history(
    hub: Hub, page: Any
) -> None:
    flow = saved_workflow(hub)
    name = f"ui-every-{uuid.uuid4().hex[:6]}"
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflows/{flow['id']}/edit")
    page.get_by_test_id("schedule-workflow").click()
    form = page.get_by_test_id("schedule-form")
    expect(form).to_contain_text(f"Starts workflow {flow['name']}")
    form.get_by_test_id("schedule-name").fill(name)

    # a cron the hub cannot read is refused on the cron field as it is typed
    cron = form.get_by_test_id("schedule-cron")
    cron.fill("@every 5 parsecs")
    expect(form.get_by_test_id("next-fire-times")).to_have_attribute("data-valid", "false")
    expect(cron).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("@every needs a duration")
    cron.fill("0 3 * * 1-5")
    expect(form.get_by_test_id("next-fire-times")).to_have_attribute("data-valid", "true")
    expect(form.get_by_test_id("next-fire-time")).to_have_count(5)
    assert all(t.hour == 3 and t.minute == 0 for t in times_of(form)), times_of(form)

    # a blackout window with a wrong time is refused on that window's field
    form.get_by_test_id("add-blackout").click()
    window = form.locator('[data-testid="blackout"][data-index="0"]')
    window.get_by_label("Window 1 from").fill("25:00")
    window.get_by_label("Window 1 to").fill("04:00")
    expect(window.get_by_label("Window 1 from")).to_have_attribute("aria-invalid", "true")
    expect(window).to_contain_text("24-hour HH:MM")
    # fixed: no start on Mondays from 02:00 to 04:00, and the next fire times leave them out
    window.get_by_label("Window 1 from").fill("02:00")
    window.get_by_text("mon", exact=True).click()
    expect(form.get_by_test_id("next-fire-times")).to_have_attribute("data-valid", "true")
    expect(form.get_by_test_id("next-fire-time")).to_have_count(5)
    assert all(t.weekday() in (1, 2, 3, 4) for t in times_of(form)), times_of(form)
    shot(page, "schedule-form-1440")
    page.get_by_label("Remove window 1").click()

    # every 3 s: the next fire times are 3 s apart
    cron.fill("@every 3s")
    expect(form.get_by_test_id("next-fire-times")).to_have_attribute("data-valid", "true")
    expect(form.get_by_test_id("next-fire-time")).to_have_count(5)
    times = times_of(form)
    assert {(b - a).total_seconds() for a, b in pairwise(times)} == {3.0}

    # a deadline the API refuses is shown on its field, and nothing is saved
    deadline = form.get_by_test_id("schedule-deadline")
    deadline.fill("-5")
    form.get_by_test_id("save-schedule").click()
    expect(deadline).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_test_id("save-refused")).to_contain_text("startingDeadlineSeconds")
    assert not [s for s in hub.gql(SCHEDULES)["schedules"] if s["name"] == name]
    deadline.fill("30")
    form.get_by_test_id("save-schedule").click()
    expect(page).to_have_url(re.compile(r"/schedules/[0-9a-f]+$"))
    schedule_id = page.url.rsplit("/", 1)[1]
    view = page.get_by_test_id("schedule")
    expect(view).to_have_attribute("data-enabled", "true")
    saved = next(s for s in hub.gql(SCHEDULES)["schedules"] if s["id"] == schedule_id)
    assert saved["workflowId"] == flow["id"] and saved["cron"] == "@every 3s", saved

    # it fires; each start is in the history, one click from its workflow run (no reload)
    fired(hub, schedule_id, "workflowRunId", at_least=2)
    history = page.get_by_test_id("schedule-history")
    expect(
        history.locator('[data-testid="schedule-fire"][data-outcome="fired"]')
    ).not_to_have_count(0, timeout=15_000)
    expect(page.get_by_test_id("next-fire-time")).to_have_count(5)
    shot(page, "schedule-page-1440")

    # paused from its page: it says why, and nothing more fires
    page.get_by_test_id("pause-schedule").click()
    page.get_by_label("Reason").fill("maintenance")
    page.get_by_test_id("confirm-action").click()
    expect(view).to_have_attribute("data-enabled", "false")
    expect(page.get_by_test_id("paused-reason")).to_contain_text("maintenance")
    hub.quiet()
    count = len(hub.gql(HISTORY, id=schedule_id)["schedule"]["history"])
    page.wait_for_timeout(4000)
    assert len(hub.gql(HISTORY, id=schedule_id)["schedule"]["history"]) == count

    # edited: a new name and policy; resumed; the list shows it
    page.get_by_test_id("edit-schedule").click()
    form = page.get_by_test_id("schedule-form")
    form.get_by_test_id("schedule-name").fill(name + "-renamed")
    form.get_by_test_id("schedule-policy").get_by_text("allow").click()
    form.get_by_test_id("save-schedule").click()
    expect(form).to_have_count(0)
    expect(page.get_by_role("heading", name=name + "-renamed", exact=True)).to_be_visible()
    page.get_by_test_id("resume-schedule").click()
    expect(view).to_have_attribute("data-enabled", "true")
    saved = next(s for s in hub.gql(SCHEDULES)["schedules"] if s["id"] == schedule_id)
    assert saved["concurrencyPolicy"] == "allow" and saved["enabled"], saved

    goto(page, f"{hub.url}/schedules")
    row = page.locator(f'[data-testid="schedule-row"][data-schedule="{schedule_id}"]')
    expect(row).to_contain_text("@every 3s")
    expect(row.get_by_test_id("last-fired")).not_to_contain_text("never")
    shot(page, "schedule-list-1440")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    no_wider_than_the_phone(page)
    shot(page, "schedule-list-390")
    row.get_by_role("link", name=name + "-renamed").click()
    expect(page.get_by_test_id("schedule-history")).to_be_visible()
    page.wait_for_timeout(300)
    no_wider_than_the_phone(page)
    shot(page, "schedule-page-390")

    # deleted from its page
    page.get_by_test_id("delete-schedule").click()
    page.get_by_test_id("confirm-action").click()
    expect(page).to_have_url(re.compile(r"/schedules$"))
    assert not [s for s in hub.gql(SCHEDULES)["schedules"] if s["id"] == schedule_id]
    hub.quiet()


def test_a_schedule_made_from_the_experiments_list_fires_its_experiment(
    hub: Hub, page: Any, sleeper: int
) -> None:
    experiment = hub.gql(
        CREATE_EXPERIMENT,
        **{
            "in": {
                "name": f"ui-pause-sleeper-{uuid.uuid4().hex[:6]}",
                "faultType": "native/process-pause",
                "backend": "native",
                "selector": {"agents": ["local"], "pid": sleeper},
                "params": {},
                "durationSeconds": 2,
            }
        },
    )["createExperiment"]
    assert experiment["__typename"] == "Experiment", experiment
    page.set_viewport_size(PHONE)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/experiments")
    row = page.locator(f'[data-testid="experiment-row"][data-name="{experiment["name"]}"]')
    row.get_by_test_id("schedule-experiment").click()
    form = page.get_by_test_id("schedule-form")
    expect(form).to_contain_text(f"Starts experiment {experiment['name']}")
    form.get_by_test_id("schedule-cron").fill("@every 4s")
    expect(form.get_by_test_id("next-fire-times")).to_have_attribute("data-valid", "true")
    expect(form.get_by_test_id("next-fire-time")).to_have_count(5)
    no_wider_than_the_phone(page)
    shot(page, "schedule-form-390")
    form.get_by_test_id("save-schedule").click()
    expect(page).to_have_url(re.compile(r"/schedules/[0-9a-f]+$"))
    schedule_id = page.url.rsplit("/", 1)[1]
    try:
        ticks = fired(hub, schedule_id, "runId", at_least=1)
        history = page.get_by_test_id("schedule-history")
        first = history.locator(f'a[href="/runs/{ticks[0]["runId"]}"]')
        expect(first).to_be_visible(timeout=15_000)
        # forbid (the default): a tick while the previous run still holds the fault is
        # skipped and says why
        wait_for(
            lambda: (
                any(
                    f["outcome"] == "skipped"
                    for f in hub.gql(HISTORY, id=schedule_id)["schedule"]["history"]
                )
                or len(fired(hub, schedule_id, "runId")) >= 3
            ),
            60,
            0.5,
            what="a skipped tick or three fired",
        )
        expect(history.get_by_test_id("schedule-fire")).not_to_have_count(1)
        page.wait_for_timeout(300)
        no_wider_than_the_phone(page)
        # a run's link is on screen, not scrolled off the table (the newest row: the first
        # fire's may re-render or leave the list as ticks come in)
        link = history.locator('a[href^="/runs/"]').first
        expect(link).to_be_visible(timeout=15_000)
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
        shot(page, "schedule-experiment-390")
        first.click()
        expect(page).to_have_url(re.compile(rf"/runs/{ticks[0]['runId']}$"))
        expect(page.get_by_test_id("phase").first).to_be_visible()
    finally:
        hub.gql(DELETE_SCHEDULE, id=schedule_id)
        hub.quiet()


CREATE_TOKEN = """mutation($name: String!) { createApiToken(name: $name, role: "viewer") {
  __typename ... on CreatedApiToken { token } ... on Error { message } } }"""
CREATE_SCHEDULE = f"""mutation($in: CreateScheduleInput!) {{ createSchedule(input: $in) {{
  __typename ... on Schedule {{ id }} {ERROR} }} }}"""


def test_a_viewer_sees_schedules_and_threshold_searches_without_action_buttons(
    hub: Hub, page: Any
) -> None:
    flow = saved_workflow(hub)
    made = hub.gql(
        CREATE_SCHEDULE,
        **{
            "in": {
                "name": f"ui-viewer-sees-{uuid.uuid4().hex[:6]}",
                "workflowId": flow["id"],
                "cron": "0 3 * * *",
                "timeZone": "Europe/Paris",
                "blackouts": [{"days": ["sat", "sun"]}],
                "enabled": False,
            }
        },
    )["createSchedule"]
    assert made["__typename"] == "Schedule", made
    token = hub.gql(CREATE_TOKEN, name=f"ui-viewer-{uuid.uuid4().hex[:6]}")["createApiToken"]
    assert token["__typename"] == "CreatedApiToken", token
    try:
        page.set_viewport_size(DESKTOP)
        sign_in(page, hub.url, token["token"])
        expect(page.get_by_test_id("role")).to_have_text("viewer")
        goto(page, f"{hub.url}/schedules")
        row = page.locator(f'[data-testid="schedule-row"][data-schedule="{made["id"]}"]')
        expect(row).to_contain_text("Europe/Paris")
        expect(row.get_by_test_id("schedule-state")).to_have_text("paused")
        expect(page.get_by_test_id("new-schedule")).to_have_count(0)
        goto(page, f"{hub.url}/schedules/{made['id']}")
        expect(page.get_by_test_id("schedule")).to_contain_text("sat, sun")
        for action in ("pause-schedule", "resume-schedule", "edit-schedule", "delete-schedule"):
            expect(page.get_by_test_id(action)).to_have_count(0)
        goto(page, f"{hub.url}/threshold-searches")
        expect(page.get_by_test_id("threshold-searches-table")).to_be_visible()
        expect(page.get_by_test_id("new-threshold-search")).to_have_count(0)
        goto(page, f"{hub.url}/workflows/{flow['id']}/edit")
        expect(page.get_by_test_id("workflow-editor")).to_be_visible()
        expect(page.get_by_test_id("schedule-workflow")).to_have_count(0)
    finally:
        hub.gql(DELETE_SCHEDULE, id=made["id"])


def test_a_schedule_made_from_the_schedules_list_names_what_it_starts(hub: Hub, page: Any) -> None:
    flow = saved_workflow(hub)
    name = f"ui-from-list-{uuid.uuid4().hex[:6]}"
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/schedules")
    page.get_by_test_id("new-schedule").click()
    form = page.get_by_test_id("schedule-form")
    # nothing picked to start: refused on that field, nothing saved
    form.get_by_test_id("schedule-name").fill(name)
    form.get_by_test_id("schedule-cron").fill("@daily")
    form.get_by_text("Enabled (off: saved paused)").click()
    expect(form.get_by_test_id("schedule-enabled")).not_to_be_checked()
    form.get_by_test_id("save-schedule").click()
    expect(form.get_by_test_id("schedule-target")).to_have_attribute("aria-invalid", "true")
    assert not [s for s in hub.gql(SCHEDULES)["schedules"] if s["name"] == name]
    form.get_by_test_id("schedule-target").click()
    page.get_by_role("option", name=flow["name"]).click()
    form.get_by_test_id("save-schedule").click()
    expect(page).to_have_url(re.compile(r"/schedules/[0-9a-f]+$"))
    schedule_id = page.url.rsplit("/", 1)[1]
    try:
        view = page.get_by_test_id("schedule")
        expect(view).to_have_attribute("data-enabled", "false")
        expect(view).to_contain_text(f"workflow {flow['name']}")
        expect(page.get_by_test_id("resume-schedule")).to_have_text("Enable")
        page.get_by_test_id("resume-schedule").click()
        expect(view).to_have_attribute("data-enabled", "true")
        expect(page.get_by_test_id("schedule-next").get_by_test_id("next-fire-time")).to_have_count(
            5
        )
    finally:
        hub.gql(DELETE_SCHEDULE, id=schedule_id)
