"""The console's threshold-search pages against a real `chaoshub up` and a real local service
whose tolerance the test built: a checkout service calling ``payments`` through the (fake)
Toxiproxy with a 500 ms client timeout. A search pasted on the start page (a refusal shown
on its path first, then fixed) is started from the console; its page follows it live to its
end and shows each trial in the table, one magnitude-vs-objective chart per objective with
the limit drawn, and the threshold band at the client timeout; on a desktop and on a phone.
A running search is paused, resumed and aborted from its page, with nothing left injected.

Screenshots go to ``artifacts/screenshots/threshold-*.png``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.support.stack import GraphQL, up_process, wait_for
from tests.thresholds.services import (
    CLIENT_TIMEOUT,
    Checkout,
    FakeToxiproxy,
    checkout,
    fake_toxiproxy,
    proxy,
    toxics,
)
from tests.ui.conftest import goto, shot, sign_in

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CREATE_BACKEND = """mutation($i: CreateBackendInput!) { createBackend(input: $i) {
  __typename ... on Error { message } } }"""
SEARCH = """query($id: ID!) { thresholdSearch(id: $id) { phase
  trials { magnitude outcome workflowRunId slo { objectives { metric value } } }
  result { found heldMax brokeMin trials } } }"""
ACTIVE = '{ thresholdSearches(phase: ["pending", "running"]) { edges { node { id } } } }'
ABORT = (
    'mutation($id: ID!) { abortThresholdSearch(id: $id, reason: "test cleanup") { __typename } }'
)


@pytest.fixture(scope="module")
def toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeToxiproxy]:
    with fake_toxiproxy(tmp_path_factory.mktemp("ui-toxiproxy") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def payments(toxiproxy: FakeToxiproxy) -> Iterator[tuple[str, int]]:
    """The proxy in front of the dependency: its name and port."""
    with proxy(toxiproxy, f"payments-{uuid.uuid4().hex[:6]}") as made:
        yield made


@pytest.fixture(scope="module")
def service(payments: tuple[str, int]) -> Iterator[Checkout]:
    with checkout(payments[1]) as svc:
        yield svc


class Hub:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.gql = GraphQL(url, token)

    def quiet(self) -> None:
        """Abort any search a test left running and wait until none is active."""
        for edge in self.gql(ACTIVE)["thresholdSearches"]["edges"]:
            self.gql(ABORT, id=edge["node"]["id"])
        wait_for(
            lambda: not self.gql(ACTIVE)["thresholdSearches"]["edges"],
            90,
            0.5,
            what="no active threshold search",
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, toxiproxy: FakeToxiproxy) -> Iterator[Hub]:
    env = {"CHAOSHUB_ADMIN_TOKEN": "ui-ts-" + uuid.uuid4().hex, "CHAOSHUB_RECONCILE_SECONDS": "0.5"}
    with up_process(tmp_path_factory.mktemp("ui-ts-hub"), env) as up:
        hub = Hub(up.url, up.token)
        try:
            created = hub.gql(
                CREATE_BACKEND,
                i={"name": "toxiproxy", "adapter": "toxiproxy", "config": {"url": toxiproxy.url}},
            )["createBackend"]
            assert created["__typename"] == "Backend", created
            yield hub
        finally:
            hub.quiet()
            hub.gql.close()


def document(name: str, service: Checkout, proxy: str, param: str = "latency") -> str:
    """The issue's example, aimed at this test's proxy and service, as a person pastes it."""
    doc = {
        "kind": "ThresholdSearch",
        "name": name,
        "fault": {
            "faultType": "toxiproxy/latency",
            "backend": "toxiproxy",
            "selector": {"names": [proxy]},
            "params": {"jitter": 0},
        },
        "vary": {"param": param, "from": 0, "to": 1000, "resolution": 100, "strategy": "bisect"},
        "trialSeconds": 2,
        "coolDownSeconds": 0.5,
        "slo": [
            {
                "name": "checkout",
                "http": {"url": service.url, "timeoutSeconds": 2},
                "intervalSeconds": 0.2,
                "objective": {"latencyMsP95": {"<": 800}, "successRatio": {">=": 0.99}},
            }
        ],
        "stopConditions": [],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def no_wider_than_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a 390px screen"


def test_a_search_started_from_the_console_shows_its_trials_charts_and_band(
    hub: Hub, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout, page: Any
) -> None:
    proxy = payments[0]
    name = f"ui-checkout-latency-{uuid.uuid4().hex[:6]}"
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/threshold-searches")
    page.get_by_test_id("new-threshold-search").click()
    expect(page).to_have_url(re.compile(r"/threshold-searches/new$"))

    # a parameter that is not numeric is refused on its path, with its line; Start waits
    text = page.get_by_test_id("search-yaml")
    text.fill(document(name, service, proxy, param="stream"))
    expect(page.get_by_test_id("validity")).to_have_text(re.compile(r"issue"), timeout=15_000)
    issue = page.locator('[data-testid="search-issue"][data-field="vary.param"]')
    expect(issue).to_contain_text("line 12")  # vary's param, as yaml.safe_dump lays it out
    expect(page.get_by_test_id("yaml-bad-line")).to_have_attribute("data-line", "12")
    expect(page.get_by_test_id("start-search")).to_be_disabled()
    shot(page, "threshold-new-refused-1440")
    # YAML that does not parse says where
    text.fill("kind: ThresholdSearch\nname: [unclosed\n")
    expect(page.get_by_test_id("validity")).to_have_text("not YAML")
    expect(page.get_by_text(re.compile(r"line \d+:"))).to_be_visible()

    text.fill(document(name, service, proxy))
    expect(page.get_by_test_id("validity")).to_have_text("valid", timeout=15_000)
    page.get_by_test_id("start-search").click()
    expect(page).to_have_url(re.compile(r"/threshold-searches/[0-9a-f]+$"))
    search_id = page.url.rsplit("/", 1)[1]
    view = page.get_by_test_id("threshold-search")

    # followed live, without a reload: trials appear one by one while it runs
    rows = page.get_by_test_id("trial-row")
    expect(rows).to_have_count(2, timeout=90_000)
    expect(page.get_by_test_id("objective-chart")).to_have_count(2)
    if view.get_attribute("data-phase") == "running":
        shot(page, "threshold-search-running-1440")
    expect(view).to_have_attribute("data-phase", "completed", timeout=240_000)

    done = hub.gql(SEARCH, id=search_id)["thresholdSearch"]
    result = done["result"]
    assert result["found"], result
    timeout_ms = CLIENT_TIMEOUT * 1000
    assert result["heldMax"] < timeout_ms and result["brokeMin"] <= timeout_ms + 100, result

    # the band, with its numbers, as the search decided it
    band = page.get_by_test_id("threshold-band")
    expect(band).to_have_attribute("data-held-max", f"{result['heldMax']:g}")
    expect(band).to_have_attribute("data-broke-min", f"{result['brokeMin']:g}")
    expect(page.get_by_test_id("band-headline")).to_have_text(
        f"between {result['heldMax']:g} and {result['brokeMin']:g} ms"
    )
    expect(page.get_by_test_id("result-message")).to_be_visible()

    # the table: one row per trial, its verdict, each objective's value, its workflow run
    expect(rows).to_have_count(len(done["trials"]))
    for i, trial in enumerate(done["trials"]):
        row = rows.nth(i)
        expect(row).to_have_attribute("data-magnitude", f"{trial['magnitude']:g}")
        expect(row).to_have_attribute("data-outcome", trial["outcome"])
        expect(row.get_by_test_id("trial-run")).to_have_attribute(
            "href", f"/workflow-runs/{trial['workflowRunId']}"
        )
    outcomes = {t["outcome"] for t in done["trials"]}
    assert outcomes == {"held", "broke"}, done["trials"]

    # one chart per objective: a point per trial with a value, the limit, the band shaded
    for metric in ("latencyMsP95", "successRatio"):
        chart = page.locator(f'[data-testid="objective-chart"][data-objective="checkout:{metric}"]')
        valued = [
            t
            for t in done["trials"]
            if any(
                o["metric"] == metric and o["value"] is not None for o in t["slo"][0]["objectives"]
            )
        ]
        expect(chart).to_have_attribute("data-points", str(len(valued)))
        expect(chart.locator(".recharts-scatter-symbol")).to_have_count(len(valued))
        expect(chart.locator(".recharts-reference-line")).to_have_count(1)
        expect(chart.locator(".recharts-reference-area")).to_have_count(1)
    expect(page.get_by_test_id("objective-charts")).to_contain_text("limit < 800")
    shot(page, "threshold-search-1440")
    assert toxics(toxiproxy, proxy) == []

    # a trial's workflow run is one click away
    rows.first.get_by_test_id("trial-run").click()
    expect(page).to_have_url(re.compile(r"/workflow-runs/[0-9a-f-]+$"))
    expect(page.get_by_test_id("workflow-run")).to_have_attribute("data-phase", "completed")

    # on a phone: nothing wider than the screen, the charts and band still there
    page.set_viewport_size(PHONE)
    goto(page, f"{hub.url}/threshold-searches/{search_id}")
    expect(page.get_by_test_id("objective-chart")).to_have_count(2)
    page.wait_for_timeout(500)
    no_wider_than_the_phone(page)
    shot(page, "threshold-search-390")

    # the list names it with its band and trial count
    goto(page, f"{hub.url}/threshold-searches")
    row = page.locator(f'[data-testid="threshold-search-row"][data-search="{search_id}"]')
    expect(row.get_by_test_id("band")).to_have_text(
        f"{result['heldMax']:g} \u2013 {result['brokeMin']:g}"
    )
    expect(row.get_by_test_id("trial-count")).to_have_text(
        re.compile(rf"^{len(done['trials'])} / \d+$")
    )
    no_wider_than_the_phone(page)
    shot(page, "threshold-list-390")
    page.set_viewport_size(DESKTOP)
    goto(page, f"{hub.url}/threshold-searches?phase=completed")
    expect(row).to_be_visible()
    shot(page, "threshold-list-1440")
    goto(page, f"{hub.url}/threshold-searches/new")
    expect(page.get_by_test_id("validity")).to_be_visible()
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    no_wider_than_the_phone(page)
    shot(page, "threshold-new-390")


def test_a_running_search_is_paused_resumed_and_aborted_from_its_page_leaving_nothing_injected(
    hub: Hub, toxiproxy: FakeToxiproxy, payments: tuple[str, int], service: Checkout, page: Any
) -> None:
    proxy = payments[0]
    started = hub.gql(
        """mutation($in: StartThresholdSearchInput!) { startThresholdSearch(input: $in) {
          __typename ... on ThresholdSearch { id } ... on Error { message } } }""",
        **{
            "in": {
                "document": {
                    **yaml.safe_load(document(f"ui-abort-{uuid.uuid4().hex[:6]}", service, proxy)),
                    "trialSeconds": 120,
                }
            }
        },
    )["startThresholdSearch"]
    assert started["__typename"] == "ThresholdSearch", started
    try:
        page.set_viewport_size(PHONE)
        sign_in(page, hub.url, hub.token)
        goto(page, f"{hub.url}/threshold-searches/{started['id']}")
        expect(page.get_by_test_id("current-trial")).to_be_visible(timeout=60_000)
        wait_for(lambda: toxics(toxiproxy, proxy), 60, 0.3, what="the first trial's fault")
        # paused: the trial is interrupted and its fault recovered; resumed, a trial runs again
        page.get_by_test_id("pause-search").click()
        page.get_by_test_id("confirm-action").click()
        view = page.get_by_test_id("threshold-search")
        expect(view).to_have_attribute("data-phase", "paused", timeout=60_000)
        expect(page.get_by_test_id("paused")).to_contain_text("interrupted")
        wait_for(lambda: not toxics(toxiproxy, proxy), 60, 0.3, what="the fault recovered")
        shot(page, "threshold-search-paused-390")
        page.get_by_test_id("resume-search").click()
        page.get_by_test_id("confirm-action").click()
        expect(page.get_by_test_id("current-trial")).to_be_visible(timeout=60_000)
        wait_for(lambda: toxics(toxiproxy, proxy), 60, 0.3, what="the trial's fault again")

        page.get_by_test_id("abort-search").click()
        page.get_by_label("Reason").fill("seen enough")
        page.get_by_test_id("confirm-action").click()
        expect(view).to_have_attribute("data-phase", "aborted", timeout=60_000)
        expect(page.get_by_test_id("search-reasons")).to_contain_text("seen enough")
        expect(page.get_by_test_id("abort-search")).to_have_count(0)
        assert toxics(toxiproxy, proxy) == []
        no_wider_than_the_phone(page)
        shot(page, "threshold-search-aborted-390")
    finally:
        hub.quiet()
