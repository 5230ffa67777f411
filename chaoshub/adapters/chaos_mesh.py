"""The ``chaos-mesh`` adapter: Chaos Mesh faults through its ``chaos-mesh.org`` custom resources.

One backend is one cluster (a kubeconfig path and context, or the pod's own service
account) with a namespace where the chaos objects are created. A fault on one target is
one chaos object (PodChaos, NetworkChaos, StressChaos, IOChaos, TimeChaos, DNSChaos,
HTTPChaos; see :mod:`chaoshub.adapters.chaos_mesh_faults`) whose selector picks the pods:
namespaces, label selectors, optional container names, and Chaos Mesh's ``mode``
(``one``, ``all``, ``fixed``, ``fixed-percent``, ``random-max-percent``) with its ``value``.
One hub target is that whole selection; Chaos Mesh's per-pod records
(``status.experiment.containerRecords``) are reported in the observation's messages and
metrics.

Time control: ``timed`` for every reversible fault. The hub holds the fault for the run's
duration and recovers by deleting the object; the object also carries a ``duration`` (the
run's plus ``wait_seconds``, the longest inject waits before the hub's clock starts), so
if the hub vanishes Chaos Mesh ends the fault by itself (the dead-man's switch the native
injector gets from its lease) and while the hub is there it never ends the fault early.
``external`` would hand the clock to Chaos Mesh and lose the hub's pause with remaining
time. ``pod-kill`` and ``container-kill`` are Chaos Mesh's one-shot actions: ``instant``,
done once every record is injected; their object is deleted on recovery all the same.

Checked against the object shapes and status model of ``chaos-mesh.org/v1alpha1`` as read
from chaos-mesh/chaos-mesh 608b61e (``api/v1alpha1/*_types.go``, ``common_types.go``,
``selector.go``, ``controllers/common/{desiredphase,records,condition,finalizers}``,
``pkg/status/status.go``). It has been tested against a protocol-faithful fake API
server (``tests/kubernetes/``) that plays the controller-manager's part, never against a
real kube-apiserver or Chaos Mesh.

Status map: object gone → recovered; deletion pending → unknown (finalizers named);
annotation-paused with every record recovered → pending (paused); ``Selected`` and
``AllInjected`` → injected (for one-shot actions: done); desired phase ``Stop`` with
``AllRecovered`` (Chaos Mesh's own duration ran out) → done; a record whose last event is
a failed ``Apply`` → failed; otherwise pending (injecting).

Pause: the hub pauses by recovering and re-injecting (a new object for the next round),
which Chaos Mesh supports for every reversible fault, so ``pause`` is declared.
:meth:`ChaosMeshAdapter.pause` and :meth:`ChaosMeshAdapter.resume` also offer Chaos
Mesh's own pause, the ``experiment.chaos-mesh.org/pause`` annotation (the object, its
records and events are kept); the hub contract has no hook for them yet.

Recovery deletes the object and waits up to ``wait_seconds`` for it to be gone. The
``chaos-mesh/records`` finalizer holds it until every record is recovered; an object
still present with a ``deletionTimestamp`` after the wait is ``RecoveryFailed`` naming
the finalizer, so the run stays ``recovering`` and a person sees why (Chaos Mesh's escape
hatch, the ``chaos-mesh.chaos-mesh.org/cleanFinalizer=forced`` annotation, is left to
that person: it skips the revert). With the param ``keep_resources`` the object is paused
instead of deleted (the fault reverted, the object kept for debugging); a one-shot kill,
which has nothing to revert, is kept as it is.

What it cannot do:

- give a verdict: Chaos Mesh has none (chaos-mesh/chaos-mesh#3160);
- see Kubernetes events the controllers emit (e.g. "no target has been selected"); it
  reads only the object's status;
- Schedules, Workflows, KernelChaos, JVMChaos, BlockChaos, the cloud kinds and
  PhysicalMachineChaos; ``remoteCluster`` (one backend is one cluster instead);
- tell which pods a ``mode`` will pick before the controller selects them: discovery
  counts the pods the selector can reach.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from chaoshub.adapters.chaos_mesh_faults import FAULTS, KINDS, Fault, magnitude_problem
from chaoshub.adapters.kube import (
    DNS_LABEL,
    KubeAdapter,
    Resource,
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

log = logging.getLogger("chaoshub.adapters.chaos_mesh")

GROUP, VERSION = "chaos-mesh.org", "v1alpha1"
PAUSE = "experiment.chaos-mesh.org/pause"
MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")

#: JSON Schema of the selector; the catalog entries carry the same
SELECTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["labels"],
    "description": "the pods Chaos Mesh picks from, and how many it picks (mode, value)",
    "properties": {
        "namespaces": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": DNS_LABEL},
            "description": "namespaces of the pods (default: the backend's)",
        },
        "labels": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
            "description": "labelSelectors: every label must match",
        },
        "containers": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
            "description": "containerNames (container-kill needs them; default: every container)",
        },
        "mode": {"enum": list(MODES), "default": "all"},
        "value": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "how many (fixed) or what percentage (fixed-percent, random-max-percent)",
        },
    },
}


#: what the adapter does with a chaos object, checked before anything is made
VERBS = ("create", "get", "list", "watch", "patch", "delete")


def resource(fault: Fault) -> Resource:
    return Resource(GROUP, VERSION, fault.plural, fault.kind)


def conditions(obj: Mapping[str, Any]) -> dict[str, bool]:
    return {
        str(c.get("type")): str(c.get("status")) == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    }


def records(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(((obj.get("status") or {}).get("experiment") or {}).get("containerRecords") or [])


def failed_apply(record: Mapping[str, Any]) -> str | None:
    """The message of a record whose last event is a failed ``Apply``."""
    events = record.get("events") or []
    last = events[-1] if events else {}
    if last.get("type") == "Failed" and last.get("operation") == "Apply":
        return str(last.get("message") or "apply failed")
    return None


def describe(obj: Mapping[str, Any]) -> tuple[str, dict[str, float], tuple[str, ...]]:
    recs = records(obj)
    injected = sum(1 for r in recs if r.get("phase") == "Injected")
    cond = conditions(obj)
    desired = ((obj.get("status") or {}).get("experiment") or {}).get("desiredPhase") or "-"
    shown = ",".join(
        k for k in ("Selected", "AllInjected", "AllRecovered", "Paused") if cond.get(k)
    )
    text = (
        f"{obj.get('kind', '')} {meta(obj).get('namespace')}/{meta(obj).get('name')}:"
        f" desiredPhase={desired} conditions=[{shown}] records {injected}/{len(recs)} injected"
    )
    messages = []
    for r in recs:
        line = (
            f"{r.get('id')}: {r.get('phase')} (injected {r.get('injectedCount', 0)},"
            f" recovered {r.get('recoveredCount', 0)})"
        )
        events = r.get("events") or []
        if events and events[-1].get("type") == "Failed":
            line += f"; {events[-1].get('operation')} failed: {events[-1].get('message')}"
        messages.append(line)
    metrics = {"records": float(len(recs)), "records_injected": float(injected)}
    return text, metrics, tuple(messages)


def observe(obj: Mapping[str, Any] | None, fault: Fault, where: str) -> Observation:
    """Chaos Mesh's status of one object as the hub's observation."""
    if obj is None:
        return Observation(Observed.RECOVERED, f"{fault.kind} {where} is gone")
    text, metrics, messages = describe(obj)
    cond = conditions(obj)
    desired = ((obj.get("status") or {}).get("experiment") or {}).get("desiredPhase")
    if meta(obj).get("deletionTimestamp"):
        finalizers = ", ".join(meta(obj).get("finalizers") or []) or "none"
        state, text = Observed.UNKNOWN, f"{text}; deleting (finalizers: {finalizers})"
    elif (meta(obj).get("annotations") or {}).get(RECOVERED_MARK) == "true" and (
        fault.one_shot or (cond.get("Paused") and cond.get("AllRecovered"))
    ):
        state, text = Observed.RECOVERED, f"{text}; kept after recovery"
    elif cond.get("Paused") or (meta(obj).get("annotations") or {}).get(PAUSE) == "true":
        state, text = Observed.PENDING, f"{text}; paused"
    elif cond.get("Selected") and cond.get("AllInjected"):
        state = Observed.DONE if fault.one_shot else Observed.INJECTED
    elif desired == "Stop" and cond.get("Selected") and cond.get("AllRecovered"):
        state, text = Observed.DONE, f"{text}; finished"
    elif any(failed_apply(r) for r in records(obj)):
        state = Observed.FAILED
    else:
        state = Observed.PENDING
    return Observation(state, text, metrics=metrics, messages=messages)


class ChaosMeshAdapter(KubeAdapter):
    """Chaos Mesh chaos objects in one cluster."""

    name: ClassVar[str] = "chaos-mesh"
    capabilities: ClassVar[Capabilities] = Capabilities(faults=frozenset(FAULTS), pause=True)

    # -- pure checks ------------------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        spec = FAULTS.get(fault)
        if spec is None:
            raise InvalidInput(f"chaos-mesh has no fault {fault!r}", field=["faultType"])
        mode = selector.get("mode") or "all"
        value = selector.get("value")
        if mode in ("one", "all") and value is not None:
            raise InvalidInput(f"mode {mode} takes no value", field=["selector", "value"])
        if mode not in ("one", "all"):
            if value is None:
                raise InvalidInput(f"mode {mode} needs a value", field=["selector", "value"])
            if mode != "fixed" and not 0 < int(value) <= 100:
                raise InvalidInput("a percentage is 1 to 100", field=["selector", "value"])
            if mode == "fixed" and int(value) < 1:
                raise InvalidInput("fixed needs at least 1 pod", field=["selector", "value"])
        if spec.needs_containers and not selector.get("containers"):
            raise InvalidInput(f"{fault} needs container names", field=["selector", "containers"])
        if params.get("target_namespaces") and not params.get("target_labels"):
            raise InvalidInput(
                "target_namespaces needs target_labels", field=["params", "target_labels"]
            )
        if (too_big := magnitude_problem(fault, params)) is not None:
            raise InvalidInput(too_big[1], field=["params", too_big[0]])

    # -- targets ---------------------------------------------------------------------------------

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        namespaces = list(selector.get("namespaces") or [self.cluster.namespace])
        labels = dict(selector.get("labels") or {})
        mode = selector.get("mode") or "all"
        with self.translate_errors():
            pods = [
                f"{meta(p).get('namespace') or ns}/{meta(p)['name']}"
                for ns in namespaces
                for p in self.cluster.pods(ns, selector_string(labels))
                if (p.get("status") or {}).get("phase") == "Running"
                and not meta(p).get("deletionTimestamp")
            ]
        if not pods:
            raise NotFound(
                f"no running pod in {', '.join(namespaces)} matches {selector_string(labels)!r}",
                field=["selector", "labels"],
            )
        picked = mode + (f" {selector['value']}" if selector.get("value") else "")
        return [
            Target(
                id=f"{','.join(namespaces)}/{selector_string(labels)}",
                label=f"pods {selector_string(labels)} in {', '.join(namespaces)}"
                f" ({picked} of {len(pods)})",
                attributes={
                    "chaos_namespace": self.cluster.namespace,
                    "namespaces": namespaces,
                    "labels": labels,
                    "containers": list(selector.get("containers") or []),
                    "mode": mode,
                    "value": selector.get("value"),
                    "pods": sorted(pods)[:50],
                },
            )
        ]

    # -- inject ----------------------------------------------------------------------------------

    def _where(self, item: Handle | Execution) -> tuple[Fault, str, str]:
        """The fault, the object's namespace and name, from the handle or the execution alone."""
        execution = item.execution if isinstance(item, Handle) else item
        return FAULTS[execution.fault], *locate(item, self.cluster.namespace)

    def chaos_object(self, item: Handle | Execution) -> dict[str, str]:
        fault, namespace, name = self._where(item)
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": fault.kind,
            "namespace": namespace,
            "name": name,
        }

    def object_body(self, execution: Execution, namespace: str, name: str) -> dict[str, Any]:
        fault = FAULTS[execution.fault]
        attrs = execution.target.attributes
        params = {k: v for k, v in execution.params.items() if k != KEEP}
        spec: dict[str, Any] = {
            "selector": {
                "namespaces": list(attrs.get("namespaces") or [namespace]),
                "labelSelectors": dict(attrs.get("labels") or {}),
            },
            "mode": attrs.get("mode") or "all",
        }
        if attrs.get("value"):
            spec["value"] = str(attrs["value"])
        if attrs.get("containers"):
            spec["containerNames"] = list(attrs["containers"])
        if fault.action:
            spec["action"] = fault.action
        if execution.duration_seconds and not fault.one_shot:
            backstop = execution.duration_seconds + self.cluster.wait_seconds
            spec["duration"] = f"{math.ceil(backstop)}s"
        spec.update(fault.build(params))
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": fault.kind,
            "metadata": metadata_for(execution.id, namespace, name),
            "spec": spec,
        }

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        fault, namespace, name = self._where(execution)
        res = resource(fault)
        with self.translate_errors(execution.target.label):
            self.cluster.refuse_denied(namespace, {res: VERBS})
            obj, created = self.cluster.create(
                res, namespace, self.object_body(execution, namespace, name)
            )
            if not created:
                if not made_for(meta(obj), execution.id):
                    raise RejectedByTool(
                        f"{fault.kind} {namespace}/{name} exists and was not made for"
                        f" execution {execution.id}",
                        native_code="AlreadyExists",
                    )
                log.info("adopted %s %s/%s for %s", fault.kind, namespace, name, execution.id)
            data = {"kind": fault.kind, "namespace": namespace, "name": name}
            where = f"{namespace}/{name}"
            # wait a bounded while for the controller to apply the fault on every record
            seen = self.cluster.wait_for(
                res,
                namespace,
                name,
                lambda o: (
                    observe(o, fault, where).state
                    in (Observed.INJECTED, Observed.DONE, Observed.FAILED)
                ),
                self.cluster.wait_seconds,
            )
            observation = observe(seen, fault, where)
            if observation.state is Observed.FAILED:
                raise RejectedByTool(
                    f"Chaos Mesh could not apply {fault.kind} {where}: "
                    + "; ".join(m for r in records(seen or {}) if (m := failed_apply(r) or "")),
                    native_code="Failed",
                    native_message=observation.native,
                )
            if observation.state is Observed.RECOVERED:
                raise RejectedByTool(
                    f"{fault.kind} {where} disappeared right after it was created",
                    native_code="NotFound",
                )
            return data, observation

    # -- status, pause, resume -----------------------------------------------------------------

    def status(self, handle: Handle) -> Observation:
        fault, namespace, name = self._where(handle)
        with self.translate_errors(handle.execution.target.label):
            obj = self.cluster.get(resource(fault), namespace, name)
        return observe(obj, fault, f"{namespace}/{name}")

    def pause(self, handle: Handle) -> Observation:
        """Chaos Mesh's own pause: annotate, wait until every record is recovered."""
        return self._set_pause(handle, True)

    def resume(self, handle: Handle) -> Observation:
        """Remove the pause annotation, wait until every record is injected again."""
        return self._set_pause(handle, False)

    def _set_pause(self, handle: Handle, paused: bool, *, kept: bool = False) -> Observation:
        fault, namespace, name = self._where(handle)
        if fault.one_shot:
            raise InvalidInput(
                f"{handle.execution.fault} is a one-shot action: Chaos Mesh never pauses it",
                field=["faultType"],
            )
        res, where = resource(fault), f"{namespace}/{name}"
        annotations: dict[str, str | None] = {PAUSE: "true" if paused else None}
        if kept:
            annotations[RECOVERED_MARK] = "true"
        with self.translate_errors(handle.execution.target.label):
            foreign = self._foreign(handle)
            if foreign is not None:
                raise RejectedByTool(f"{foreign}: not paused or resumed", native_code="Foreign")
            patched = self.cluster.merge_patch(
                res, namespace, name, {"metadata": {"annotations": annotations}}
            )
            if patched is None:
                return observe(None, fault, where)

            def settled(o: Mapping[str, Any] | None) -> bool:
                cond = conditions(o or {})
                if paused:
                    return o is None or (
                        cond.get("Paused", False) and cond.get("AllRecovered", False)
                    )
                return o is None or (not cond.get("Paused") and cond.get("AllInjected", False))

            obj = self.cluster.wait_for(res, namespace, name, settled, self.cluster.wait_seconds)
        if not settled(obj):
            raise (RecoveryFailed if paused else RejectedByTool)(
                f"Chaos Mesh did not {'revert' if paused else 're-apply'} {fault.kind} {where}"
                f" within {self.cluster.wait_seconds:g}s: {observe(obj, fault, where).native}",
                native_code="Paused" if paused else "Injecting",
            )
        return observe(obj, fault, where)

    # -- recover ---------------------------------------------------------------------------------

    def recover(self, handle: Handle) -> Observation:
        fault, namespace, name = self._where(handle)
        execution = handle.execution
        with self.translate_errors(execution.target.label):
            foreign = self._foreign(handle)
            if foreign is not None:
                return Observation(Observed.RECOVERED, f"{foreign}: left alone")
        if execution.params.get(KEEP):
            if fault.one_shot:  # nothing to revert: a kill is done; keep the object as it is
                return self._mark_kept(handle)
            return self._set_pause(handle, True, kept=True)
        with self.translate_errors(execution.target.label):
            removed = self.cluster.remove(
                resource(fault), namespace, name, lambda o: made_for(meta(o), execution.id)
            )
        if removed == "foreign":  # replaced by someone else's since it was read
            return Observation(Observed.RECOVERED, f"{fault.kind} {namespace}/{name} left alone")
        text = f"{fault.kind} {namespace}/{name} " + (
            "deleted" if removed == "removed" else "is gone"
        )
        return Observation(Observed.RECOVERED, text)

    def _foreign(self, handle: Handle) -> str | None:
        """Why the object under this execution's name is not to be touched, if it is not ours."""
        fault, namespace, name = self._where(handle)
        obj = self.cluster.get(resource(fault), namespace, name)
        if obj is None or made_for(meta(obj), handle.execution.id):
            return None
        return f"{fault.kind} {namespace}/{name} was not made for execution {handle.execution.id}"

    def _mark_kept(self, handle: Handle) -> Observation:
        fault, namespace, name = self._where(handle)
        patch = {"metadata": {"annotations": {RECOVERED_MARK: "true"}}}
        with self.translate_errors(handle.execution.target.label):
            obj = self.cluster.merge_patch(resource(fault), namespace, name, patch)
        return observe(obj, fault, f"{namespace}/{name}")

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            with self.translate_errors():
                served = {
                    kind: self.cluster.served_versions(Resource(GROUP, VERSION, plural, kind))
                    for kind, plural in KINDS.items()
                }
        except HubError as exc:
            return Health(ok=False, message=str(exc))
        available = {kind for kind, versions in served.items() if versions and VERSION in versions}
        namespace = self.cluster.namespace
        try:
            with self.translate_errors():
                denied = {
                    kind: missing
                    for kind in sorted(available)
                    if (
                        missing := self.cluster.denied(
                            namespace, {Resource(GROUP, VERSION, KINDS[kind], kind): VERBS}
                        )
                    )
                }
        except HubError as exc:
            return Health(ok=False, message=str(exc))
        faults = {
            name: FaultAvailability(True)
            if f.kind in available and f.kind not in denied
            else FaultAvailability(
                False,
                f"the cluster's credentials may not {', '.join(denied[f.kind])} in namespace"
                f" {namespace}",
            )
            if f.kind in denied
            else FaultAvailability(
                False, f"the {f.plural}.{GROUP} CRD is not installed (or does not serve {VERSION})"
            )
            for name, f in sorted(FAULTS.items())
        }
        available -= set(denied)
        missing = sorted(set(KINDS) - available)
        version = "; ".join(f"{k}: {', '.join(v or [])}" for k, v in served.items() if v)
        if not available:
            message = (
                "the cluster's credentials may not use any Chaos Mesh kind"
                if denied
                else f"no Chaos Mesh CRD ({GROUP}) is installed"
            )
            return Health(ok=False, message=message, faults=faults)
        return Health(
            ok=True,
            version=f"{GROUP} ({version})",
            message=f"missing kinds: {', '.join(missing)}" if missing else "every kind installed",
            faults=faults,
        )
