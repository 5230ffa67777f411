"""The ``toxiproxy`` adapter: network faults through a Toxiproxy server's HTTP API.

A fault hits a *proxy*: Toxiproxy listens on ``listen`` and forwards TCP to ``upstream``,
so only clients that connect through the proxy see the fault. Every fault but ``down`` is
one toxic on that proxy; ``down`` disables the proxy (Toxiproxy closes its listener and
every open connection) and recovery enables it again.

Checked against the Toxiproxy HTTP API as read from Shopify/toxiproxy at f48fd7f (v2.12.0:
``api.go``, ``toxics/*.go``, ``proxy.go``): paths, status codes, JSON shapes, error bodies
(JSON sent as ``text/plain``) and attribute units. Updates use PATCH and fall back to POST
when the server answers 405 (servers before 2.6.0); ``/version`` is read as JSON (2.7.0+)
or as plain text (older). It has been exercised against the protocol-faithful fake in
``tests/toxiproxy/``, not against a running ``toxiproxy-server``.

How the adapter finds its own work again (no state of its own; the handle is a courtesy):

- the toxic's name derives from the execution id (:func:`toxic_name`), so a retried inject
  meets its own toxic (409), compares it and adopts it, and a recovery without handle data
  deletes exactly that toxic (404 = already recovered);
- ``down`` leaves a ``noop`` toxic named after the execution on the proxy as its marker
  (toxics survive a disabled proxy); recovery enables the proxy only when this execution
  was the one that disabled it (a proxy found disabled gets a ``was-down`` marker instead
  and stays disabled);
- a proxy made for the run (``ensure_proxy`` in the selector) carries a ``noop`` marker
  toxic too, and recovery deletes the proxy only when that marker is there.

Selector: ``{"names": [...]}``, ``{"pattern": "<regex searched in the name>"}`` or
``{"ensure_proxy": {"name", "upstream", "listen"}}``, plus ``limit``. ``ensure_proxy``
creates the proxy when it is missing and adopts an existing proxy of that name with the same
upstream and listen port. ``listen`` defaults to ``127.0.0.1:0``, an ephemeral port on the
Toxiproxy host's loopback, reported in the status text; give an address clients can reach
(e.g. ``0.0.0.0:21212``) when Toxiproxy runs on another host or in a container.

What it cannot do:

- affect traffic that does not pass through a proxy; it cannot move clients onto one;
- say which connections a toxic hit: toxicity is drawn per connection and direction by
  Toxiproxy, which reports nothing about it;
- keep a proxy made by ``ensure_proxy`` through a pause: pausing recovers, which deletes it;
- tell its own recovery from someone else's: a toxic removed by ``POST /reset`` or by hand
  reads as recovered;
- clean up a proxy made by ``ensure_proxy`` if the worker dies between creating the proxy
  and marking it (the proxy carries no fault; it stays until deleted by hand);
- ``reset-peer`` sends a TCP RST only on connections opened after the toxic was added.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from hub.contract import (
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
from hub.errors import (
    BackendUnavailable,
    Conflict,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

log = logging.getLogger("chaoshub.adapters.toxiproxy")

DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_PORT = 8474
DEFAULT_LISTEN = "127.0.0.1:0"
#: Toxiproxy answers 403 to any User-Agent starting with ``Mozilla/``
USER_AGENT = "chaoshub-toxiproxy"
DOWN = "down"


@dataclass(frozen=True)
class ToxicKind:
    """How one hub fault maps onto a Toxiproxy toxic type."""

    type: str
    #: attribute name -> unit, as Toxiproxy reads it (used for metric names)
    units: Mapping[str, str]


TOXICS: dict[str, ToxicKind] = {
    "latency": ToxicKind("latency", {"latency": "ms", "jitter": "ms"}),
    "bandwidth": ToxicKind("bandwidth", {"rate": "kb_per_s"}),
    "slow-close": ToxicKind("slow_close", {"delay": "ms"}),
    "timeout": ToxicKind("timeout", {"timeout": "ms"}),
    "reset-peer": ToxicKind("reset_peer", {"timeout": "ms"}),
    "slicer": ToxicKind(
        "slicer", {"average_size": "bytes", "size_variation": "bytes", "delay": "us"}
    ),
    "limit-data": ToxicKind("limit_data", {"bytes": "bytes"}),
}

#: JSON Schema of the selector; the catalog entries carry the same schema
SELECTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Exactly one of names, pattern or ensure_proxy; limit optional.",
    "oneOf": [
        {"required": ["names"]},
        {"required": ["pattern"]},
        {"required": ["ensure_proxy"]},
    ],
    "properties": {
        "names": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
            "description": "proxy names; each must exist",
        },
        "pattern": {
            "type": "string",
            "minLength": 1,
            "description": "regular expression (Python syntax) searched in proxy names",
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "description": "at most this many proxies, the first ones by name",
        },
        "ensure_proxy": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "upstream"],
            "description": (
                "create this proxy if it is missing (deleted again on recovery only if"
                " the run created it); an existing one with the same upstream and listen"
                " port is used as it is"
            ),
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "upstream": {"type": "string", "description": "host:port traffic goes to"},
                "listen": {
                    "type": "string",
                    "default": DEFAULT_LISTEN,
                    "description": "host:port the proxy listens on; port 0 = any free port",
                },
            },
        },
    },
}


# -- the tool's errors --------------------------------------------------------------------------


class ToxiproxyError(Exception):
    """An error answer of the Toxiproxy API: its status and its own message."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: HTTP {status}: {message}".strip(": "))


class ToxiproxyBadRequest(ToxiproxyError):
    """400: the request body was wrong."""


class ToxiproxyNotFound(ToxiproxyError):
    """404: no such proxy or toxic."""


class ToxiproxyConflict(ToxiproxyError):
    """409: a proxy or toxic of that name exists."""


class ToxiproxyUnavailable(ToxiproxyError):
    """502/503/504: the server (or a gateway before it) could not answer in time."""


_BY_STATUS: dict[int, type[ToxiproxyError]] = {
    400: ToxiproxyBadRequest,
    404: ToxiproxyNotFound,
    409: ToxiproxyConflict,
    502: ToxiproxyUnavailable,
    503: ToxiproxyUnavailable,
    504: ToxiproxyUnavailable,
}


def _error_from(response: httpx.Response, method: str, path: str) -> ToxiproxyError:
    # the body is JSON {"error", "status"} even though the header says text/plain
    text = response.text.strip()
    message = text or response.reason_phrase
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    cls = _BY_STATUS.get(response.status_code, ToxiproxyError)
    if cls is ToxiproxyBadRequest and message == "invalid toxic type":
        cls = ToxiproxyError  # this server lacks the toxic: a refusal, not a bad request
    return cls(response.status_code, message, method=method, path=path)


# -- the HTTP API -----------------------------------------------------------------------------


def toxic_name(execution_id: str, role: str = "") -> str:
    """The toxic name for one execution: readable, URL-safe and stable across retries."""
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", execution_id).strip("-")[:40]
    return "-".join(p for p in ("chaoshub", slug, digest, role) if p)


def _proxy_path(proxy: str, *rest: str) -> str:
    return "/".join(["/proxies", *(quote(p, safe="") for p in (proxy, *rest))])


class ToxiproxyApi:
    """A thin client of the Toxiproxy HTTP API; raises :class:`ToxiproxyError` subclasses."""

    def __init__(
        self, base_url: str, timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise _error_from(response, method, path)
        return response

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call; the decoded JSON answer, or ``None`` for an empty one (204)."""
        response = self._send(method, path, body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ToxiproxyError(
                response.status_code,
                f"answer is not JSON: {response.text[:200]!r}",
                method=method,
                path=path,
            ) from None

    def update(self, path: str, body: Any) -> Any:
        """PATCH, or POST for servers before 2.6.0, which answer PATCH with 405."""
        try:
            return self.call("PATCH", path, body)
        except ToxiproxyError as exc:
            if exc.status != 405:
                raise
            return self.call("POST", path, body)

    def version(self) -> str:
        text = self._send("GET", "/version").text.strip()
        try:
            body = json.loads(text)
        except ValueError:
            return text  # servers before 2.7.0 answer the bare version
        return str(body.get("version", text)) if isinstance(body, dict) else text

    def proxies(self) -> dict[str, Any]:
        return dict(self.call("GET", "/proxies") or {})

    def proxy(self, name: str) -> dict[str, Any]:
        return dict(self.call("GET", _proxy_path(name)))

    def set_enabled(self, proxy: str, enabled: bool) -> dict[str, Any]:
        return dict(self.update(_proxy_path(proxy), {"enabled": enabled}))

    def add_toxic(self, proxy: str, toxic: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", _proxy_path(proxy, "toxics"), dict(toxic)))

    def toxic(self, proxy: str, name: str) -> dict[str, Any]:
        return dict(self.call("GET", _proxy_path(proxy, "toxics", name)))

    def delete_toxic(self, proxy: str, name: str) -> bool:
        """Delete a toxic; ``False`` when it (or its proxy) was already gone."""
        try:
            self.call("DELETE", _proxy_path(proxy, "toxics", name))
        except ToxiproxyNotFound:
            return False
        return True


# -- parsing what people give -------------------------------------------------------------------


def api_url(url: str | None) -> str:
    """Normalise the configured API URL: scheme ``http`` and port 8474 unless given."""
    raw = (url or DEFAULT_URL).strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not an http(s) URL: {url!r}", field=["url"])
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"bad port in {url!r}", field=["url"]) from exc
    netloc = parts.netloc if port is not None else f"{parts.netloc}:{DEFAULT_PORT}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _host_port(value: Any, field: list[str], *, host_required: bool) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise InvalidInput(f"expected host:port, got {value!r}", field=field)
    host, _, port_text = value.rpartition(":")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidInput(f"bad port in {value!r}", field=field)
    if host_required and not host:
        raise InvalidInput(f"no host in {value!r}", field=field)
    return host, int(port_text)


@dataclass(frozen=True)
class ProxySpec:
    """A proxy the experiment asks to exist."""

    name: str
    upstream: str
    listen: str = DEFAULT_LISTEN

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "upstream": self.upstream, "listen": self.listen}

    def matches(self, proxy: Mapping[str, Any]) -> bool:
        """Is an existing proxy this one? Same upstream and, unless port 0, same listen port."""
        if proxy.get("upstream") != self.upstream:
            return False
        wanted = int(self.listen.rpartition(":")[2])
        actual = str(proxy.get("listen", "")).rpartition(":")[2]
        return wanted == 0 or actual == str(wanted)


@dataclass(frozen=True)
class Selection:
    names: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    ensure: ProxySpec | None = None
    limit: int | None = None


def parse_selector(selector: Mapping[str, Any]) -> Selection:
    """Check a selector (no I/O) and return what it asks for."""
    unknown = sorted(set(selector) - set(SELECTOR_SCHEMA["properties"]))
    if unknown:
        raise InvalidInput(f"unknown selector key {unknown[0]!r}", field=["selector", unknown[0]])
    given = [k for k in ("names", "pattern", "ensure_proxy") if selector.get(k) is not None]
    if len(given) != 1:
        raise InvalidInput(
            "give exactly one of names, pattern or ensure_proxy", field=["selector", "names"]
        )
    limit = selector.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidInput("limit must be a positive integer", field=["selector", "limit"])
    names = selector.get("names")
    if names is not None:
        if not isinstance(names, list) or not names:
            raise InvalidInput("names must be a non-empty list", field=["selector", "names"])
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise InvalidInput(
                    "a proxy name is a non-empty string", field=["selector", "names", i]
                )
        return Selection(names=tuple(dict.fromkeys(names)), limit=limit)
    if selector.get("pattern") is not None:
        try:
            pattern = re.compile(str(selector["pattern"]))
        except re.error as exc:
            raise InvalidInput(f"bad pattern: {exc}", field=["selector", "pattern"]) from exc
        return Selection(pattern=pattern, limit=limit)
    return Selection(ensure=_proxy_spec(selector["ensure_proxy"]), limit=limit)


def _proxy_spec(raw: Any) -> ProxySpec:
    where = ["selector", "ensure_proxy"]
    if not isinstance(raw, Mapping):
        raise InvalidInput("ensure_proxy must be an object", field=where)
    unknown = sorted(set(raw) - {"name", "upstream", "listen"})
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r}", field=[*where, unknown[0]])
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("a proxy name is a non-empty string", field=[*where, "name"])
    upstream = raw.get("upstream")
    _host_port(upstream, [*where, "upstream"], host_required=True)
    listen = raw.get("listen") or DEFAULT_LISTEN
    _host_port(listen, [*where, "listen"], host_required=False)
    return ProxySpec(name=name, upstream=str(upstream), listen=str(listen))


# -- what the adapter reports -------------------------------------------------------------------


def _metrics(kind: ToxicKind, toxic: Mapping[str, Any]) -> dict[str, float]:
    attributes = toxic.get("attributes") or {}
    out: dict[str, float] = {}
    for attribute, unit in kind.units.items():
        if isinstance(attributes.get(attribute), int | float):
            key = attribute if attribute == unit else f"{attribute}_{unit}"
            out[key] = float(attributes[attribute])
    if isinstance(toxic.get("toxicity"), int | float):
        out["toxicity"] = float(toxic["toxicity"])
    return out


def _describe_toxic(proxy: Mapping[str, Any], toxic: Mapping[str, Any]) -> str:
    attributes = [f"{k}={v}" for k, v in sorted((toxic.get("attributes") or {}).items())]
    state = "enabled" if proxy.get("enabled", True) else "disabled"
    return " ".join(
        [
            f"toxic {toxic.get('name')} ({toxic.get('type')}, {toxic.get('stream')},",
            f"toxicity {toxic.get('toxicity')})",
            *attributes,
            f"on proxy {proxy.get('name')}",
            f"[{proxy.get('listen')} -> {proxy.get('upstream')}, {state}]",
        ]
    )


def _target(proxy: Mapping[str, Any]) -> Target:
    name = str(proxy["name"])
    return Target(
        id=name,
        label=f"{name} ({proxy.get('listen')} -> {proxy.get('upstream')})",
        attributes={
            "kind": "toxiproxy-proxy",
            "listen": proxy.get("listen"),
            "upstream": proxy.get("upstream"),
            "enabled": proxy.get("enabled"),
        },
    )


# -- the adapter ----------------------------------------------------------------------------------


class ToxiproxyAdapter(Adapter):
    name: ClassVar[str] = "toxiproxy"
    capabilities: ClassVar[Capabilities] = Capabilities(
        faults=frozenset({*TOXICS, DOWN}), pause=True
    )
    config_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {
                "type": "string",
                "default": DEFAULT_URL,
                "description": "Toxiproxy API URL; port 8474 when it names none",
            },
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 120,
                "default": 5,
                "description": "seconds allowed for each API call",
            },
        },
    }
    # order matters: the first matching type wins, so the base class comes last
    error_map: ClassVar[Mapping[type[BaseException], type[HubError]]] = {
        httpx.TransportError: BackendUnavailable,
        ToxiproxyUnavailable: BackendUnavailable,
        ToxiproxyBadRequest: InvalidInput,
        ToxiproxyNotFound: NotFound,
        ToxiproxyConflict: Conflict,
        ToxiproxyError: RejectedByTool,
    }

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        backend: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(config, backend=backend)
        self.api = ToxiproxyApi(
            api_url(self.config.get("url")), float(self.config.get("timeout", 5)), transport
        )

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        api_url(config.get("url"))

    def close(self) -> None:
        self.api.close()

    # -- pure checks ------------------------------------------------------------------------------

    def validate(self, fault: str, params: Mapping[str, Any], selector: Mapping[str, Any]) -> None:
        if fault not in self.capabilities.faults:
            raise InvalidInput(f"toxiproxy has no fault {fault!r}", field=["fault"])
        parse_selector(selector)
        if fault == "slicer":
            average, variation = params.get("average_size", 0), params.get("size_variation", 0)
            if isinstance(average, int) and isinstance(variation, int) and variation >= average:
                raise InvalidInput(
                    "size_variation must be smaller than average_size",
                    field=["params", "size_variation"],
                )

    # -- the contract ------------------------------------------------------------------------------

    def discover(self, fault: str, selector: Mapping[str, Any]) -> list[Target]:
        selection = parse_selector(selector)
        with self.translate_errors():
            if selection.ensure:
                return [self._ensured_target(selection.ensure)]
            proxies = self.api.proxies()
        if selection.names:
            missing = [n for n in selection.names if n not in proxies]
            if missing:
                raise NotFound(
                    f"no proxy named {missing[0]!r}",
                    field=["selector", "names"],
                    adapter=self.name,
                    backend=self.backend,
                )
            found = [proxies[n] for n in selection.names]
        else:
            assert selection.pattern is not None
            found = [proxies[n] for n in sorted(proxies) if selection.pattern.search(n)]
        found = found[: selection.limit] if selection.limit else found
        if not found:
            raise NotFound(
                "the selector matches no proxy",
                field=["selector"],
                adapter=self.name,
                backend=self.backend,
            )
        return [_target(p) for p in found]

    def _ensured_target(self, spec: ProxySpec) -> Target:
        try:
            proxy: dict[str, Any] = self.api.proxy(spec.name)
        except ToxiproxyNotFound:
            proxy = {"name": spec.name, "listen": spec.listen, "upstream": spec.upstream}
        else:
            self._check_same(spec, proxy)
        target = _target(proxy)
        attributes = {**target.attributes, "ensure_proxy": spec.to_dict()}
        return Target(id=target.id, label=target.label, attributes=attributes)

    def _check_same(self, spec: ProxySpec, proxy: Mapping[str, Any]) -> None:
        if not spec.matches(proxy):
            raise Conflict(
                f"proxy {spec.name!r} exists with listen {proxy.get('listen')} and upstream"
                f" {proxy.get('upstream')}, not {spec.listen} -> {spec.upstream}",
                field=["selector", "ensure_proxy"],
                target=spec.name,
                native_code=409,
            )

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        proxy = execution.target.id
        name = toxic_name(execution.id)
        with self.translate_errors(target=proxy):
            created = False
            raw_spec = execution.target.attributes.get("ensure_proxy")
            if raw_spec:
                created = self._ensure_proxy(_proxy_spec(raw_spec), execution.id)
            if execution.fault == DOWN:
                observation = self._inject_down(proxy, execution.id)
            else:
                observation = self._inject_toxic(execution, proxy, name)
        if execution.fault == DOWN:
            name = toxic_name(execution.id, "down")
        data = {"proxy": proxy, "toxic": name, "fault": execution.fault, "created_proxy": created}
        log.info(
            "injected",
            extra={"adapter": self.name, "backend": self.backend, "target": proxy, "toxic": name},
        )
        return data, observation

    def _ensure_proxy(self, spec: ProxySpec, execution_id: str) -> bool:
        """Create the proxy unless it exists; ``True`` when this execution created it."""
        marker = toxic_name(execution_id, "created-proxy")
        body = {"name": spec.name, "listen": spec.listen, "upstream": spec.upstream}
        try:
            self.api.call("POST", "/proxies", {**body, "enabled": True})
        except ToxiproxyConflict:
            existing = self.api.proxy(spec.name)
            self._check_same(spec, existing)
            return any(t.get("name") == marker for t in existing.get("toxics") or [])
        with contextlib.suppress(ToxiproxyConflict):
            self.api.add_toxic(spec.name, {"name": marker, "type": "noop"})
        return True

    def _inject_toxic(self, execution: Execution, proxy: str, name: str) -> Observation:
        kind = TOXICS.get(execution.fault)
        if kind is None:
            raise InvalidInput(f"toxiproxy has no fault {execution.fault!r}", field=["fault"])
        params = execution.params
        attributes = {a: int(params[a]) for a in kind.units if a in params}
        stream = str(params.get("stream", "downstream")).lower()
        toxicity = float(params.get("toxicity", 1.0))
        body = {
            "name": name,
            "type": kind.type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        try:
            toxic = self.api.add_toxic(proxy, body)
            native = "added"
        except ToxiproxyConflict:
            # a retried inject: the toxic with our name is ours; make it say what we asked
            toxic = self.api.toxic(proxy, name)
            if toxic.get("type") != kind.type or str(toxic.get("stream")).lower() != stream:
                raise Conflict(
                    f"toxic {name!r} exists as {toxic.get('type')}/{toxic.get('stream')},"
                    f" not {kind.type}/{stream}",
                    native_code=409,
                    native_message="toxic already exists",
                ) from None
            have = toxic.get("attributes") or {}
            # Toxiproxy keeps toxicity as a float32: compare at that precision
            same_toxicity = math.isclose(float(toxic.get("toxicity", 1.0)), toxicity, abs_tol=1e-6)
            if any(have.get(k) != v for k, v in attributes.items()) or not same_toxicity:
                path = _proxy_path(proxy, "toxics", name)
                toxic = self.api.update(path, {"attributes": attributes, "toxicity": toxicity})
            native = "adopted"
        proxy_state = self.api.proxy(proxy)
        return Observation(
            Observed.INJECTED,
            native=f"{native} {_describe_toxic(proxy_state, toxic)}",
            metrics=_metrics(kind, toxic),
            messages=_proxy_messages(proxy_state),
        )

    def _inject_down(self, proxy: str, execution_id: str) -> Observation:
        state = self.api.proxy(proxy)
        names = {t.get("name") for t in state.get("toxics") or []}
        ours, kept = toxic_name(execution_id, "down"), toxic_name(execution_id, "was-down")
        if kept in names:
            return _down_observation(state, adopted=True)
        if ours not in names:
            if not state.get("enabled", True):
                # someone else disabled it: note that, so recovery leaves it disabled
                self.api.add_toxic(proxy, {"name": kept, "type": "noop"})
                return _down_observation(state, adopted=True)
            with contextlib.suppress(ToxiproxyConflict):
                self.api.add_toxic(proxy, {"name": ours, "type": "noop"})
        if state.get("enabled", True):
            state = self.api.set_enabled(proxy, False)
        return _down_observation(state, adopted=ours in names)

    def status(self, handle: Handle) -> Observation:
        execution = handle.execution
        proxy = execution.target.id
        with self.translate_errors(target=proxy):
            try:
                state = self.api.proxy(proxy)
            except ToxiproxyNotFound:
                return Observation(Observed.RECOVERED, native=f"proxy {proxy} does not exist")
        toxics = {t.get("name"): t for t in state.get("toxics") or []}
        if execution.fault == DOWN:
            marked = {toxic_name(execution.id, r) for r in ("down", "was-down")} & set(toxics)
            if not marked:
                return Observation(Observed.RECOVERED, native=f"proxy {proxy} has no down marker")
            if state.get("enabled", True):
                return Observation(
                    Observed.UNKNOWN,
                    native=f"proxy {proxy} carries the down marker but is enabled",
                    metrics={"enabled": 1.0},
                )
            return _down_observation(state, adopted=False)
        name = toxic_name(execution.id)
        toxic = toxics.get(name)
        if toxic is None:
            return Observation(Observed.RECOVERED, native=f"no toxic {name} on proxy {proxy}")
        kind = TOXICS.get(execution.fault)
        return Observation(
            Observed.INJECTED,
            native=_describe_toxic(state, toxic),
            metrics=_metrics(kind, toxic) if kind else {},
            messages=_proxy_messages(state),
        )

    def recover(self, handle: Handle) -> Observation:
        execution = handle.execution
        proxy = execution.target.id
        with self.translate_errors(target=proxy):
            try:
                notes = self._revert(execution, proxy)
            except ToxiproxyNotFound:
                return Observation(Observed.RECOVERED, native=f"proxy {proxy} does not exist")
            except ToxiproxyUnavailable:
                raise
            except ToxiproxyError as exc:
                raise RecoveryFailed(
                    f"could not revert on proxy {proxy}: {exc.message}",
                    native_code=exc.status,
                    native_message=exc.message,
                ) from exc
        log.info(
            "recovered",
            extra={"adapter": self.name, "backend": self.backend, "target": proxy, "notes": notes},
        )
        return Observation(Observed.RECOVERED, native="; ".join(notes))

    def _revert(self, execution: Execution, proxy: str) -> list[str]:
        notes: list[str] = []
        if execution.fault == DOWN:
            state = self.api.proxy(proxy)
            names = {t.get("name") for t in state.get("toxics") or []}
            ours, kept = toxic_name(execution.id, "down"), toxic_name(execution.id, "was-down")
            if ours in names:
                if not state.get("enabled", True):
                    self.api.set_enabled(proxy, True)
                    notes.append(f"proxy {proxy} enabled")
                self.api.delete_toxic(proxy, ours)
            if kept in names:
                self.api.delete_toxic(proxy, kept)
                notes.append(f"proxy {proxy} left disabled as it was before")
        else:
            name = toxic_name(execution.id)
            gone = not self.api.delete_toxic(proxy, name)
            notes.append(f"toxic {name} {'was already gone' if gone else 'deleted'}")
        marker = toxic_name(execution.id, "created-proxy")
        state = self.api.proxy(proxy)
        if any(t.get("name") == marker for t in state.get("toxics") or []):
            with contextlib.suppress(ToxiproxyNotFound):
                self.api.call("DELETE", _proxy_path(proxy))
            notes.append(f"proxy {proxy} deleted (created for this run)")
        return notes or [f"nothing of this execution on proxy {proxy}"]

    def health(self) -> Health:
        try:
            version = self.api.version()
        except httpx.TransportError as exc:
            return Health(ok=False, message=f"cannot reach {self.api.base_url}: {exc}")
        except ToxiproxyError as exc:
            return Health(ok=False, message=f"{self.api.base_url} answered {exc}")
        faults = {f: FaultAvailability(True) for f in sorted(self.capabilities.faults)}
        return Health(ok=True, version=version, message=self.api.base_url, faults=faults)


def _proxy_messages(proxy: Mapping[str, Any]) -> tuple[str, ...]:
    if proxy.get("enabled", True):
        return ()
    return (f"proxy {proxy.get('name')} is disabled: no traffic passes",)


def _down_observation(proxy: Mapping[str, Any], *, adopted: bool) -> Observation:
    native = (
        f"proxy {proxy.get('name')} disabled [{proxy.get('listen')} -> {proxy.get('upstream')}]"
    )
    return Observation(
        Observed.INJECTED,
        native=f"adopted {native}" if adopted else native,
        metrics={"enabled": 0.0},
    )
