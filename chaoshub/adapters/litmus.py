"""The ``litmus`` adapter: LitmusChaos faults through ChaosEngine custom resources.

One backend is one cluster (a kubeconfig path and context, or the pod's own service
account) with a namespace where the ChaosEngines are created and the ChaosExperiments are
installed. A fault is one ChaosEngine running one experiment; the Litmus operator starts
its runner, the runner its experiment, and the experiment writes the ChaosResult
``<engine>-<experiment>`` whose phase and verdict the hub reads. Litmus runs the fault to
its own end (time control ``external``); the hub polls and may stop it.

Checked against the object shapes of ``litmuschaos.io/v1alpha1`` as read from
litmuschaos/chaos-operator af8244e (3.18.0: ``chaosengine_types.go``,
``chaosresult_types.go``, ``controllers/chaosengine_controller.go``), litmus-go 1b3603f
and the chaos-charts fault definitions at b2662c2 (env names and defaults). It has been
tested against a protocol-faithful fake API server (``tests/kubernetes/``) that plays the
operator's part, never against a real kube-apiserver or Litmus operator.

Targets: a pod fault has one target, the workload the engine's ``appinfo`` names (app
namespace, labels, kind; Litmus picks the pods, e.g. ``PODS_AFFECTED_PERC``); a node fault
has one target, and one engine, per node (``TARGET_NODE`` / ``TARGET_NODES``). Params are
the experiment's env variables and override only what they give: the rest keeps the
installed ChaosExperiment's values. ``TOTAL_CHAOS_DURATION`` defaults to the run's duration.

How it finds its own work again (no state of its own; the handle is a courtesy): the
engine's name derives from the execution id (:func:`chaoshub.adapters.kube.object_name`), so a
retried inject meets its own engine (409) and adopts it, and a recovery without handle
data stops and deletes the engine of that name. The engine namespace is kept in the
target's attributes.

Status map (DESIGN.md §4): ChaosResult phase ``Running`` → injected; ``Completed`` (also
``Completed_With_Error`` and ``Completed_With_Probe_Failure``) with verdict ``Pass`` or
``Fail`` → done with that verdict; ``Stopped`` (phase or verdict) → aborted; ``Error``
(phase or verdict) → failed; anything else → unknown, with the native text kept. No result
yet → pending (aborted if the engine was stopped, failed on ``ChaosExperiment Not Found``).
Engine gone → recovered. A cluster that cannot be reached is ``BackendUnavailable``.

Recovery merge-patches ``spec.engineState: stop`` (the operator force-deletes the chaos
pods and reverts), then deletes the engine and its ChaosResult and waits for both to be
gone; an engine still held by its finalizer after ``wait_seconds`` is reported as
``RecoveryFailed`` naming the finalizer. With the param ``keep_resources`` the objects
stay for debugging: recovery then waits for the operator to confirm the stop
(``engineStatus`` ``stopped`` or ``completed``) and marks the engine recovered.

What it cannot do:

- pause: Litmus has no pause; a stopped engine starts its experiment over when set active;
- install ChaosExperiments or service accounts: health reports a fault whose
  ChaosExperiment is missing from the namespace as unavailable;
- say which pods the experiment hit while it runs (the result's ``history.targets`` is
  reported when Litmus fills it);
- run Litmus probes defined by the hub (probes stay in the ChaosExperiment or the engine);
- tell whether the operator is running: an engine nobody reconciles stays pending.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from chaoshub.adapters.kube import (
    DNS_LABEL,
    KubeAdapter,
    Resource,
    cluster_config_schema,
    meta,
    selector_string,
)
from chaoshub.adapters.kube.naming import KEEP, RECOVERED_MARK, locate, made_for, metadata_for
from chaoshub.contract import (
    Capabilities,
    Execution,
    FaultAvailability,
    Handle,
    Health,
    Observation,
    Observed,
    Target,
)
from chaoshub.errors import (
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

log = logging.getLogger("chaoshub.adapters.litmus")

GROUP, VERSION = "litmuschaos.io", "v1alpha1"
ENGINE = Resource(GROUP, VERSION, "chaosengines", "ChaosEngine")
EXPERIMENT = Resource(GROUP, VERSION, "chaosexperiments", "ChaosExperiment")
RESULT = Resource(GROUP, VERSION, "chaosresults", "ChaosResult")

#: what the adapter does with each resource, checked before anything is made
ACCESS: dict[Resource, tuple[str, ...]] = {
    ENGINE: ("create", "get", "list", "watch", "patch", "delete"),
    RESULT: ("get", "list", "watch", "delete"),
    EXPERIMENT: ("get", "list"),
}

#: faults aimed at the pods of one workload (the engine's ``appinfo``)
POD_FAULTS = frozenset(
    {
        "pod-delete",
        "pod-cpu-hog",
        "pod-memory-hog",
        "pod-network-latency",
        "pod-network-loss",
        "pod-network-corruption",
        "pod-io-stress",
        "container-kill",
    }
)
#: faults aimed at one node each, and the env variable that names it
NODE_FAULTS: dict[str, str] = {"node-drain": "TARGET_NODE", "node-cpu-hog": "TARGET_NODES"}
APP_KINDS = ("deployment", "statefulset", "daemonset", "deploymentconfig", "rollout")
FINISHED_ENGINE = ("stopped", "completed")

#: JSON Schema of the selector of pod faults; the catalog entries carry the same
POD_SELECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["labels"],
    "description": "the workload whose pods Litmus picks from (the engine's appinfo)",
    "properties": {
        "namespace": {
            "type": "string",
            "pattern": DNS_LABEL,
            "description": "the application's namespace (default: the backend's)",
        },
        "labels": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
            "description": "labels of the application's pods (the engine's applabel), e.g. app=web",
        },
        "kind": {"enum": list(APP_KINDS), "default": "deployment"},
        "service_account": {
            "type": "string",
            "minLength": 1,
            "description": "chaosServiceAccount (default: the backend's service_account)",
        },
    },
}

#: JSON Schema of the selector of node faults
NODE_SELECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "nodes by name or by label; one ChaosEngine per node",
    "oneOf": [{"required": ["nodes"]}, {"required": ["node_labels"]}],
    "properties": {
        "nodes": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
        },
        "node_labels": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
            "description": "labels of the nodes, e.g. node-role=worker",
        },
        "limit": {"type": "integer", "minimum": 1, "description": "at most this many nodes"},
        "service_account": {"type": "string", "minLength": 1},
    },
}


def result_name(engine: str, experiment: str) -> str:
    return f"{engine}-{experiment}"


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def map_result(result: Mapping[str, Any]) -> tuple[Observed, str | None]:
    """A ChaosResult's ``experimentStatus`` as the hub's observation and verdict."""
    status = (result.get("status") or {}).get("experimentStatus") or {}
    phase = str(status.get("phase") or "")
    verdict = str(status.get("verdict") or "")
    if phase == "Running":
        return Observed.INJECTED, None
    if phase.startswith("Completed") and verdict in ("Pass", "Fail"):
        return Observed.DONE, verdict.lower()
    if "Stopped" in (phase, verdict):
        return Observed.ABORTED, None
    if "Error" in (phase, verdict):
        return Observed.FAILED, None
    return Observed.UNKNOWN, None


def describe_result(name: str, result: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The result's native text, and one message per probe and per target it reports."""
    status = result.get("status") or {}
    exp = status.get("experimentStatus") or {}
    text = (
        f"ChaosResult {name}: phase={exp.get('phase') or '-'} verdict={exp.get('verdict') or '-'}"
        f" probeSuccessPercentage={exp.get('probeSuccessPercentage') or '-'}"
    )
    error = exp.get("errorOutput") or {}
    if error.get("reason"):
        text += f"; error {error.get('errorCode') or '-'}: {error['reason']}"
    messages = []
    for probe in status.get("probeStatuses") or []:
        outcome = probe.get("status") or {}
        line = f"probe {probe.get('name')}: {outcome.get('verdict', '?')}"
        messages.append(
            line + (f" ({outcome['description']})" if outcome.get("description") else "")
        )
    for target in (status.get("history") or {}).get("targets") or []:
        what = " ".join(filter(None, (target.get("kind"), target.get("name"))))
        messages.append(f"target {what}: {target.get('chaosStatus', '?')}")
    return text, tuple(messages)


def probe_metric(result: Mapping[str, Any]) -> dict[str, float]:
    raw = ((result.get("status") or {}).get("experimentStatus") or {}).get("probeSuccessPercentage")
    try:
        return {"probe_success_percent": float(str(raw))}
    except (TypeError, ValueError):
        return {}  # "Awaited" while running


class LitmusAdapter(KubeAdapter):
    """LitmusChaos experiments run as ChaosEngines in one cluster."""

    name: ClassVar[str] = "litmus"
    capabilities: ClassVar[Capabilities] = Capabilities(
        faults=POD_FAULTS | frozenset(NODE_FAULTS), pause=False
    )
    config_schema: ClassVar[Mapping[str, Any]] = cluster_config_schema(
        service_account={
            "type": "string",
            "minLength": 1,
            "default": "litmus-admin",
            "description": "chaosServiceAccount when the selector names none",
        }
    )

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        self.service_account: str = self.config.get("service_account") or "litmus-admin"

    # -- pure checks ------------------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        if fault not in self.capabilities.faults:
            raise InvalidInput(f"litmus has no fault {fault!r}", field=["faultType"])
        wrong = (
            [k for k in ("nodes", "node_labels", "limit") if k in selector]
            if fault in POD_FAULTS
            else [k for k in ("labels", "namespace", "kind") if k in selector]
        )
        if wrong:
            aim = "a workload's pods" if fault in POD_FAULTS else "nodes"
            raise InvalidInput(f"{fault} is aimed at {aim}", field=["selector", wrong[0]])
        for key, value in params.items():
            if key != KEEP and isinstance(value, dict | list):
                raise InvalidInput("env values are scalars", field=["params", key])

    # -- targets ---------------------------------------------------------------------------------

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        with self.translate_errors():
            if fault in NODE_FAULTS:
                return self._nodes(selector)
            return [self._workload(selector)]

    def _workload(self, selector: Mapping[str, Any]) -> Target:
        namespace = selector.get("namespace") or self.cluster.namespace
        labels = selector_string(selector.get("labels"))
        kind = selector.get("kind") or "deployment"
        pods = [
            p
            for p in self.cluster.pods(namespace, labels)
            if (p.get("status") or {}).get("phase") == "Running"
            and not meta(p).get("deletionTimestamp")
        ]
        if not pods:
            raise NotFound(
                f"no running pod in namespace {namespace} matches {labels!r}",
                field=["selector", "labels"],
            )
        names = sorted(meta(p)["name"] for p in pods)
        return Target(
            id=f"{namespace}/{kind}/{labels}",
            label=f"{kind} {labels} in {namespace} ({len(names)} pods)",
            attributes={
                "chaos_namespace": self.cluster.namespace,
                "namespace": namespace,
                "labels": labels,
                "kind": kind,
                "service_account": selector.get("service_account") or self.service_account,
                "pods": names[:50],
            },
        )

    def _nodes(self, selector: Mapping[str, Any]) -> list[Target]:
        wanted = list(selector.get("nodes") or [])
        found = self.cluster.nodes(selector_string(selector.get("node_labels")))
        names = sorted(meta(n)["name"] for n in found)
        if wanted:
            missing = [n for n in wanted if n not in names]
            if missing:
                raise NotFound(f"no node named {missing[0]!r}", field=["selector", "nodes"])
            names = [n for n in names if n in wanted]
        if not names:
            raise NotFound("no node matches the selector", field=["selector", "node_labels"])
        names = names[: selector.get("limit") or len(names)]
        account = selector.get("service_account") or self.service_account
        return [
            Target(
                id=f"node/{n}",
                label=f"node {n}",
                attributes={
                    "chaos_namespace": self.cluster.namespace,
                    "node": n,
                    "service_account": account,
                },
            )
            for n in names
        ]

    # -- inject ----------------------------------------------------------------------------------

    def _where(self, item: Handle | Execution) -> tuple[str, str]:
        """The engine's namespace and name, from the handle or from the execution alone."""
        return locate(item, self.cluster.namespace, name_key="engine")

    def chaos_object(self, item: Handle | Execution) -> dict[str, str]:
        namespace, name = self._where(item)
        return {
            "apiVersion": ENGINE.api_version,
            "kind": ENGINE.kind,
            "namespace": namespace,
            "name": name,
        }

    def engine_body(self, execution: Execution, namespace: str, name: str) -> dict[str, Any]:
        attrs = execution.target.attributes
        params = dict(execution.params)
        keep = bool(params.pop(KEEP, False))
        env = {k: env_value(v) for k, v in params.items() if v is not None}
        if "TOTAL_CHAOS_DURATION" not in env and execution.duration_seconds:
            env["TOTAL_CHAOS_DURATION"] = str(math.ceil(execution.duration_seconds))
        spec: dict[str, Any] = {
            "engineState": "active",
            "chaosServiceAccount": attrs.get("service_account") or self.service_account,
            "jobCleanUpPolicy": "retain" if keep else "delete",
        }
        if execution.fault in NODE_FAULTS:
            env[NODE_FAULTS[execution.fault]] = str(attrs["node"])
        else:
            spec["appinfo"] = {
                "appns": attrs.get("namespace") or namespace,
                "applabel": attrs.get("labels") or "",
                "appkind": attrs.get("kind") or "deployment",
            }
        spec["experiments"] = [
            {
                "name": execution.fault,
                "spec": {"components": {"env": [{"name": k, "value": v} for k, v in env.items()]}},
            }
        ]
        return {
            "apiVersion": ENGINE.api_version,
            "kind": ENGINE.kind,
            "metadata": metadata_for(execution.id, namespace, name),
            "spec": spec,
        }

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        namespace, name = self._where(execution)
        target = execution.target.label
        with self.translate_errors(target):
            self.cluster.refuse_denied(namespace, ACCESS)
            if self.cluster.get(EXPERIMENT, namespace, execution.fault) is None:
                raise RejectedByTool(
                    f"ChaosExperiment {execution.fault} is not installed in namespace"
                    f" {namespace}: install faults/kubernetes/{execution.fault}/fault.yaml"
                    " from chaos-charts",
                    native_code="ChaosExperiment Not Found",
                )
            engine, created = self.cluster.create(
                ENGINE, namespace, self.engine_body(execution, namespace, name)
            )
            if not created:
                if not made_for(meta(engine), execution.id):
                    raise RejectedByTool(
                        f"ChaosEngine {namespace}/{name} exists and was not made for"
                        f" execution {execution.id}",
                        native_code="AlreadyExists",
                    )
                log.info("adopted ChaosEngine %s/%s for %s", namespace, name, execution.id)
            rname = result_name(name, execution.fault)
            data = {
                "namespace": namespace,
                "engine": name,
                "result": rname,
                "uid": meta(engine).get("uid"),
            }
            # the hub reads "injected" once the experiment says it runs; wait a bounded
            # while for that, so a quick experiment is not reported pending
            self.cluster.wait_for(
                RESULT,
                namespace,
                rname,
                lambda r: r is not None and map_result(r)[0] is not Observed.UNKNOWN,
                self.cluster.wait_seconds,
            )
            return data, self._observe(execution, namespace, name)

    # -- status ----------------------------------------------------------------------------------

    def status(self, handle: Handle) -> Observation:
        namespace, name = self._where(handle)
        with self.translate_errors(handle.execution.target.label):
            return self._observe(handle.execution, namespace, name)

    def _observe(self, execution: Execution, namespace: str, name: str) -> Observation:
        engine = self.cluster.get(ENGINE, namespace, name)
        if engine is None:
            return Observation(Observed.RECOVERED, f"ChaosEngine {namespace}/{name} is gone")
        engine_status = str((engine.get("status") or {}).get("engineStatus") or "")
        engine_text = f"ChaosEngine {namespace}/{name}: {engine_status or 'not reconciled yet'}"
        if meta(engine).get("deletionTimestamp"):
            finalizers = ", ".join(meta(engine).get("finalizers") or []) or "none"
            return Observation(
                Observed.UNKNOWN, f"{engine_text}; being deleted (finalizers: {finalizers})"
            )
        if (meta(engine).get("annotations") or {}).get(RECOVERED_MARK) == "true" and (
            engine_status in FINISHED_ENGINE
        ):
            return Observation(Observed.RECOVERED, f"{engine_text}; stopped and kept")
        rname = result_name(name, execution.fault)
        result = self.cluster.get(RESULT, namespace, rname)
        if result is None:
            experiments = (engine.get("status") or {}).get("experiments") or []
            per_exp = "; ".join(f"{e.get('name')}: {e.get('status')}" for e in experiments)
            text = f"{engine_text}; no ChaosResult {rname} yet" + (
                f" ({per_exp})" if per_exp else ""
            )
            if engine_status == "stopped":
                return Observation(Observed.ABORTED, text)
            if engine_status == "completed":  # the result was deleted by someone else
                return Observation(Observed.DONE, text)
            if any(e.get("status") == "ChaosExperiment Not Found" for e in experiments):
                return Observation(Observed.FAILED, text)
            return Observation(Observed.PENDING, text)
        state, verdict = map_result(result)
        text, messages = describe_result(rname, result)
        return Observation(
            state,
            f"{text}; engine {engine_status or '-'}",
            metrics=probe_metric(result),
            messages=messages,
            verdict=verdict,
        )

    # -- recover ---------------------------------------------------------------------------------

    def recover(self, handle: Handle) -> Observation:
        namespace, name = self._where(handle)
        execution = handle.execution
        keep = bool(execution.params.get(KEEP, False))
        rname = result_name(name, execution.fault)
        with self.translate_errors(execution.target.label):
            engine = self.cluster.get(ENGINE, namespace, name)
            if engine is not None and not made_for(meta(engine), execution.id):
                # e.g. the inject that met this engine refused it: nothing of this run's is
                # there, and what is there belongs to someone else
                return Observation(
                    Observed.RECOVERED,
                    f"ChaosEngine {namespace}/{name} was not made for execution {execution.id}:"
                    " left alone",
                )
            # the operator labels the result with its engine's uid: only that one is ours
            uid = str(meta(engine).get("uid") or "") or str((handle.data or {}).get("uid") or "")
            final = ""
            if engine is not None:
                final = self._observe(execution, namespace, name).native
                self._stop(engine, namespace, name, keep)
            if keep:
                if engine is None:
                    return Observation(
                        Observed.RECOVERED, f"ChaosEngine {namespace}/{name} is gone"
                    )
                return self._confirm_stopped(namespace, name, final)
            removed = self.cluster.remove(
                ENGINE, namespace, name, lambda o: made_for(meta(o), execution.id)
            )
            result = self.cluster.remove(
                RESULT,
                namespace,
                rname,
                lambda o: bool(uid) and (meta(o).get("labels") or {}).get("chaosUID") == uid,
            )
        done = [
            f"ChaosEngine {namespace}/{name} "
            + ("stopped and deleted" if removed == "removed" else "is gone"),
            *([f"ChaosResult {rname} deleted"] if result == "removed" else []),
            *(
                [f"ChaosResult {rname} left alone (not of this run's engine)"]
                if result == "foreign"
                else []
            ),
        ]
        return Observation(
            Observed.RECOVERED, "; ".join(done) + (f" (last seen: {final})" if final else "")
        )

    def _stop(self, engine: Mapping[str, Any], namespace: str, name: str, keep: bool) -> None:
        patch: dict[str, Any] = {}
        if (engine.get("spec") or {}).get("engineState") != "stop":
            patch["spec"] = {"engineState": "stop"}
        if keep:
            patch["metadata"] = {"annotations": {RECOVERED_MARK: "true"}}
        if patch and not meta(engine).get("deletionTimestamp"):
            self.cluster.merge_patch(ENGINE, namespace, name, patch)

    def _confirm_stopped(self, namespace: str, name: str, final: str) -> Observation:
        engine = self.cluster.wait_for(
            ENGINE,
            namespace,
            name,
            lambda e: (
                e is None or str((e.get("status") or {}).get("engineStatus")) in FINISHED_ENGINE
            ),
            self.cluster.wait_seconds,
        )
        if engine is None:
            return Observation(Observed.RECOVERED, f"ChaosEngine {namespace}/{name} is gone")
        status = str((engine.get("status") or {}).get("engineStatus") or "")
        if status not in FINISHED_ENGINE:
            raise RecoveryFailed(
                f"ChaosEngine {namespace}/{name} was told to stop but the operator has not"
                f" confirmed it after {self.cluster.wait_seconds:g}s (engineStatus"
                f" {status or 'unset'}); is the Litmus operator running?",
                native_code=status or "unset",
            )
        return Observation(
            Observed.RECOVERED,
            f"ChaosEngine {namespace}/{name} {status}; kept with its ChaosResult"
            + (f" (last seen: {final})" if final else ""),
        )

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> Health:
        namespace = self.cluster.namespace
        try:
            with self.translate_errors():
                versions = {
                    res.plural: self.cluster.served_versions(res)
                    for res in (ENGINE, EXPERIMENT, RESULT)
                }
                missing = [p for p, v in versions.items() if not v or VERSION not in v]
                if missing:
                    return Health(
                        ok=False,
                        message="Litmus CRDs not installed (or not serving"
                        f" {VERSION}): {', '.join(f'{p}.{GROUP}' for p in missing)}",
                    )
                denied = self.cluster.denied(namespace, ACCESS)
                if denied:
                    reason = (
                        f"the cluster's credentials may not {', '.join(denied)} in namespace"
                        f" {namespace}"
                    )
                    return Health(
                        ok=False,
                        message=reason,
                        faults={
                            f: FaultAvailability(False, reason)
                            for f in sorted(self.capabilities.faults)
                        },
                    )
                installed = {
                    meta(e)["name"] for e in self.cluster.list_objects(EXPERIMENT, namespace)
                }
        except HubError as exc:
            return Health(ok=False, message=str(exc))
        faults = {
            fault: FaultAvailability(True)
            if fault in installed
            else FaultAvailability(
                False,
                f"ChaosExperiment {fault} is not installed in namespace {namespace}",
            )
            for fault in sorted(self.capabilities.faults)
        }
        served = "; ".join(f"{p}: {', '.join(v or [])}" for p, v in versions.items())
        return Health(
            ok=True,
            version=f"{GROUP} ({served})",
            message=f"{len(installed)} ChaosExperiments in namespace {namespace}",
            faults=faults,
        )
