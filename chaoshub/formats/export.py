"""Hub documents written back as other tools' documents, where the tool has the same thing.

- ``hub``: the hub's own YAML, always (an Experiment, Workflow or Schedule document);
- ``chaos-mesh``: an Experiment on a ``chaos-mesh/*`` fault is the chaos object the
  ``chaos-mesh`` adapter would create (same builder); a Workflow whose steps are
  ``chaos-mesh`` faults, waits and ``http`` probes, in series of parallel groups, is a
  Chaos Mesh Workflow (faults → chaos nodes with the duration as deadline, waits →
  Suspend, http probes → StatusCheck, stop conditions → Continuous StatusChecks with
  ``abortWithStatusCheck`` beside the steps);
- ``litmus``: an Experiment on a ``litmus/*`` fault is a ChaosEngine; a Workflow of one
  ``litmus`` fault with http, command and prometheus probes is a ChaosEngine with probes
  (steady state → ``Edge``, stop conditions → ``OnChaos`` with ``stopOnFailure``).

Anything else is refused with the reason (:class:`~chaoshub.errors.InvalidInput` naming the
hub document's field): a steady state in Chaos Mesh (it has none), an approval step, a
``when`` condition, a fault of another adapter.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from chaoshub.adapters.chaos_mesh_faults import FAULTS as MESH_FAULTS
from chaoshub.errors import InvalidInput
from chaoshub.formats import chaos_mesh, litmus
from chaoshub.formats.base import go_duration, whole

TARGETS = ("hub", "chaos-mesh", "litmus")


def _refuse(path: list[str | int], why: str) -> InvalidInput:
    return InvalidInput(why, field=[str(p) for p in path])


def _adapter_fault(fault: dict[str, Any], adapter: str, path: list[str | int]) -> str:
    kind = str(fault.get("faultType") or "")
    prefix, _, name = kind.partition("/")
    if prefix != adapter:
        raise _refuse(
            [*path, "faultType"], f"{kind} is not a {adapter} fault: {adapter} has no equivalent"
        )
    return name


# -- Chaos Mesh --------------------------------------------------------------------------------


def mesh_spec(
    fault: dict[str, Any], path: list[str | int], *, with_duration: bool
) -> tuple[str, dict[str, Any]]:
    """(kind, spec) of the chaos object for a ``chaos-mesh/*`` fault."""
    name = _adapter_fault(fault, "chaos-mesh", path)
    built = MESH_FAULTS[name]
    params = {k: v for k, v in (fault.get("params") or {}).items() if k != chaos_mesh.KEEP}
    params = chaos_mesh.with_defaults(f"chaos-mesh/{name}", params)
    selector = fault.get("selector") or {}
    spec: dict[str, Any] = {"selector": {"labelSelectors": dict(selector.get("labels") or {})}}
    if selector.get("namespaces"):
        spec["selector"]["namespaces"] = list(selector["namespaces"])
    spec["mode"] = selector.get("mode") or "all"
    if selector.get("value"):
        spec["value"] = str(selector["value"])
    if selector.get("containers"):
        spec["containerNames"] = list(selector["containers"])
    if built.action:
        spec["action"] = built.action
    try:
        spec.update(built.build(params))
    except KeyError as exc:
        raise _refuse([*path, "params", str(exc.args[0])], "needed by Chaos Mesh") from None
    if with_duration and fault.get("durationSeconds") and not built.one_shot:
        spec["duration"] = go_duration(float(fault["durationSeconds"]))
    return built.kind, spec


def _mesh_object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": chaos_mesh.API_VERSION,
        "kind": kind,
        "metadata": {"name": _k8s_name(name)},
        "spec": spec,
    }


def _k8s_name(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "chaos"


def _status_check(
    probe: dict[str, Any], path: list[str | int], *, window: float | None
) -> dict[str, Any]:
    http = probe.get("http")
    if not isinstance(http, dict):
        raise _refuse(path, "Chaos Mesh checks status over HTTP only: not an http probe")
    for key in ("latencyMs", "body"):
        if key in (http.get("expect") or {}):
            raise _refuse(
                [*path, "http", "expect", key],
                "a Chaos Mesh status check judges the status code only",
            )
    for key in ("initialDelaySeconds",):
        if probe.get(key):
            raise _refuse([*path, key], "a Chaos Mesh status check has no such setting")
    status = (http.get("expect") or {}).get("status")
    if status is None:
        code = "200-299"
    elif isinstance(status, list) and len(status) == 1:
        code = str(status[0])
    elif isinstance(status, dict) and list(status) == ["between"]:
        code = "{}-{}".format(*status["between"])
    else:
        raise _refuse(
            [*path, "http", "expect", "status"], "Chaos Mesh takes one status code or a range"
        )
    block: dict[str, Any] = {"url": http["url"]}
    if http.get("method", "GET") != "GET":
        block["method"] = http["method"]
    if http.get("headers"):
        block["headers"] = {k: [v] for k, v in http["headers"].items()}
    if http.get("body"):
        block["body"] = http["body"]
    block["criteria"] = {"statusCode": code}
    out: dict[str, Any] = {
        "mode": "Continuous" if window is not None else "Synchronous",
        "type": "HTTP",
    }
    out["timeoutSeconds"] = int(http.get("timeoutSeconds") or probe.get("timeoutSeconds") or 1)
    out["intervalSeconds"] = int(probe.get("intervalSeconds", 10))
    out["failureThreshold"] = int(probe.get("failureThreshold", 3))
    if probe.get("successThreshold", 1) != 1:
        out["successThreshold"] = int(probe["successThreshold"])
    out["http"] = block
    return out


def _levels(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The steps as a series of parallel groups, each after the whole group before it."""
    levels: list[list[dict[str, Any]]] = []
    placed: set[str] = set()
    remaining = list(steps)
    while remaining:
        before = {s["id"] for s in levels[-1]} if levels else set()
        group = [s for s in remaining if set(s.get("after") or []) == before]
        if not group or any(set(s.get("after") or []) - placed for s in group):
            i = steps.index(remaining[0])
            raise _refuse(
                ["steps", i, "after"],
                "Chaos Mesh runs steps in series and in parallel: this step waits for part of "
                "a parallel group, which a Serial/Parallel tree cannot say",
            )
        if (
            levels
            and {d for s in remaining if s not in group for d in s.get("after") or []} & before
        ):
            raise _refuse(["steps"], "a step waits for an earlier group than the one before it")
        levels.append(group)
        placed |= {s["id"] for s in group}
        remaining = [s for s in remaining if s not in group]
    return levels


def to_chaos_mesh(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    if kind == "Experiment":
        cm_kind, spec = mesh_spec(doc, [], with_duration=True)
        return _mesh_object(cm_kind, str(doc["name"]), spec)
    if kind == "Schedule":
        return _mesh_schedule(doc)
    if doc.get("steadyState"):
        raise _refuse(
            ["steadyState"], "Chaos Mesh has no steady state (a StatusCheck is a step or a guard)"
        )
    steps = list(doc["steps"])
    taken = {s["id"] for s in steps}
    templates: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        where: list[str | int] = ["steps", i]
        if step.get("when"):
            raise _refuse(
                [*where, "when"], "Chaos Mesh's conditional branches follow Task pods, not probes"
            )
        template: dict[str, Any] = {"name": step["id"]}
        if "fault" in step:
            cm_kind, spec = mesh_spec(step["fault"], [*where, "fault"], with_duration=False)
            template["templateType"] = cm_kind
            if step["fault"].get("durationSeconds"):
                template["deadline"] = go_duration(float(step["fault"]["durationSeconds"]))
            key = next(k for k, v in chaos_mesh.EMBED_KEYS.items() if v == cm_kind)
            template[key] = spec
        elif "wait" in step:
            template["templateType"] = "Suspend"
            template["deadline"] = go_duration(float(step["wait"]["seconds"]))
        elif "probe" in step:
            window = step["probe"].get("forSeconds")
            template["templateType"] = "StatusCheck"
            if window:
                template["deadline"] = go_duration(float(window))
            template["statusCheck"] = _status_check(step["probe"], [*where, "probe"], window=window)
        else:
            raise _refuse(where, "Chaos Mesh has no approval step")
        templates.append(template)
    names = iter(f"group-{n}" for n in range(1, 10_000))
    children: list[str] = []
    for group in _levels(steps):
        if len(group) == 1:
            children.append(group[0]["id"])
            continue
        name = next(n for n in names if n not in taken)
        taken.add(name)
        templates.append(
            {"name": name, "templateType": "Parallel", "children": [s["id"] for s in group]}
        )
        children.append(name)
    entry = next(n for n in names if n not in taken)
    taken.add(entry)
    serial: dict[str, Any] = {"name": entry, "templateType": "Serial", "children": children}
    guards = []
    for j, probe in enumerate(doc.get("stopConditions") or []):
        guard = probe.get("name") or f"guard-{j}"
        if guard in taken:
            raise _refuse(["stopConditions", j, "name"], f"{guard!r} is also a step's id")
        taken.add(guard)
        check = _status_check(
            probe, ["stopConditions", j], window=float(doc.get("deadlineSeconds", 3600))
        )
        templates.append(
            {
                "name": guard,
                "templateType": "StatusCheck",
                "deadline": go_duration(float(doc.get("deadlineSeconds", 3600))),
                "abortWithStatusCheck": True,
                "statusCheck": check,
            }
        )
        guards.append(guard)
    if guards:
        root = next(n for n in names if n not in taken)
        templates.append({"name": root, "templateType": "Parallel", "children": [*guards, entry]})
    else:
        root = entry
    templates.append(serial)
    return {
        "apiVersion": chaos_mesh.API_VERSION,
        "kind": "Workflow",
        "metadata": {"name": _k8s_name(str(doc["name"]))},
        "spec": {"entry": root, "templates": templates},
    }


# -- Litmus ------------------------------------------------------------------------------------


def _litmus_comparator(expect: dict[str, Any], path: list[str | int]) -> dict[str, Any]:
    ((op, operand),) = expect.items()
    if op == "matches":
        inner = re.fullmatch(r"\(\?s\)\.\*\(\?:(.*)\)\.\*", str(operand), re.S)
        if inner is None:
            raise _refuse([*path, op], "Litmus searches with matches; this pattern cannot be said")
        return {"type": "string", "criteria": "matches", "value": inner.group(1)}
    if op == "contains" or (op in ("==", "!=") and isinstance(operand, str)):
        criteria = {"contains": "contains", "==": "equal", "!=": "notEqual"}[op]
        return {"type": "string", "criteria": criteria, "value": operand}
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return {"type": "float", "criteria": op, "value": str(whole(operand))}
    if op in ("between", "oneOf"):
        kind = "string" if any(isinstance(v, str) for v in operand) else "float"
        return {
            "type": kind,
            "criteria": op,
            "value": ",".join(str(whole(v) if not isinstance(v, str) else v) for v in operand),
        }
    raise _refuse([*path, op], f"Litmus has no {op} comparator")


def _litmus_probe(probe: dict[str, Any], path: list[str | int], mode: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    out: dict[str, Any] = {"name": probe.get("name") or "probe"}
    if "http" in probe:
        http = probe["http"]
        expect = http.get("expect") or {}
        if set(expect) - {"status"}:
            raise _refuse([*path, "http", "expect"], "an httpProbe judges the status code only")
        status = expect.get("status", [200])
        if isinstance(status, list):
            code = {
                "criteria": "==" if len(status) == 1 else "oneOf",
                "responseCode": ",".join(map(str, status)),
            }
        elif isinstance(status, dict) and list(status) == ["!="]:
            code = {"criteria": "!=", "responseCode": str(status["!="])}
        else:
            raise _refuse(
                [*path, "http", "expect", "status"],
                "an httpProbe compares codes with ==, != or oneOf",
            )
        headers = dict(http.get("headers") or {})
        method: dict[str, Any]
        if http.get("method", "GET") == "POST":
            post: dict[str, Any] = {}
            if "Content-Type" in headers:
                post["contentType"] = headers.pop("Content-Type")
            if http.get("body"):
                post["body"] = http["body"]
            method = {"post": {**post, **code}}
        elif http.get("method", "GET") == "GET":
            method = {"get": code}
        else:
            raise _refuse([*path, "http", "method"], "an httpProbe sends GET or POST")
        if headers:
            raise _refuse([*path, "http", "headers"], "an httpProbe sends no headers of its own")
        out["type"] = "httpProbe"
        out["httpProbe/inputs"] = {"url": http["url"], "method": method}
        timeout = http.get("timeoutSeconds")
    elif "command" in probe:
        command = probe["command"]
        inputs: dict[str, Any] = {"command": shlex.join(command["argv"])}
        expect = command.get("expect") or {}
        if expect.get("exitCode", 0) != 0:
            raise _refuse(
                [*path, "command", "expect", "exitCode"], "a cmdProbe judges the output only"
            )
        if expect.get("stdout"):
            inputs["comparator"] = _litmus_comparator(
                expect["stdout"], [*path, "command", "expect", "stdout"]
            )
        out["type"] = "cmdProbe"
        out["cmdProbe/inputs"] = inputs
        timeout = command.get("timeoutSeconds")
    elif "prometheus" in probe:
        prom = probe["prometheus"]
        comparator = _litmus_comparator(prom["expect"], [*path, "prometheus", "expect"])
        comparator.pop("type")
        out["type"] = "promProbe"
        out["promProbe/inputs"] = {
            "endpoint": prom["url"],
            "query": prom["query"],
            "comparator": comparator,
        }
        timeout = prom.get("timeoutSeconds")
    else:
        raise _refuse(path, "Litmus has http, cmd and prom probes of these kinds")
    out["mode"] = mode
    timeout = timeout or probe.get("timeoutSeconds")
    if timeout:
        props["probeTimeout"] = go_duration(float(timeout))
    interval = probe.get("intervalSeconds")
    if interval is not None:
        props["probePollingInterval" if mode == "OnChaos" else "interval"] = go_duration(
            float(interval)
        )
    if probe.get("failureThreshold"):
        props["attempt"] = probe["failureThreshold"]
    if probe.get("initialDelaySeconds"):
        props["initialDelay"] = go_duration(float(probe["initialDelaySeconds"]))
    if mode == "OnChaos":
        props["stopOnFailure"] = True
    for key in ("successThreshold", "forSeconds"):
        if probe.get(key) not in (None, 1):
            raise _refuse([*path, key], "a Litmus probe has no such setting")
    out["runProperties"] = props
    return out


def _engine(
    name: str, fault: dict[str, Any], path: list[str | int], probes: list[dict[str, Any]]
) -> dict[str, Any]:
    fault_name = _adapter_fault(fault, "litmus", path)
    selector = fault.get("selector") or {}
    params = dict(fault.get("params") or {})
    spec: dict[str, Any] = {"engineState": "active"}
    env: list[dict[str, str]] = []
    if fault_name in litmus.NODE_FAULTS:
        if selector.get("nodes"):
            env.append({"name": "TARGET_NODE", "value": ",".join(selector["nodes"])})
        if selector.get("node_labels"):
            env.append(
                {
                    "name": "NODE_LABEL",
                    "value": ",".join(f"{k}={v}" for k, v in selector["node_labels"].items()),
                }
            )
        if selector.get("limit"):
            raise _refuse([*path, "selector", "limit"], "a ChaosEngine has no node limit")
    else:
        app: dict[str, Any] = {}
        if selector.get("namespace"):
            app["appns"] = selector["namespace"]
        app["applabel"] = ",".join(f"{k}={v}" for k, v in (selector.get("labels") or {}).items())
        if selector.get("kind"):
            app["appkind"] = selector["kind"]
        spec["appinfo"] = app
    if selector.get("service_account"):
        spec["chaosServiceAccount"] = selector["service_account"]
    if params.pop(litmus.KEEP, False):
        spec["jobCleanUpPolicy"] = "retain"
    if fault.get("durationSeconds"):
        env.insert(
            0, {"name": "TOTAL_CHAOS_DURATION", "value": str(int(float(fault["durationSeconds"])))}
        )
    for key, value in params.items():
        env.append(
            {"name": key, "value": str(value).lower() if isinstance(value, bool) else str(value)}
        )
    experiment: dict[str, Any] = {"name": fault_name, "spec": {"components": {"env": env}}}
    if probes:
        experiment["spec"]["probe"] = probes
    spec["experiments"] = [experiment]
    return {
        "apiVersion": litmus.API_VERSION,
        "kind": "ChaosEngine",
        "metadata": {"name": _k8s_name(name)},
        "spec": spec,
    }


def to_litmus(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    if kind == "Experiment":
        return _engine(str(doc["name"]), doc, [], [])
    if kind != "Workflow":
        raise _refuse(["kind"], "the hub exports Experiment and Workflow documents to Litmus")
    faults = [(i, s) for i, s in enumerate(doc["steps"]) if "fault" in s]
    others = [i for i, s in enumerate(doc["steps"]) if "fault" not in s]
    if others:
        raise _refuse(
            ["steps", others[0]], "a ChaosEngine holds faults and their probes, not other steps"
        )
    if len(faults) != 1:
        raise _refuse(["steps"], "the hub exports a workflow of one litmus fault as a ChaosEngine")
    probes = [
        _litmus_probe(p, ["steadyState", i], "Edge")
        for i, p in enumerate(doc.get("steadyState") or [])
    ] + [
        _litmus_probe(p, ["stopConditions", i], "OnChaos")
        for i, p in enumerate(doc.get("stopConditions") or [])
    ]
    i, step = faults[0]
    return _engine(str(doc["name"]), step["fault"], ["steps", i, "fault"], probes)


def _mesh_schedule(doc: dict[str, Any]) -> dict[str, Any]:
    if (doc.get("timeZone") or "UTC") != "UTC":
        raise _refuse(["timeZone"], "a Chaos Mesh Schedule runs on UTC")
    if doc.get("blackouts"):
        raise _refuse(["blackouts"], "a Chaos Mesh Schedule has no blackout windows")
    policy = doc.get("concurrencyPolicy") or "forbid"
    if policy == "replace":
        raise _refuse(["concurrencyPolicy"], "Chaos Mesh forbids or allows; it never replaces")
    spec: dict[str, Any] = {"schedule": doc["cron"]}
    if doc.get("startingDeadlineSeconds") is not None:
        spec["startingDeadlineSeconds"] = int(doc["startingDeadlineSeconds"])
    spec["concurrencyPolicy"] = policy.capitalize()
    if "workflow" in doc:
        spec["type"] = "Workflow"
        spec["workflow"] = to_chaos_mesh("Workflow", doc["workflow"])["spec"]
    else:
        kind, inner = mesh_spec(doc["experiment"], ["experiment"], with_duration=True)
        spec["type"] = kind
        spec[next(k for k, v in chaos_mesh.EMBED_KEYS.items() if v == kind)] = inner
    return _mesh_object("Schedule", str(doc["name"]), spec)


def export(kind: str, doc: dict[str, Any], target: str) -> dict[str, Any]:
    """``doc`` (a hub document of ``kind``) as ``target``'s document, or a refusal saying why."""
    if target == "hub":
        return doc
    if target == "chaos-mesh":
        return to_chaos_mesh(kind, doc)
    if target == "litmus":
        return to_litmus(kind, doc)
    raise InvalidInput(f"unknown target {target!r} ({', '.join(TARGETS)})", field=["to"])


__all__ = ["TARGETS", "export"]
