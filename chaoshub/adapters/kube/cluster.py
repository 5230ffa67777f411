"""One Kubernetes cluster as the chaos adapters see it: custom objects, pods and nodes.

Built on the official ``kubernetes`` client, one ``ApiClient`` per backend (never the
module-wide default configuration), so one hub process drives many clusters. The client
is made lazily, on first use, so constructing an adapter in the API process (which only
validates) reads no kubeconfig.

Every method turns the client's failures into hub errors at once: a cluster that cannot
be reached (connection refused, timeouts, a dropped stream, 429 and 5xx answers) is
:class:`~chaoshub.errors.BackendUnavailable`; any other refusal is
:class:`~chaoshub.errors.RejectedByTool` with the API server's ``Status`` reason and message.
A 404 on a read or a delete is an answer ("not there"), not an error.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from chaoshub import secrets
from chaoshub.errors import (
    BackendUnavailable,
    HubError,
    InvalidInput,
    RecoveryFailed,
    RejectedByTool,
)

log = logging.getLogger("chaoshub.adapters.kube")

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

#: backend config shared by the Kubernetes adapters; each adds its own fields
CONFIG_PROPERTIES: dict[str, Any] = {
    "kubeconfig": {
        "type": "string",
        "minLength": 1,
        "writeOnly": True,
        "description": "path of a kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    },
    "kubeconfig_data": {
        "type": "string",
        "minLength": 1,
        "writeOnly": True,
        "description": "the kubeconfig itself (YAML), instead of a file",
    },
    "context": {"type": "string", "minLength": 1, "description": "kubeconfig context to use"},
    "in_cluster": {
        "type": "boolean",
        "default": False,
        "description": "use the pod's service account instead of a kubeconfig",
    },
    "namespace": {
        "type": "string",
        "pattern": DNS_LABEL,
        "default": "default",
        "description": "where the chaos objects are created; the default target namespace",
    },
    "request_timeout_seconds": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 300,
        "default": 10,
        "description": "how long one API request may take before the cluster counts as unreachable",
    },
    "wait_seconds": {
        "type": "number",
        "minimum": 0,
        "maximum": 600,
        "default": 30,
        "description": (
            "how long inject and recover wait for the operator to confirm (injected, stopped,"
            " deleted) before reporting what they see"
        ),
    },
}

#: errors of the transport below the client: the cluster could not be reached
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)


#: what :meth:`Cluster.remove` found under a name
Removal = Literal["removed", "absent", "foreign"]


@dataclass(frozen=True)
class Resource:
    """A namespaced custom resource: where it lives in the API."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


def check_config(config: Mapping[str, Any]) -> None:
    """What the JSON Schema cannot say about a backend's cluster config; no I/O."""
    if config.get("in_cluster") and (
        config.get("kubeconfig") or config.get("kubeconfig_data") or config.get("context")
    ):
        field = next(k for k in ("kubeconfig", "kubeconfig_data", "context") if config.get(k))
        raise InvalidInput(
            "give either in_cluster or a kubeconfig and context, not both", field=["config", field]
        )
    if config.get("kubeconfig") and config.get("kubeconfig_data"):
        raise InvalidInput(
            "give either kubeconfig (a file) or kubeconfig_data, not both",
            field=["config", "kubeconfig_data"],
        )
    if config.get("kubeconfig_data"):
        try:
            loaded = yaml.safe_load(config["kubeconfig_data"])
        except yaml.YAMLError:
            loaded = None
        if not isinstance(loaded, dict):
            # the text itself is never echoed: it holds credentials
            raise InvalidInput(
                "kubeconfig_data is not a kubeconfig (a YAML mapping)",
                field=["config", "kubeconfig_data"],
            )


def status_of(exc: ApiException) -> tuple[str, str]:
    """The ``reason`` and ``message`` of the API server's ``Status`` body, when it sent one."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason") or exc.reason or "")
    message = str(body.get("message") or exc.reason or f"HTTP {exc.status}")
    return reason, message


def api_error(exc: ApiException, doing: str) -> HubError:
    """The hub error that says what to do about an API server's error answer."""
    reason, message = status_of(exc)
    code = exc.status or 0
    text = f"{doing}: HTTP {code} {reason}: {message}" if reason else f"{doing}: {message}"
    kind: type[HubError] = (
        BackendUnavailable if code == 0 or code == 429 or code >= 500 else RejectedByTool
    )
    return kind(text, native_code=reason or code, native_message=message)


def meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


class Cluster:
    """The calls the chaos adapters make, against one cluster."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.namespace: str = self.config.get("namespace") or "default"
        self.timeout = float(self.config.get("request_timeout_seconds") or 10)
        self.wait_seconds = float(self.config.get("wait_seconds", 30))
        self._api: k8s.ApiClient | None = None
        self._lock = threading.Lock()  # the hub calls one adapter from several threads

    # -- the client --------------------------------------------------------------------------

    def _client(self) -> k8s.ApiClient:
        with self._lock:
            if self._api is None:
                self._api = self._connect()
            return self._api

    def _connect(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        try:
            if self.config.get("in_cluster"):
                k8s_config.load_incluster_config(client_configuration=configuration)
            elif self.config.get("kubeconfig_data"):
                k8s_config.load_kube_config_from_dict(
                    yaml.safe_load(self.config["kubeconfig_data"]),
                    context=self.config.get("context"),
                    client_configuration=configuration,
                    persist_config=False,
                )
            else:
                k8s_config.load_kube_config(
                    config_file=self.config.get("kubeconfig"),
                    context=self.config.get("context"),
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (ConfigException, OSError) as exc:
            field = next(
                (k for k in ("in_cluster", "kubeconfig_data") if self.config.get(k)), "kubeconfig"
            )
            # the loader's message may quote the kubeconfig, which holds credentials
            text = secrets.scrub(
                str(exc),
                secrets.values(
                    {"kubeconfig_data": yaml.safe_load(self.config.get("kubeconfig_data") or "{}")}
                ),
                "the kubeconfig could not be used",
            )
            raise InvalidInput(
                f"cannot load the cluster's credentials: {text}", field=["config", field]
            ) from exc
        # one retry only: an unreachable cluster must be reported, not waited for
        configuration.retries = 1
        return k8s.ApiClient(configuration)

    @property
    def custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self._client())

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self._client())

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def _call(self, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the client; 404 answers ``None``; every other failure becomes a hub error."""
        kwargs.setdefault("_request_timeout", self.timeout)
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise api_error(exc, doing) from exc
        except TRANSPORT_ERRORS as exc:
            raise BackendUnavailable(
                f"{doing}: the cluster cannot be reached: {exc}", native_message=str(exc)
            ) from exc

    # -- custom objects ------------------------------------------------------------------------

    def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call(
            f"get {res.kind} {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            res.group,
            res.version,
            namespace,
            res.plural,
            name,
        )

    def list_objects(
        self, res: Resource, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        answer = self._call(
            f"list {res.kind} in {namespace}",
            self.custom.list_namespaced_custom_object,
            res.group,
            res.version,
            namespace,
            res.plural,
            label_selector=label_selector,
        )
        return list((answer or {}).get("items") or [])

    def create(
        self, res: Resource, namespace: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create ``body``; when its name is taken, answer the existing object instead.

        Returns the object and whether this call created it. A 404 means the resource
        type itself is missing: its CRD is not installed.
        """
        name = meta(body)["name"]
        doing = f"create {res.kind} {namespace}/{name}"
        try:
            created: Any = self.custom.create_namespaced_custom_object(
                res.group,
                res.version,
                namespace,
                res.plural,
                dict(body),
                # a misspelt field is an error, not silently dropped by the API server
                field_validation="Strict",
                _request_timeout=self.timeout,
            )
            return created, True
        except ApiException as exc:
            if exc.status == 404:
                raise RejectedByTool(
                    f"{doing}: the API server does not serve {res.api_version} {res.plural}"
                    f" (is the {res.crd_name} CRD installed?)",
                    native_code="NotFound",
                    native_message=status_of(exc)[1],
                ) from exc
            if exc.status != 409:
                raise api_error(exc, doing) from exc
        except TRANSPORT_ERRORS as exc:
            raise BackendUnavailable(
                f"{doing}: the cluster cannot be reached: {exc}", native_message=str(exc)
            ) from exc
        existing = self.get(res, namespace, name)
        if existing is None:  # deleted between the conflict and the read: try once more
            return self.create(res, namespace, body)
        return existing, False

    def create_event(self, namespace: str, body: Mapping[str, Any]) -> bool:
        """Create a core/v1 Event; answers False when one of that name exists already
        (the hub names its Events after what they report, so a retry is a no-op)."""
        doing = f"create Event {namespace}/{meta(body)['name']}"
        try:
            self.core.create_namespaced_event(
                namespace,
                dict(body),  # type: ignore[arg-type]
                _request_timeout=self.timeout,
            )
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise api_error(exc, doing) from exc
        except TRANSPORT_ERRORS as exc:
            raise BackendUnavailable(
                f"{doing}: the cluster cannot be reached: {exc}", native_message=str(exc)
            ) from exc

    def merge_patch(
        self, res: Resource, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return self._call(
            f"patch {res.kind} {namespace}/{name}",
            self.custom.patch_namespaced_custom_object,
            res.group,
            res.version,
            namespace,
            res.plural,
            name,
            dict(patch),
            _content_type="application/merge-patch+json",
        )

    def delete(self, res: Resource, namespace: str, name: str, uid: str) -> bool:
        """Ask for deletion of the object ``uid``; False when it is not there any more.

        The uid is a precondition of the request: an object that was deleted and made
        again under the name by someone else since it was read answers 409 Conflict and
        is left alone.
        """
        doing = f"delete {res.kind} {namespace}/{name}"
        try:
            self.custom.delete_namespaced_custom_object(
                res.group,
                res.version,
                namespace,
                res.plural,
                name,
                body=k8s.V1DeleteOptions(
                    preconditions=k8s.V1Preconditions(uid=uid), propagation_policy="Background"
                ),
                _request_timeout=self.timeout,
            )
            return True
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise api_error(exc, doing) from exc
        except TRANSPORT_ERRORS as exc:
            raise BackendUnavailable(
                f"{doing}: the cluster cannot be reached: {exc}", native_message=str(exc)
            ) from exc

    def remove(
        self, res: Resource, namespace: str, name: str, owned: Callable[[Mapping[str, Any]], bool]
    ) -> Removal:
        """Delete the object under ``name`` if ``owned`` says it is ours, and wait until it is gone.

        Answers ``"absent"`` when nothing is there, ``"foreign"`` when what is there is not
        ours (it is never touched), ``"removed"`` once ours is gone. An object that is still
        present with a ``deletionTimestamp`` after the wait is held by a finalizer that did
        not finish: that is :class:`RecoveryFailed` naming the finalizers, so the run stays
        ``recovering`` and a person sees why.
        """
        current = self.get(res, namespace, name)
        if current is None:
            return "absent"
        uid = str(meta(current).get("uid") or "")
        if not owned(current) or not uid:
            return "foreign"
        if not self.delete(res, namespace, name, uid):
            return "absent"
        left = self.wait_for(
            res,
            namespace,
            name,
            lambda o: o is None or meta(o).get("uid") != uid,
            self.wait_seconds,
        )
        if left is None or meta(left).get("uid") != uid:
            return "removed"
        finalizers = list(meta(left).get("finalizers") or [])
        since = meta(left).get("deletionTimestamp") or "?"
        raise RecoveryFailed(
            f"{res.kind} {namespace}/{name} is still present {self.wait_seconds:g}s after its"
            f" deletion (deletionTimestamp {since}); held by finalizer(s)"
            f" {', '.join(finalizers) or '(none listed)'}",
            native_code="FinalizerPending",
            native_message=", ".join(finalizers),
        )

    def wait_for(
        self,
        res: Resource,
        namespace: str,
        name: str,
        done: Callable[[dict[str, Any] | None], bool],
        timeout: float,
    ) -> dict[str, Any] | None:
        """Watch one object until ``done(object)`` (``None`` while absent) or ``timeout``.

        Lists then watches from the list's ``resourceVersion``, so both a creation and a
        deletion are seen. Answers the last state seen. A watch that drops is resumed
        from the last ``resourceVersion`` it delivered; one that expired (410 Gone)
        starts again from a fresh list.

        Each watch lasts at most ``request_timeout_seconds``, and the object is read again
        between watches: an API server shutting down gracefully keeps its open watches
        until they time out while refusing new connections, so only a new request tells
        that it went away (:class:`BackendUnavailable`, not a wait run out).
        """
        deadline = time.monotonic() + timeout
        obj: dict[str, Any] | None = None
        version: str | None = None
        while True:
            if version is None:
                obj, version = self._list_one(res, namespace, name)
            if done(obj):
                return obj
            left = deadline - time.monotonic()
            if left <= 0:
                return obj
            watcher = k8s_watch.Watch()
            try:
                for event in watcher.stream(
                    self.custom.list_namespaced_custom_object,
                    res.group,
                    res.version,
                    namespace,
                    res.plural,
                    field_selector=f"metadata.name={name}",
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=max(1, math.ceil(min(left, self.timeout))),
                    _request_timeout=(self.timeout, min(left, self.timeout) + self.timeout),
                ):
                    current = event.get("object") or {}
                    version = meta(current).get("resourceVersion") or version
                    if event.get("type") == "BOOKMARK":
                        continue
                    obj = None if event.get("type") == "DELETED" else current
                    if done(obj):
                        watcher.stop()
                        return obj
                # the watch ran its time: is the cluster still there?
                obj = self.get(res, namespace, name)
                if done(obj):
                    return obj
            except ApiException as exc:
                if exc.status != 410:
                    raise api_error(exc, f"watch {res.kind} {namespace}/{name}") from exc
                log.info("watch of %s %s/%s expired; listing again", res.kind, namespace, name)
                version = None
            except TRANSPORT_ERRORS as exc:
                log.info(
                    "watch of %s %s/%s dropped (%s); resuming from resourceVersion %s",
                    res.kind,
                    namespace,
                    name,
                    exc,
                    version,
                )
                # resume only if the cluster still answers; one that went away is
                # reported as unavailable by this read, not waited for
                current = self.get(res, namespace, name)
                if done(current):
                    return current

    def _list_one(
        self, res: Resource, namespace: str, name: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        answer = self._call(
            f"list {res.kind} {namespace}/{name}",
            self.custom.list_namespaced_custom_object,
            res.group,
            res.version,
            namespace,
            res.plural,
            field_selector=f"metadata.name={name}",
        )
        items = list((answer or {}).get("items") or [])
        version = meta(answer).get("resourceVersion") or "0"
        return (items[0] if items else None), version

    # -- access --------------------------------------------------------------------------------

    def denied(self, namespace: str, needs: Mapping[Resource, tuple[str, ...]]) -> list[str]:
        """The verbs of ``needs`` the credentials may not use in ``namespace``, as
        ``"watch chaosengines"``, each asked of the API server (SelfSubjectAccessReview)."""
        api = k8s.AuthorizationV1Api(self._client())
        missing = []
        for res, verbs in needs.items():
            for verb in verbs:
                review = k8s.V1SelfSubjectAccessReview(
                    spec=k8s.V1SelfSubjectAccessReviewSpec(
                        resource_attributes=k8s.V1ResourceAttributes(
                            namespace=namespace, verb=verb, group=res.group, resource=res.plural
                        )
                    )
                )
                answer = self._call(
                    f"review access to {verb} {res.plural}",
                    api.create_self_subject_access_review,
                    review,
                )
                if answer is not None and not answer.status.allowed:
                    missing.append(f"{verb} {res.plural}")
        return missing

    def refuse_denied(self, namespace: str, needs: Mapping[Resource, tuple[str, ...]]) -> None:
        """Raise before anything is made when a verb the work needs is denied: a Role
        without ``watch`` would let the object be created and the wait for it then fail."""
        missing = self.denied(namespace, needs)
        if missing:
            raise RejectedByTool(
                f"the cluster's credentials may not {', '.join(missing)} in namespace"
                f" {namespace}; grant them in the Role bound to the hub's account",
                native_code="Forbidden",
            )

    # -- core objects ---------------------------------------------------------------------------

    def pods(self, namespace: str, label_selector: str | None) -> list[dict[str, Any]]:
        doing = f"list pods in {namespace}"
        answer = self._call(
            doing,
            self.core.list_namespaced_pod,
            namespace,
            label_selector=label_selector or None,
            _preload_content=False,
        )
        return _items(answer, doing)

    def nodes(self, label_selector: str | None) -> list[dict[str, Any]]:
        answer = self._call(
            "list nodes",
            self.core.list_node,
            label_selector=label_selector or None,
            _preload_content=False,
        )
        return _items(answer, "list nodes")

    # -- what is installed ------------------------------------------------------------------------

    def served_versions(self, res: Resource) -> list[str] | None:
        """The versions the cluster serves for ``res``; ``None`` when its CRD is missing.

        Reads the CRD object; a service account that may not read CRDs (403) falls back
        to API discovery of ``res.api_version``, which says only whether it is served.
        """
        try:
            crd: Any = self.custom.get_cluster_custom_object(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                res.crd_name,
                _request_timeout=self.timeout,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status not in (401, 403):
                raise api_error(exc, f"read CRD {res.crd_name}") from exc
            return self._discovered_versions(res)
        except TRANSPORT_ERRORS as exc:
            raise BackendUnavailable(
                f"read CRD {res.crd_name}: the cluster cannot be reached: {exc}",
                native_message=str(exc),
            ) from exc
        versions = (crd.get("spec") or {}).get("versions") or []
        return [str(v["name"]) for v in versions if v.get("served", True)]

    def _discovered_versions(self, res: Resource) -> list[str] | None:
        answer = self._call(
            f"discover {res.api_version}",
            self.custom.get_api_resources,
            res.group,
            res.version,
        )
        if answer is None:
            return None
        resources = getattr(answer, "resources", None) or []
        return [res.version] if any(r.name == res.plural for r in resources) else None


def _items(answer: Any, doing: str) -> list[dict[str, Any]]:
    # pods and nodes are read as plain JSON (the adapters need a few fields, not the
    # typed models); unread answers are not checked by the client, so check here
    if answer is None:
        return []
    try:
        if answer.status == 404:
            return []
        if answer.status >= 400:
            raise api_error(
                ApiException(status=answer.status, reason=answer.reason, body=answer.data.decode()),
                doing,
            )
        return list(json.loads(answer.data).get("items") or [])
    finally:
        answer.release_conn()
