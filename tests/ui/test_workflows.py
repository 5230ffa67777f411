"""The console's workflows against a real `chaoshub up` with its local agent and real local
services (a cache process and an API whose health depends on it): the run page following a
workflow to its verdict with its graph and probe charts, on a desktop and on a phone; the
editor building the README's example by dragging from its palette, drawing edges and filling
forms (no YAML or JSON typed), then saving it and running it to its verdict; a stop condition
breaching, seen on the run page; approvals decided on the run page on a phone; a YAML edit
reflected on the canvas; a bad parameter shown on its field with Start refused.

Screenshots go to ``artifacts/screenshots/workflow-*.png``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.stack import GraphQL, up_process, wait_for
from tests.ui.conftest import goto, shot, sign_in
from tests.workflows.services import Services, api_with_cache

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

START = """mutation($in: StartWorkflowInput!) { startWorkflow(input: $in) {
  __typename ... on WorkflowRun { id } ... on Error { code message field } } }"""
STATE = "query($id: ID!) { workflowRun(id: $id) { phase verdict } }"
ACTIVE = """{ workflowRuns(filter: {phase: ["pending", "injecting", "running", "paused",
  "recovering"]}) { totalCount } }"""
HALT_ALL = """mutation { haltAll(reason: "test cleanup") { __typename } }"""


class Hub:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.gql = GraphQL(url, token)

    def start(self, document: dict[str, Any]) -> str:
        answer = self.gql(START, **{"in": {"document": document}})["startWorkflow"]
        assert answer["__typename"] == "WorkflowRun", answer
        return str(answer["id"])

    def quiet(self) -> None:
        """Halt whatever a test left running and wait until nothing is active."""
        self.gql(HALT_ALL)
        wait_for(
            lambda: self.gql(ACTIVE)["workflowRuns"]["totalCount"] == 0,
            60,
            0.3,
            what="no active workflow run",
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {"CHAOSHUB_ADMIN_TOKEN": "ui-wf-" + uuid.uuid4().hex, "CHAOSHUB_RECONCILE_SECONDS": "0.5"}
    with up_process(tmp_path_factory.mktemp("ui-wf-hub"), env) as up:
        hub = Hub(up.url, up.token)
        try:
            wait_for(
                lambda: any(a["online"] for a in hub.gql("{ agents { name online } }")["agents"]),
                30,
                what="the local agent",
            )
            yield hub
        finally:
            hub.gql.close()


@pytest.fixture
def services(hub: Hub) -> Iterator[Services]:
    name = f"cache-{uuid.uuid4().hex[:6]}"
    with api_with_cache(name, resilient=True) as s:
        try:
            yield s
        finally:
            hub.quiet()


def example(name: str, services: Services) -> dict[str, Any]:
    """The documentation's example, aimed at this test's own cache and API."""
    health = {"url": services.health_url, "expect": {"status": [200]}, "timeoutSeconds": 2}
    return {
        "kind": "Workflow",
        "name": name,
        "steadyState": [{"name": "api-healthy", "http": health}],
        "stopConditions": [
            {
                "name": "api-error-budget",
                "http": {**health, "expect": {"status": [200], "latencyMs": {"<": 1000}}},
                "intervalSeconds": 1,
                "failureThreshold": 3,
            }
        ],
        "steps": [
            {"id": "settle", "wait": {"seconds": 1}},
            {
                "id": "pause-cache",
                "after": ["settle"],
                "fault": {
                    "faultType": "native/process-pause",
                    "backend": "native",
                    "selector": {"agents": ["local"], "name": services.cache_name},
                    "durationSeconds": 5,
                },
            },
            {
                "id": "api-during",
                "after": ["settle"],
                "probe": {"http": health, "intervalSeconds": 1, "forSeconds": 4},
            },
        ],
    }


def test_the_run_page_follows_a_workflow_to_its_verdict_with_its_graph_and_probe_charts(
    hub: Hub, services: Services, page: Any
) -> None:
    run_id = hub.start(example(f"ui-example-{uuid.uuid4().hex[:6]}", services))
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflow-runs/{run_id}")
    graph = page.get_by_test_id("workflow-graph")
    expect(graph.get_by_test_id("wf-node")).to_have_count(6)  # 3 steps, 2 steady state, 1 stop
    # followed live: no reload between the start and the verdict
    expect(page.get_by_test_id("workflow-run")).to_have_attribute(
        "data-verdict", "pass", timeout=60_000
    )
    expect(page.get_by_test_id("workflow-run")).to_have_attribute("data-phase", "completed")
    expect(page.get_by_test_id("score")).to_have_text("score 100%")
    expect(page.get_by_test_id("reasons")).to_be_visible()
    for step in ("settle", "pause-cache", "api-during"):
        expect(graph.locator(f'[data-node="{step}"]')).to_have_attribute("data-state", "passed")
    fault = graph.locator('[data-node="pause-cache"]')
    expect(fault.get_by_test_id("wf-node-times")).to_contain_text("→")
    expect(fault.get_by_test_id("wf-node-run")).to_contain_text("completed")
    budget = page.locator('[data-testid="probe-chart"][data-probe="api-error-budget"]')
    expect(budget).to_contain_text("expect < 1000")
    expect(budget.locator(".recharts-reference-line")).to_have_count(1)
    during = page.locator('[data-testid="probe-chart"][data-probe="api-during"]')
    expect(during.locator(".recharts-line")).to_have_count(1)
    shot(page, "workflow-run-1440")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    shot(page, "workflow-run-390")
    # nothing is cut off: the page is no wider than the phone, the whole graph is in view
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the run page is {width}px wide on a 390px screen"
    box = graph.bounding_box()
    for node in graph.get_by_test_id("wf-node").all():
        b = node.bounding_box()
        assert box["x"] <= b["x"] and b["x"] + b["width"] <= box["x"] + box["width"] + 1, b
    # the child run is one tap away, from the graph
    child = fault.get_by_test_id("wf-node-run").inner_text().split()[1]
    fault.click()
    expect(page).to_have_url(re.compile(rf"/runs/{child}[0-9a-f-]*$"))
    # and the lists name it, with its verdict
    goto(page, f"{hub.url}/workflow-runs?verdict=pass")
    expect(page.locator(f'[data-testid="workflow-run-row"][data-run="{run_id}"]')).to_be_visible()
    goto(page, f"{hub.url}/workflow-runs?verdict=fail")
    expect(page.locator(f'[data-testid="workflow-run-row"][data-run="{run_id}"]')).to_have_count(0)
    page.set_viewport_size(DESKTOP)
    goto(page, f"{hub.url}/workflows")
    expect(page.get_by_test_id("workflow-row").first).to_contain_text("pass")
    shot(page, "workflow-list-1440")


def node(page: Any, name: str) -> Any:
    return page.get_by_test_id("editor-canvas").locator(
        f'[data-testid="wf-node"][data-node="{name}"]'
    )


def drop(page: Any, item: str, target: Any, x: float = 0.5, y: float = 0.5) -> None:
    """Drag a palette item and drop it on ``target`` at (x, y) as fractions of its size:
    HTML5 drag and drop, as a person does it with the mouse."""
    box = target.bounding_box()
    page.locator(f'[data-testid="palette-item"][data-item="{item}"]').drag_to(
        target, target_position={"x": box["width"] * x, "y": box["height"] * y}
    )


def connect(page: Any, source: str, target: str) -> None:
    """Draw an edge from one step's output handle to another's input handle.

    The handles are found afresh for each try: on a loaded machine the canvas may still be
    settling (a node renamed, the side panel opening) when their places are first read, and
    a drag that starts beside a handle draws nothing — it is drawn again, as a person would."""
    edges = page.locator(".react-flow__edge")
    before = edges.count()
    for _ in range(3):
        page.get_by_test_id("editor-canvas").scroll_into_view_if_needed()
        out = node(page, source).locator(".react-flow__handle-right").bounding_box()
        into = node(page, target).locator(".react-flow__handle-left").bounding_box()
        page.mouse.move(out["x"] + out["width"] / 2, out["y"] + out["height"] / 2)
        page.mouse.down()
        page.mouse.move(into["x"] + 2, into["y"] + 2, steps=12)
        page.mouse.move(into["x"] + into["width"] / 2, into["y"] + into["height"] / 2, steps=4)
        page.mouse.up()
        try:
            expect(edges).to_have_count(before + 1, timeout=3000)
            return
        except AssertionError:
            continue


def test_the_palette_lists_the_faults_that_can_run_here_first(hub: Hub, page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflows/new")
    faults = page.get_by_test_id("palette").locator('[data-testid="palette-item"][data-available]')
    expect(faults.filter(has_text="native/process-pause")).to_have_attribute(
        "data-available", "true"
    )
    flags = [f.get_attribute("data-available") for f in faults.all()]
    assert "false" in flags, "this hub has faults it cannot run (no backend for them)"
    assert flags == sorted(flags, reverse=True), "runnable ones first: " + str(flags)
    page.get_by_test_id("palette").get_by_text("Available only").click()
    expect(page.get_by_test_id("palette-available-only")).to_be_checked()
    expect(page.locator('[data-testid="palette-item"][data-available="false"]')).to_have_count(0)
    expect(faults.first).to_be_visible()


def drop_on_lane(page: Any, item: str, lane: str) -> None:
    """Drop a palette item in the middle of a lane of the canvas."""
    canvas = page.get_by_test_id("editor-canvas")
    box = page.get_by_test_id(f"lane-{lane}").bounding_box()
    area = canvas.bounding_box()
    drop(
        page,
        item,
        canvas,
        (box["x"] + box["width"] / 2 - area["x"]) / area["width"],
        (box["y"] + box["height"] / 2 - area["y"]) / area["height"],
    )


URL_FIELD = re.compile(r"^url")  # "url *": required


def rename(panel: Any, to: str) -> None:
    step_id = panel.get_by_label("Step id")
    step_id.fill(to)
    step_id.press("Enter")


def test_the_editor_builds_the_example_by_dragging_and_filling_forms_then_runs_it_to_its_verdict(
    hub: Hub, services: Services, page: Any
) -> None:
    """The README's example, made without typing YAML or JSON: a settle wait, the cache pause,
    a probe of the API while it is paused, a steady-state check and a stop condition on their
    lanes — each probe filled in on its form (URL, expected status, latency, timing)."""
    name = f"ui-built-{uuid.uuid4().hex[:6]}"
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflows/new")
    canvas = page.get_by_test_id("editor-canvas")
    pause = page.locator('[data-testid="palette-item"][data-item="native/process-pause"]')
    expect(pause).to_have_attribute("data-available", "true")
    page.get_by_test_id("workflow-name").fill(name)
    panel = page.get_by_test_id("step-panel")

    # settle: a wait of 1 s
    drop(page, "wait", canvas, 0.55, 0.75)
    expect(node(page, "wait")).to_be_visible()
    rename(panel, "settle")
    expect(node(page, "settle")).to_be_visible()
    panel.get_by_label("Seconds").fill("1")

    # pause-cache: the fault after settle, its selector on the generated form
    drop(page, "native/process-pause", canvas, 0.75, 0.85)
    expect(panel).to_have_attribute("data-step", "process-pause")
    rename(panel, "pause-cache")
    panel.get_by_label("Duration (s)").fill("5")
    agents = panel.get_by_label("agents", exact=True)
    agents.fill("local")
    agents.press("Enter")
    panel.get_by_label("name", exact=True).fill(services.cache_name)
    connect(page, "settle", "pause-cache")
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    # api-during: an http probe step after settle, checked every second for 4 s
    drop(page, "http probe", canvas, 0.75, 0.6)
    expect(panel).to_have_attribute("data-step", "check-http")
    rename(panel, "api-during")
    form = panel.get_by_test_id("probe-form")
    expect(form).to_have_attribute("data-kind", "http")
    form.get_by_label(URL_FIELD).fill(services.health_url)
    expect(form.get_by_test_id("expect-status")).to_contain_text("200")
    form.get_by_label("forSeconds", exact=True).fill("4")
    connect(page, "settle", "api-during")
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    # the steady-state check on its lane
    drop_on_lane(page, "http probe", "steadyState")
    expect(panel).to_have_attribute("data-step", "steady-1")
    panel.get_by_label("Name", exact=True).fill("api-healthy")
    form.get_by_label(URL_FIELD).fill(services.health_url)
    form.get_by_label("intervalSeconds", exact=True).fill("")

    # the stop condition on its lane: status 200 within 1000 ms, breached at 3 in a row
    drop_on_lane(page, "http probe", "stopConditions")
    expect(panel).to_have_attribute("data-step", "stop-1")
    panel.get_by_label("Name", exact=True).fill("api-error-budget")
    form.get_by_label(URL_FIELD).fill(services.health_url)
    form.get_by_label("latencyMs value").fill("1000")
    form.get_by_label("failureThreshold", exact=True).fill("3")

    yaml_text = page.get_by_test_id("workflow-yaml")
    expect(yaml_text).to_contain_text("api-error-budget")
    expect(yaml_text).to_contain_text("<: 1000")
    expect(page.get_by_test_id("validity")).to_have_text("valid", timeout=15_000)
    shot(page, "workflow-editor-1440")

    page.get_by_test_id("save-workflow").click()
    expect(page).to_have_url(re.compile(r"/workflows/[^/]+/edit$"))
    saved = hub.gql("query($n: String) { workflow(name: $n) { version document } }", n=name)
    document = saved["workflow"]["document"]
    the_example = example(name, services)
    assert saved["workflow"]["version"] == 1
    assert document["steadyState"] == the_example["steadyState"]
    assert document["stopConditions"] == the_example["stopConditions"]
    steps = {s["id"]: s for s in document["steps"]}
    wanted = {s["id"]: s for s in the_example["steps"]}
    assert steps["settle"] == wanted["settle"]
    assert steps["api-during"] == wanted["api-during"]
    fault = steps["pause-cache"]
    assert fault["after"] == ["settle"]
    assert {k: fault["fault"][k] for k in wanted["pause-cache"]["fault"]} == wanted["pause-cache"][
        "fault"
    ]

    page.get_by_test_id("start-workflow").click()
    expect(page).to_have_url(re.compile(r"/workflow-runs/[^/]+$"))
    run = page.get_by_test_id("workflow-run")
    expect(run).to_have_attribute("data-verdict", "pass", timeout=60_000)
    graph = page.get_by_test_id("workflow-graph")
    expect(graph.get_by_test_id("wf-node")).to_have_count(6)
    for step in ("settle", "pause-cache", "api-during"):
        expect(graph.locator(f'[data-node="{step}"]')).to_have_attribute("data-state", "passed")
    shot(page, "workflow-built-run-1440")

    # read-only on a phone: the canvas without the palette
    page.set_viewport_size(PHONE)
    goto(page, f"{hub.url}/workflows")
    page.get_by_test_id("workflow-row").filter(has_text=name).get_by_role("link", name=name).click()
    expect(node(page, "pause-cache")).to_be_visible()
    expect(page.get_by_test_id("palette")).to_have_count(0)
    shot(page, "workflow-editor-390")


def test_a_stop_condition_breaching_is_seen_on_the_run_page(hub: Hub, page: Any) -> None:
    """An API that fails while its cache is paused: the stop condition breaches, the run is
    aborted with a failing verdict, and the breaching probe is marked on the graph and its
    chart."""
    with api_with_cache(f"cache-{uuid.uuid4().hex[:6]}", resilient=False) as fragile:
        try:
            document = example(f"ui-breach-{uuid.uuid4().hex[:6]}", fragile)
            document["steps"][1]["fault"]["durationSeconds"] = 30
            document["steps"][2]["probe"]["forSeconds"] = 25
            run_id = hub.start(document)
            page.set_viewport_size(DESKTOP)
            sign_in(page, hub.url, hub.token)
            goto(page, f"{hub.url}/workflow-runs/{run_id}")
            run = page.get_by_test_id("workflow-run")
            expect(run).to_have_attribute("data-verdict", "fail", timeout=60_000)
            expect(run).to_have_attribute("data-phase", "aborted")
            expect(page.get_by_test_id("reasons")).to_contain_text(
                "stop condition api-error-budget breached"
            )
            graph = page.get_by_test_id("workflow-graph")
            budget = graph.locator('[data-node="api-error-budget"]')
            expect(budget).to_have_attribute("data-state", "failed")
            chart = page.locator('[data-testid="probe-chart"][data-probe="api-error-budget"]')
            expect(chart.get_by_test_id("probe-breach").first).to_be_attached()
            shot(page, "workflow-run-breach-1440")
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(500)
            shot(page, "workflow-run-breach-390")
        finally:
            hub.quiet()


def gated(name: str) -> dict[str, Any]:
    return {
        "kind": "Workflow",
        "name": name,
        "steps": [
            {"id": "gate", "approval": {"message": "Go on?", "timeoutSeconds": 600}},
            {"id": "after-gate", "after": ["gate"], "wait": {"seconds": 1}},
        ],
    }


@pytest.mark.parametrize(
    ("decision", "decided", "phase", "gate_state"),
    [("approve", "approved", "completed", "passed"), ("reject", "rejected", "aborted", "failed")],
)
def test_an_approval_is_decided_on_the_run_page_on_a_phone(
    hub: Hub, page: Any, decision: str, decided: str, phase: str, gate_state: str
) -> None:
    run_id = hub.start(gated(f"ui-{decision}-{uuid.uuid4().hex[:6]}"))
    try:
        page.set_viewport_size(PHONE)
        sign_in(page, hub.url, hub.token)
        goto(page, f"{hub.url}/workflow-runs/{run_id}")
        button = page.get_by_test_id(f"{decision}-gate")
        expect(button).to_be_visible(timeout=30_000)
        shot(page, f"workflow-run-approval-{decision}-390")
        button.click()
        page.get_by_label("Comment").fill(f"{decided} from a phone")
        page.get_by_test_id("confirm-action").click()
        run = page.get_by_test_id("workflow-run")
        expect(run).to_have_attribute("data-phase", phase, timeout=30_000)
        graph = page.get_by_test_id("workflow-graph")
        expect(graph.locator('[data-node="gate"]')).to_have_attribute("data-state", gate_state)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the run page is {width}px wide on a 390px screen"
        shot(page, f"workflow-run-{decided}-390")
    finally:
        hub.quiet()


YAML_TWO_WAITS = """kind: Workflow
name: yaml-made
steps:
  - id: first
    wait: {seconds: 1}
  - id: second
    after: [first]
    wait: {seconds: 2}
"""


def test_a_yaml_edit_is_drawn_on_the_canvas_and_a_canvas_edit_is_written_back(
    hub: Hub, page: Any
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflows/new")
    page.get_by_test_id("workflow-yaml").fill(YAML_TWO_WAITS)
    expect(node(page, "first")).to_be_visible()
    expect(node(page, "second")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    expect(page.get_by_test_id("workflow-name")).to_have_value("yaml-made")
    # back: rename a step on the canvas's panel, the YAML follows (its dependant's too)
    node(page, "first").click()
    step_id = page.get_by_test_id("step-panel").get_by_label("Step id")
    step_id.fill("warmup")
    step_id.press("Enter")
    expect(node(page, "warmup")).to_be_visible()
    yaml_text = page.get_by_test_id("workflow-yaml")
    expect(yaml_text).to_contain_text("id: warmup")
    expect(yaml_text).to_contain_text("- warmup")
    # delete with the keyboard, undo brings it back
    node(page, "second").click()
    page.keyboard.press("Delete")
    expect(node(page, "second")).to_have_count(0)
    page.get_by_test_id("undo").click()
    expect(node(page, "second")).to_be_visible()
    shot(page, "workflow-editor-yaml-1440")


YAML_BAD_PARAM = """kind: Workflow
name: bad-param
steps:
  - id: burn
    fault:
      faultType: native/cpu-stress
      backend: native
      selector: {agents: [local]}
      params: {load_percent: 500}
      durationSeconds: 5
"""


def test_a_bad_parameter_is_shown_on_its_field_and_start_is_refused(hub: Hub, page: Any) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, hub.url, hub.token)
    goto(page, f"{hub.url}/workflows/new")
    page.get_by_test_id("workflow-yaml").fill(YAML_BAD_PARAM)
    burn = node(page, "burn")
    expect(burn).to_have_attribute("data-invalid", "true", timeout=15_000)
    expect(burn.get_by_test_id("wf-node-issue")).to_contain_text("fault.params.load_percent")
    expect(page.get_by_test_id("start-workflow")).to_be_disabled()
    expect(page.get_by_test_id("save-workflow")).to_be_disabled()
    burn.click()
    field = page.get_by_test_id("step-panel").get_by_label("load_percent")
    expect(field).to_have_value("500")
    expect(field).to_have_attribute("aria-invalid", "true")
    shot(page, "workflow-editor-bad-param-1440")
    # fixed on the field, it can be started
    field.fill("50")
    expect(page.get_by_test_id("validity")).to_have_text("valid", timeout=15_000)
    expect(page.get_by_test_id("start-workflow")).to_be_enabled()
