"""A fake Kubernetes API server for the ``litmus`` and ``chaos-mesh`` adapter tests.

This is a protocol-faithful fake, written from the Kubernetes API conventions and from
``reference/backends-wire.md`` §4 and ``reference/platforms-litmus-chaosmesh.md`` §4,
because no kube-apiserver can be installed on the machines these tests run on. It is not
a Kubernetes: it serves, over real HTTP on loopback (HTTPS when given a certificate),
exactly what the adapters and the official ``kubernetes`` client use:

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
through the :class:`Store` (``fake_store.py``) to play the operators
(``fake_operators.py``), to look at the cluster from outside the adapter, and to inject
faults of the API itself (:meth:`FakeApiServer.drop_watches`, :meth:`Store.compact`,
:meth:`FakeApiServer.fail_next`).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_schemas import admit
from fake_store import (
    CHAOS_MESH,
    LITMUS,
    ApiError,
    Kind,
    Obj,
    Store,
    fields_match,
    invalid,
    labels_match,
    merge_patch,
    status_body,
)

__all__ = ["CHAOS_MESH", "LITMUS", "FakeApiServer", "Kind", "Obj", "Store", "write_kubeconfig"]

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
_ACCESS_REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
#: who the fake says the kubeconfig's token is, in Forbidden messages
USER = "system:serviceaccount:chaos:chaoshub"
_PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")
_EVENTS = re.compile(r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?events$")
#: what core/v1 validation accepts as an Event's ``type``
EVENT_TYPES = ("Normal", "Warning")


#: the field selectors the API server supports on events
_EVENT_FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "reason",
    "type",
    "source",
    "reportingComponent",
)


def _event_fields_match(event: Obj, selector: str | None) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        negate = "!=" in term
        key, _, value = term.replace("!=", "=").replace("==", "=").partition("=")
        if key not in _EVENT_FIELDS:
            raise ApiError(400, "BadRequest", f'"{key}" is not a known field selector')
        if key == "source":
            actual = (event.get("source") or {}).get("component")
        else:
            head, _, tail = key.partition(".")
            actual = (event.get(head) or {}).get(tail) if tail else event.get(head)
        if (str(actual or "") == value) == negate:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        for warning in self._warnings if code < 400 else []:
            self.send_header("Warning", warning)
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
        self._warnings: list[str] = []
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fake.requests.append((method, url.path, query))
        if fake.draining:  # a request on a connection kept open: closed unanswered
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() != fake.token:  # RFC 7235: any case
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
                200,
                self._resource_list(
                    "v1",
                    [("pods", "Pod", True), ("nodes", "Node", False), ("events", "Event", True)],
                ),
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
        if m := _EVENTS.match(path):
            return self._events(method, m["ns"], query)
        if method == "POST" and path == _ACCESS_REVIEW:
            return self._access_review()
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

    def _events(self, method: str, namespace: str | None, query: dict[str, str]) -> None:
        """core/v1 Events: create (201; 409 AlreadyExists; 400 when the body's namespace is
        not the path's; 422 Invalid as the API server's event validation words it) and list
        (one namespace or all, with label and field selectors, e.g. involvedObject.name)."""
        fake = self.server.fake
        store = fake.store
        verb = {"GET": "list", "POST": "create"}.get(method)
        if verb is None or (method == "POST" and namespace is None):
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on events")
        if not fake.allowed("", "events", verb):
            raise ApiError(
                403,
                "Forbidden",
                f'events is forbidden: User "{USER}" cannot {verb} resource "events" in API'
                f' group "" in the namespace "{namespace}"',
                group="",
                kind="events",
            )
        if method == "GET":
            with store.cond:
                items = [
                    e
                    for (ns, _), e in sorted(store.core_events.items())
                    if (namespace is None or ns == namespace)
                    and labels_match(e["metadata"].get("labels") or {}, query.get("labelSelector"))
                    and _event_fields_match(e, query.get("fieldSelector"))
                ]
            return self._send(200, self._list("EventList", "v1", items))
        body = self._body()
        if not isinstance(body, dict) or body.get("kind") not in (None, "Event"):
            raise ApiError(400, "BadRequest", "the body is not a v1 Event")
        metadata = body.setdefault("metadata", {})
        if metadata.get("namespace") not in (None, namespace):
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on"
                " the request",
            )
        name = str(metadata.get("name") or "")
        involved = body.get("involvedObject") or {}
        causes: list[tuple[str, str, str]] = []
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
            causes.append(("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}"'))
        if involved.get("namespace") not in (None, "", namespace):
            causes.append(
                (
                    "FieldValueInvalid",
                    "involvedObject.namespace",
                    f'Invalid value: "{involved.get("namespace")}": does not match event.namespace',
                )
            )
        if body.get("type") and body["type"] not in EVENT_TYPES:
            causes.append(
                (
                    "FieldValueNotSupported",
                    "type",
                    f'Unsupported value: "{body["type"]}": supported values: "Normal", "Warning"',
                )
            )
        if not body.get("reason"):
            causes.append(("FieldValueRequired", "reason", "Required value"))
        if causes:
            parts = [f"{f}: {m}" for _, f, m in causes]
            listed = parts[0] if len(parts) == 1 else f"[{', '.join(parts)}]"
            raise ApiError(
                422,
                "Invalid",
                f'Event "{name}" is invalid: {listed}',
                name=name,
                kind="Event",
                causes=[{"reason": r, "message": m, "field": f} for r, f, m in causes],
            )
        with store.cond:
            if (namespace, name) in store.core_events:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'events "{name}" already exists',
                    name=name,
                    kind="events",
                )
            store.version += 1
            metadata.update(
                namespace=namespace,
                uid=str(uuid.uuid4()),
                resourceVersion=str(store.version),
                creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            body.update(apiVersion="v1", kind="Event")
            store.core_events[(str(namespace), name)] = body
        self._send(201, body)

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

    def _access_review(self) -> None:
        body = self._body()
        attrs = ((body or {}).get("spec") or {}).get("resourceAttributes") or {}
        allowed = self.server.fake.allowed(
            str(attrs.get("group") or ""), str(attrs.get("resource") or ""), str(attrs.get("verb"))
        )
        status: Obj = {"allowed": allowed}
        if allowed:
            status["reason"] = (
                f'RBAC: allowed by RoleBinding "chaoshub" of Role "chaoshub" to User "{USER}"'
            )
        self._send(
            201,
            {
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": body.get("spec") or {},
                "status": status,
            },
        )

    def _authorize(
        self, method: str, kind: Kind, namespace: str, name: str | None, query: dict[str, str]
    ) -> None:
        watching = query.get("watch") in ("true", "1")
        verb = {
            "GET": "get" if name else ("watch" if watching else "list"),
            "POST": "create",
            "PATCH": "patch",
            "PUT": "update",
            "DELETE": "delete",
        }.get(method, method.lower())
        if self.server.fake.allowed(kind.group, kind.plural, verb):
            return
        what = f'{kind.resource} "{name}"' if name else kind.resource
        details: dict[str, Any] = {"group": kind.group, "kind": kind.plural}
        if name:
            details["name"] = name
        raise ApiError(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{USER}" cannot {verb} resource "{kind.plural}" in API'
            f' group "{kind.group}" in the namespace "{namespace}"',
            **details,
        )

    def _custom(
        self, method: str, kind: Kind, namespace: str, name: str | None, query: dict[str, str]
    ) -> None:
        store = self.server.fake.store
        self._authorize(method, kind, namespace, name, query)
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
            body, self._warnings = admit(kind, body, query.get("fieldValidation"))
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

            def patched(current: Obj) -> Obj:
                body, self._warnings = admit(
                    kind, merge_patch(current, patch), query.get("fieldValidation")
                )
                return body

            return self._send(200, store.update(kind, namespace, name, patched))
        if method == "PUT":
            body = self._body()
            current = store.get(kind, namespace, name)
            sent = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if not sent:  # custom resources allow no unconditional update
                raise invalid(
                    kind,
                    name,
                    [
                        (
                            "FieldValueInvalid",
                            "metadata.resourceVersion",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            if sent != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has'
                    " been modified; please apply your changes to the latest version and try again",
                )
            body, self._warnings = admit(kind, body, query.get("fieldValidation"))
            return self._send(200, store.update(kind, namespace, name, lambda _: body))
        if method == "DELETE":
            options = self._body()
            preconditions = (
                (options or {}).get("preconditions") if isinstance(options, dict) else None
            )
            return self._send(200, store.delete(kind, namespace, name, preconditions))
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
            if fake.draining:
                self.close_connection = True
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
    """Keeps its open client connections, so that stopping it drops them all as a real API
    server going away does (HTTP/1.1 keep-alive connections would otherwise go on being
    served by their handler threads after the listener closed)."""

    daemon_threads = True
    allow_reuse_address = True
    fake: FakeApiServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open: set[Any] = set()
        self.open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.open_lock:
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.open_lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self, keep: frozenset[Any] = frozenset()) -> None:
        with self.open_lock:
            connections = [c for c in self.open if c not in keep]
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeApiServer:
    """The fake, listening on ``127.0.0.1`` in a thread of the test process."""

    def __init__(
        self,
        *,
        token: str | None = None,
        store: Store | None = None,
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.store = store or Store()
        self.token = token or uuid.uuid4().hex
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.watches: list[_WatchStream] = []
        self.crd_forbidden = False
        self.draining = False
        #: the verbs the token's Role lacks, as (group, plural, verb); everything else is allowed
        self.denied: set[tuple[str, str, str]] = set()
        self._failures: list[tuple[str, str, ApiError]] = []
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self.scheme = "http"
        if tls is not None:  # (certificate, key): served as HTTPS, as a real API server is
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)

    def deny(self, group: str, plural: str, verb: str) -> None:
        """Take ``verb`` on ``plural.group`` away from the token's Role."""
        self.denied.add((group, plural, verb))

    def allowed(self, group: str, plural: str, verb: str) -> bool:
        return (group, plural, verb) not in self.denied

    def shutdown_gracefully(self) -> None:
        """Go away as a kube-apiserver terminating gracefully does: stop listening (new
        connections are refused), close idle keep-alive connections and answer no new
        request, but keep the open watches streaming until their ``timeoutSeconds``."""
        self.draining = True
        self._server.shutdown()
        self._server.server_close()
        watching = frozenset(s.handler.connection for s in list(self.watches))
        self._server.drop_connections(keep=watching)

    def restarted(self) -> FakeApiServer:
        """A new server on this one's port, token and store (the cluster came back)."""
        port = int(self._server.server_address[1])
        return FakeApiServer(token=self.token, store=self.store, port=port).start()

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
