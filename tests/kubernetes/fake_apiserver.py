"""A fake Kubernetes API server for the ``litmus`` and ``chaos-mesh`` adapter tests.

This is a protocol-faithful fake, written from the Kubernetes API conventions and from
``reference/backends-wire.md`` §4 and ``reference/platforms-litmus-chaosmesh.md`` §4,
because no kube-apiserver can be installed on the machines these tests run on. It is not
a Kubernetes: it serves, over real HTTP on loopback, exactly what the adapters and the
official ``kubernetes`` client use:

- discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>``;
- ``apiextensions.k8s.io/v1`` CustomResourceDefinitions (get, list) for the installed CRDs;
- the custom resources of ``litmuschaos.io/v1alpha1`` and ``chaos-mesh.org/v1alpha1``,
  namespaced: create (201, 409 ``AlreadyExists``, 422 ``Invalid``), get (404 ``NotFound``
  ``Status``), list with label and field selectors, merge-patch
  (``application/merge-patch+json``; other patch types get 415), delete (finalizers hold
  the object with a ``deletionTimestamp`` until they are removed), and watch from a
  ``resourceVersion`` with chunked JSON lines, ``timeoutSeconds``, and 410 ``Expired``
  for versions older than the last compaction; a resource whose CRD is not installed
  answers 404 on every path;
- pods and nodes, read only (list with label selectors), set up by the tests.

Every request must carry the bearer token of the generated kubeconfig. Tests reach in
through :class:`Store` to play the operators (``fake_operators.py``), to look at the
cluster from outside the adapter, and to inject faults of the API itself
(:meth:`FakeApiServer.drop_watches`, :meth:`Store.compact`, :meth:`FakeApiServer.fail_next`).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                del self.objects[key]
                self._emit("DELETED", kind.resource, changed)
                return copy.deepcopy(changed)
            self.objects[key] = changed
            self._emit("MODIFIED", kind.resource, changed)
            return copy.deepcopy(changed)

    def delete(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self.cond:
            key = (kind.resource, namespace, name)
            current = self.objects.get(key)
            if current is None:
                self.get(kind, namespace, name)  # raises NotFound
                raise AssertionError
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    current["metadata"]["deletionTimestamp"] = now_iso()
                    current["metadata"]["deletionGracePeriodSeconds"] = 0
                    self._emit("MODIFIED", kind.resource, current)
                return copy.deepcopy(current)
            del self.objects[key]
            self._emit("DELETED", kind.resource, current)
            return copy.deepcopy(current)

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


# -- HTTP -----------------------------------------------------------------------------------------

_CUSTOM = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?$"
)
_CUSTOM_ALL = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?P<plural>[^/]+)$")
_CRD = re.compile(
    r"^/apis/apiextensions\.k8s\.io/v1/customresourcedefinitions(?:/(?P<name>[^/]+))?$"
)
_GROUP = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)$")
_PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        if self._read is not None:
            raw = self._read
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self._read = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON: {exc}") from exc

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        self._read: bytes | None = None
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fake.requests.append((method, url.path, query))
        try:
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            planned = fake.take_failure(method, url.path)
            if planned is not None:
                raise planned
            self._route(method, url.path, query)
        except ApiError as exc:
            if method in ("POST", "PUT", "PATCH"):
                self._body()  # drain, so the connection stays usable
            self._send(exc.code, exc.body)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- routes ------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str]) -> None:
        store = self.server.fake.store
        if method == "GET" and path == "/version":
            return self._send(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake"})
        if method == "GET" and path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
        if method == "GET" and path == "/api/v1":
            return self._send(
                200, self._resource_list("v1", [("pods", "Pod", True), ("nodes", "Node", False)])
            )
        if method == "GET" and path == "/apis":
            return self._send(200, self._group_list())
        if method == "GET" and (m := _PODS.match(path)):
            pods = [
                p
                for (ns, _), p in sorted(store.pods.items())
                if ns == m["ns"]
                and labels_match(p["metadata"]["labels"], query.get("labelSelector"))
            ]
            return self._send(200, self._list("PodList", "v1", pods))
        if method == "GET" and path == "/api/v1/nodes":
            nodes = [
                n
                for _, n in sorted(store.nodes.items())
                if labels_match(n["metadata"]["labels"], query.get("labelSelector"))
            ]
            return self._send(200, self._list("NodeList", "v1", nodes))
        if method == "GET" and (m := _CRD.match(path)):
            return self._crd(m["name"])
        if m := _CUSTOM.match(path):
            kind = store.kind_for(m["group"], m["version"], m["plural"])
            return self._custom(method, kind, m["ns"], m["name"], query)
        if method == "GET" and (m := _GROUP.match(path)):
            return self._group_resources(m["group"], m["version"])
        if method == "GET" and (m := _CUSTOM_ALL.match(path)):
            kind = store.kind_for(m["group"], m["version"], m["plural"])
            items = [o for o in store.all(kind) if fields_match(o, query.get("fieldSelector"))]
            return self._send(
                200, self._list(f"{kind.kind}List", f"{kind.group}/{kind.version}", items)
            )
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _list(self, kind: str, api_version: str, items: list[Obj]) -> Obj:
        return {
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(self.server.fake.store.version)},
            "items": items,
        }

    def _resource_list(self, group_version: str, resources: list[tuple[str, str, bool]]) -> Obj:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for plural, kind, namespaced in resources
            ],
        }

    def _group_list(self) -> Obj:
        groups: dict[str, str] = {"apiextensions.k8s.io": "v1"}
        for k in self.server.fake.store.kinds.values():
            groups[k.group] = k.version
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in sorted(groups.items())
            ],
        }

    def _group_resources(self, group: str, version: str) -> None:
        kinds = [
            (k.plural, k.kind, True)
            for k in self.server.fake.store.kinds.values()
            if k.group == group and k.version == version
        ]
        if not kinds:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._send(200, self._resource_list(f"{group}/{version}", kinds))

    def _crd(self, name: str | None) -> None:
        store = self.server.fake.store

        def crd(k: Kind) -> Obj:
            return {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": k.resource, "resourceVersion": "1"},
                "spec": {
                    "group": k.group,
                    "names": {"kind": k.kind, "plural": k.plural},
                    "scope": "Namespaced",
                    "versions": [{"name": k.version, "served": True, "storage": True}],
                },
                "status": {"storedVersions": [k.version]},
            }

        if self.server.fake.crd_forbidden:
            raise ApiError(
                403,
                "Forbidden",
                'customresourcedefinitions.apiextensions.k8s.io is forbidden: User "tester"'
                ' cannot get resource "customresourcedefinitions"',
            )
        if name is None:
            items = [crd(k) for k in store.kinds.values()]
            return self._send(
                200, self._list("CustomResourceDefinitionList", "apiextensions.k8s.io/v1", items)
            )
        kind = store.kinds.get(name)
        if kind is None:
            raise ApiError(
                404,
                "NotFound",
                f'customresourcedefinitions.apiextensions.k8s.io "{name}" not found',
                name=name,
            )
        self._send(200, crd(kind))

    def _custom(
        self, method: str, kind: Kind, namespace: str, name: str | None, query: dict[str, str]
    ) -> None:
        store = self.server.fake.store
        if name is None and method == "GET":
            if query.get("watch") in ("true", "1"):
                return self._watch(kind, namespace, query)
            items = [
                o
                for o in store.all(kind)
                if o["metadata"]["namespace"] == namespace
                and labels_match(o["metadata"].get("labels") or {}, query.get("labelSelector"))
                and fields_match(o, query.get("fieldSelector"))
            ]
            items.sort(key=lambda o: o["metadata"]["name"])
            return self._send(
                200, self._list(f"{kind.kind}List", f"{kind.group}/{kind.version}", items)
            )
        if name is None and method == "POST":
            body = self._body()
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            return self._send(201, store.create(kind, namespace, body))
        if name is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection")
        if method == "GET":
            return self._send(200, store.get(kind, namespace, name))
        if method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type != "application/merge-patch+json":
                self._body()
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the fake serves only merge patches, not {content_type!r}",
                )
            patch = self._body()
            return self._send(
                200, store.update(kind, namespace, name, lambda o: merge_patch(o, patch))
            )
        if method == "PUT":
            body = self._body()
            current = store.get(kind, namespace, name)
            sent = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has'
                    " been modified; please apply your changes to the latest version and try again",
                )
            return self._send(200, store.update(kind, namespace, name, lambda _: body))
        if method == "DELETE":
            self._body()
            return self._send(200, store.delete(kind, namespace, name))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _watch(self, kind: Kind, namespace: str, query: dict[str, str]) -> None:
        fake = self.server.fake
        store = fake.store
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        selector = query.get("fieldSelector")
        labels = query.get("labelSelector")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stream = _WatchStream(self)
        fake.watches.append(stream)
        try:
            if since and since < store.compacted:
                stream.send(
                    {
                        "type": "ERROR",
                        "object": status_body(
                            410, "Expired", f"too old resource version: {since} ({store.compacted})"
                        ),
                    }
                )
                stream.end()
                return
            sent = since
            while not stream.dropped:
                with store.cond:
                    pending = [e for e in store.events if e.version > sent]
                    if not pending:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        store.cond.wait(min(left, 0.2))
                        continue
                for event in pending:
                    sent = event.version
                    meta = event.obj["metadata"]
                    if (
                        event.resource == kind.resource
                        and meta.get("namespace") == namespace
                        and fields_match(event.obj, selector)
                        and labels_match(meta.get("labels") or {}, labels)
                    ):
                        stream.send({"type": event.type, "object": event.obj})
            if not stream.dropped:
                stream.end()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            fake.watches.remove(stream)


class _WatchStream:
    """One open watch response, written as HTTP/1.1 chunks."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.dropped = False
        self.lock = threading.Lock()

    def send(self, event: Obj) -> None:
        data = json.dumps(event).encode() + b"\n"
        with self.lock:
            if self.dropped:
                return
            self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.handler.wfile.flush()

    def end(self) -> None:
        with self.lock:
            if not self.dropped:
                self.handler.wfile.write(b"0\r\n\r\n")
                self.handler.wfile.flush()

    def drop(self) -> None:
        """Cut the connection in the middle of the stream, as a failing proxy or apiserver does."""
        with self.lock:
            self.dropped = True
            self.handler.close_connection = True
            try:
                self.handler.connection.shutdown(2)
            except OSError:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeApiServer


class FakeApiServer:
    """The fake, listening on ``127.0.0.1`` in a thread of the test process."""

    def __init__(self, *, token: str | None = None) -> None:
        self.store = Store()
        self.token = token or uuid.uuid4().hex
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.watches: list[_WatchStream] = []
        self.crd_forbidden = False
        self._failures: list[tuple[str, str, ApiError]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def drop_watches(self) -> int:
        streams = list(self.watches)
        for stream in streams:
            stream.drop()
        return len(streams)

    def fail_next(
        self, method: str, path_contains: str, code: int, reason: str, message: str
    ) -> None:
        """Answer the next matching request with this error instead of serving it."""
        self._failures.append((method, path_contains, ApiError(code, reason, message)))

    def take_failure(self, method: str, path: str) -> ApiError | None:
        for i, (m, fragment, error) in enumerate(self._failures):
            if m == method and fragment in path:
                del self._failures[i]
                return error
        return None

    def kubeconfig(self, path: Path, *, context: str = "fake", namespace: str = "chaos") -> Path:
        """Write a kubeconfig that reaches this server with its token."""
        return write_kubeconfig(path, self.url, self.token, context=context, namespace=namespace)

    def watch_requests(self, plural: str) -> list[dict[str, str]]:
        return [
            q
            for m, p, q in self.requests
            if m == "GET" and p.endswith(f"/{plural}") and q.get("watch") in ("true", "1")
        ]


def write_kubeconfig(
    path: Path, server: str, token: str, *, context: str = "fake", namespace: str = "chaos"
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-user", "namespace": namespace},
            }
        ],
        "current-context": context,
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path
