"""Chaos Mesh chaos objects (``chaos-mesh.org/v1alpha1``) as hub experiments on the
``chaos-mesh`` adapter: PodChaos, NetworkChaos, StressChaos, IOChaos, TimeChaos, DNSChaos,
HTTPChaos. Workflows and Schedules are :mod:`chaoshub.formats.chaos_mesh_workflow`;
PhysicalMachineChaos (chaosd) is :mod:`chaoshub.formats.chaosd`.

Shapes follow ``api/v1alpha1/*_types.go`` and ``selector.go`` at chaos-mesh 608b61e as the
reference describes them. What narrows the selection and has no hub equivalent (pod names,
node selectors, field or expression selectors, HTTP header matches) is refused rather than
dropped: dropping it would hit more than the document says. What changes nothing the hub
does (``remoteCluster``, the object's ``status``) is a note.
"""

from __future__ import annotations

from typing import Any

from chaoshub import catalog
from chaoshub.errors import HubError
from chaoshub.formats.base import (
    ANY,
    Bool,
    Int,
    ListOf,
    MapOf,
    Notes,
    Path,
    Str,
    check,
    go_seconds,
    number,
    one_of,
    refuse,
    whole,
)

API_VERSION = "chaos-mesh.org/v1alpha1"
KEEP = "keep_resources"
ADAPTER = "chaos-mesh"

METADATA: dict[str, Any] = {
    "name": Str,
    "generateName": Str,
    "namespace": Str,
    "labels": MapOf(Str),
    "annotations": MapOf(Str),
    # what the API server adds; a document read back with ``kubectl get -o yaml`` has them
    "uid": Str,
    "resourceVersion": Str,
    "generation": Int,
    "creationTimestamp": ANY,
    "deletionTimestamp": ANY,
    "deletionGracePeriodSeconds": Int,
    "finalizers": ListOf(Str),
    "ownerReferences": ANY,
    "managedFields": ANY,
}

SELECTOR: dict[str, Any] = {
    "namespaces": ListOf(Str),
    "nodes": ListOf(Str),
    "pods": MapOf(ListOf(Str)),
    "nodeSelectors": MapOf(Str),
    "fieldSelectors": MapOf(Str),
    "labelSelectors": MapOf(Str),
    "expressionSelectors": ListOf({"key": Str, "operator": Str, "values": ListOf(Str)}),
    "annotationSelectors": MapOf(Str),
    "podPhaseSelectors": ListOf(Str),
}
#: selector fields that narrow the choice and have no hub equivalent
NARROWING = (
    "nodes",
    "pods",
    "nodeSelectors",
    "fieldSelectors",
    "expressionSelectors",
    "annotationSelectors",
    "podPhaseSelectors",
)
MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")

COMMON: dict[str, Any] = {
    "selector": SELECTOR,
    "mode": Str,
    "value": Str,
    "duration": Str,
    "remoteCluster": Str,
}
CONTAINERS: dict[str, Any] = {**COMMON, "containerNames": ListOf(Str)}

_POD_TARGET = {"selector": SELECTOR, "mode": Str, "value": Str}

SPECS: dict[str, dict[str, Any]] = {
    "PodChaos": {**CONTAINERS, "action": Str, "gracePeriod": Int},
    "NetworkChaos": {
        **COMMON,
        "action": Str,
        "direction": Str,
        "target": _POD_TARGET,
        "externalTargets": ListOf(Str),
        "device": Str,
        "targetDevice": Str,
        "delay": {
            "latency": Str,
            "jitter": Str,
            "correlation": Str,
            "reorder": {"reorder": Str, "correlation": Str, "gap": Int},
        },
        "loss": {"loss": Str, "correlation": Str},
        "duplicate": {"duplicate": Str, "correlation": Str},
        "corrupt": {"corrupt": Str, "correlation": Str},
        "bandwidth": {"rate": Str, "limit": Int, "buffer": Int, "peakrate": Int, "minburst": Int},
        "rate": {"rate": Str},
    },
    "StressChaos": {
        **CONTAINERS,
        "stressors": {
            "cpu": {"workers": Int, "load": Int, "options": ListOf(Str)},
            "memory": {"workers": Int, "size": Str, "options": ListOf(Str), "oomScoreAdj": Int},
        },
        "stressngStressors": Str,
    },
    "IOChaos": {
        **CONTAINERS,
        "action": Str,
        "volumePath": Str,
        "path": Str,
        "methods": ListOf(Str),
        "percent": Int,
        "delay": Str,
        "errno": Int,
        "attr": ANY,
        "mistake": ANY,
    },
    "TimeChaos": {**CONTAINERS, "timeOffset": Str, "clockIds": ListOf(Str)},
    "DNSChaos": {**CONTAINERS, "action": Str, "patterns": ListOf(Str)},
    "HTTPChaos": {
        **COMMON,
        "target": Str,
        "port": Int,
        "path": Str,
        "method": Str,
        "code": Int,
        "request_headers": MapOf(Str),
        "response_headers": MapOf(Str),
        "abort": Bool,
        "delay": Str,
        "replace": ANY,
        "patch": ANY,
        "tls": ANY,
    },
}
#: the key a workflow template or a Schedule embeds each kind's spec under
EMBED_KEYS: dict[str, str] = {
    "podChaos": "PodChaos",
    "networkChaos": "NetworkChaos",
    "stressChaos": "StressChaos",
    "ioChaos": "IOChaos",
    "timeChaos": "TimeChaos",
    "dnsChaos": "DNSChaos",
    "httpChaos": "HTTPChaos",
}
#: kinds Chaos Mesh has that no hub adapter does
OTHER_KINDS = ("KernelChaos", "JVMChaos", "AWSChaos", "GCPChaos", "AzureChaos", "BlockChaos")
OTHER_EMBED_KEYS = {
    "kernelChaos": "KernelChaos",
    "jvmChaos": "JVMChaos",
    "awsChaos": "AWSChaos",
    "gcpChaos": "GCPChaos",
    "azureChaos": "AzureChaos",
    "blockChaos": "BlockChaos",
    "physicalmachineChaos": "PhysicalMachineChaos",
}


def envelope(doc: dict[str, Any], spec_shape: Any) -> None:
    """Check the object around a spec: apiVersion, kind, metadata, spec, status."""
    check(
        doc,
        {"apiVersion": Str, "kind": Str, "metadata": METADATA, "spec": spec_shape, "status": ANY},
    )
    if doc.get("apiVersion") != API_VERSION:
        raise refuse(["apiVersion"], f"expected {API_VERSION}, not {doc.get('apiVersion')!r}")
    if not isinstance(doc.get("spec"), dict):
        raise refuse(["spec"], "a chaos object needs a spec")


def pod_selector(
    spec: dict[str, Any], path: Path, notes: Notes, *, containers: bool = True
) -> dict[str, Any]:
    """The hub's chaos-mesh selector for a spec's ``selector``, ``mode``, ``value``."""
    where = list(path)
    sel = spec.get("selector") or {}
    for key in NARROWING:
        if sel.get(key):
            raise refuse(
                [*where, "selector", key],
                "the hub's chaos-mesh faults select pods by namespaces and labelSelectors only; "
                "leaving this out would hit more pods than the document says",
            )
    if not sel.get("labelSelectors"):
        raise refuse(
            [*where, "selector", "labelSelectors"],
            "the hub's chaos-mesh faults select pods by labels: give labelSelectors",
        )
    out: dict[str, Any] = {"labels": dict(sel["labelSelectors"])}
    if sel.get("namespaces"):
        out["namespaces"] = list(sel["namespaces"])
    if containers and spec.get("containerNames"):
        out["containers"] = list(spec["containerNames"])
    out["mode"] = one_of(spec.get("mode", "all"), MODES, [*where, "mode"])
    if spec.get("value") not in (None, ""):
        out["value"] = str(spec["value"])
    if spec.get("remoteCluster"):
        notes.add(
            [*where, "remoteCluster"],
            "one hub backend is one cluster: choose the backend of that cluster (--backend)",
        )
    return out


def _percent(body: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {key: whole(number(body.get(key), [*path, key]))}
    if body.get("correlation") not in (None, ""):
        out["correlation"] = whole(number(body["correlation"], [*path, "correlation"]))
    return out


def _network(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    where = list(path)
    actions = ("netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth", "rate")
    action = one_of(spec.get("action"), actions, [*where, "action"])
    # Chaos Mesh's default, said: the hub's own default differs for partition
    params: dict[str, Any] = {
        "direction": one_of(
            spec.get("direction", "to"), ("to", "from", "both"), [*where, "direction"]
        )
    }
    if spec.get("externalTargets"):
        params["external_targets"] = list(spec["externalTargets"])
    if spec.get("device"):
        params["device"] = spec["device"]
    if spec.get("targetDevice"):
        notes.add([*where, "targetDevice"], "the hub's network faults have no target device")
    target = spec.get("target")
    if target:
        tsel = target.get("selector") or {}
        for key in NARROWING:
            if tsel.get(key):
                raise refuse(
                    [*where, "target", "selector", key],
                    "the hub's target_labels select by labels and namespaces only",
                )
        if tsel.get("labelSelectors"):
            params["target_labels"] = dict(tsel["labelSelectors"])
        if tsel.get("namespaces"):
            params["target_namespaces"] = list(tsel["namespaces"])
        if target.get("mode") not in (None, "all"):
            notes.add(
                [*where, "target", "mode"],
                "the hub affects traffic with every pod target_labels selects (mode all)",
            )
    blocks = [b for b in ("delay", "loss", "duplicate", "corrupt") if spec.get(b)]
    if action == "netem":
        if len(blocks) != 1:
            raise refuse(
                [*where, "action"],
                "netem with several of delay, loss, duplicate, corrupt at once has no single "
                f"hub fault (found {', '.join(blocks) or 'none'}); split it into one object each",
            )
        action = blocks[0]
    for other in blocks:
        if other != action:
            notes.add(
                [*where, other], f"Chaos Mesh ignores it for action {action}; so does the hub"
            )
    if action == "delay":
        body = spec.get("delay") or {}
        if not body.get("latency"):
            raise refuse([*where, "delay", "latency"], "a delay needs a latency")
        params["latency_ms"] = whole(
            go_seconds(body["latency"], [*where, "delay", "latency"]) * 1000
        )
        if body.get("jitter"):
            params["jitter_ms"] = whole(
                go_seconds(body["jitter"], [*where, "delay", "jitter"]) * 1000
            )
        if body.get("correlation") not in (None, ""):
            params["correlation"] = whole(
                number(body["correlation"], [*where, "delay", "correlation"])
            )
        if body.get("reorder"):
            notes.add(
                [*where, "delay", "reorder"], "the hub's network-delay does not reorder packets"
            )
        return "network-delay", params
    if action in ("loss", "duplicate", "corrupt"):
        body = spec.get(action) or {}
        if body.get(action) in (None, ""):
            raise refuse([*where, action, action], f"a {action} needs its percentage")
        return f"network-{action}", {**params, **_percent(body, action, [*where, action])}
    if action == "partition":
        return "network-partition", params
    if action == "bandwidth":
        body = spec.get("bandwidth") or {}
        for key in ("rate", "limit", "buffer"):
            if body.get(key) in (None, ""):
                raise refuse([*where, "bandwidth", key], "bandwidth needs rate, limit and buffer")
        params.update(
            {k: body[k] for k in ("rate", "limit", "buffer", "peakrate", "minburst") if body.get(k)}
        )
        return "network-bandwidth", params
    raise refuse([*where, "action"], "action rate has no hub fault; use bandwidth")


def _pod(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    action = one_of(
        spec.get("action"), ("pod-kill", "pod-failure", "container-kill"), [*path, "action"]
    )
    params: dict[str, Any] = {}
    if spec.get("gracePeriod") is not None:
        if action != "pod-kill":
            notes.add([*path, "gracePeriod"], f"Chaos Mesh uses it for pod-kill only, not {action}")
        else:
            params["grace_period"] = spec["gracePeriod"]
    if action == "container-kill" and not spec.get("containerNames"):
        raise refuse([*path, "containerNames"], "container-kill needs containerNames")
    return action, params


def _stress(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    where = list(path)
    if spec.get("stressngStressors"):
        raise refuse(
            [*where, "stressngStressors"],
            "raw stress-ng arguments have no hub equivalent; use stressors.cpu or stressors.memory",
        )
    stressors = spec.get("stressors") or {}
    given = [k for k in ("cpu", "memory") if stressors.get(k) is not None]
    if len(given) != 1:
        raise refuse(
            [*where, "stressors"],
            "the hub stresses CPU or memory, one per fault: give exactly one of cpu, memory "
            "(a workflow can run both in parallel)",
        )
    kind = given[0]
    body = stressors[kind]
    for key in ("options", "oomScoreAdj"):
        if body.get(key):
            notes.add(
                [*where, "stressors", kind, key], "the hub's stress faults have no such setting"
            )
    params: dict[str, Any] = {}
    if body.get("workers") is not None:
        params["workers"] = body["workers"]
    if kind == "cpu":
        if body.get("load") is not None:
            params["load"] = body["load"]
        return "stress-cpu", params
    if body.get("size"):
        params["size"] = body["size"]
    return "stress-memory", params


def _io(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    where = list(path)
    action = one_of(
        spec.get("action"), ("latency", "fault", "attrOverride", "mistake"), [*where, "action"]
    )
    if action in ("attrOverride", "mistake"):
        raise refuse(
            [*where, "action"], f"IOChaos {action} has no hub fault (latency and fault do)"
        )
    if not spec.get("volumePath"):
        raise refuse([*where, "volumePath"], "an IOChaos needs a volumePath")
    params: dict[str, Any] = {"volume_path": spec["volumePath"]}
    if spec.get("path"):
        params["path"] = spec["path"]
    if spec.get("methods"):
        params["methods"] = list(spec["methods"])
    if spec.get("percent") is not None:
        params["percent"] = spec["percent"]
    if action == "latency":
        if not spec.get("delay"):
            raise refuse([*where, "delay"], "IOChaos latency needs a delay")
        params["delay_ms"] = whole(go_seconds(spec["delay"], [*where, "delay"]) * 1000)
        return "io-latency", params
    if spec.get("errno") is not None:
        params["errno"] = spec["errno"]
    return "io-fault", params


def _time(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    if not spec.get("timeOffset"):
        raise refuse([*path, "timeOffset"], "a TimeChaos needs a timeOffset")
    params: dict[str, Any] = {"time_offset": spec["timeOffset"]}
    if spec.get("clockIds"):
        params["clock_ids"] = list(spec["clockIds"])
    return "time-skew", params


def _dns(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    action = one_of(spec.get("action"), ("error", "random"), [*path, "action"])
    params = {"patterns": list(spec["patterns"])} if spec.get("patterns") else {}
    return f"dns-{action}", params


def _http(spec: dict[str, Any], path: Path, notes: Notes) -> tuple[str, dict[str, Any]]:
    where = list(path)
    for key in ("replace", "patch"):
        if spec.get(key):
            raise refuse([*where, key], f"HTTPChaos {key} has no hub fault (abort and delay do)")
    for key in ("request_headers", "response_headers"):
        if spec.get(key):
            raise refuse(
                [*where, key],
                "the hub's HTTP faults cannot match on headers; leaving this out would affect "
                "more requests than the document says",
            )
    if spec.get("tls"):
        notes.add([*where, "tls"], "the hub's HTTP faults have no TLS settings")
    if spec.get("port") is None:
        raise refuse([*where, "port"], "an HTTPChaos needs a port")
    params: dict[str, Any] = {"port": spec["port"]}
    if spec.get("target") is not None:
        params["target"] = one_of(spec["target"], ("Request", "Response"), [*where, "target"])
    for key in ("path", "method", "code"):
        if spec.get(key) is not None:
            params[key] = spec[key]
    if spec.get("abort") and spec.get("delay"):
        raise refuse(
            [*where, "delay"], "give abort or delay, not both: the hub has one fault for each"
        )
    if spec.get("abort"):
        return "http-abort", params
    if spec.get("delay"):
        params.pop("code", None)
        params["delay_ms"] = whole(go_seconds(spec["delay"], [*where, "delay"]) * 1000)
        return "http-delay", params
    raise refuse(
        [*where, "abort"], "an HTTPChaos the hub can run aborts (abort: true) or delays (delay)"
    )


FAULTS = {
    "PodChaos": _pod,
    "NetworkChaos": _network,
    "StressChaos": _stress,
    "IOChaos": _io,
    "TimeChaos": _time,
    "DNSChaos": _dns,
    "HTTPChaos": _http,
}


def with_defaults(fault_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the catalog's defaults written out, so the document says every value
    the tool will be given (and an export gives the tool the same); ``keep_resources`` is
    the hub's own and stays out unless set."""
    try:
        filled = catalog.load().get(fault_id).validate_params(params)
    except HubError:
        return params  # the hub's checks name what is wrong, after the mapping
    return {k: v for k, v in filled.items() if not (k == KEEP and v is False)}


def fault(
    kind: str,
    spec: dict[str, Any],
    path: Path,
    notes: Notes,
    backend: str,
    duration: float | None = None,
) -> dict[str, Any]:
    """A hub fault (``faultType``, ``backend``, ``selector``, ``params``, ``durationSeconds``)
    from one kind's spec at ``path``; ``duration`` (a workflow node's deadline) wins over the
    spec's own."""
    where = list(path)
    name, params = FAULTS[kind](spec, where, notes)
    params = with_defaults(f"{ADAPTER}/{name}", params)
    out: dict[str, Any] = {
        "faultType": f"{ADAPTER}/{name}",
        "backend": backend,
        "selector": pod_selector(spec, where, notes),
        "params": params,
    }
    if spec.get("duration"):
        seconds = go_seconds(spec["duration"], [*where, "duration"])
        if duration is not None and seconds != duration:
            notes.add(
                [*where, "duration"], "the node's deadline is its duration here, as in Chaos Mesh"
            )
        else:
            duration = seconds
    if name in ("pod-kill", "container-kill"):
        duration = None  # one-shot: nothing is held
    elif duration is None:
        raise refuse(
            [*where, "duration"],
            "the hub holds a fault for a duration and then recovers it: give duration "
            "(without one Chaos Mesh holds it until the object is deleted)",
        )
    if duration is not None:
        out["durationSeconds"] = whole(duration)
    return out


def import_chaos(doc: dict[str, Any], notes: Notes, backend: str | None) -> dict[str, Any]:
    """A single chaos object as a hub Experiment document."""
    kind = doc.get("kind")
    envelope(doc, SPECS[str(kind)])
    chosen = backend or ADAPTER
    if backend is None:
        notes.add([], f"no backend given: {ADAPTER!r} assumed (choose one with --backend)")
    meta = doc.get("metadata") or {}
    if doc.get("status"):
        notes.add(["status"], "the tool's status of that object is not imported")
    return {
        "kind": "Experiment",
        "name": meta.get("name") or meta.get("generateName") or str(kind).lower(),
        "description": f"imported from Chaos Mesh {kind}",
        **fault(str(kind), doc["spec"], ["spec"], notes, chosen),
    }
