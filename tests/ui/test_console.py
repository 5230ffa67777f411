"""The console as operators and viewers use it: find a fault, build an experiment through the
generated form, watch the run live, abort it, halt everything; a viewer only looks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Hub, goto, shot, sign_in

pytestmark = pytest.mark.slow


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def run_id_from(page: Any) -> str:
    match = re.search(r"/runs/([0-9a-f]+)$", page.url)
    assert match, page.url
    return match.group(1)


def test_operator_builds_starts_watches_and_aborts_a_run(hub: Hub, page: Any) -> None:
    # Injection takes a moment, so the page shows the run before it is running.
    hub.backend("mem", inject_delay=4)
    sign_in(page, hub.url, hub.admin_token)
    shot(page, "01-runs-empty")

    nav(page, "Catalog")
    expect(page.get_by_test_id("fault-card").first).to_be_visible()
    page.get_by_label("Search", exact=True).fill("latency in memory")
    cards = page.get_by_test_id("fault-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-fault", "memory/latency")
    shot(page, "02-catalog-search")

    cards.first.click()
    expect(page.get_by_role("heading", name="Latency (in memory)")).to_be_visible()
    row = page.get_by_test_id("param-row").filter(has_text="latency_ms")
    expect(row).to_contain_text("ms")
    expect(row).to_contain_text("100")
    expect(page.get_by_text("available", exact=True)).to_be_visible()
    shot(page, "03-fault-detail")

    page.get_by_role("link", name="Use this fault").click()
    expect(page.get_by_role("heading", name="New experiment")).to_be_visible()
    page.get_by_label("Selector (JSON)").fill(json.dumps({"names": ["alpha", "beta"]}))
    preview = page.get_by_test_id("discover-preview")
    expect(preview.get_by_test_id("preview-target")).to_have_text(["alpha", "beta"])

    latency = page.locator("#params_latency_ms")
    latency.fill("-5")
    error = page.locator("#params_latency_ms-error")  # the message under the field
    expect(error).to_have_text("must be >= 0")
    page.get_by_label("Duration").fill("120")
    page.get_by_label("Name", exact=True).fill("ui latency")
    page.get_by_test_id("save-and-start").click()
    expect(page.get_by_test_id("refusal")).to_have_text(
        "Not sent: fix what is marked in red (Parameters)"
    )
    shot(page, "04-new-experiment-refused-value")
    assert hub.admin("{ experiments { id } }")["experiments"] == []

    latency.fill("250")
    expect(error).to_have_count(0)
    page.get_by_test_id("save-and-start").click()
    # The hub refuses the name; the form says so under the name field.
    expect(page.locator('[data-testid="experiment-name"][aria-invalid="true"]')).to_be_visible()
    expect(page.get_by_test_id("experiment-name").locator("..").locator("..")).to_contain_text(
        "a name is 1-200 letters"
    )
    expect(page.get_by_test_id("refusal")).to_have_text(
        "Refused by the hub: fix what is marked in red (Name)"
    )
    page.get_by_label("Name", exact=True).fill("ui-latency")
    page.get_by_test_id("save-and-start").click()

    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    run_id = run_id_from(page)
    page.evaluate("window.__sameDocument = true")
    phase = page.get_by_test_id("phase")
    expect(phase).to_be_visible()
    first_seen = phase.get_attribute("data-phase")
    assert first_seen in ("pending", "injecting"), (
        f"the run was {first_seen} before the page showed it"
    )
    expect(phase).to_have_attribute("data-phase", "running", timeout=20_000)
    expect(page.locator('[data-step="running"]')).to_have_attribute("data-state", "current")
    expect(page.get_by_test_id("target-row")).to_have_count(2)
    expect(page.get_by_test_id("targets-table")).to_contain_text("latency_ms: 250")
    shot(page, "05-run-running")

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("dialog")).to_contain_text("reverted on every target")
    page.get_by_test_id("confirm-action").click()
    expect(phase).to_have_attribute("data-phase", "paused")
    expect(page.get_by_test_id("desired-state")).to_have_text("pause")
    expect(page.locator('[data-step="paused"]')).to_have_attribute("data-state", "current")
    page.get_by_role("button", name="Resume").click()
    page.get_by_test_id("confirm-action").click()
    expect(phase).to_have_attribute("data-phase", "running", timeout=20_000)

    page.get_by_test_id("abort").click()
    expect(page.get_by_role("dialog")).to_contain_text("every target is recovered")
    shot(page, "06-run-abort-confirm")
    page.get_by_test_id("confirm-action").click()
    expect(phase).to_have_attribute("data-phase", "aborted", timeout=20_000)
    for label in ("alpha", "beta"):
        expect(page.locator(f'[data-target="{label}"]')).to_have_attribute(
            "data-target-phase", "recovered"
        )
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    shot(page, "07-run-aborted")
    assert hub.run(run_id)["phase"] == "aborted"

    nav(page, "Runs")
    row = page.locator(f'[data-run="{run_id}"]')
    expect(row).to_have_attribute("data-phase", "aborted")
    shot(page, "08-runs-list")
    page.get_by_test_id("phase-filter").click(force=True)
    page.get_by_role("option", name="running", exact=True).click()
    page.keyboard.press("Escape")
    expect(row).to_have_count(0)
    page.get_by_test_id("phase-filter").click(force=True)
    page.get_by_role("option", name="aborted", exact=True).click()
    page.keyboard.press("Escape")
    expect(row).to_be_visible()

    # Archived runs leave the list until asked for.
    row.get_by_role("link").click()
    page.get_by_test_id("archive").click()
    page.get_by_test_id("confirm-action").click()
    expect(page.get_by_test_id("archive")).to_have_count(0)
    nav(page, "Runs")
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    expect(row).to_have_count(0)
    page.get_by_text("Show archived").click()
    expect(row).to_contain_text("archived")
    nav(page, "Experiments")
    expect(page.get_by_test_id("experiment-row")).to_contain_text("ui-latency")
    shot(page, "09-experiments")
    nav(page, "Agents & backends")
    expect(page.locator('[data-testid="backend-row"][data-name="mem"]')).to_contain_text(
        "reachable"
    )
    shot(page, "10-agents-backends")


def test_a_stuck_recovery_is_impossible_to_miss_and_can_be_force_released(
    hub: Hub, page: Any
) -> None:
    hub.backend("sticky", fail_recover=-1)
    run_id = hub.start("sticky", ["gamma"])
    hub.wait_phase(run_id, "running")
    hub.admin('mutation($id: ID!) { abortRun(id: $id, reason: "test") { __typename } }', id=run_id)
    from tests.support.stack import wait_for

    wait_for(lambda: hub.run(run_id)["recoverAttempts"] > 0, 20, what="a failed recovery")

    sign_in(page, hub.url, hub.admin_token)
    expect(page.get_by_test_id("stuck-indicator")).to_contain_text("1 run stuck recovering")
    page.get_by_test_id("stuck-indicator").click()
    expect(page.get_by_test_id("stuck-banner")).to_contain_text("may still carry the fault")
    expect(page.get_by_test_id("stuck-banner")).to_contain_text("gamma")
    shot(page, "11-run-stuck")

    page.get_by_test_id("force-release").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("stop trying")
    confirm = page.get_by_test_id("confirm-action")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Reason").fill("removed the fault on gamma by hand")
    shot(page, "12-force-release-confirm")
    confirm.click()
    expect(page.get_by_test_id("phase")).to_have_attribute("data-phase", "aborted")
    expect(page.get_by_test_id("stuck-indicator")).to_have_count(0)


def test_a_viewer_sees_every_page_without_action_buttons(hub: Hub, page: Any) -> None:
    hub.backend("seen")
    run_id = hub.start("seen", ["alpha"])
    hub.wait_phase(run_id, "running")
    try:
        # An admin issues the viewer's token in the console (createApiToken underneath).
        sign_in(page, hub.url, hub.admin_token)
        nav(page, "API tokens")
        page.get_by_test_id("token-name").fill("ui-viewer")
        page.get_by_test_id("issue-token").click()
        issued = page.get_by_test_id("issued-token")
        expect(issued).to_contain_text("ui-viewer (viewer)")
        viewer = issued.locator("code").inner_text().strip()
        expect(page.locator('[data-testid="token-row"][data-name="ui-viewer"]')).to_be_visible()
        shot(page, "13-tokens")
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, hub.url, viewer)
        expect(page.get_by_test_id("role")).to_have_text("viewer")
        expect(page.get_by_test_id("halt-all")).to_have_count(0)
        expect(page.get_by_role("link", name="New experiment")).to_have_count(0)
        expect(page.get_by_role("link", name="API tokens")).to_have_count(0)
        shot(page, "14-viewer-runs")

        goto(page, f"{hub.url}/runs/{run_id}")
        expect(page.get_by_test_id("phase")).to_have_attribute("data-phase", "running")
        expect(page.get_by_test_id("run-actions")).to_have_count(0)
        expect(page.get_by_role("button", name="Abort")).to_have_count(0)
        shot(page, "15-viewer-run")

        goto(page, f"{hub.url}/catalog/memory/latency")
        expect(page.get_by_role("heading", name="Latency (in memory)")).to_be_visible()
        expect(page.get_by_role("link", name="Use this fault")).to_have_count(0)

        goto(page, f"{hub.url}/fleet")
        expect(page.get_by_test_id("backends-table")).to_contain_text("seen")
        expect(page.get_by_test_id("add-backend")).to_have_count(0)
        expect(page.get_by_role("button", name="Remove")).to_have_count(0)
        shot(page, "16-viewer-fleet")
    finally:
        hub.admin("mutation($id: ID!) { abortRun(id: $id) { __typename } }", id=run_id)
        hub.wait_phase(run_id, "aborted")


def test_halt_all_stops_two_runs_and_says_which(hub: Hub, page: Any) -> None:
    hub.backend("fleet")
    first = hub.start("fleet", ["alpha"])
    second = hub.start("fleet", ["beta", "gamma"])
    for run_id in (first, second):
        hub.wait_phase(run_id, "running")

    sign_in(page, hub.url, hub.admin_token)
    page.get_by_test_id("halt-all").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("2 active now")
    dialog.get_by_label("Reason").fill("game day over")
    shot(page, "17-halt-all-confirm")
    page.get_by_test_id("halt-confirm").click()
    result = page.get_by_test_id("halt-result")
    expect(result).to_contain_text("Stopped 2 runs")
    expect(result).to_contain_text(first[:8])
    expect(result).to_contain_text(second[:8])
    shot(page, "18-halt-all-result")
    page.get_by_role("button", name="Close").click()

    for run_id in (first, second):
        record = hub.wait_phase(run_id, "aborted")
        assert {t["phase"] for t in record["targets"]} == {"recovered"}
        expect(page.locator(f'[data-run="{run_id}"]')).to_have_attribute("data-phase", "aborted")


def test_an_admin_adds_and_removes_a_backend_through_its_config_form(hub: Hub, page: Any) -> None:
    sign_in(page, hub.url, hub.admin_token)
    nav(page, "Agents & backends")
    page.get_by_test_id("add-backend").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("ui added")
    dialog.get_by_label("Adapter").click()
    page.get_by_role("option", name="memory", exact=True).click()
    targets = dialog.get_by_label("targets")
    for name in ("delta", "epsilon"):
        targets.fill(name)
        targets.press("Enter")
    delay = dialog.locator("#config_inject_delay")
    delay.fill("-1")
    expect(dialog.locator("#config_inject_delay-error")).to_have_text("must be >= 0")
    page.get_by_test_id("backend-save").click()
    expect(page.get_by_test_id("config-refusal")).to_contain_text("fix the fields marked in red")
    delay.fill("0")
    page.get_by_test_id("backend-save").click()
    # The hub refuses the name and says so under the field.
    expect(dialog.get_by_text("a name is 1-200 letters")).to_be_visible()
    shot(page, "19-backend-refused-name")
    dialog.get_by_label("Name", exact=True).fill("ui-added")
    page.get_by_test_id("backend-save").click()
    row = page.locator('[data-testid="backend-row"][data-name="ui-added"]')
    expect(row).to_contain_text("reachable")
    expect(row).to_contain_text('"targets":["delta","epsilon"]')

    row.get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(row).to_have_count(0)
    names = [b["name"] for b in hub.admin("{ backends { name } }")["backends"]]
    assert "ui-added" not in names


def test_signing_in_and_opening_a_fault_work_from_the_keyboard(hub: Hub, page: Any) -> None:
    goto(page, hub.url + "/")
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(hub.admin_token)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out").wait_for()
    goto(page, hub.url + "/catalog")
    page.get_by_label("Search", exact=True).focus()
    page.keyboard.type("kill in memory")
    expect(page.get_by_test_id("fault-card")).to_have_count(1)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.fault") == "memory/kill":
            break
    else:
        pytest.fail("Tab never reached the fault's card")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Kill (in memory)")).to_be_visible()
