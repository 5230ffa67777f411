"""Litmus ``ChaosEngine`` (``litmuschaos.io/v1alpha1``) as a hub experiment on the ``litmus``
adapter, or, with probes or several experiments, a hub workflow.

Each ``spec.experiments[]`` entry is a ``litmus/<name>`` fault (when the hub's catalog has
it), its env overrides are the fault's params (``TOTAL_CHAOS_DURATION`` is the duration),
the engine's ``appinfo`` / ``selectors`` / ``chaosServiceAccount`` its selector. Several
experiments run one after the other, as the chaos-runner runs them.

Probes (``httpProbe``, ``cmdProbe``, ``promProbe``) become hub probes, placed by mode:

| Litmus mode | hub | what differs |
|---|---|---|
| ``Edge`` | steady state | nothing: checked before the fault and after recovery |
| ``SOT`` | steady state | also checked after recovery |
| ``EOT`` | steady state | also checked before the fault |
| ``OnChaos`` | stop condition | a breach aborts and recovers the fault (Litmus: only with ``stopOnFailure``) |
| ``Continuous`` | stop condition | as OnChaos; Litmus also starts it before the chaos |

``k8sProbe`` and ``sloProbe`` have no hub kind; a ``cmdProbe`` with a ``source`` (its own
pod) has none either, and a ``cmdProbe`` runs on a native agent (``--agent``) as an
allow-listed script. Each difference is a note.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from chaoshub import catalog
from chaoshub.errors import HubError, InvalidInput
from chaoshub.formats.base import (
    ANY,
    Bool,
    Int,
    IntOrStr,
    ListOf,
    MapOf,
    Notes,
    Path,
    Str,
    check,
    dotted,
    go_seconds,
    number,
    one_of,
    refuse,
    whole,
)

API_VERSION = "litmuschaos.io/v1alpha1"
ADAPTER = "litmus"
KEEP = "keep_resources"
NODE_FAULTS = ("node-cpu-hog", "node-drain")

RUN_PROPERTIES: dict[str, Any] = {
    "probeTimeout": IntOrStr,
    "interval": IntOrStr,
    "retry": Int,
    "attempt": Int,
    "probePollingInterval": IntOrStr,
    "initialDelaySeconds": Int,
    "initialDelay": IntOrStr,
    "evaluationTimeout": IntOrStr,
    "verbosity": Str,
    "stopOnFailure": Bool,
}
_HTTP_GET = {"criteria": Str, "responseCode": Str}
_HTTP_POST = {
    "contentType": Str,
    "body": Str,
    "bodyPath": Str,
    "criteria": Str,
    "responseCode": Str,
}
_COMPARATOR = {"type": Str, "criteria": Str, "value": Str}
PROBE: dict[str, Any] = {
    "name": Str,
    "type": Str,
    "mode": Str,
    "runProperties": RUN_PROPERTIES,
    "data": Str,
    "httpProbe/inputs": {
        "url": Str,
        "insecureSkipVerify": Bool,
        "responseTimeout": Int,
        "method": {"get": _HTTP_GET, "post": _HTTP_POST},
    },
    "cmdProbe/inputs": {"command": Str, "comparator": _COMPARATOR, "source": ANY},
    "promProbe/inputs": {
        "endpoint": Str,
        "query": Str,
        "queryPath": Str,
        "comparator": _COMPARATOR,
    },
    "k8sProbe/inputs": ANY,
    "sloProbe/inputs": ANY,
}
EXPERIMENT_COMPONENTS: dict[str, Any] = {
    "env": ListOf({"name": Str, "value": Str, "valueFrom": ANY}),
    "configMaps": ANY,
    "secrets": ANY,
    "experimentAnnotations": MapOf(Str),
    "experimentImage": Str,
    "experimentImagePullSecrets": ANY,
    "nodeSelector": MapOf(Str),
    "statusCheckTimeouts": {"delay": Int, "timeout": Int},
    "resources": ANY,
    "tolerations": ANY,
}
RUNNER: dict[str, Any] = {
    k: ANY
    for k in (
        "image",
        "type",
        "args",
        "command",
        "imagePullPolicy",
        "imagePullSecrets",
        "runnerAnnotations",
        "runnerLabels",
        "nodeSelector",
        "configMaps",
        "secrets",
        "tolerations",
        "resources",
    )
}
ENGINE_SPEC: dict[str, Any] = {
    "appinfo": {"appns": Str, "applabel": Str, "appkind": Str},
    "selectors": {
        "workloads": ListOf({"kind": Str, "namespace": Str, "names": Str, "labels": Str}),
        "pods": ListOf({"namespace": Str, "names": Str}),
    },
    "chaosServiceAccount": Str,
    "engineState": Str,
    "jobCleanUpPolicy": Str,
    "defaultHealthCheck": (bool, str),
    "annotationCheck": Str,
    "auxiliaryAppInfo": Str,
    "terminationGracePeriodSeconds": Int,
    "components": {"runner": RUNNER, "sidecar": ListOf(MapOf(ANY))},
    "experiments": ListOf(
        {
            "name": Str,
            "spec": {"components": EXPERIMENT_COMPONENTS, "probe": ListOf(PROBE)},
        }
    ),
}
METADATA: dict[str, Any] = {
    "name": Str,
    "generateName": Str,
    "namespace": Str,
    "labels": MapOf(Str),
    "annotations": MapOf(Str),
    "uid": Str,
    "resourceVersion": Str,
    "generation": Int,
    "creationTimestamp": ANY,
    "finalizers": ListOf(Str),
    "managedFields": ANY,
    "ownerReferences": ANY,
}


def labels(text: str, path: Path) -> dict[str, str]:
    """``app=cart,tier=web`` as a mapping; set-based selectors are refused."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key or any(c in part for c in "!()") or " in " in part:
            raise refuse(path, f"the hub selects by key=value labels; {part.strip()!r} is not one")
        out[key.strip()] = value.strip().lstrip("=")
    return out


def _seconds(value: Any, path: Path) -> float:
    return float(value) if isinstance(value, int) else go_seconds(value, path)


def _env_value(value: str, schema: dict[str, Any], path: Path) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise refuse(path, f"an integer, not {value!r}") from None
    if kind == "number":
        return whole(number(value, path))
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise refuse(path, f"true or false, not {value!r}")
        return value.lower() == "true"
    return value


def selector(spec: dict[str, Any], fault: str, env: dict[str, str], notes: Notes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.get("chaosServiceAccount"):
        out["service_account"] = spec["chaosServiceAccount"]
    if fault in NODE_FAULTS:
        if env.get("TARGET_NODE") or env.get("TARGET_NODES"):
            out["nodes"] = [
                n.strip() for n in (env.get("TARGET_NODE") or env["TARGET_NODES"]).split(",")
            ]
        elif env.get("NODE_LABEL"):
            out["node_labels"] = labels(
                env["NODE_LABEL"], ["spec", "experiments", "env", "NODE_LABEL"]
            )
        if spec.get("appinfo") or spec.get("selectors"):
            notes.add(
                ["spec", "appinfo"], f"{fault} targets nodes: the application is not a target"
            )
        return out
    sel = spec.get("selectors") or {}
    if sel.get("pods"):
        raise refuse(
            ["spec", "selectors", "pods"],
            "the hub selects a workload by labels; give appinfo or selectors.workloads with labels",
        )
    workloads = sel.get("workloads") or []
    if len(workloads) > 1:
        raise refuse(
            ["spec", "selectors", "workloads"], "the hub's litmus faults hit one workload: give one"
        )
    if workloads:
        w = workloads[0]
        if w.get("names"):
            raise refuse(
                ["spec", "selectors", "workloads", 0, "names"],
                "the hub selects a workload by labels; give labels",
            )
        if not w.get("labels"):
            raise refuse(
                ["spec", "selectors", "workloads", 0, "labels"],
                "the hub selects a workload by labels",
            )
        out["labels"] = labels(w["labels"], ["spec", "selectors", "workloads", 0, "labels"])
        if w.get("namespace"):
            out["namespace"] = w["namespace"]
        if w.get("kind"):
            out["kind"] = w["kind"]
        return out
    app = spec.get("appinfo") or {}
    if not app.get("applabel"):
        raise refuse(
            ["spec", "appinfo", "applabel"],
            "the hub selects the application by labels: give applabel",
        )
    out["labels"] = labels(app["applabel"], ["spec", "appinfo", "applabel"])
    if app.get("appns"):
        out["namespace"] = app["appns"]
    if app.get("appkind"):
        out["kind"] = app["appkind"]
    return out


# -- probes ------------------------------------------------------------------------------------


def _comparator(comp: dict[str, Any], path: Path, numeric_only: bool = False) -> dict[str, Any]:
    kind = comp.get("type", "float" if numeric_only else "string")
    one_of(kind, ("int", "float", "string"), [*path, "type"])
    criteria = str(comp.get("criteria") or "")
    value = str(comp.get("value") or "")
    where = [*path, "criteria"]
    if kind in ("int", "float"):
        if criteria in ("==", "!=", "<", "<=", ">", ">="):
            return {criteria: whole(number(value, [*path, "value"]))}
        if criteria == "oneOf":
            return {"oneOf": [whole(number(v, [*path, "value"])) for v in value.split(",")]}
        if criteria == "between":
            bounds = [whole(number(v, [*path, "value"])) for v in value.split(",")]
            if len(bounds) != 2:
                raise refuse([*path, "value"], "between needs two comma-separated bounds")
            return {"between": bounds}
        raise refuse(where, f"{criteria!r} is not a comparator for {kind}")
    if criteria in ("equal", "Equal"):
        return {"==": value}
    if criteria in ("notEqual", "NotEqual"):
        return {"!=": value}
    if criteria == "contains":
        return {"contains": value}
    if criteria == "matches":
        return {"matches": f"(?s).*(?:{value}).*"}  # Litmus searches; the hub matches whole
    if criteria == "oneOf":
        return {"oneOf": value.split(",")}
    if criteria == "notMatches":
        raise refuse(where, "notMatches has no hub comparator")
    raise refuse(where, f"{criteria!r} is not a comparator for strings")


def _http(inputs: dict[str, Any], path: Path, notes: Notes) -> dict[str, Any]:
    if not inputs.get("url"):
        raise refuse([*path, "url"], "an httpProbe needs a url")
    block: dict[str, Any] = {"url": inputs["url"]}
    if inputs.get("insecureSkipVerify"):
        notes.add(
            [*path, "insecureSkipVerify"], "the hub's http probe always verifies certificates"
        )
    method = inputs.get("method") or {}
    if method.get("get") and method.get("post"):
        raise refuse([*path, "method"], "give get or post, not both")
    verb = "post" if method.get("post") else "get"
    body = method.get(verb) or {}
    if verb == "post":
        block["method"] = "POST"
        if body.get("bodyPath"):
            raise refuse(
                [*path, "method", "post", "bodyPath"],
                "a body read from a file in a pod has no hub equivalent: give body",
            )
        if body.get("body"):
            block["body"] = body["body"]
        if body.get("contentType"):
            block["headers"] = {"Content-Type": body["contentType"]}
    code = body.get("responseCode")
    if code:
        where = [*path, "method", verb]
        criteria = body.get("criteria", "==")
        try:
            codes = [int(c) for c in str(code).split(",")]
        except ValueError:
            raise refuse([*where, "responseCode"], f"a status code, not {code!r}") from None
        if criteria == "==":
            block["expect"] = {"status": codes[:1]}
        elif criteria == "!=":
            block["expect"] = {"status": {"!=": codes[0]}}
        elif criteria == "oneOf":
            block["expect"] = {"status": codes}
        else:
            raise refuse(
                [*where, "criteria"],
                f"{criteria!r}: an httpProbe compares codes with ==, != or oneOf",
            )
    if inputs.get("responseTimeout"):
        block["timeoutSeconds"] = whole(inputs["responseTimeout"] / 1000)
    return block


def _cmd(inputs: dict[str, Any], path: Path, agent: str) -> dict[str, Any]:
    if inputs.get("source"):
        raise refuse(
            [*path, "source"],
            "a cmdProbe in a pod of its own has no hub equivalent: the hub runs command probes on an agent",
        )
    if not inputs.get("command"):
        raise refuse([*path, "command"], "a cmdProbe needs a command")
    try:
        argv = shlex.split(inputs["command"])
    except ValueError as exc:
        raise refuse([*path, "command"], f"not a command line: {exc}") from None
    comp = inputs.get("comparator")
    expect: dict[str, Any] = {}
    if comp:
        expect["stdout"] = _comparator(comp, [*path, "comparator"])
    return {"agent": agent, "argv": argv, "expect": expect}


def _prom(inputs: dict[str, Any], path: Path) -> dict[str, Any]:
    if inputs.get("queryPath"):
        raise refuse(
            [*path, "queryPath"],
            "a query read from a file in a pod has no hub equivalent: give query",
        )
    for key in ("endpoint", "query", "comparator"):
        if not inputs.get(key):
            raise refuse([*path, key], f"a promProbe needs {key}")
    comparator = {**inputs["comparator"], "type": inputs["comparator"].get("type", "float")}
    return {
        "url": inputs["endpoint"],
        "query": inputs["query"],
        "expect": _comparator(comparator, [*path, "comparator"], numeric_only=True),
    }


def probe(
    raw: dict[str, Any], path: Path, notes: Notes, agent: str | None
) -> tuple[str, dict[str, Any]] | None:
    """(``steadyState`` or ``stopConditions``, the hub probe), or None when it has no hub kind."""
    where = list(path)
    kind = one_of(
        raw.get("type"),
        ("httpProbe", "cmdProbe", "promProbe", "k8sProbe", "sloProbe"),
        [*where, "type"],
    )
    mode = one_of(
        raw.get("mode"), ("SOT", "EOT", "Edge", "Continuous", "OnChaos"), [*where, "mode"]
    )
    name = raw.get("name") or kind
    inputs_key = f"{kind}/inputs"
    if kind in ("k8sProbe", "sloProbe"):
        notes.add(where, f"{kind} {name!r} has no hub probe kind: not checked")
        return None
    inputs = raw.get(inputs_key)
    if not isinstance(inputs, dict):
        raise refuse([*where, inputs_key], f"a {kind} needs {inputs_key}")
    ipath = [*where, inputs_key]
    out: dict[str, Any] = {"name": name}
    if kind == "httpProbe":
        out["http"] = _http(inputs, ipath, notes)
    elif kind == "cmdProbe":
        if agent is None:
            notes.add(
                [*where], "no agent given: the command runs on agent 'local' (choose with --agent)"
            )
        out["command"] = _cmd(inputs, ipath, agent or "local")
    else:
        out["prometheus"] = _prom(inputs, ipath)
    props = raw.get("runProperties") or {}
    ppath = [*where, "runProperties"]
    block = out.get("http") or out.get("command") or out.get("prometheus") or {}
    if props.get("probeTimeout") is not None:
        block["timeoutSeconds"] = whole(_seconds(props["probeTimeout"], [*ppath, "probeTimeout"]))
    continuous = mode in ("Continuous", "OnChaos")
    interval = props.get("probePollingInterval") if continuous else None
    if interval is None:
        interval = props.get("interval")
    if interval is not None:
        out["intervalSeconds"] = max(0.1, whole(_seconds(interval, [*ppath, "interval"])))
    attempts = props.get("attempt") or props.get("retry")
    if attempts:
        out["failureThreshold"] = attempts
    delay = (
        props.get("initialDelay")
        if props.get("initialDelay") is not None
        else props.get("initialDelaySeconds")
    )
    if delay:
        out["initialDelaySeconds"] = whole(_seconds(delay, [*ppath, "initialDelay"]))
    for key in ("verbosity", "evaluationTimeout"):
        if props.get(key):
            notes.add([*ppath, key], "the hub has no such probe setting")
    if raw.get("data"):
        notes.add([*where, "data"], "data is used by k8sProbe create only")
    if mode == "Edge":
        return "steadyState", out
    if mode == "SOT":
        notes.add(
            [*where, "mode"],
            "SOT: a steady state, checked before the fault and also after recovery",
        )
        return "steadyState", out
    if mode == "EOT":
        notes.add(
            [*where, "mode"],
            "EOT: a steady state, checked after recovery and also before the fault",
        )
        return "steadyState", out
    if not props.get("stopOnFailure"):
        notes.add(
            [*where, "mode"],
            f"{mode}: a stop condition, so a breach aborts and recovers the fault; Litmus "
            "(without stopOnFailure) records the failure and lets the fault run on",
        )
    elif mode == "Continuous":
        notes.add(
            [*where, "mode"],
            "Continuous: watched while the fault is held; Litmus also starts it before the chaos",
        )
    return "stopConditions", out


# -- the engine --------------------------------------------------------------------------------


def _experiment(
    spec: dict[str, Any], index: int, item: dict[str, Any], notes: Notes, backend: str
) -> dict[str, Any]:
    where: list[str | int] = ["spec", "experiments", index]
    name = item.get("name")
    if not name:
        raise refuse([*where, "name"], "an experiment needs a name")
    try:
        entry = catalog.load().get(f"{ADAPTER}/{name}")
    except HubError:
        known = sorted(f.name for f in catalog.load().all() if f.adapter == ADAPTER)
        raise refuse(
            [*where, "name"], f"the hub has no litmus/{name} fault ({', '.join(known)})"
        ) from None
    components = (item.get("spec") or {}).get("components") or {}
    env: dict[str, str] = {}
    for j, var in enumerate(components.get("env") or []):
        if var.get("valueFrom") is not None:
            raise refuse(
                [*where, "spec", "components", "env", j, "valueFrom"], "give the value itself"
            )
        env[str(var.get("name"))] = str(var.get("value") or "")
    props = entry.params.get("properties") or {}
    params: dict[str, Any] = {}
    duration: float | None = None
    for j, var in enumerate(components.get("env") or []):
        key = str(var.get("name"))
        vpath = [*where, "spec", "components", "env", j, "value"]
        if key == "TOTAL_CHAOS_DURATION":
            duration = float(_env_value(env[key], {"type": "integer"}, vpath))
        elif key in props:
            params[key] = _env_value(env[key], props[key], vpath)
        elif key in ("TARGET_NODE", "TARGET_NODES", "NODE_LABEL") and name in NODE_FAULTS:
            continue
        else:
            notes.add(
                [*where, "spec", "components", "env", j],
                f"{key} is not a setting of the hub's litmus/{name}: the installed experiment's value is kept",
            )
    for key in components:
        if key != "env" and components[key]:
            notes.add(
                [*where, "spec", "components", key], "the backend's Litmus installation decides it"
            )
    if spec.get("jobCleanUpPolicy") == "retain":
        params["keep_resources"] = True
    fault: dict[str, Any] = {
        "faultType": entry.id,
        "backend": backend,
        "selector": selector(spec, str(name), env, notes),
        "params": params,
    }
    if duration is not None:
        fault["durationSeconds"] = whole(duration)
    return fault


def import_engine(
    doc: dict[str, Any], notes: Notes, backend: str | None, agent: str | None
) -> tuple[str, dict[str, Any]]:
    check(
        doc,
        {"apiVersion": Str, "kind": Str, "metadata": METADATA, "spec": ENGINE_SPEC, "status": ANY},
    )
    if doc.get("apiVersion") != API_VERSION:
        raise refuse(["apiVersion"], f"expected {API_VERSION}, not {doc.get('apiVersion')!r}")
    if doc.get("kind") != "ChaosEngine":
        raise refuse(["kind"], f"the hub imports Litmus ChaosEngine, not {doc.get('kind')!r}")
    spec = doc.get("spec") or {}
    if not spec.get("experiments"):
        raise refuse(["spec", "experiments"], "a ChaosEngine needs experiments")
    if backend is None:
        notes.add([], f"no backend given: {ADAPTER!r} assumed (choose one with --backend)")
    chosen = backend or ADAPTER
    if spec.get("engineState") == "stop":
        notes.add(["spec", "engineState"], "a stopped engine: the hub document runs when started")
    for key in (
        "defaultHealthCheck",
        "annotationCheck",
        "auxiliaryAppInfo",
        "terminationGracePeriodSeconds",
        "components",
    ):
        if spec.get(key) not in (None, "", {}):
            notes.add(["spec", key], "the backend's Litmus installation decides it")
    if spec.get("jobCleanUpPolicy") == "retain":
        notes.add(["spec", "jobCleanUpPolicy"], "retain: the fault's keep_resources")
    meta = doc.get("metadata") or {}
    name = meta.get("name") or "chaosengine"
    faults = [
        _experiment(spec, i, item, notes, chosen) for i, item in enumerate(spec["experiments"])
    ]
    placed: dict[str, list[dict[str, Any]]] = {"steadyState": [], "stopConditions": []}
    seen: set[str] = set()
    for i, item in enumerate(spec["experiments"]):
        for j, raw in enumerate((item.get("spec") or {}).get("probe") or []):
            found = probe(raw, ["spec", "experiments", i, "spec", "probe", j], notes, agent)
            if found is None:
                continue
            where, hub_probe = found
            if hub_probe["name"] in seen:
                notes.add(
                    ["spec", "experiments", i, "spec", "probe", j],
                    f"probe {hub_probe['name']!r} is already checked",
                )
                continue
            seen.add(hub_probe["name"])
            placed[where].append(hub_probe)
    if len(faults) == 1 and not placed["steadyState"] and not placed["stopConditions"]:
        return "Experiment", {
            "kind": "Experiment",
            "name": name,
            "description": "imported from a Litmus ChaosEngine",
            **faults[0],
        }
    steps = []
    ids: list[str] = []
    for i, fault in enumerate(faults):
        sid = str(spec["experiments"][i]["name"])
        while sid in ids:
            sid += "-2"
        step: dict[str, Any] = {"id": sid, "fault": fault}
        if ids:
            step["after"] = [ids[-1]]
        ids.append(sid)
        steps.append(step)
    out: dict[str, Any] = {
        "kind": "Workflow",
        "name": name,
        "description": "imported from a Litmus ChaosEngine",
    }
    for key, probes in placed.items():
        if probes:
            out[key] = probes
    out["steps"] = steps
    return "Workflow", out


# -- an Argo workflow of ChaosEngines (a Litmus "chaos experiment" manifest) -------------------

ARGO_API = "argoproj.io/v1alpha1"
ARGO_TEMPLATE: dict[str, Any] = {
    "name": Str,
    "steps": ListOf(ListOf({"name": Str, "template": Str, "arguments": ANY, "when": Str})),
    "inputs": {
        "artifacts": ListOf({"name": Str, "path": Str, "raw": {"data": Str}}),
        "parameters": ANY,
    },
    "outputs": ANY,
    "container": ANY,
    "script": ANY,
    "metadata": {"labels": MapOf(Str), "annotations": MapOf(Str)},
    "activeDeadlineSeconds": IntOrStr,
    "retryStrategy": ANY,
    "serviceAccountName": Str,
}
ARGO_SPEC: dict[str, Any] = {
    "entrypoint": Str,
    "arguments": ANY,
    "serviceAccountName": Str,
    "securityContext": ANY,
    "podGC": ANY,
    "ttlStrategy": ANY,
    "activeDeadlineSeconds": Int,
    "templates": ListOf(ARGO_TEMPLATE),
}


def _engines_of(
    template: dict[str, Any], path: list[str | int]
) -> list[tuple[list[str | int], dict[str, Any]]]:
    found = []
    for j, artifact in enumerate((template.get("inputs") or {}).get("artifacts") or []):
        data = (artifact.get("raw") or {}).get("data")
        if not data:
            continue
        where = [*path, "inputs", "artifacts", j, "raw", "data"]
        try:
            docs = [d for d in yaml.safe_load_all(data) if d]
        except yaml.YAMLError as exc:
            raise refuse(where, f"not valid YAML: {exc}") from None
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "ChaosEngine":
                found.append((where, doc))
    return found


def import_argo(
    doc: dict[str, Any], notes: Notes, backend: str | None, agent: str | None
) -> tuple[str, dict[str, Any]]:
    """An Argo Workflow whose entry runs ChaosEngines one after the other, as one hub workflow."""
    check(
        doc,
        {"apiVersion": Str, "kind": Str, "metadata": METADATA, "spec": ARGO_SPEC, "status": ANY},
    )
    if doc.get("kind") != "Workflow":
        raise refuse(
            ["kind"], f"the hub imports an Argo Workflow of ChaosEngines, not {doc.get('kind')!r}"
        )
    spec = doc.get("spec") or {}
    templates = {t.get("name"): (i, t) for i, t in enumerate(spec.get("templates") or [])}
    entry = spec.get("entrypoint")
    if entry not in templates:
        raise refuse(["spec", "entrypoint"], f"no template named {entry!r}")
    e_index, e_template = templates[entry]
    if not e_template.get("steps"):
        raise refuse(
            ["spec", "templates", e_index, "steps"], "the entry template runs steps in sequence"
        )
    steps: list[dict[str, Any]] = []
    placed: dict[str, list[dict[str, Any]]] = {"steadyState": [], "stopConditions": []}
    seen: set[str] = set()
    name = (
        (doc.get("metadata") or {}).get("name")
        or (doc.get("metadata") or {}).get("generateName")
        or "litmus"
    )
    for k, group in enumerate(e_template["steps"]):
        gpath: list[str | int] = ["spec", "templates", e_index, "steps", k]
        if len(group) != 1:
            raise refuse(gpath, "the hub imports a plain sequence of steps: one step per group")
        step = group[0]
        if step.get("when"):
            raise refuse([*gpath, 0, "when"], "a conditional Argo step has no hub equivalent")
        if step.get("template") not in templates:
            raise refuse([*gpath, 0, "template"], f"no template named {step.get('template')!r}")
        t_index, template = templates[step["template"]]
        tpath: list[str | int] = ["spec", "templates", t_index]
        engines = _engines_of(template, tpath)
        if not engines:
            if template.get("steps"):
                raise refuse([*tpath, "steps"], "nested steps are not a plain sequence")
            notes.add(
                tpath,
                f"{step['template']}: not a ChaosEngine (installing and cleaning up chaos "
                "resources is the backend's Litmus installation's job)",
            )
            continue
        for where, engine in engines:
            inner = Notes()
            try:
                _kind, hub = import_engine(engine, inner, backend or ADAPTER, agent)
            except InvalidInput as exc:
                exc.field = [*(str(p) for p in where), *exc.field]
                raise
            for note in inner.items:
                notes.items.append(type(note)(f"{dotted(where)}: {note.path}", note.why))
            faults = (
                [s["fault"] for s in hub["steps"]]
                if _kind == "Workflow"
                else [
                    {
                        k: v
                        for k, v in hub.items()
                        if k in ("faultType", "backend", "selector", "params", "durationSeconds")
                    }
                ]
            )
            for key in placed:
                for probe in hub.get(key) or []:
                    if probe["name"] not in seen:
                        seen.add(probe["name"])
                        placed[key].append(probe)
            for fault in faults:
                sid = str(
                    engine.get("metadata", {}).get("name") or fault["faultType"].split("/")[1]
                )
                sid = _unique(sid, {s["id"] for s in steps})
                entry_step: dict[str, Any] = {"id": sid, "fault": fault}
                if steps:
                    entry_step["after"] = [steps[-1]["id"]]
                steps.append(entry_step)
    if not steps:
        raise refuse(["spec", "templates", e_index, "steps"], "no step runs a ChaosEngine")
    if backend is None:
        notes.add([], f"no backend given: {ADAPTER!r} assumed (choose one with --backend)")
    if placed["steadyState"] or placed["stopConditions"]:
        notes.add(
            ["spec"],
            "each engine's probes are the whole workflow's steady state and stop conditions",
        )
    out: dict[str, Any] = {
        "kind": "Workflow",
        "name": name,
        "description": "imported from a Litmus Argo workflow",
    }
    for key, probes in placed.items():
        if probes:
            out[key] = probes
    out["steps"] = steps
    return "Workflow", out


def _unique(sid: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", sid.lower()).strip("-")[:56] or "fault"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
