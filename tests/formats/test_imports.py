"""Importing Chaos Mesh, chaosd, Litmus and Chaos Toolkit documents: what each becomes, what
is said about what was not mapped, and every kind of bad document refused naming its field.

The documents in ``documents/`` are written from the shapes the tools document (see the
reference notes); each uses the fields its kind documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoshub import formats
from chaoshub.errors import InvalidInput
from chaoshub.formats import Options, import_document
from chaoshub.formats.checks import offline

DOCS = Path(__file__).parent / "documents"


def load(name: str) -> Any:
    return yaml.safe_load((DOCS / name).read_text())


def imported(name: str, **options: Any) -> formats.Imported:
    return import_document(load(name), options=Options(**options))


def notes(result: formats.Imported) -> dict[str, str]:
    return {n.path: n.why for n in result.notes}


@pytest.mark.parametrize(
    ("name", "kind", "fault"),
    [
        ("cm-network-delay.yaml", "Experiment", "chaos-mesh/network-delay"),
        ("cm-network-loss.yaml", "Experiment", "chaos-mesh/network-loss"),
        ("cm-network-bandwidth.yaml", "Experiment", "chaos-mesh/network-bandwidth"),
        ("cm-network-partition.yaml", "Experiment", "chaos-mesh/network-partition"),
        ("cm-pod-kill.yaml", "Experiment", "chaos-mesh/pod-kill"),
        ("cm-pod-failure.yaml", "Experiment", "chaos-mesh/pod-failure"),
        ("cm-container-kill.yaml", "Experiment", "chaos-mesh/container-kill"),
        ("cm-stress-cpu.yaml", "Experiment", "chaos-mesh/stress-cpu"),
        ("cm-stress-memory.yaml", "Experiment", "chaos-mesh/stress-memory"),
        ("cm-io-latency.yaml", "Experiment", "chaos-mesh/io-latency"),
        ("cm-io-fault.yaml", "Experiment", "chaos-mesh/io-fault"),
        ("cm-time-skew.yaml", "Experiment", "chaos-mesh/time-skew"),
        ("cm-dns-error.yaml", "Experiment", "chaos-mesh/dns-error"),
        ("cm-http-delay.yaml", "Experiment", "chaos-mesh/http-delay"),
        ("cm-http-abort.yaml", "Experiment", "chaos-mesh/http-abort"),
        ("chaosd-network-delay.yaml", "Experiment", "native/network-jitter"),
        ("chaosd-loss.yaml", "Experiment", "native/network-loss"),
        ("chaosd-process.yaml", "Experiment", "native/process-pause"),
        ("chaosd-stress.yaml", "Experiment", "native/memory-stress"),
        ("chaosd-attack-delay.json", "Experiment", "native/network-delay"),
        ("litmus-engine-plain.yaml", "Experiment", "litmus/pod-cpu-hog"),
        ("litmus-engine-nodes.yaml", "Experiment", "litmus/node-drain"),
        ("cm-schedule.yaml", "Schedule", None),
        ("cm-schedule-workflow.yaml", "Schedule", None),
        ("cm-workflow.yaml", "Workflow", None),
        ("litmus-engine-probes.yaml", "Workflow", None),
        ("litmus-argo-workflow.yaml", "Workflow", None),
        ("ctk-experiment.json", "Workflow", None),
        ("ctk-experiment.yaml", "Workflow", None),
    ],
)
def test_each_document_becomes_a_hub_document_that_passes_the_hubs_checks(
    name: str, kind: str, fault: str | None
) -> None:
    result = imported(name, backend="east")
    assert result.kind == kind
    assert result.document["kind"] == kind
    if fault is not None:
        assert result.document["faultType"] == fault
    offline(result.kind, result.document)  # what import_document already ran, said once more


def test_a_network_chaos_is_a_network_delay_with_its_values_in_the_hubs_units() -> None:
    result = imported("cm-network-delay.yaml", backend="east")
    assert result.document == {
        "kind": "Experiment",
        "name": "cart-delay",
        "description": "imported from Chaos Mesh NetworkChaos",
        "faultType": "chaos-mesh/network-delay",
        "backend": "east",
        "selector": {
            "labels": {"app": "cart"},
            "namespaces": ["shop"],
            "mode": "fixed-percent",
            "value": "50",
        },
        "params": {
            "direction": "both",
            "external_targets": ["payments.example.com"],
            "device": "eth0",
            "target_labels": {"app": "db"},
            "target_namespaces": ["shop"],
            "latency_ms": 200,
            "jitter_ms": 10,
            "correlation": 25,
        },
        "durationSeconds": 30,
    }
    said = notes(result)
    assert set(said) == {"spec.delay.reorder", "spec.remoteCluster"}
    assert "reorder" in said["spec.delay.reorder"]


def test_without_a_backend_the_adapters_name_is_assumed_and_said() -> None:
    result = imported("cm-network-loss.yaml")
    assert result.document["backend"] == "chaos-mesh"
    assert any("--backend" in n.why for n in result.notes)
    assert result.document["params"] == {"direction": "to", "loss": 25, "correlation": 10}


def test_a_chaos_mesh_workflow_becomes_after_chains_siblings_waits_probes_and_a_stop_condition() -> (
    None
):
    doc = imported("cm-workflow.yaml", backend="east").document
    steps = {s["id"]: s for s in doc["steps"]}
    assert list(steps) == ["db-delay", "cart-cpu", "cart-watch", "settle", "cart-healthy"]
    assert "after" not in steps["db-delay"]
    assert steps["db-delay"]["fault"]["durationSeconds"] == 20  # the node's deadline
    assert steps["cart-cpu"]["after"] == ["db-delay"] == steps["cart-watch"]["after"]
    assert steps["settle"] == {
        "id": "settle",
        "after": ["cart-cpu", "cart-watch"],
        "wait": {"seconds": 5},
    }
    watch = steps["cart-watch"]["probe"]
    assert watch["forSeconds"] == 10 and watch["http"]["expect"] == {
        "status": {"between": [200, 299]}
    }
    assert watch["http"]["headers"] == {"Accept": "application/json"}
    healthy = steps["cart-healthy"]["probe"]
    assert "forSeconds" not in healthy and healthy["successThreshold"] == 2
    assert healthy["http"]["method"] == "POST" and healthy["http"]["body"] == '{"ping": 1}'
    (guard,) = doc["stopConditions"]
    assert guard["name"] == "guard" and guard["failureThreshold"] == 5


def test_a_schedule_embeds_what_it_starts() -> None:
    doc = imported("cm-schedule.yaml", backend="east").document
    assert (doc["cron"], doc["concurrencyPolicy"], doc["startingDeadlineSeconds"]) == (
        "0 2 * * *",
        "forbid",
        300,
    )
    assert doc["experiment"]["faultType"] == "chaos-mesh/network-delay"
    assert doc["experiment"]["durationSeconds"] == 600
    wf = imported("cm-schedule-workflow.yaml", backend="east").document
    assert wf["cron"] == "@every 1h" and wf["concurrencyPolicy"] == "allow"
    assert [s["id"] for s in wf["workflow"]["steps"]] == ["kill", "wait"]
    assert "durationSeconds" not in wf["workflow"]["steps"][0]["fault"]  # a one-shot kill


def test_chaosd_attacks_run_on_the_named_agent_with_the_native_faults_values() -> None:
    delay = imported("chaosd-network-delay.yaml", agent="edge-1").document
    assert delay["selector"] == {"agents": ["edge-1"], "interface": "eth0"}
    assert delay["params"] == {"latency_ms": 100, "jitter_ms": 20, "correlation_percent": 10}
    pause = imported("chaosd-process.yaml").document
    assert pause["selector"] == {"agents": ["local"], "name": "cache-server"}
    loss = imported("chaosd-loss.yaml").document
    assert loss["params"] == {
        "peers": ["203.0.113.7"],
        "protocol": "tcp",
        "ports": [80, 443],
        "percent": 30,
        "direction": "egress",
    }
    assert imported("chaosd-stress.yaml").document["params"] == {"bytes": 512 << 20}


def test_litmus_probes_land_by_mode_and_what_differs_is_said() -> None:
    result = imported("litmus-engine-probes.yaml", backend="east", agent="edge-1")
    doc = result.document
    assert [p["name"] for p in doc["steadyState"]] == ["cart-available", "cache-answers"]
    assert [p["name"] for p in doc["stopConditions"]] == ["cart-during", "error-rate"]
    available, cache = doc["steadyState"]
    assert available["http"]["expect"] == {"status": [200]}
    assert (available["failureThreshold"], available["initialDelaySeconds"]) == (2, 1)
    assert cache["command"] == {
        "agent": "edge-1",
        "argv": ["check-cache.sh", "--port", "6380"],
        "expect": {"stdout": {"contains": "PONG"}},
        "timeoutSeconds": 5,
    }
    during, errors = doc["stopConditions"]
    assert during["http"]["method"] == "POST" and during["http"]["expect"] == {"status": [200, 204]}
    assert during["failureThreshold"] == 3
    assert errors["prometheus"]["expect"] == {"<=": 0.5} and errors["intervalSeconds"] == 2
    (step,) = doc["steps"]
    assert step["fault"]["faultType"] == "litmus/pod-delete"
    assert step["fault"]["durationSeconds"] == 20
    assert step["fault"]["params"] == {
        "CHAOS_INTERVAL": 5,
        "FORCE": False,
        "PODS_AFFECTED_PERC": 50,
    }
    assert step["fault"]["selector"] == {
        "service_account": "pod-delete-sa",
        "labels": {"app": "cart"},
        "namespace": "shop",
        "kind": "deployment",
    }
    said = notes(result)
    assert "k8sProbe" in said["spec.experiments[0].spec.probe[4]"]
    assert "stopOnFailure" in said["spec.experiments[0].spec.probe[2].mode"]
    assert "LIB_IMAGE" in said["spec.experiments[0].spec.components.env[4]"]


def test_an_argo_workflow_of_chaos_engines_is_their_faults_in_sequence() -> None:
    result = imported("litmus-argo-workflow.yaml", backend="east")
    doc = result.document
    assert [(s["id"], s.get("after")) for s in doc["steps"]] == [
        ("pod-delete-cart", None),
        ("pod-cpu-hog-cart", ["pod-delete-cart"]),
    ]
    assert [s["fault"]["faultType"] for s in doc["steps"]] == [
        "litmus/pod-delete",
        "litmus/pod-cpu-hog",
    ]
    assert [p["name"] for p in doc["steadyState"]] == ["cart-up"]
    said = notes(result)
    assert "install-chaos-faults" in said["spec.templates[1]"]


def test_an_argo_workflow_that_is_not_a_plain_sequence_is_refused() -> None:
    doc = load("litmus-argo-workflow.yaml")
    steps = doc["spec"]["templates"][0]["steps"]
    steps[1].append(steps[2].pop())  # two engines in parallel
    with pytest.raises(InvalidInput) as refused:
        import_document(doc)
    assert refused.value.field == ["spec", "templates", "0", "steps", "1"]
    assert "plain sequence" in refused.value.message
    doc = load("litmus-argo-workflow.yaml")
    artifact = doc["spec"]["templates"][2]["inputs"]["artifacts"][0]["raw"]
    artifact["data"] = artifact["data"].replace("engineState", "engineStat")
    with pytest.raises(InvalidInput) as refused:
        import_document(doc)
    assert formats.base.dotted(refused.value.field) == (
        "spec.templates[2].inputs.artifacts[0].raw.data.spec.engineStat"
    )


def test_chaos_toolkit_tolerances_become_expectations_and_python_providers_are_said() -> None:
    result = imported("ctk-experiment.json", agent="local")
    doc = result.document
    probes = {p["name"]: p for p in doc["steadyState"]}
    assert set(probes) == {"api-healthy", "api-status-up", "cache-up", "latency-ok"}
    assert probes["api-healthy"]["http"]["expect"] == {"status": [200]}
    assert probes["api-status-up"]["http"]["expect"] == {
        "body": {"jsonPath": "$.status", "==": "up"}
    }
    assert probes["api-status-up"]["http"]["timeoutSeconds"] == 3
    assert probes["cache-up"]["command"]["expect"] == {"stdout": {"matches": "(?s).*(?:PONG).*"}}
    assert probes["cache-up"]["command"]["argv"] == ["check-cache.sh", "--port", "6380"]
    assert probes["latency-ok"]["http"]["expect"] == {"status": {"between": [200, 299]}}
    steps = {s["id"]: s for s in doc["steps"]}
    assert list(steps) == ["pause-before-pause-cache", "pause-cache", "api-during", "api-healthy"]
    fault = steps["pause-cache"]["fault"]
    assert fault["params"] == {
        "script": "pause-cache.sh",
        "args": ["--name", "cache-server"],
        "timeout_seconds": 10,
        "recover_script": "resume-cache.sh",
        "recover_args": ["--name", "cache-server"],
    }
    assert fault["durationSeconds"] == 5  # the action's pause after
    assert steps["api-during"]["probe"]["http"]["expect"] == {"status": [200, 204]}
    assert steps["api-healthy"]["probe"]["http"]["expect"] == {"status": [200]}  # a ref
    said = notes(result)
    assert "python provider" in said["steady-state-hypothesis.probes[4].provider"]


BAD: list[tuple[str, str, Any, str, str]] = [
    # (document, where to change, new value, the path refused, words of the reason)
    (
        "cm-network-delay.yaml",
        "spec.delay",
        {"latncy": "10ms"},
        "spec.delay.latncy",
        "unknown field",
    ),
    ("cm-network-delay.yaml", "spec.duration", 30, "spec.duration", "must be a string"),
    ("cm-network-delay.yaml", "spec.delay.latency", "fast", "spec.delay.latency", "a duration"),
    ("cm-network-delay.yaml", "kind", "KernelChaos", "kind", "no hub adapter"),
    (
        "cm-network-delay.yaml",
        "spec.selector.pods",
        {"shop": ["cart-0"]},
        "spec.selector.pods",
        "more pods",
    ),
    ("cm-network-delay.yaml", "spec.action", "slow", "spec.action", "not one of"),
    ("cm-network-delay.yaml", "spec.delay.latency", "900s", "params.latency_ms", "600000"),
    ("cm-network-delay.yaml", "apiVersion", "chaos-mesh.org/v2", "apiVersion", "expected"),
    ("cm-pod-failure.yaml", "spec.duration", None, "spec.duration", "give duration"),
    (
        "cm-stress-cpu.yaml",
        "spec.stressngStressors",
        "--cpu 2",
        "spec.stressngStressors",
        "stress-ng",
    ),
    (
        "cm-workflow.yaml",
        "spec.templates.1.templateType",
        "Task",
        "spec.templates[1].templateType",
        "no hub step",
    ),
    (
        "cm-workflow.yaml",
        "spec.templates.1.networkChaos.delay",
        {"latency": "1ms", "jiter": "1ms"},
        "spec.templates[1].networkChaos.delay.jiter",
        "unknown field",
    ),
    (
        "cm-workflow.yaml",
        "spec.templates.0.children",
        ["db-delay", "nowhere"],
        "spec.templates[0].children[1]",
        "no template",
    ),
    ("cm-schedule.yaml", "spec.schedule", "0 0 2 * * *", "spec.schedule", "seconds"),
    (
        "chaosd-loss.yaml",
        "spec.network-loss.ipaddress",
        "10.0.0.1",
        "spec.network-loss.ipaddress",
        "unknown field",
    ),
    (
        "chaosd-loss.yaml",
        "spec.network-loss.hostname",
        "db.internal",
        "spec.network-loss.hostname",
        "more traffic",
    ),
    ("chaosd-attack-delay.json", "ipaddress", "10.0.0.1", "ipaddress", "unknown field"),
    ("chaosd-attack-delay.json", "schedule", "@every 1m", "schedule", "hub Schedule"),
    ("chaosd-attack-delay.json", "action", "flood", "action", "no chaosd network flood"),
    ("chaosd-process.yaml", "spec.process.signal", None, "spec.process.signal", "signal 0"),
    ("chaosd-process.yaml", "spec.action", "clock", "spec.action", "no clock fault"),
    (
        "litmus-engine-probes.yaml",
        "spec.experiments.0.spec.probe.0.runProperties.probeTimout",
        "2s",
        "spec.experiments[0].spec.probe[0].runProperties.probeTimout",
        "unknown field",
    ),
    (
        "litmus-engine-probes.yaml",
        "spec.experiments.0.name",
        "pod-explode",
        "spec.experiments[0].name",
        "no litmus/pod-explode",
    ),
    (
        "litmus-engine-probes.yaml",
        "spec.experiments.0.spec.probe.3.cmdProbe/inputs.source",
        {"image": "busybox"},
        "spec.experiments[0].spec.probe[3].cmdProbe/inputs.source",
        "pod of its own",
    ),
    (
        "litmus-engine-probes.yaml",
        "spec.appinfo.applabel",
        "app in (cart)",
        "spec.appinfo.applabel",
        "key=value",
    ),
    (
        "litmus-engine-plain.yaml",
        "spec.experiments",
        {"name": "x"},
        "spec.experiments",
        "must be a list",
    ),
    (
        "ctk-experiment.yaml",
        "steady-state-hypotesis",
        {},
        "steady-state-hypotesis",
        "unknown field",
    ),
    (
        "ctk-experiment.yaml",
        "method.1.tolerance",
        {"type": "probe", "provider": {}},
        "method[1].tolerance.type",
        "probe as a tolerance",
    ),
    (
        "ctk-experiment.yaml",
        "method.0.provider.pth",
        "x",
        "method[0].provider.pth",
        "unknown field",
    ),
    (
        "ctk-experiment.yaml",
        "method.0.provider",
        {"type": "http", "url": "http://127.0.0.1/"},
        "method[0].provider.type",
        "no hub fault",
    ),
]


def _set(doc: Any, where: str, value: Any) -> None:
    parts = where.split(".")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("name", "where", "value", "path", "words"), BAD, ids=[f"{b[0]}:{b[3]}" for b in BAD]
)
def test_a_bad_document_is_refused_naming_the_field(
    name: str, where: str, value: Any, path: str, words: str
) -> None:
    doc = copy.deepcopy(load(name))
    _set(doc, where, value)
    with pytest.raises(InvalidInput) as refused:
        import_document(doc, options=Options(backend="east"))
    assert formats.base.dotted(refused.value.field) == path
    assert words in refused.value.message


def test_a_document_of_no_known_format_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        import_document({"apiVersion": "v1", "kind": "Pod"})
    assert refused.value.field == ["apiVersion"]
    with pytest.raises(InvalidInput) as refused:
        formats.import_text("kind: [unclosed")
    assert refused.value.field == ["document"] and "line 1" in refused.value.message
