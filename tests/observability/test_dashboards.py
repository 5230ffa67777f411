"""The Grafana provisioning in ``deploy/grafana`` works as shipped: every dashboard is valid
against the dashboard JSON model Grafana documents (``deploy/grafana/dashboard.schema.json``:
unknown fields and panel types refused, every query names the provisioned data source by
uid), the compose file mounts what the provisioning files point at, and every panel's
PromQL, every annotation and every template variable parses and returns series in a real
Prometheus scraping a real hub and its agent during real runs: a CPU stress held on the
local agent, a recovery stuck retrying, a workflow that passed, one that failed and one
still running."""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.observability.observed import ObservedHub, observed_hub
from tests.probes.peers import http_service
from tests.support import queries as Q
from tests.support.stack import free_port, wait_for
from tests.workflows.hub import HALT_ALL, START

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SCHEMA = json.loads((GRAFANA / "dashboard.schema.json").read_text())
DATASOURCE_UID = "chaoshub-prometheus"
#: what Grafana puts for its built-in variables, at a 1 s scrape interval
BUILT_INS = {"__rate_interval": "15s", "__interval": "1s", "__range": "5m"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _errors(board: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(board)
    ]


# -- the files ---------------------------------------------------------------------------------


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_each_dashboard_follows_the_documented_json_model(path: Path) -> None:
    board = _load(path)
    assert _errors(board) == []
    ids = [p["id"] for p in _panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in _panels(board):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the grid"
        sources = [
            panel.get("datasource"),
            *(t.get("datasource") for t in panel.get("targets", [])),
        ]
        assert all(s is None or s["uid"] == DATASOURCE_UID for s in sources), panel["title"]
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID
    for annotation in board["annotations"]["list"]:
        if not annotation.get("builtIn"):
            assert annotation["datasource"]["uid"] == DATASOURCE_UID


def test_the_four_dashboards_are_there_with_unique_uids() -> None:
    boards = [_load(p) for p in DASHBOARDS]
    assert {p.stem for p in DASHBOARDS} == {"fleet", "runs", "experiment", "workflows"}
    assert len({b["uid"] for b in boards}) == len(boards)


def _spoiled(change: str) -> dict[str, Any]:
    board = copy.deepcopy(_load(GRAFANA / "dashboards" / "runs.json"))
    panel = next(p for p in board["panels"] if p["type"] == "timeseries")
    if change == "unknown panel type":
        panel["type"] = "graphh"
    elif change == "datasource without uid":
        del panel["datasource"]["uid"]
    elif change == "query panel without datasource":
        del panel["datasource"]
    elif change == "target without expr":
        del panel["targets"][0]["expr"]
    elif change == "unknown dashboard field":
        board["panelz"] = []
    elif change == "misspelt panel field":
        panel["gridpos"] = panel.pop("gridPos")
    elif change == "panel wider than the grid":
        panel["gridPos"]["w"] = 25
    elif change == "bad variable type":
        board["templating"]["list"][0]["type"] = "querry"
    elif change == "annotation without expr":
        board["annotations"]["list"].append(
            {"name": "x", "enable": True, "datasource": {"type": "prometheus", "uid": "u"}}
        )
    return board


@pytest.mark.parametrize(
    "change",
    [
        "unknown panel type",
        "datasource without uid",
        "query panel without datasource",
        "target without expr",
        "unknown dashboard field",
        "misspelt panel field",
        "panel wider than the grid",
        "bad variable type",
        "annotation without expr",
    ],
)
def test_the_schema_refuses_a_spoiled_dashboard(change: str) -> None:
    assert _errors(_spoiled(change)), change


def test_provisioning_points_at_what_the_compose_file_mounts() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = {
        src.removeprefix("./"): dst.split(":")[0]
        for src, dst in (v.split(":", 1) for v in compose["services"]["grafana"]["volumes"])
    }
    assert volumes["deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/chaoshub.yaml").read_text())
    assert providers["apiVersion"] == 1
    assert volumes["deploy/grafana/dashboards"] == providers["providers"][0]["options"]["path"]
    sources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    assert "node-exporter" in compose["services"]


def test_the_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """deploy/prometheus.yml as Prometheus reads it (promtool, from Debian's package); the
    injector's token file, a volume in compose, is stood in for by a file of the test's."""
    token = tmp_path / "api-token"
    token.write_text("secret\n")
    config = (ROOT / "deploy" / "prometheus.yml").read_text()
    assert "/etc/prometheus/injector/api-token" in config
    copy_ = tmp_path / "prometheus.yml"
    copy_.write_text(config.replace("/etc/prometheus/injector/api-token", str(token)))
    done = subprocess.run(
        [shutil.which("promtool") or "/usr/bin/promtool", "check", "config", str(copy_)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {j["job_name"] for j in yaml.safe_load(config)["scrape_configs"]}
    assert jobs == {"chaoshub-api", "chaoshub-worker", "chaoshub-injector", "node-exporter"}


# -- against a real Prometheus -------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedHub]:
    with observed_hub(tmp_path_factory.mktemp("dashboards")) as observed:
        try:
            yield observed
        finally:
            observed.gql(HALT_ALL)


def _start_run(hub: ObservedHub, run: dict[str, Any]) -> str:
    started = hub.gql(Q.START_RUN, input=run)["startRun"]
    assert started["__typename"] == "Run", started
    return started["id"]  # type: ignore[no-any-return]


def _start_workflow(hub: ObservedHub, doc: dict[str, Any]) -> str:
    started = hub.gql(START, **{"in": {"document": {"kind": "Workflow", **doc}}})
    assert started["startWorkflow"]["__typename"] == "WorkflowRun", started
    return started["startWorkflow"]["id"]  # type: ignore[no-any-return]


def _workflow_phase(hub: ObservedHub, run_id: str) -> str:
    return hub.gql("query($id: ID!) { workflowRun(id: $id) { phase } }", id=run_id)[  # type: ignore[no-any-return]
        "workflowRun"
    ]["phase"]


def _substitute(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown variable ${name} in {expr}"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)


def _has_values(answer: dict[str, Any], expr: str) -> str | None:
    """Why a query answer is not good enough for a panel, or None when it is."""
    if answer.get("status") != "success":
        return f"{expr}: {answer.get('errorType')}: {answer.get('error')}"
    series = answer["data"]["result"]
    if not series:
        return f"{expr}: no series"
    points = [v for s in series for v in (s.get("values") or [s.get("value")])]
    if not any(math.isfinite(float(v[1])) for v in points):
        return f"{expr}: only NaN"
    return None


def test_every_panel_annotation_and_variable_returns_series_during_a_run(
    hub: ObservedHub,
) -> None:
    began = time.time()
    prom = hub.prometheus
    gql = hub.gql
    gql(Q.CREATE_BACKEND, input={"name": "mem", "adapter": "memory", "config": {}})
    gql(
        Q.CREATE_BACKEND,
        input={"name": "mem-stuck", "adapter": "memory", "config": {"fail_recover": -1}},
    )
    with http_service() as service:
        passed = _start_workflow(
            hub,
            {
                "name": "survives-latency",
                "steadyState": [{"name": "up", "http": {"url": service.url + "/health"}}],
                "steps": [
                    {
                        "id": "latency",
                        "fault": {
                            "faultType": "memory/latency",
                            "backend": "mem",
                            "selector": {"names": ["alpha"]},
                            "durationSeconds": 1,
                        },
                    }
                ],
            },
        )
        wait_for(lambda: _workflow_phase(hub, passed) == "completed", 60, what="a passing workflow")
    failed = _start_workflow(
        hub,
        {
            "name": "not-steady",
            "steadyState": [
                {"name": "down", "http": {"url": f"http://127.0.0.1:{free_port()}/health"}}
            ],
            "steps": [{"id": "rest", "wait": {"seconds": 1}}],
        },
    )
    wait_for(lambda: _workflow_phase(hub, failed) == "failed", 60, what="a failing workflow")
    _start_workflow(hub, {"name": "long-wait", "steps": [{"id": "rest", "wait": {"seconds": 600}}]})
    stuck = _start_run(
        hub,
        {
            "faultType": "memory/latency",
            "backend": "mem-stuck",
            "selector": {"names": ["beta"]},
            "params": {},
            "durationSeconds": 1,
        },
    )
    stress = _start_run(
        hub,
        {
            "faultType": "native/cpu-stress",
            "backend": "native",
            "selector": {"agents": ["local"]},
            "params": {"workers": 1, "load_percent": 20},
            "durationSeconds": 600,
        },
    )
    try:
        for expr in (
            f'chaoshub_fault_active{{run="{stress}"}}',
            f'chaoshub_injector_fault_value{{execution_id=~"{stress}-.*"}}',
            f'chaoshub_run_recover_attempts{{run="{stuck}"}} > 0',
            "chaoshub_workflow_passing == 0",
            "chaoshub_workflow_passing == 1",
            "chaoshub_time_to_recover_seconds_count > 0",
        ):
            wait_for(lambda e=expr: prom.query(e), 60, interval=0.5, what=expr)
        time.sleep(20)  # enough scrapes for every rate window and the run to show on the host
        problems = _check_dashboards(hub, began, stress)
    finally:
        gql(HALT_ALL)
        gql(Q.FORCE_RELEASE, id=stuck, reason="test cleanup: the memory tool never recovers")
    assert problems == []


def _check_dashboards(hub: ObservedHub, began: float, run_id: str) -> list[str]:
    prom = hub.prometheus
    problems: list[str] = []
    now = time.time()
    for path in DASHBOARDS:
        board = _load(path)
        values = dict(BUILT_INS)
        for variable in board["templating"]["list"]:
            found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"])
            assert found, variable["query"]
            options = prom.label_values(found.group(2), found.group(1), began)
            if not options:
                problems.append(f"{path.stem}: variable ${variable['name']} has no values")
            if variable["name"] == "run":
                if run_id not in options:
                    problems.append(f"{path.stem}: $run does not offer {run_id}: {options}")
                values["run"] = run_id
            else:
                values[variable["name"]] = variable["allValue"]
        queries = [
            (f"{path.stem} / {panel['title']}", target)
            for panel in _panels(board)
            for target in panel.get("targets", [])
        ] + [
            (f"{path.stem} / annotation {a['name']}", a)
            for a in board["annotations"]["list"]
            if not a.get("builtIn")
        ]
        for where, target in queries:
            expr = _substitute(target["expr"], values)
            instant = target.get("instant")
            answer = prom.instant(expr) if instant else prom.query_range(expr, began, now)
            why = _has_values(answer, expr)
            if why:
                problems.append(f"{where}: {why}")
    return problems
