"""The ``http`` adapter: a client of any server speaking HTTP adapter protocol v1.

Checked against the native injector of this repository (its reference implementation,
DESIGN.md §5.4). Backend config: ``{"url", "token", "timeout"?}``, plus ``ca_file`` and
``cert_file``/``key_file`` for an https server that wants mutual TLS. The faults come from
the server's ``/v1/describe``, so this adapter declares none of its own; use
:meth:`HttpAdapter.describe` to read them.

Errors: RFC 7807 ``type`` ``invalid-input`` → :class:`InvalidInput`, ``unavailable`` and
connection failures → :class:`BackendUnavailable`, ``rejected`` → :class:`RejectedByTool`,
``not-found`` → :class:`NotFound`; a refused token is shown as :class:`RejectedByTool`.
A failed ``recover`` that is not a connection problem is :class:`RecoveryFailed`.

Watching: :meth:`HttpAdapter.status_many` asks ``/v1/status/batch`` (protocol 1.1) for all
the handles at once, at most :data:`BATCH_LIMIT` a call; a server whose describe does not
advertise it, or that answers 404, 405 or 501 (it predates the call), is asked one
``/v1/status`` per handle, and not asked the batch call again for
:data:`BATCH_RECHECK_SECONDS` (it may be upgraded meanwhile).

Leases: ``inject`` sends ``execution.lease_seconds``, or, when the hub gives none, the
duration plus :data:`LEASE_MARGIN_SECONDS` (:data:`DEFAULT_LEASE_SECONDS` without a
duration). Every ``status`` call renews it; a server whose lease lapses recovers alone.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from chaoshub.contract import (
    Adapter,
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
    BackendUnavailable,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)
from chaoshub.native_injector import guards

DEFAULT_TIMEOUT = 30.0
#: answers meaning a server predates an optional call (``/v1/validate``, ``/v1/forget``)
OPTIONAL_ABSENT = frozenset({404, 405, 501})
#: executions one ``/v1/status/batch`` call asks about (the server takes at most 500)
BATCH_LIMIT = 500
#: how long a server found without ``/v1/status/batch`` is not asked it again (an adapter
#: lives for one step of a run, so without this every watch tick would ask it first)
BATCH_RECHECK_SECONDS = 300.0
#: servers found without the batch call: their URL and when (monotonic seconds)
_without_batch: dict[str, float] = {}
DEFAULT_LEASE_SECONDS = 300.0
LEASE_MARGIN_SECONDS = 60.0
#: how much longer than its command's timeout a probe command request may take
COMMAND_MARGIN_SECONDS = 5.0

_PHASES = {
    "pending": Observed.PENDING,
    "injected": Observed.INJECTED,
    "done": Observed.DONE,
    "recovered": Observed.RECOVERED,
    "aborted": Observed.ABORTED,
    "failed": Observed.FAILED,
}

_PROBLEMS: dict[str, type[HubError]] = {
    "invalid-input": InvalidInput,
    "unavailable": BackendUnavailable,
    "rejected": RejectedByTool,
    "not-found": NotFound,
    "unauthorized": RejectedByTool,
}


#: backend config keys for an https server: its CA, and a client certificate for mutual TLS
TLS_CONFIG: dict[str, Any] = {
    "ca_file": {"type": "string", "description": "CA bundle that signed the server's certificate"},
    "cert_file": {"type": "string", "description": "client certificate (PEM) for mutual TLS"},
    "key_file": {
        "type": "string",
        "writeOnly": True,
        "description": "path of the client certificate's key (PEM)",
    },
}


def lease_for(execution: Execution) -> float:
    if execution.lease_seconds:
        return float(execution.lease_seconds)
    if execution.duration_seconds:
        return float(execution.duration_seconds) + LEASE_MARGIN_SECONDS
    return DEFAULT_LEASE_SECONDS


def observation(data: Mapping[str, Any]) -> Observation:
    """A protocol observation mapped onto the hub's vocabulary (unknown → ``UNKNOWN``)."""
    phase = str(data.get("phase", ""))
    native = str(data.get("native") or phase)
    metrics = {
        str(k): float(v)
        for k, v in (data.get("metrics") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return Observation(
        state=_PHASES.get(phase, Observed.UNKNOWN),
        native=native,
        metrics=metrics,
        messages=tuple(str(m) for m in data.get("messages") or ()),
        verdict=data.get("verdict"),
    )


@functools.cache
def default_tls() -> ssl.SSLContext:
    """httpx's default verification context (its CA bundle), built once per process: each
    build reads the bundle (~20 ms), which a sweep over hundreds of agents would pay per
    agent."""
    return httpx.create_ssl_context()


def tls_context(config: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The TLS context ``ca_file`` / ``cert_file`` + ``key_file`` ask for (mutual TLS): one
    per set of files and their modification times, so a client of the same server reuses
    its connections (see :func:`shared_http`) and a rotated certificate is read again."""
    if not any(config.get(k) for k in ("ca_file", "cert_file")):
        return None
    files = tuple(str(config.get(k) or "") for k in ("ca_file", "cert_file", "key_file"))
    return _tls_for(files, tuple(_mtime(f) for f in files))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime if path else 0.0
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=64)
def _tls_for(files: tuple[str, str, str], _mtimes: tuple[float, ...]) -> ssl.SSLContext:
    ca, cert, key = files
    context = ssl.create_default_context(cafile=ca or None)
    if cert:
        context.load_cert_chain(cert, key or None)
    return context


#: idle connections to a server are kept this long: under uvicorn's default keep-alive
#: (5 s, the native injector's), so the hub never sends on one the server is closing
KEEPALIVE_SECONDS = 4.0
#: servers whose connections one process keeps (least recently used dropped first)
SHARED_CLIENTS = 256
_shared: OrderedDict[tuple[Any, ...], httpx.Client] = OrderedDict()
_shared_lock = threading.Lock()


def shared_http(
    url: str, token: str, timeout: float, tls: ssl.SSLContext | None = None
) -> httpx.Client:
    """One HTTP client per server, token and TLS context in this process, kept open: each
    step of a run and each start makes a new adapter, and a new client each time paid for
    its construction and a new connection (~1 ms) on every call to an agent. httpx's
    client is safe to share between threads; a forked child makes its own."""
    key = (os.getpid(), url, token, timeout, id(tls) if tls is not None else None)
    with _shared_lock:
        client = _shared.get(key)
        if client is not None:
            _shared.move_to_end(key)
            return client
        client = httpx.Client(
            base_url=url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            verify=tls or default_tls(),
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        )
        _shared[key] = client
        dropped = []
        while len(_shared) > SHARED_CLIENTS:
            dropped.append(_shared.popitem(last=False)[1])
    for old in dropped:  # a call still in flight on it fails as unreachable: retried later
        old.close()
    return client


@dataclass(frozen=True)
class StatusItem:
    """One execution a batch status call asks about."""

    execution_id: str
    handle: Mapping[str, Any] | None = None
    target: str | None = None


def _for_item(exc: HubError, target: str | None) -> HubError:
    """A copy of ``exc`` (one failure of a whole batch) that names one item's target."""
    return type(exc)(
        exc.message,
        field=exc.field or None,
        adapter=exc.adapter,
        backend=exc.backend,
        target=target,
        native_code=exc.native_code,
        native_message=exc.native_message,
    )


def _problem_kind(problem_type: str) -> str:
    # accept a bare word or a URI ending in it (".../problems/invalid-input")
    return problem_type.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class ProtocolClient:
    """Calls one protocol-v1 server and raises hub errors for its problems."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        adapter: str = "http",
        backend: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.adapter = adapter
        self.backend = backend
        #: whether the server has ``/v1/status/batch``: None until its describe or an
        #: answer to the call says
        learnt = _without_batch.get(self.url)
        self.batch_status: bool | None = (
            False
            if learnt is not None and time.monotonic() - learnt < BATCH_RECHECK_SECONDS
            else None
        )
        self._http = shared_http(self.url, token, timeout, tls)

    def close(self) -> None:
        """Nothing to release: the connections are the process's (:func:`shared_http`)."""

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        target: str | None,
        timeout: float | None = None,
    ) -> httpx.Response:
        try:
            return self._http.request(
                method,
                path,
                json=dict(body) if body is not None else None,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"{self.url} could not be reached: {exc}",
                adapter=self.adapter,
                backend=self.backend,
                target=target,
                native_message=str(exc),
            ) from exc

    def call_optional(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        target: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """``POST`` a call added to protocol v1 later; ``None`` from a server without it."""
        answer = self._send("POST", path, body, target, timeout)
        if answer.status_code in OPTIONAL_ABSENT:
            return None
        return self._answer(answer, path, target)

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        target: str | None = None,
    ) -> dict[str, Any]:
        return self._answer(self._send(method, path, body, target), path, target)

    def _answer(self, answer: httpx.Response, path: str, target: str | None) -> dict[str, Any]:
        if answer.is_success:
            try:
                data = answer.json()
            except ValueError as exc:
                raise BackendUnavailable(
                    f"{self.url}{path} answered with no JSON",
                    adapter=self.adapter,
                    backend=self.backend,
                ) from exc
            return data if isinstance(data, dict) else {"items": data}
        raise self._error(answer, path, target)

    def _error(self, answer: httpx.Response, path: str, target: str | None) -> HubError:
        try:
            problem = answer.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        return self.problem_error(problem, answer.status_code, target, answer.text[:300])

    def problem_error(
        self, problem: Mapping[str, Any], status: int, target: str | None, text: str = ""
    ) -> HubError:
        """The hub error an RFC 7807 problem (an answer's, or one batch item's) means."""
        kind = _problem_kind(str(problem.get("type", "")))
        detail = str(problem.get("detail") or problem.get("title") or text or f"HTTP {status}")
        if kind in _PROBLEMS:
            cls = _PROBLEMS[kind]
        elif status >= 500 or status == 429:
            cls = BackendUnavailable
        elif status == 404:
            cls = NotFound
        else:
            cls = RejectedByTool
        field = problem.get("field")
        return cls(
            detail,
            field=field if isinstance(field, list) and field else None,
            adapter=self.adapter,
            backend=self.backend,
            target=target,
            native_code=kind or status,
            native_message=detail,
        )

    # -- the protocol's calls --------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        data = self.call("GET", "/v1/describe")
        features = data.get("features")
        self._has_batch(isinstance(features, dict) and features.get("batch_status") is True)
        return data

    def _has_batch(self, has: bool) -> None:
        self.batch_status = has
        if has:
            _without_batch.pop(self.url, None)
        else:
            _without_batch[self.url] = time.monotonic()

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/v1/health")

    def executions(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/executions").get("executions") or [])

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        data = self.call("POST", "/v1/discover", {"fault": fault, "selector": dict(selector)})
        return [Target.from_dict(t) for t in data.get("targets") or []]

    def inject(self, execution: Execution, target: Target) -> tuple[dict[str, Any], Observation]:
        body = {
            "execution_id": execution.id,
            "fault": execution.fault,
            "params": dict(execution.params),
            "target": target.to_dict(),
            "lease_seconds": lease_for(execution),
        }
        if execution.duration_seconds is not None:
            body["duration_seconds"] = execution.duration_seconds
        data = self.call("POST", "/v1/inject", body, target=target.id)
        return dict(data.get("handle") or {}), observation(data.get("observation") or {})

    def status(
        self, execution_id: str, handle: Mapping[str, Any] | None, target: str | None = None
    ) -> Observation:
        data = self.call(
            "POST",
            "/v1/status",
            {"execution_id": execution_id, "handle": dict(handle or {})},
            target=target,
        )
        return observation(data.get("observation") or {})

    def status_many(self, items: Sequence[StatusItem]) -> dict[str, Observation | HubError]:
        """The status of each item, by execution id (an observation or the hub error asking
        it raised): one ``/v1/status/batch`` call per :data:`BATCH_LIMIT` items, or one
        ``/v1/status`` per item from a server without the batch call. Raises no
        ``HubError``: a server that cannot be reached is that error for every item."""
        items = list({i.execution_id: i for i in items}.values())  # each asked once
        if self.batch_status is not False:
            try:
                answers = self._status_batch(items)
            except InvalidInput:
                answers = None  # one item the server refuses: each is asked alone below
            except HubError as exc:
                return {i.execution_id: _for_item(exc, i.target) for i in items}
            if answers is not None:
                return answers
        out: dict[str, Observation | HubError] = {}
        for item in items:
            try:
                out[item.execution_id] = self.status(item.execution_id, item.handle, item.target)
            except HubError as exc:
                out[item.execution_id] = exc
        return out

    def _status_batch(
        self, items: Sequence[StatusItem]
    ) -> dict[str, Observation | HubError] | None:
        """The batch call's answers; ``None`` when the server answers that it has no such
        call (remembered: it is asked one execution at a time from then on)."""
        out: dict[str, Observation | HubError] = {}
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start : start + BATCH_LIMIT]
            body = {
                "items": [
                    {"execution_id": i.execution_id, "handle": dict(i.handle or {})} for i in chunk
                ]
            }
            data = self.call_optional("/v1/status/batch", body)
            if data is None:
                self._has_batch(False)
                return None
            self._has_batch(True)
            answered = {
                str(a.get("execution_id")): a
                for a in data.get("items") or []
                if isinstance(a, dict)
            }
            for item in chunk:
                out[item.execution_id] = self._batch_answer(answered.get(item.execution_id), item)
        return out

    def _batch_answer(
        self, answer: Mapping[str, Any] | None, item: StatusItem
    ) -> Observation | HubError:
        if answer is not None and isinstance(answer.get("observation"), dict):
            return observation(answer["observation"])
        if answer is not None and isinstance(answer.get("error"), dict):
            problem = answer["error"]
            status = problem.get("status")
            return self.problem_error(
                problem, status if isinstance(status, int) else 500, item.target
            )
        return BackendUnavailable(
            f"{self.url}/v1/status/batch gave no answer for {item.execution_id}",
            adapter=self.adapter,
            backend=self.backend,
            target=item.target,
        )

    def recover(
        self, execution_id: str, handle: Mapping[str, Any] | None, target: str | None = None
    ) -> Observation:
        try:
            data = self.call(
                "POST",
                "/v1/recover",
                {"execution_id": execution_id, "handle": dict(handle or {})},
                target=target,
            )
        except (RejectedByTool, InvalidInput, NotFound) as exc:
            raise RecoveryFailed(
                exc.message,
                adapter=exc.adapter,
                backend=exc.backend,
                target=target,
                native_code=exc.native_code,
                native_message=exc.native_message,
            ) from exc
        return observation(data.get("observation") or {})

    def validate(self, fault: str, params: Mapping[str, Any], target: str | None = None) -> bool:
        """Ask the server whether it would take ``params`` for ``fault`` (what only its host
        can tell: a directory, a script); raises its refusal. False: it cannot be asked."""
        body = {"fault": fault, "params": dict(params)}
        return self.call_optional("/v1/validate", body, target=target) is not None

    def forget(
        self,
        execution_id: str,
        handle: Mapping[str, Any] | None,
        reason: str,
        target: str | None = None,
    ) -> Observation | None:
        """Tell the server to drop an execution a person released without recovery, so it
        stops recovering it; ``None`` from a server that cannot be told."""
        body = {"execution_id": execution_id, "handle": dict(handle or {}), "reason": reason}
        data = self.call_optional("/v1/forget", body, target=target)
        return None if data is None else observation(data.get("observation") or {})

    def validate_command(self, argv: Sequence[str]) -> bool:
        """Ask the server whether it would run ``argv`` as a probe command (``argv[0]`` an
        allow-listed script); raises its refusal. False: it cannot run probe commands."""
        body = {"argv": list(argv)}
        return self.call_optional("/v1/probe/command/validate", body) is not None

    def run_command(self, argv: Sequence[str], timeout_seconds: float) -> dict[str, Any] | None:
        """Run ``argv`` once as a probe command: ``{exit_code, timed_out, stdout, stderr,
        duration_ms, ...}``; ``None`` from a server that cannot run probe commands. The
        request waits for the command's timeout plus :data:`COMMAND_MARGIN_SECONDS`."""
        body = {"argv": list(argv), "timeout_seconds": timeout_seconds}
        return self.call_optional(
            "/v1/probe/command", body, timeout=timeout_seconds + COMMAND_MARGIN_SECONDS
        )

    def health_report(self) -> Health:
        try:
            data = self.health()
        except HubError as exc:
            return Health(ok=False, message=exc.message)
        faults = {
            str(name): FaultAvailability(bool(f.get("available")), str(f.get("reason") or ""))
            for name, f in (data.get("faults") or {}).items()
        }
        status = str(data.get("status", ""))
        unavailable = sorted(n for n, f in faults.items() if not f.available)
        message = (
            status if not unavailable else f"{status}: unavailable here: {', '.join(unavailable)}"
        )
        return Health(
            ok=status in ("ok", "degraded"),
            version=str(data.get("version", "")),
            message=message,
            faults=faults,
            limits={k: data[k] for k in ("guards", "host") if isinstance(data.get(k), dict)},
        )


def guard_refusal(
    report: Health, fault: str, params: Mapping[str, Any], where: str
) -> InvalidInput | None:
    """The refusal a protocol-v1 server's reported guards give ``params`` (the native
    injector's; see :mod:`chaoshub.native_injector.guards`), naming the param and ``where``."""
    parsed = guards.from_report(report.limits)
    if parsed is None:
        return None
    limits, host, disks = parsed
    disk = guards.containing(disks, str(params["path"])) if "path" in params else None
    found = guards.refusal(limits, fault, params, host, disk)
    if found is None:
        return None
    return InvalidInput(f"{where}: {fault}: {found[1]}", field=["params", found[0]])


class HttpAdapter(Adapter):
    """Drives one protocol-v1 server (backend config ``{url, token, timeout?, TLS files?}``)."""

    name: ClassVar[str] = "http"
    # the faults are the server's, read from its describe, not declared here
    capabilities: ClassVar[Capabilities] = Capabilities(pause=True)
    config_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "token"],
        "properties": {
            "url": {"type": "string", "pattern": "^https?://", "description": "server base URL"},
            "token": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "bearer token",
            },
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "per-request timeout, seconds",
            },
            **TLS_CONFIG,
        },
    }

    def __init__(self, config: Mapping[str, Any], *, backend: str = "") -> None:
        super().__init__(config, backend=backend)
        self.client = ProtocolClient(
            str(config["url"]),
            str(config["token"]),
            timeout=float(config.get("timeout") or DEFAULT_TIMEOUT),
            adapter=self.name,
            backend=backend,
            tls=tls_context(config),
        )
        self._report: Health | None = None

    @classmethod
    def fault_types(cls) -> list[dict[str, Any]]:
        return []

    def describe(self) -> dict[str, Any]:
        """The server's name, version, fault types (catalog entries) and capabilities."""
        return self.client.describe()

    def active_executions(self) -> list[dict[str, Any]]:
        """What the server has injected now (``GET /v1/executions``), for reconciliation."""
        return self.client.executions()

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        if not isinstance(selector, Mapping):
            raise InvalidInput("a selector is an object", field=["selector"])

    def close(self) -> None:
        self.client.close()

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        targets = self.client.discover(fault, selector)
        if not targets:
            raise NotFound(
                "the selector matches no target",
                field=["selector"],
                adapter=self.name,
                backend=self.backend,
            )
        return targets

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        return self.client.inject(execution, execution.target)

    def status(self, handle: Handle) -> Observation:
        return self.client.status(handle.execution.id, handle.data, handle.execution.target.id)

    def status_many(self, handles: Sequence[Handle]) -> dict[str, Observation | HubError]:
        return self.client.status_many(
            [StatusItem(h.execution.id, h.data, h.execution.target.id) for h in handles]
        )

    def recover(self, handle: Handle) -> Observation:
        return self.client.recover(handle.execution.id, handle.data, handle.execution.target.id)

    def check_params(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        self.client.validate(fault, params)

    def forget(self, handle: Handle, reason: str) -> bool:
        told = self.client.forget(
            handle.execution.id, handle.data, reason, handle.execution.target.id
        )
        return told is not None

    def health(self) -> Health:
        return self.client.health_report()

    def _start_report(self) -> Health:
        """The server's health report for the checks of one start (availability, then the
        guards): asked once per adapter instance, which lives for one start."""
        if self._report is None:
            self._report = self.client.health_report()
        return self._report

    def availability(self, fault: str, targets: list[Target]) -> dict[str, FaultAvailability]:
        found = self._start_report().faults.get(fault)
        return {t.id: found for t in targets} if found is not None else {}

    def check_limits(self, fault: str, params: Mapping[str, Any], targets: list[Target]) -> None:
        refused = guard_refusal(self._start_report(), fault, params, self.backend)
        if refused is not None:
            raise refused
