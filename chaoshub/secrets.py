"""Secrets in backend config: never returned, kept across updates.

A field is secret when its JSON Schema says ``writeOnly: true`` (at any depth: properties,
array items, ``additionalProperties``, ``oneOf``/``anyOf``/``allOf`` branches) or, as a
safety net for schemas that forget one, when its name looks secret (:func:`looks_secret`).
A secret that holds a value is shown as :data:`SET`; on update, :data:`SET` or an omitted
secret keeps the stored value, a new value replaces it and ``null`` removes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from chaoshub.errors import InvalidInput

#: what a secret that holds a value reads as, everywhere the API returns config
SET = "<set>"

# words that name a secret in any config, whatever its schema says (substring match, so
# "client_key", "api_token", "aws_secret_access_key" and "credentials" all count)
_SECRET_NAME = re.compile(
    r"token|passw|secret|key|credential|kubeconfig|external_?id|private|cookie",
    re.IGNORECASE,
)

Schema = Mapping[str, Any]


def looks_secret(name: str) -> bool:
    """Whether a field's name alone marks it as a secret."""
    return bool(_SECRET_NAME.search(name))


def _branches(schema: Schema) -> Iterator[Schema]:
    """``schema`` and every sub-schema that applies to the same value."""
    yield schema
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(combinator) or ():
            if isinstance(branch, Mapping):
                yield from _branches(branch)


def _property(schema: Schema, key: str) -> list[Schema]:
    found: list[Schema] = []
    for branch in _branches(schema):
        props = branch.get("properties") or {}
        if key in props and isinstance(props[key], Mapping):
            found.append(props[key])
            continue
        for pattern, sub in (branch.get("patternProperties") or {}).items():
            if isinstance(sub, Mapping) and re.search(pattern, key):
                found.append(sub)
        extra = branch.get("additionalProperties")
        if isinstance(extra, Mapping):
            found.append(extra)
    return found


def _item(schema: Schema, index: int) -> list[Schema]:
    found: list[Schema] = []
    for branch in _branches(schema):
        prefix = branch.get("prefixItems") or []
        if index < len(prefix) and isinstance(prefix[index], Mapping):
            found.append(prefix[index])
        elif isinstance(branch.get("items"), Mapping):
            found.append(branch["items"])
    return found


def _merged(schemas: list[Schema]) -> Schema:
    return {"allOf": schemas} if len(schemas) > 1 else (schemas[0] if schemas else {})


def is_secret(schema: Schema, name: str | None) -> bool:
    if name is not None and looks_secret(name):
        return True
    return any(branch.get("writeOnly") is True for branch in _branches(schema))


def mask(value: Any, schema: Schema | None = None) -> Any:
    """``value`` with every secret that holds something replaced by :data:`SET`."""
    return _mask(value, schema or {})


def _mask(value: Any, schema: Schema) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = _merged(_property(schema, str(key)))
            if is_secret(sub, str(key)) and item is not None:
                out[key] = SET
            else:
                out[key] = _mask(item, sub)
        return out
    if isinstance(value, list):
        return [_mask(item, _merged(_item(schema, i))) for i, item in enumerate(value)]
    return value


def values(value: Any, schema: Schema | None = None) -> set[str]:
    """Every secret's text in ``value`` (scalars, and the scalars inside a secret object)."""
    found: set[str] = set()
    _collect(value, schema or {}, False, found)
    return found


def _collect(value: Any, schema: Schema, inside: bool, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = _merged(_property(schema, str(key)))
            _collect(item, sub, inside or is_secret(sub, str(key)), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, _merged(_item(schema, i)), inside, found)
    elif inside and value is not None and not isinstance(value, bool) and str(value):
        found.add(str(value))


def scrub(text: str, secrets: set[str], instead: str) -> str:
    """``instead`` when ``text`` contains any of ``secrets`` (error messages echo input)."""
    return instead if any(s in text for s in secrets) else text


def merge(stored: Any, new: Any, schema: Schema | None = None) -> Any:
    """The config to keep when ``new`` is sent to replace ``stored`` (see the module doc)."""
    return _merge(stored, new, schema or {}, [])


def _stored_item(stored: list[Any], new: Any, index: int) -> Any:
    # list items are matched by their name when they have one (agents), else by position
    if isinstance(new, Mapping) and isinstance(new.get("name"), str):
        for old in stored:
            if isinstance(old, Mapping) and old.get("name") == new["name"]:
                return old
        return None
    return stored[index] if index < len(stored) else None


def _merge(stored: Any, new: Any, schema: Schema, path: list[str]) -> Any:
    if isinstance(new, Mapping):
        old = stored if isinstance(stored, Mapping) else {}
        out: dict[str, Any] = {}
        for key, item in new.items():
            sub = _merged(_property(schema, str(key)))
            if not is_secret(sub, str(key)):
                out[key] = _merge(old.get(key), item, sub, [*path, str(key)])
            elif item is None:
                continue  # null clears a secret
            elif item == SET:
                if key not in old or old[key] is None:
                    raise InvalidInput(
                        f"{'.'.join([*path, str(key)])} has no stored value to keep: give one",
                        field=["config", *path, str(key)],
                    )
                out[key] = old[key]
            else:
                out[key] = item
        for key, item in old.items():
            if key not in new and is_secret(_merged(_property(schema, str(key))), str(key)):
                out[key] = item  # an omitted secret is kept
        return out
    if isinstance(new, list):
        old_list = stored if isinstance(stored, list) else []
        return [
            _merge(
                _stored_item(old_list, item, i), item, _merged(_item(schema, i)), [*path, str(i)]
            )
            for i, item in enumerate(new)
        ]
    return new


def schema_of(adapter: str) -> Schema:
    """An adapter's config schema; an adapter not installed leaves the name check alone."""
    from chaoshub import registry
    from chaoshub.errors import HubError

    try:
        return registry.get(adapter).config_schema
    except (HubError, ImportError):
        return {}


#: what stands for the path and query of a URL that may carry a credential
URL_TAIL = "/…"


def redact_url(url: str) -> str:
    """A webhook URL as the API shows it: scheme, host and port only.

    Receivers put their credential in the path or the query (a Slack incoming webhook's
    ``/services/T…/B…/…`` *is* its secret), so neither is ever answered; the host says where
    events go. Sent back unchanged on update, the redacted form keeps the stored URL."""
    if not url:
        return url
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return URL_TAIL
    if parts.path in ("", "/") and not parts.query:
        return url
    return f"{parts.scheme}://{parts.netloc}{URL_TAIL}"
