"""Which proxies a selector picks, and the proxy ``ensure_proxy`` makes for a run.

Parsing is pure (no I/O); :func:`ensure_proxy` and :func:`ensured_target` talk to the API.
A proxy made for a run carries a ``noop`` marker toxic named after the execution, so that
recovery deletes only proxies the run created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaoshub.adapters.toxiproxy.client import ToxiproxyApi, ToxiproxyConflict, ToxiproxyNotFound
from chaoshub.adapters.toxiproxy.toxics import toxic_name
from chaoshub.contract import Target
from chaoshub.errors import Conflict, InvalidInput
from chaoshub.patterns import Pattern, PatternError, compile_pattern

DEFAULT_LISTEN = "127.0.0.1:0"

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
            "description": "regular expression (RE2 syntax) searched in proxy names",
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
    pattern: Pattern | None = None
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
            pattern = compile_pattern(str(selector["pattern"]))
        except PatternError as exc:
            raise InvalidInput(f"bad pattern: {exc}", field=["selector", "pattern"]) from exc
        return Selection(pattern=pattern, limit=limit)
    return Selection(ensure=proxy_spec(selector["ensure_proxy"]), limit=limit)


def proxy_spec(raw: Any) -> ProxySpec:
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


def proxy_target(proxy: Mapping[str, Any]) -> Target:
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


def ensured_target(api: ToxiproxyApi, spec: ProxySpec) -> Target:
    """The target ``ensure_proxy`` names: the existing proxy, or the one inject will make."""
    try:
        proxy: dict[str, Any] = api.proxy(spec.name)
    except ToxiproxyNotFound:
        proxy = {"name": spec.name, "listen": spec.listen, "upstream": spec.upstream}
    else:
        check_same(spec, proxy)
    target = proxy_target(proxy)
    attributes = {**target.attributes, "ensure_proxy": spec.to_dict()}
    return Target(id=target.id, label=target.label, attributes=attributes)


def check_same(spec: ProxySpec, proxy: Mapping[str, Any]) -> None:
    if not spec.matches(proxy):
        raise Conflict(
            f"proxy {spec.name!r} exists with listen {proxy.get('listen')} and upstream"
            f" {proxy.get('upstream')}, not {spec.listen} -> {spec.upstream}",
            field=["selector", "ensure_proxy"],
            target=spec.name,
            native_code=409,
        )


def ensure_proxy(api: ToxiproxyApi, spec: ProxySpec, execution_id: str) -> bool:
    """Create the proxy unless it exists; ``True`` when this execution created it."""
    marker = toxic_name(execution_id, "created-proxy")
    body = {"name": spec.name, "listen": spec.listen, "upstream": spec.upstream}
    try:
        api.call("POST", "/proxies", {**body, "enabled": True})
    except ToxiproxyConflict:
        existing = api.proxy(spec.name)
        check_same(spec, existing)
        return any(t.get("name") == marker for t in existing.get("toxics") or [])
    with contextlib.suppress(ToxiproxyConflict):
        api.add_toxic(spec.name, {"name": marker, "type": "noop"})
    return True
