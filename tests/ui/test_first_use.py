"""First use of the console and the API's IDE: GraphiQL offline, the duration field's bounds,
the run timeline after pause/resume, a phone-sized screen, target suggestions, the catalog's
order and wording, and selector JSON errors on the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Hub, goto, sign_in

pytestmark = pytest.mark.slow

SHOTS = Path("/tmp/h7-shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def snap(page: Any, name: str, full: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def offline(page: Any) -> list[str]:
    """Abort every request that leaves the loopback, as on an air-gapped network."""
    blocked: list[str] = []

    def route(r: Any) -> None:
        host = urlparse(r.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def ide_ready(page: Any) -> None:
    """GraphiQL drawn, its editors loaded (they load lazily) and the schema fetched."""
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.locator(".graphiql-query-editor")).to_contain_text("viewer")
    expect(page.locator(".result-window .CodeMirror")).to_have_count(1)
    page.wait_for_load_state("networkidle")


def test_graphiql_loads_and_runs_a_query_without_internet(hub: Hub, page: Any) -> None:
    blocked = offline(page)
    sign_in(page, hub.url, hub.admin_token)  # the IDE picks up the console's token
    goto(page, hub.url + "/graphql")
    ide_ready(page)
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".result-window")).to_contain_text('"role": "admin"')
    page.set_viewport_size(DESKTOP)
    snap(page, "graphiql-1440")
    page.set_viewport_size(PHONE)
    snap(page, "graphiql-390")
    assert blocked == [], blocked


def test_graphiql_takes_a_token_typed_into_its_headers(hub: Hub, page: Any) -> None:
    blocked = offline(page)
    goto(page, hub.url + "/graphql")
    ide_ready(page)
    # Not signed in: the headers editor is open with a placeholder to replace.
    headers = page.locator(".graphiql-editor-tool .graphiql-editor").last
    expect(headers).to_contain_text("paste an API token")
    page.evaluate(
        """t => document.querySelectorAll('.graphiql-editor-tool .CodeMirror')[1]
        .CodeMirror.setValue(JSON.stringify({Authorization: 'Bearer ' + t}))""",
        hub.admin_token,
    )
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".result-window")).to_contain_text('"name": "bootstrap-admin"')
    assert blocked == [], blocked


def test_duration_out_of_range_is_an_error_on_the_field_never_rewritten(
    hub: Hub, page: Any
) -> None:
    hub.backend("mem-duration")
    sign_in(page, hub.url, hub.admin_token)
    goto(page, hub.url + "/experiments/new?fault=memory/latency")
    page.get_by_label("Selector (JSON)").fill(json.dumps({"names": ["alpha"]}))
    duration = page.get_by_label("Duration")
    start = page.get_by_test_id("start-now")
    for typed, message in [
        ("-10", "more than 0 s"),
        ("0", "more than 0 s"),
        ("99999999", "at most 604800 s"),
    ]:
        duration.fill(typed)
        duration.blur()  # Mantine clamps on blur unless told not to
        expect(duration).to_have_value(typed)
        expect(duration).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_text(message)).to_be_visible()
        expect(start).to_be_disabled()
    # The API's bound is the form's: what the form refuses the hub refuses too.
    refused = hub.admin(
        "mutation($i: StartRunInput!) { startRun(input: $i) { __typename } }",
        i={
            "faultType": "memory/latency",
            "backend": "mem-duration",
            "selector": {"names": ["alpha"]},
            "params": {},
            "durationSeconds": 604801,
        },
    )["startRun"]
    assert refused["__typename"] == "InvalidInputError", refused
    assert hub.admin("{ runs { totalCount } }")["runs"]["totalCount"] == 0
    duration.fill("30")
    expect(duration).not_to_have_attribute("aria-invalid", "true")
    expect(start).to_be_enabled()

    # A fault with the tool's own bounds (aws-ssm documents take 1..43200 s).
    goto(page, hub.url + "/experiments/new?fault=aws-ssm/cpu-stress")
    duration.fill("50000")
    duration.blur()
    expect(duration).to_have_value("50000")
    expect(page.get_by_text("at most 43200 s for this tool")).to_be_visible()


def test_bad_selector_json_is_shown_on_the_field_and_focused(hub: Hub, page: Any) -> None:
    hub.backend("mem-json")
    sign_in(page, hub.url, hub.admin_token)
    goto(page, hub.url + "/experiments/new?fault=memory/latency")
    expect(page.get_by_test_id("backend-select")).to_be_visible()
    selector = page.get_by_label("Selector (JSON)")
    selector.fill('{"names": ["alpha",]}')
    page.get_by_label("Duration").focus()  # the user moves on to the button
    page.get_by_test_id("start-now").click()
    expect(selector).to_be_focused()
    expect(selector).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("not a JSON object: check the brackets")).to_have_count(1)
    expect(page.get_by_test_id("refusal")).to_have_text(
        "Not sent: fix what is marked in red (Selector)"
    )
    assert hub.admin("{ runs { totalCount } }")["runs"]["totalCount"] == 0
    # A selector the adapter refuses: its message once, on the field, not in three places.
    selector.fill(json.dumps({"names": ["nosuch"]}))
    expect(page.get_by_text("no target named 'nosuch'")).to_have_count(1)
    expect(selector).to_have_attribute("aria-invalid", "true")
    snap(page, "selector-error-1440")


def _act(hub: Hub, action: str, run_id: str) -> None:
    answer = hub.admin(f"mutation($id: ID!) {{ {action}(id: $id) {{ __typename }} }}", id=run_id)[
        action
    ]
    assert answer["__typename"] == "Run", answer


def test_the_timeline_shows_every_round_in_order_after_pause_and_resume(
    hub: Hub, page: Any
) -> None:
    hub.backend("mem-rounds")
    run_id = hub.start("mem-rounds", ["alpha"], seconds=300)
    try:
        hub.wait_phase(run_id, "running")
        _act(hub, "pauseRun", run_id)
        hub.wait_phase(run_id, "paused")
        _act(hub, "resumeRun", run_id)
        hub.wait_phase(run_id, "running")
        sign_in(page, hub.url, hub.admin_token)
        goto(page, f"{hub.url}/runs/{run_id}")
        steps = page.get_by_test_id("timeline").locator("[data-step]")
        expect(steps.last).to_have_attribute("data-step", "end")
        entered = [
            (
                s.get_attribute("data-step"),
                s.get_attribute("data-at"),
                s.get_attribute("data-state"),
            )
            for s in steps.all()
        ]
        done = [(p, at) for p, at, state in entered if state != "future"]
        names = [p for p, _ in done]
        assert names[:3] == ["pending", "injecting", "running"], entered
        assert "paused" in names and names[-1] == "running", entered
        assert names.index("paused") < len(names) - 1, entered  # running again after it
        times = [at for _, at in done]
        assert times == sorted(times), f"timeline out of order: {entered}"
        assert [s for _, _, s in entered].count("current") == 1
        rounds = (
            page.get_by_test_id("target-row")
            .filter(has_text="alpha")
            .get_by_test_id("target-round")
        )
        expect(rounds).to_have_count(2)
        first, second = rounds.all_inner_texts()
        injected1, recovered1 = first.split(" → ")
        injected2, still = second.split(" → ")
        assert injected1 <= recovered1 <= injected2, (first, second)
        assert still == "holding"
        snap(page, "run-rounds-1440")
    finally:
        _act(hub, "abortRun", run_id)
        hub.wait_phase(run_id, "aborted")


def _no_page_overflow(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways at 390 px: {widths}"


def test_runs_list_and_run_page_fit_a_phone(hub: Hub, browser: Any) -> None:
    hub.backend("mem-phone")
    run_id = hub.start("mem-phone", ["alpha", "beta"], seconds=300)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        hub.wait_phase(run_id, "running")
        sign_in(page, hub.url, hub.admin_token)
        expect(page.get_by_test_id("run-row").first).to_be_visible()
        _no_page_overflow(page)
        snap(page, "runs-390")
        # The navigation is behind a burger, and opens and closes.
        main_nav = page.get_by_role("navigation", name="Main")
        expect(main_nav).not_to_be_in_viewport()
        page.get_by_role("button", name="Navigation").click()
        expect(main_nav).to_be_in_viewport()
        snap(page, "nav-open-390")
        main_nav.get_by_role("link", name="Runs", exact=True).click()
        expect(main_nav).not_to_be_in_viewport()

        page.locator(f'[data-run="{run_id}"] a').first.click()
        page.wait_for_url(re.compile(f"/runs/{run_id}$"))
        expect(page.get_by_test_id("timeline")).to_be_visible()  # the run page has loaded
        expect(page.get_by_test_id("phase")).to_have_attribute("data-phase", "running")
        expect(page.get_by_role("button", name="Abort")).to_be_in_viewport()
        _no_page_overflow(page)
        snap(page, "run-390")
    finally:
        context.close()
        _act_abort(hub, run_id)


def _act_abort(hub: Hub, run_id: str) -> None:
    _act(hub, "abortRun", run_id)
    hub.wait_phase(run_id, "aborted")


def test_target_fields_suggest_agents_and_discovered_processes(hub: Hub, page: Any) -> None:
    import subprocess

    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        sign_in(page, hub.url, hub.admin_token)
        goto(page, hub.url + "/experiments/new?fault=native/process-kill")
        expect(page.get_by_test_id("backend-select")).to_be_visible()
        # Nothing typed yet: no verdict on the selector anywhere.
        expect(page.get_by_role("alert")).to_have_count(0)
        snap(page, "process-kill-untouched-1440")
        agents = page.locator("#selector_agents")
        expect(agents).to_have_attribute("placeholder", re.compile("local"))
        agents.click()
        page.get_by_role("option", name="local", exact=True).click()
        expect(agents.locator("xpath=..")).to_contain_text("local")
        name = page.locator("#selector_name")
        name.fill("slee")
        expect(
            page.locator(f'datalist#{name.get_attribute("list")} option[value="sleep"]')
        ).to_have_count(1)
        pid = page.locator("#selector_pid")
        expect(
            page.locator(f'datalist#{pid.get_attribute("list")} option[value="{sleeper.pid}"]')
        ).to_have_count(1)
        snap(page, "process-suggestions-1440")
        # PID 1: refused on the field, saying why and how to override.
        name.fill("")
        pid.fill("1")
        problem = page.get_by_role("alert").filter(has_text="protected")
        expect(problem).to_have_count(1)
        expect(problem).to_contain_text("include_protected")
        page.set_viewport_size(DESKTOP)
        snap(page, "pid1-refused-1440")
        page.set_viewport_size(PHONE)
        snap(page, "pid1-refused-390")
        _no_page_overflow(page)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_catalog_puts_runnable_faults_first_and_reads_cleanly(hub: Hub, page: Any) -> None:
    sign_in(page, hub.url, hub.admin_token)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    cards = page.get_by_test_id("fault-card")
    expect(cards.first).to_be_visible()
    flags = [c.get_attribute("data-available") for c in cards.all()]
    assert "true" in flags and "false" in flags, flags  # aws-ssm has no backend here
    assert flags == sorted(flags, key=lambda f: f != "true"), (
        "an unrunnable fault before a runnable one"
    )
    total = len(flags)
    page.set_viewport_size(DESKTOP)
    snap(page, "catalog-1440", full=False)

    page.get_by_text("Available only", exact=True).click()
    expect(cards).to_have_count(flags.count("true"))
    assert all(c.get_attribute("data-available") == "true" for c in cards.all())
    page.get_by_text("Available only", exact=True).click()
    expect(cards).to_have_count(total)

    for card in cards.all():
        text = card.inner_text()
        assert "1 targets" not in text and "1 agents" not in text, text
        badges = [b.inner_text().strip().lower() for b in card.locator(".mantine-Badge-root").all()]
        assert len(badges) == len(set(badges)), f"duplicate badges: {badges}"
        for badge in card.locator(".mantine-Badge-label").all():
            assert badge.evaluate("b => b.scrollWidth <= b.clientWidth"), badge.inner_text()
        # The description ends above the footer line, never over it.
        description = card.locator("p").nth(1).bounding_box()
        footer = card.get_by_test_id("fault-footer").bounding_box()
        assert description and footer
        assert description["y"] + description["height"] <= footer["y"] + 1, card.get_attribute(
            "data-fault"
        )

    page.set_viewport_size(PHONE)
    snap(page, "catalog-390", full=False)
    _no_page_overflow(page)
    page.set_viewport_size(DESKTOP)


def test_native_validation_reads_as_words_not_pydantic(hub: Hub, page: Any) -> None:
    sign_in(page, hub.url, hub.admin_token)
    goto(page, hub.url + "/experiments/new?fault=native/process-kill")
    expect(page.get_by_test_id("backend-select")).to_be_visible()
    page.get_by_test_id("experiment-name").click()
    expect(page.get_by_text("give exactly one")).to_have_count(0)  # nothing typed yet
    page.get_by_text("JSON", exact=True).click()
    selector = page.get_by_label("Selector (JSON)")
    selector.fill(json.dumps({"pid": 5, "name": "x"}))
    problem = page.get_by_text(re.compile("exactly one"))
    expect(problem).to_have_count(1)
    assert "Value error" not in problem.inner_text()
