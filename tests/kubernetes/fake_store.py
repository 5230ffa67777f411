"""The fake API server's state: objects, resource versions, the event history watches read.

Written from the Kubernetes API conventions (resource versions, finalizers and
``deletionTimestamp``, ``Status`` error bodies, RFC 7386 merge patches, label and field
selectors) for the fake in ``fake_apiserver.py``; see that module for why a fake.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # plural.group, namespace, name

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def resource(self) -> str:
        return f"{self.plural}.{self.group}"


LITMUS = [
    Kind("litmuschaos.io", "v1alpha1", "chaosengines", "ChaosEngine"),
    Kind("litmuschaos.io", "v1alpha1", "chaosexperiments", "ChaosExperiment"),
    Kind("litmuschaos.io", "v1alpha1", "chaosresults", "ChaosResult"),
]
CHAOS_MESH = [
    Kind("chaos-mesh.org", "v1alpha1", plural, kind)
    for kind, plural in [
        ("PodChaos", "podchaos"),
        ("NetworkChaos", "networkchaos"),
        ("StressChaos", "stresschaos"),
        ("IOChaos", "iochaos"),
        ("TimeChaos", "timechaos"),
        ("DNSChaos", "dnschaos"),
        ("HTTPChaos", "httpchaos"),
    ]
]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code: int, reason: str, message: str, **details: Any) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def invalid(kind: Kind, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid as the API server words it: one ``(reason, field, message)`` per cause."""
    parts = [f"{field_name}: {message}" for _, field_name, message in causes]
    listed = parts[0] if len(parts) == 1 else f"[{', '.join(parts)}]"
    return ApiError(
        422,
        "Invalid",
        f'{kind.kind}.{kind.group} "{name}" is invalid: {listed}',
        name=name,
        group=kind.group,
        kind=kind.kind,
        causes=[{"reason": r, "message": m, "field": f} for r, f, m in causes],
    )


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, **details)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def labels_match(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def fields_match(obj: Obj, selector: str | None) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        meta = obj.get("metadata") or {}
        actual = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
        if key not in actual:
            raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        if actual[key] != value:
            return False
    return True


@dataclass
class Event:
    version: int
    type: str
    resource: str
    obj: Obj


@dataclass
class Store:
    """The cluster's objects, their resource versions and the event history watches read."""

    kinds: dict[str, Kind] = field(default_factory=dict)  # resource -> kind, the installed CRDs
    objects: dict[Key, Obj] = field(default_factory=dict)
    pods: dict[tuple[str, str], Obj] = field(default_factory=dict)
    nodes: dict[str, Obj] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    #: core/v1 Events (what ``kubectl get events`` lists), by namespace and name
    core_events: dict[tuple[str, str], Obj] = field(default_factory=dict)
    version: int = 100
    compacted: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def install(self, kinds: list[Kind]) -> None:
        with self.cond:
            for k in kinds:
                self.kinds[k.resource] = k

    def uninstall(self, kinds: list[Kind]) -> None:
        with self.cond:
            for k in kinds:
                self.kinds.pop(k.resource, None)
                for key in [key for key in self.objects if key[0] == k.resource]:
                    del self.objects[key]

    def kind_for(self, group: str, version: str, plural: str) -> Kind:
        kind = self.kinds.get(f"{plural}.{group}")
        if kind is None or kind.version != version:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return kind

    # -- writes (every change bumps the version and is recorded for watches) ----------------

    def _emit(self, typ: str, resource: str, obj: Obj) -> None:
        self.version += 1
        if typ != "DELETED":
            obj["metadata"]["resourceVersion"] = str(self.version)
        snapshot = copy.deepcopy(obj)
        snapshot["metadata"]["resourceVersion"] = str(self.version)
        self.events.append(Event(self.version, typ, resource, snapshot))
        self.cond.notify_all()

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        with self.cond:
            meta = body.setdefault("metadata", {})
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + uuid.uuid4().hex[:5]
                meta["name"] = name
            if not name or not DNS_SUBDOMAIN.match(name):
                raise ApiError(
                    422,
                    "Invalid",
                    f'{kind.kind}.{kind.group} "{name}" is invalid: metadata.name: Invalid value:'
                    f' "{name}": a lowercase RFC 1123 subdomain must consist of lower case'
                    " alphanumeric characters, '-' or '.'",
                    name=name,
                    group=kind.group,
                    kind=kind.kind,
                )
            if meta.get("namespace", namespace) != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent"
                    " on the request",
                )
            key = (kind.resource, namespace, name)
            if key in self.objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{kind.resource} "{name}" already exists',
                    name=name,
                    group=kind.group,
                    kind=kind.plural,
                )
            body["apiVersion"] = f"{kind.group}/{kind.version}"
            body["kind"] = kind.kind
            meta.update(
                namespace=namespace,
                uid=str(uuid.uuid4()),
                creationTimestamp=now_iso(),
                generation=1,
            )
            self.objects[key] = body
            self._emit("ADDED", kind.resource, body)
            return copy.deepcopy(body)

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self.cond:
            obj = self.objects.get((kind.resource, namespace, name))
            if obj is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'{kind.resource} "{name}" not found',
                    name=name,
                    group=kind.group,
                    kind=kind.plural,
                )
            return copy.deepcopy(obj)

    def find(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        with self.cond:
            obj = self.objects.get((kind.resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def all(self, kind: Kind) -> list[Obj]:
        with self.cond:
            return [copy.deepcopy(o) for k, o in self.objects.items() if k[0] == kind.resource]

    def update(self, kind: Kind, namespace: str, name: str, change: Callable[[Obj], Obj]) -> Obj:
        """Apply ``change`` to a copy and store it; an emptied finalizer list ends a deletion."""
        with self.cond:
            key = (kind.resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                self.get(kind, namespace, name)  # raises NotFound
                raise AssertionError
            changed = change(copy.deepcopy(current))
            meta = changed.setdefault("metadata", {})
            for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
                if fixed in current["metadata"]:
                    meta[fixed] = current["metadata"][fixed]
            if changed.get("spec") != current.get("spec"):
                meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if changed == current:
                return copy.deepcopy(current)
            before = current["metadata"].get("finalizers") or []
            added = [f for f in meta.get("finalizers") or [] if f not in before]
            if meta.get("deletionTimestamp") and added:
                message = (
                    "Forbidden: no new finalizers can be added if the object is being deleted,"
                    f" found new finalizers []string{{{', '.join(json.dumps(f) for f in added)}}}"
                )
                raise invalid(kind, name, [("FieldValueForbidden", "metadata.finalizers", message)])
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                # as etcd's delete event: the object as it was stored, not the update
                del self.objects[key]
                self._emit("DELETED", kind.resource, current)
                return copy.deepcopy(changed)
            self.objects[key] = changed
            self._emit("MODIFIED", kind.resource, changed)
            return copy.deepcopy(changed)

    def delete(
        self, kind: Kind, namespace: str, name: str, preconditions: Obj | None = None
    ) -> Obj:
        """Delete (or, held by finalizers, mark deleted); answers what the API server does:
        the object while finalizers hold it, a ``Status`` once it is gone."""
        with self.cond:
            key = (kind.resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                self.get(kind, namespace, name)  # raises NotFound
                raise AssertionError
            for field_name in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field_name)
                if wanted and wanted != current["metadata"].get(field_name):
                    label = "UID" if field_name == "uid" else "ResourceVersion"
                    raise ApiError(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {kind.resource} "{name}": Precondition'
                        f" failed: {label} in precondition: {wanted}, {label} in object meta:"
                        f" {current['metadata'].get(field_name)}",
                        name=name,
                        group=kind.group,
                        kind=kind.plural,
                    )
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    current["metadata"]["deletionTimestamp"] = now_iso()
                    current["metadata"]["deletionGracePeriodSeconds"] = 0
                    self._emit("MODIFIED", kind.resource, current)
                return copy.deepcopy(current)
            del self.objects[key]
            self._emit("DELETED", kind.resource, current)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": name,
                    "group": kind.group,
                    "kind": kind.plural,
                    "uid": current["metadata"]["uid"],
                },
            }

    def compact(self) -> None:
        """Forget the history: a watch from an older version gets 410 Expired."""
        with self.cond:
            self.compacted = self.version
            self.events.clear()

    # -- pods and nodes, set up by the tests ---------------------------------------------------

    def add_pod(self, namespace: str, name: str, labels: dict[str, str], **status: Any) -> Obj:
        with self.cond:
            self.version += 1
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": dict(labels),
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": str(self.version),
                    "creationTimestamp": now_iso(),
                },
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
                "status": {"phase": "Running", **status},
            }
            self.pods[(namespace, name)] = pod
            return pod

    def remove_pods(self, predicate: Callable[[Obj], bool]) -> list[str]:
        with self.cond:
            gone = [k for k, p in self.pods.items() if predicate(p)]
            for k in gone:
                del self.pods[k]
            return [f"{ns}/{n}" for ns, n in gone]

    def add_node(self, name: str, labels: dict[str, str]) -> Obj:
        with self.cond:
            self.version += 1
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": dict(labels),
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": str(self.version),
                },
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
            self.nodes[name] = node
            return node
