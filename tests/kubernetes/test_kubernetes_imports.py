"""Imported documents run: a Chaos Mesh NetworkChaos and Workflow and a Litmus ChaosEngine
with probes on a fake cluster, a Chaos Toolkit experiment's process actions on the local
agent, through one ``chaoshub up`` — imported with ``chaoshub import`` and the
``importDocument`` mutation, started as the hub starts its own documents."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_apiserver import CHAOS_MESH
from fake_operators import EXPERIMENT, Outcome
from kube_peers import FakeCluster, start_cluster, stop_cluster

from tests.support import queries as Q
from tests.support.stack import wait_for
from tests.workflows.hub import Hub, running_hub

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[1] / "formats" / "documents"
NETWORK, STRESS = CHAOS_MESH[1], CHAOS_MESH[2]
IMPORT = """mutation($doc: String!, $backend: String, $agent: String, $create: Boolean!) {
  importDocument(document: $doc, backend: $backend, agent: $agent, create: $create) {
    __typename ... on ImportedDocument { kind source document notes { path why } created }
    ... on Error { code message field } } }"""
#: the scripts the agent may run (its scripts directory); {log} is where they write
SCRIPTS = {
    "pause-cache.sh": 'echo "paused $*" >> {log}\n',
    "resume-cache.sh": 'echo "resumed $*" >> {log}\n',
    "check-cache.sh": "echo PONG\n",
}


class _Service(BaseHTTPRequestHandler):
    """The system under test: healthy, with a JSON status."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "up"}).encode() if self.path == "/status" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("cluster") / "kubeconfig")
    try:
        for i in range(2):
            cluster.api.store.add_pod("shop", f"cart-{i}", {"app": "cart"})
        cluster.api.store.create(
            EXPERIMENT, "shop", {"metadata": {"name": "pod-delete"}, "spec": {"definition": {}}}
        )
        cluster.litmus.default = Outcome(verdict="Pass", run_seconds=1.0)
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, cluster: FakeCluster) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("import-hub")
    with running_hub(data) as h:
        for name, body in SCRIPTS.items():
            script = data / "scripts" / name
            script.write_text("#!/bin/sh\n" + body.format(log=shlex.quote(str(data / "cache.log"))))
            script.chmod(0o755)
        for adapter, name in (("chaos-mesh", "mesh-shop"), ("litmus", "litmus-shop")):
            made = h.gql(
                Q.CREATE_BACKEND,
                input={"name": name, "adapter": adapter, "config": cluster.config("shop")},
            )
            assert made["createBackend"]["__typename"] == "Backend", made
        yield h


def _import(hub: Hub, text: str, *, create: bool = False, **options: str) -> dict[str, Any]:
    result: dict[str, Any] = hub.gql(IMPORT, doc=text, create=create, **options)["importDocument"]
    return result


def _document(name: str, service: str, **replace: str) -> str:
    text = (DOCS / name).read_text().replace("http://127.0.0.1:8081", service)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def test_an_imported_network_chaos_is_created_by_the_cli_and_runs_on_the_cluster(
    hub: Hub, cluster: FakeCluster, service: str, tmp_path: Path
) -> None:
    file = tmp_path / "delay.yaml"
    file.write_text(
        _document("cm-network-delay.yaml", service, **{"duration: 30s": "duration: 2s"})
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "chaoshub.cli", "import", str(file), "--backend", "mesh-shop",
         "--create", "--url", hub.url, "--token", hub.token],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "# not mapped: spec.delay.reorder:" in done.stdout
    experiment_id = yaml.safe_load(done.stdout.split("# created Experiment ")[1].split("\n")[0])
    started = hub.gql(Q.START_RUN, input={"experimentId": str(experiment_id)})["startRun"]
    assert started["__typename"] == "Run", started
    run = wait_for(
        lambda: (
            r if (r := hub.gql(Q.RUN, id=started["id"])["run"])["phase"] == "completed" else None
        ),
        60,
        what="the imported NetworkChaos completed",
    )
    assert run["targets"][0]["phase"] == "recovered"
    made = [
        e.obj
        for e in cluster.api.store.events
        if e.resource == NETWORK.resource and e.type == "ADDED"
    ]
    spec = made[-1]["spec"]
    assert spec["action"] == "delay" and spec["delay"]["latency"] == "200ms"
    assert spec["selector"]["labelSelectors"] == {"app": "cart"}
    assert not cluster.api.store.all(NETWORK), "recovered: the object is deleted"


def test_an_imported_chaos_mesh_workflow_runs_to_a_pass(
    hub: Hub, cluster: FakeCluster, service: str
) -> None:
    shorter = {"deadline: 20s": "deadline: 2s", "deadline: 15s": "deadline: 2s",
               "deadline: 10s": "deadline: 2s", "deadline: 5s": "deadline: 1s"}  # fmt: skip
    result = _import(hub, _document("cm-workflow.yaml", service, **shorter), backend="mesh-shop")
    assert result["__typename"] == "ImportedDocument", result
    assert result["kind"] == "Workflow" and result["created"] == {}
    before = len(cluster.api.store.events)
    run = hub.start(result["document"])
    ended = hub.wait_ended(run["id"], timeout=180)
    assert (ended["phase"], ended["verdict"]) == ("completed", "pass"), ended["reasons"]
    states = {s["stepId"]: s["state"] for s in ended["steps"] if s["role"] == "step"}
    assert set(states.values()) == {"passed"}, states
    kinds = {
        e.obj["kind"]
        for e in cluster.api.store.events[before:]
        if e.type == "ADDED" and e.resource in (NETWORK.resource, STRESS.resource)
    }
    assert kinds == {"NetworkChaos", "StressChaos"}


def test_an_imported_litmus_engine_with_probes_runs_and_its_probes_decide(
    hub: Hub, cluster: FakeCluster, service: str
) -> None:
    doc = yaml.safe_load(_document("litmus-engine-probes.yaml", service))
    probes = doc["spec"]["experiments"][0]["spec"]["probe"]
    doc["spec"]["experiments"][0]["spec"]["probe"] = [p for p in probes if p["type"] != "promProbe"]
    result = _import(hub, yaml.safe_dump(doc), backend="litmus-shop", agent="local")
    assert result["__typename"] == "ImportedDocument", result
    document = result["document"]
    assert [p["name"] for p in document["steadyState"]] == ["cart-available", "cache-answers"]
    assert [p["name"] for p in document["stopConditions"]] == ["cart-during"]
    run = hub.start(document)
    ended = hub.wait_ended(run["id"], timeout=180)
    assert (ended["phase"], ended["verdict"]) == ("completed", "pass"), ended["reasons"]
    checked = {s["probe"]["name"]: s["probe"]["checks"] for s in ended["steps"] if s["probe"]}
    assert checked.get("cache-answers", 0) >= 1 and checked.get("cart-available", 0) >= 1, checked


def test_an_imported_chaos_toolkit_experiment_runs_its_process_actions_on_the_agent(
    hub: Hub, service: str
) -> None:
    result = _import(hub, _document("ctk-experiment.json", service), agent="local")
    assert result["__typename"] == "ImportedDocument", result
    assert any("python provider" in n["why"] for n in result["notes"])
    run = hub.start(result["document"])
    ended = hub.wait_ended(run["id"], timeout=180)
    assert (ended["phase"], ended["verdict"]) == ("completed", "pass"), ended["reasons"]
    log = (hub.data_dir / "cache.log").read_text().splitlines()
    assert log == ["paused --name cache-server", "resumed --name cache-server"]


def test_a_bad_document_is_refused_by_the_mutation_naming_the_field_and_nothing_is_stored(
    hub: Hub, service: str
) -> None:
    before = hub.gql("{ experiments { id } }")["experiments"]
    bad = _document("cm-network-delay.yaml", service, **{"latency: 200ms": "latncy: 200ms"})
    refused = _import(hub, bad, create=True, backend="mesh-shop")
    assert refused["__typename"] == "InvalidInputError"
    assert refused["field"] == ["spec", "delay", "latncy"]
    no_backend = _import(
        hub, _document("cm-network-loss.yaml", service), create=True, backend="nope"
    )
    assert no_backend["__typename"] in ("NotFoundError", "InvalidInputError"), no_backend
    assert no_backend["field"] == ["backend"]
    assert hub.gql("{ experiments { id } }")["experiments"] == before


def test_an_imported_schedule_is_stored_with_the_experiment_it_starts(hub: Hub) -> None:
    text = (DOCS / "cm-schedule.yaml").read_text()
    result = _import(hub, text, create=True, backend="mesh-shop")
    assert result["__typename"] == "ImportedDocument", result
    assert set(result["created"]) == {"Experiment", "Schedule"}
    query = """query($id: ID!) { schedule(id: $id) { name cron timeZone concurrencyPolicy
      startingDeadlineSeconds experimentId targetName nextFireAt } }"""
    schedule = hub.gql(query, id=result["created"]["Schedule"])["schedule"]
    assert schedule["experimentId"] == result["created"]["Experiment"]
    assert (schedule["cron"], schedule["timeZone"], schedule["concurrencyPolicy"]) == (
        "0 2 * * *",
        "UTC",
        "forbid",
    )
    assert schedule["startingDeadlineSeconds"] == 300 and schedule["nextFireAt"]
    again = _import(hub, text, create=True, backend="mesh-shop")  # the same names: refused whole
    assert again["__typename"] == "ConflictError", again
    names = [e["name"] for e in hub.gql("{ experiments { name } }")["experiments"]]
    assert names.count("nightly-cart-delay") == 1
    elsewhere = _import(hub, text, create=True, backend="nope")
    assert elsewhere["field"] == ["experiment", "backend"], elsewhere


def test_an_imported_chaosd_attack_pauses_a_process_on_the_agent(hub: Hub, tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        attack = {
            "kind": "process",
            "action": "stop",
            "process": str(sleeper.pid),
            "duration": "3s",
        }
        result = _import(hub, json.dumps(attack), create=True, agent="local")
        assert result["__typename"] == "ImportedDocument", result
        assert result["document"]["faultType"] == "native/process-pause"
        started = hub.gql(Q.START_RUN, input={"experimentId": result["created"]["Experiment"]})
        run_id = started["startRun"]["id"]

        def state() -> str:
            return Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

        wait_for(lambda: state() == "T", 60, what="the process stopped by the imported attack")
        done = wait_for(
            lambda: r if (r := hub.gql(Q.RUN, id=run_id)["run"])["phase"] == "completed" else None,
            60,
            what="the attack's run completed",
        )
        assert done["targets"][0]["phase"] == "recovered"
        assert state() in ("S", "R"), "recovered: the process runs again"
    finally:
        sleeper.kill()
        sleeper.wait()
