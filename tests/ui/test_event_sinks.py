"""Event sinks in the console, against a real `chaoshub up` and a real HTTP receiver the test
runs, stops and starts again: an admin saves a signed webhook, sends a test, sees a run's
events delivered, sees them go dead while the receiver is down and redelivers them; the
secret never reaches the page; other roles do not see the page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.events_out.receiver import Receiver
from tests.support.stack import MEMORY_ADAPTER, up_process, wait_for
from tests.ui.conftest import Hub, goto, sign_in

pytestmark = pytest.mark.slow

SHOTS = Path("/tmp/h7-shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
SECRET = "sink-secret-" + uuid.uuid4().hex
RUN_EVENTS = "query($id: ID!) { run(id: $id) { events(last: 500) { id } } }"
SINKS = "{ eventSinks { id name secret pending dead } }"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {
        "CHAOSHUB_EXTRA_ADAPTERS": MEMORY_ADAPTER,
        "CHAOSHUB_ADMIN_TOKEN": "ui-admin-" + uuid.uuid4().hex,
        "CHAOSHUB_RECONCILE_SECONDS": "0.5",
        # failed deliveries are retried at once, so a budget of two is spent in seconds
        "CHAOSHUB_EVENT_RETRY_SECONDS": "0.3",
        "CHAOSHUB_EVENT_RETRY_MAX_SECONDS": "1",
        "CHAOSHUB_EVENT_DELIVERY_TIMEOUT_SECONDS": "5",
    }
    with up_process(tmp_path_factory.mktemp("ui-sinks"), env) as up:
        hub = Hub(up.url, up.token)
        try:
            yield hub
        finally:
            hub.admin.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def sinks_cleared(hub: Hub) -> Iterator[None]:
    yield
    for sink in hub.admin(SINKS)["eventSinks"]:
        hub.admin("mutation($id: ID!) { deleteEventSink(id: $id) { __typename } }", id=sink["id"])


def answers_seen(page: Any) -> list[str]:
    """Every GraphQL answer the page is given, read before the page gets it."""
    bodies: list[str] = []

    def route(r: Any) -> None:
        response = r.fetch()
        bodies.append(response.text())
        r.fulfill(response=response)

    page.route("**/graphql", route)
    return bodies


def snap(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def both_sizes(page: Any, name: str) -> None:
    """Screenshots at desktop and phone size; on the phone nothing is wider than the screen."""
    page.set_viewport_size(DESKTOP)
    snap(page, f"{name}-1440")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width}px wide on a 390px screen"
    snap(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)


def no_secret_in_dom(page: Any, secret: str) -> None:
    assert secret not in page.content()
    values = page.evaluate("[...document.querySelectorAll('input')].map(i => i.value).join(' ')")
    assert secret not in values


def run_to_end(hub: Hub, backend: str) -> tuple[str, list[str]]:
    run_id = hub.start(backend, ["alpha"], seconds=1)
    hub.wait_phase(run_id, "completed", timeout=60)
    events = hub.admin(RUN_EVENTS, id=run_id)["run"]["events"]
    return run_id, [e["id"] for e in events]


def rows_of(page: Any, state: str) -> Any:
    return page.locator(f'[data-testid="delivery-row"][data-state="{state}"]')


def test_an_admin_sends_a_runs_events_to_a_webhook_and_redelivers_dead_ones(
    hub: Hub, page: Any, receiver: Receiver, sinks_cleared: None
) -> None:
    hub.backend("mem-sinks")
    answers = answers_seen(page)
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.admin_token)
    page.get_by_role("link", name="Event sinks").click()
    expect(page.get_by_test_id("no-sinks")).to_be_visible()

    # Add a signed webhook for run events, with a retry budget of two attempts.
    page.get_by_test_id("add-sink").click()
    page.get_by_test_id("sink-name").fill("ops-hook")
    page.get_by_test_id("sink-url").fill(receiver.url)
    page.get_by_test_id("sink-secret-input").fill(SECRET)
    types = page.get_by_test_id("sink-types")
    types.fill("io.chaoshub.run.*")
    types.press("Enter")
    page.get_by_test_id("sink-max-attempts").fill("2")
    page.get_by_test_id("sink-max-age").fill("600")
    page.get_by_test_id("sink-save").click()
    row = page.locator('[data-testid="sink-row"][data-name="ops-hook"]')
    expect(row).to_contain_text("signed")
    expect(row).to_contain_text("io.chaoshub.run.*")
    # the path (a receiver's credential, often) is never answered: only where events go
    expect(row).to_contain_text(f"http://127.0.0.1:{receiver.port}/…")
    expect(row).not_to_contain_text(receiver.url)
    no_secret_in_dom(page, SECRET)

    # A test send: the receiver's answer is shown, and the request was signed.
    row.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("ops-hook answered HTTP 200")
    assert [e["type"] for e in receiver.events()] == ["io.chaoshub.sink.test"]
    receiver.verify_all(SECRET)

    # The edit form says a secret is set without showing it; saving unchanged keeps it.
    row.get_by_test_id("edit-sink").click()
    expect(page.get_by_test_id("secret-set")).to_have_text("set")
    expect(page.get_by_test_id("sink-secret-input")).to_have_count(0)
    both_sizes(page, "event-sink-edit")
    page.get_by_test_id("sink-save").click()
    expect(page.get_by_test_id("sink-save")).to_have_count(0)
    assert hub.admin(SINKS)["eventSinks"][0]["secret"] == "<set>"

    # A run's events arrive, signed, and show as delivered.
    run1, events1 = run_to_end(hub, "mem-sinks")
    wait_for(lambda: len(receiver.events(run1)) == len(events1), 60, what="run 1 delivered")
    receiver.verify_all(SECRET)
    row.get_by_role("link", name="ops-hook").click()
    page.get_by_test_id("tab-delivered").click()
    expect(rows_of(page, "delivered")).to_have_count(len(events1), timeout=30_000)
    expect(rows_of(page, "delivered").first).to_contain_text("io.chaoshub.run.")
    expect(rows_of(page, "delivered").first).to_contain_text(run1[:8])

    # The receiver goes away: the next run's deliveries spend their two attempts and are dead.
    receiver.stop()
    run2, events2 = run_to_end(hub, "mem-sinks")
    page.get_by_test_id("tab-dead").click()
    dead = rows_of(page, "dead")
    expect(dead).to_have_count(len(events2), timeout=60_000)
    expect(dead.first.get_by_test_id("delivery-attempts")).to_have_text("2")
    expect(dead.first.get_by_test_id("delivery-error")).to_contain_text("ConnectError")
    expect(page.get_by_test_id("tab-dead")).to_contain_text(f"({len(events2)})")
    both_sizes(page, "event-sink-dead")

    # While it is down a test send says why it failed.
    goto(page, hub.url + "/event-sinks")
    page.locator('[data-testid="sink-row"][data-name="ops-hook"]').get_by_test_id(
        "send-test"
    ).click()
    expect(page.get_by_test_id("test-result")).to_contain_text("ops-hook could not be reached")
    expect(page.locator('[data-testid="sink-row"][data-name="ops-hook"]')).to_contain_text(
        str(len(events2))
    )
    both_sizes(page, "event-sinks")
    # at desktop size the table needs no sideways scroll to reach a sink's actions
    expect(
        page.locator('[data-testid="sink-row"][data-name="ops-hook"]').get_by_test_id("delete-sink")
    ).to_be_in_viewport(ratio=1)
    page.set_viewport_size(PHONE)  # a card per sink, its actions on screen
    card = page.locator('[data-testid="sink-card"][data-name="ops-hook"]')
    expect(card).to_contain_text(f"{len(events2)} dead")
    expect(card.get_by_test_id("send-test")).to_be_in_viewport()
    page.set_viewport_size(DESKTOP)

    # Back up: one dead delivery is sent again, then the rest.
    receiver.start()
    page.locator('[data-testid="sink-row"][data-name="ops-hook"]').get_by_role(
        "link", name="ops-hook"
    ).click()
    page.get_by_test_id("tab-dead").click()
    expect(dead).to_have_count(len(events2))
    dead.first.get_by_test_id("redeliver-one").click()
    expect(page.get_by_test_id("redelivered")).to_have_text("1 delivery is pending again.")
    expect(dead).to_have_count(len(events2) - 1)
    page.get_by_test_id("redeliver-all").click()
    expect(page.get_by_test_id("redelivered")).to_have_text(
        f"{len(events2) - 1} deliveries are pending again."
    )
    expect(page.get_by_test_id("no-deliveries")).to_have_text("No dead deliveries.")
    wait_for(lambda: len(receiver.events(run2)) == len(events2), 60, what="run 2 redelivered")
    assert sorted(e["id"] for e in receiver.events(run2)) == sorted(events2)
    receiver.verify_all(SECRET)
    page.get_by_test_id("tab-delivered").click()
    expect(rows_of(page, "delivered")).to_have_count(len(events1) + len(events2))
    both_sizes(page, "event-sink-delivered")

    no_secret_in_dom(page, SECRET)
    assert answers and not [a for a in answers if SECRET in a]

    # Delete, after a confirmation that says what is lost.
    goto(page, hub.url + "/event-sinks")
    page.locator('[data-testid="sink-row"][data-name="ops-hook"]').get_by_test_id(
        "delete-sink"
    ).click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("no-sinks")).to_be_visible()
    assert hub.admin(SINKS)["eventSinks"] == []


def test_refusals_are_shown_on_their_field_and_the_secret_can_be_replaced_or_cleared(
    hub: Hub, page: Any, receiver: Receiver, sinks_cleared: None
) -> None:
    sign_in(page, hub.url, hub.admin_token)
    goto(page, hub.url + "/event-sinks")
    page.get_by_test_id("add-sink").click()
    page.get_by_test_id("sink-name").fill("bad-hook")
    page.get_by_test_id("sink-url").fill("ftp://example.org/hook")
    page.get_by_test_id("sink-save").click()
    url = page.get_by_test_id("sink-url")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("url must be http:// or https://")).to_be_visible()
    url.fill(receiver.url)
    page.get_by_test_id("sink-max-attempts").fill("99")
    page.get_by_test_id("sink-save").click()
    expect(page.get_by_test_id("sink-max-attempts")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("maxAttempts is 1 to 50")).to_be_visible()
    expect(url).not_to_have_attribute("aria-invalid", "true")
    assert hub.admin(SINKS)["eventSinks"] == []  # nothing stored

    page.get_by_test_id("sink-max-attempts").fill("3")
    page.get_by_test_id("sink-secret-input").fill("first-" + SECRET)
    page.get_by_test_id("sink-save").click()
    row = page.locator('[data-testid="sink-row"][data-name="bad-hook"]')
    expect(row).to_contain_text("signed")

    # Replace: the next request is signed with the new secret.
    row.get_by_test_id("edit-sink").click()
    page.get_by_role("button", name="Replace").click()
    page.get_by_test_id("sink-secret-input").fill(SECRET)
    page.get_by_test_id("sink-save").click()
    row.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("answered HTTP 200")
    receiver.verify_all(SECRET)

    # Clear: the sink no longer signs.
    row.get_by_test_id("edit-sink").click()
    page.get_by_test_id("secret-clear").click()
    page.get_by_test_id("sink-save").click()
    expect(row).to_contain_text("unsigned")
    assert hub.admin(SINKS)["eventSinks"][0]["secret"] is None
    no_secret_in_dom(page, SECRET)

    # A Kubernetes Events sink has no URL, secret or test send.
    page.get_by_test_id("add-sink").click()
    page.get_by_test_id("sink-name").fill("cluster-events")
    page.get_by_test_id("sink-kind").get_by_text("Kubernetes Events").click()
    expect(page.get_by_test_id("sink-url")).to_have_count(0)
    expect(page.get_by_test_id("sink-secret")).to_have_count(0)
    page.get_by_test_id("sink-save").click()
    k8s = page.locator('[data-testid="sink-row"][data-name="cluster-events"]')
    expect(k8s).to_contain_text("kubernetes-events")
    expect(k8s.get_by_test_id("send-test")).to_have_count(0)


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_only_admins_see_the_event_sinks_page(hub: Hub, page: Any, role: str) -> None:
    issued = hub.admin(
        "mutation($name: String!, $role: String!) { createApiToken(name: $name, role: $role) {"
        " __typename ... on CreatedApiToken { token } ... on Error { message } } }",
        name=f"{role}-{uuid.uuid4().hex[:6]}",
        role=role,
    )["createApiToken"]
    assert issued["__typename"] == "CreatedApiToken", issued
    sign_in(page, hub.url, issued["token"])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Runs", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Event sinks")).to_have_count(0)
    goto(page, hub.url + "/event-sinks")
    expect(page.get_by_test_id("admins-only")).to_be_visible()
    expect(page.get_by_test_id("sinks-table")).to_have_count(0)
    goto(page, hub.url + "/event-sinks/anything")
    expect(page.get_by_test_id("admins-only")).to_be_visible()
