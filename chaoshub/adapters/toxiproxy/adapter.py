"""The Toxiproxy adapter class: the hub's contract on top of the API client.

See :mod:`chaoshub.adapters.toxiproxy` for what the adapter does, what it was checked against and
what it cannot do.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from chaoshub.adapters.toxiproxy.client import (
    DEFAULT_URL,
    ToxiproxyApi,
    ToxiproxyBadRequest,
    ToxiproxyConflict,
    ToxiproxyError,
    ToxiproxyNotFound,
    ToxiproxyUnavailable,
    api_url,
    proxy_path,
)
from chaoshub.adapters.toxiproxy.selection import (
    ensure_proxy,
    ensured_target,
    parse_selector,
    proxy_spec,
    proxy_target,
)
from chaoshub.adapters.toxiproxy.toxics import (
    DOWN,
    TOXICS,
    describe_toxic,
    down_observation,
    proxy_messages,
    toxic_metrics,
    toxic_name,
    toxic_params,
)
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
    Conflict,
    HubError,
    InvalidInput,
    NotFound,
    RecoveryFailed,
    RejectedByTool,
)

log = logging.getLogger("chaoshub.adapters.toxiproxy")


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
        if fault in TOXICS:
            toxic_params(TOXICS[fault], params)
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
                return [ensured_target(self.api, selection.ensure)]
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
        return [proxy_target(p) for p in found]

    def inject(self, execution: Execution) -> tuple[Mapping[str, Any], Observation]:
        proxy = execution.target.id
        name = toxic_name(execution.id)
        with self.translate_errors(target=proxy):
            created = False
            raw_spec = execution.target.attributes.get("ensure_proxy")
            if raw_spec:
                created = ensure_proxy(self.api, proxy_spec(raw_spec), execution.id)
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

    def _inject_toxic(self, execution: Execution, proxy: str, name: str) -> Observation:
        kind = TOXICS.get(execution.fault)
        if kind is None:
            raise InvalidInput(f"toxiproxy has no fault {execution.fault!r}", field=["fault"])
        checked = toxic_params(kind, execution.params)
        attributes, stream, toxicity = checked.attributes, checked.stream, checked.toxicity
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
                path = proxy_path(proxy, "toxics", name)
                toxic = self.api.update(path, {"attributes": attributes, "toxicity": toxicity})
            native = "adopted"
        proxy_state = self.api.proxy(proxy)
        return Observation(
            Observed.INJECTED,
            native=f"{native} {describe_toxic(proxy_state, toxic)}",
            metrics=toxic_metrics(kind, toxic),
            messages=proxy_messages(proxy_state),
        )

    def _inject_down(self, proxy: str, execution_id: str) -> Observation:
        state = self.api.proxy(proxy)
        names = {t.get("name") for t in state.get("toxics") or []}
        ours, kept = toxic_name(execution_id, "down"), toxic_name(execution_id, "was-down")
        if kept in names:
            return down_observation(state, adopted=True)
        if ours not in names:
            if not state.get("enabled", True):
                # someone else disabled it: note that, so recovery leaves it disabled
                self.api.add_toxic(proxy, {"name": kept, "type": "noop"})
                return down_observation(state, adopted=True)
            with contextlib.suppress(ToxiproxyConflict):
                self.api.add_toxic(proxy, {"name": ours, "type": "noop"})
        if state.get("enabled", True):
            state = self.api.set_enabled(proxy, False)
        return down_observation(state, adopted=ours in names)

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
            return down_observation(state, adopted=False)
        name = toxic_name(execution.id)
        toxic = toxics.get(name)
        if toxic is None:
            return Observation(Observed.RECOVERED, native=f"no toxic {name} on proxy {proxy}")
        kind = TOXICS.get(execution.fault)
        return Observation(
            Observed.INJECTED,
            native=describe_toxic(state, toxic),
            metrics=toxic_metrics(kind, toxic) if kind else {},
            messages=proxy_messages(state),
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
                self.api.call("DELETE", proxy_path(proxy))
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
