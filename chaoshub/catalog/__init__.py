"""The fault catalog: ``chaoshub/catalog/<adapter>/<fault>.yaml`` validated at load (DESIGN.md §8).

Every entry is checked against ``schema.json`` (beside this module), its ``params`` must be a valid
JSON Schema, its id must match its path, and its adapter must be registered and declare
the fault. An entry that fails any of these is *reported* (``Catalog.problems``), never
loaded silently. The entries of an adapter that is registered but cannot be imported (its
extra is not installed) are loaded marked ``unavailable``, with the command that installs
it. Adapters may add entries in code (``Adapter.fault_types``), which is how adapters that
are not packaged (the test-suite's in-memory one) describe their faults.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from chaoshub import registry
from chaoshub.errors import AdapterNotInstalled, InvalidInput, NotFound
from chaoshub.lifecycle import TimeControl
from chaoshub.schemas import pattern_problems, validator

log = logging.getLogger("chaoshub.catalog")

_SCHEMA: dict[str, Any] = json.loads(
    resources.files("chaoshub.catalog").joinpath("schema.json").read_text(encoding="utf-8")
)
#: marks a param or selector key only an admin may set: it overrides a safety rule (e.g.
#: ``include_protected`` makes PID 1 and the injector targets)
ADMIN_ONLY = "x-admin-only"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENTRY_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)
_META_VALIDATOR = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)


@dataclass(frozen=True)
class FaultType:
    """One catalog entry, id ``<adapter>/<name>``."""

    id: str
    title: str
    description: str
    category: str
    target_kind: str
    time_control: TimeControl
    reversible: bool
    params: Mapping[str, Any]
    selector: Mapping[str, Any] = field(default_factory=dict)
    #: ``required`` / ``min_seconds`` / ``max_seconds`` for the run's duration (the tool's bounds)
    duration: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: why this installation cannot run the entry (its adapter's extra is missing); "" if it can
    unavailable: str = ""

    @property
    def adapter(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultType:
        if not isinstance(data, Mapping):
            raise jsonschema.ValidationError("an entry must be a mapping")
        error = jsonschema.exceptions.best_match(_ENTRY_VALIDATOR.iter_errors(dict(data)))
        if error is not None:
            raise error
        schema_error = jsonschema.exceptions.best_match(_META_VALIDATOR.iter_errors(data["params"]))
        if schema_error is not None:
            raise jsonschema.SchemaError.create_from(schema_error)
        for part in ("params", "selector"):
            for problem in pattern_problems(data.get(part)):
                raise jsonschema.SchemaError(f"{part}: {problem}")
        return cls(
            id=data["id"],
            title=data["title"],
            description=data["description"].strip(),
            category=data["category"],
            target_kind=data["target_kind"],
            time_control=TimeControl(data["time_control"]),
            reversible=bool(data["reversible"]),
            params=data["params"],
            selector=data.get("selector") or {},
            duration=data.get("duration") or {},
            requires=tuple(data.get("requires") or ()),
            docs=tuple(data.get("docs") or ()),
            tags=tuple(data.get("tags") or ()),
        )

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``params`` against the schema and return them with defaults filled in."""
        _check(self.params, params, "params")
        return {**_defaults(self.params), **params}

    def overrides(self, params: Mapping[str, Any], selector: Mapping[str, Any]) -> list[list[str]]:
        """The admin-only keys (:data:`ADMIN_ONLY`) that ``params`` and ``selector`` set to
        anything but their default, as field paths."""
        found = []
        for root, schema, given in (
            ("params", self.params, params),
            ("selector", self.selector, selector),
        ):
            for key, sub in (schema.get("properties") or {}).items():
                if not isinstance(sub, Mapping) or not sub.get(ADMIN_ONLY):
                    continue
                if given.get(key) not in (None, False, sub.get("default")):
                    found.append([root, key])
        return found

    def validate_selector(self, selector: Mapping[str, Any]) -> None:
        """Check ``selector`` against the entry's selector schema, when it has one."""
        if self.selector:
            _check(self.selector, selector, "selector")


def _check(schema: Mapping[str, Any], value: Mapping[str, Any], root: str) -> None:
    """Raise ``InvalidInput`` naming the first failing field of ``value`` under ``root``."""
    _finite(value, [root])
    errors = sorted(validator(schema).iter_errors(dict(value)), key=lambda e: list(e.path))
    if not errors:
        return
    first = errors[0]
    path = [root, *[str(p) for p in first.absolute_path]]
    if first.validator == "required" and isinstance(first.validator_value, list):
        missing = [r for r in first.validator_value if r not in (first.instance or {})]
        if missing:
            path.append(missing[0])
    if first.validator == "additionalProperties":
        extra = sorted(set(first.instance or {}) - set(first.schema.get("properties", {})))
        if extra:
            path.append(extra[0])
    raise InvalidInput(first.message, field=path)


def _finite(value: Any, path: list[str]) -> None:
    """Refuse NaN and infinities (Python's JSON reader lets them in; every bound in a
    schema compares false against NaN, so it would pass ``minimum``/``maximum``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{value} is not a number a tool can use", field=path)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _finite(item, [*path, str(key)])
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _finite(item, [*path, str(i)])


def _defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    props = schema.get("properties") or {}
    return {k: v["default"] for k, v in props.items() if isinstance(v, Mapping) and "default" in v}


@dataclass
class Catalog:
    entries: dict[str, FaultType] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: adapter -> why it cannot be imported here, with the command that installs it
    unavailable: dict[str, str] = field(default_factory=dict)

    def get(self, fault_id: str) -> FaultType:
        try:
            return self.entries[fault_id]
        except KeyError:
            close = difflib.get_close_matches(fault_id, list(self.entries), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"no fault type {fault_id!r}{hint}", field=["faultType"]) from None

    def __iter__(self) -> Iterable[FaultType]:
        return iter(sorted(self.entries.values(), key=lambda f: f.id))

    def all(self) -> list[FaultType]:
        return sorted(self.entries.values(), key=lambda f: f.id)

    def with_described(self, described: list[tuple[str, dict[str, Any]]]) -> Catalog:
        """This catalog plus entries that servers described of themselves (the ``http``
        adapter's backends answer ``/v1/describe``); a broken one is reported, not loaded."""
        if not described:
            return self
        merged = Catalog(dict(self.entries), list(self.problems), dict(self.unavailable))
        for source, data in described:
            try:
                entry = FaultType.from_dict(data)
            except (jsonschema.ValidationError, jsonschema.SchemaError) as exc:
                merged.problems.append(f"{source}: {getattr(exc, 'message', exc)}")
                continue
            merged.entries.setdefault(entry.id, entry)
        return merged

    def _add(self, entry: FaultType, source: str) -> None:
        if not registry.is_registered(entry.adapter):
            self.problems.append(f"{source}: adapter {entry.adapter!r} is not installed")
            return
        if entry.adapter in self.unavailable:
            entry = replace(entry, unavailable=self.unavailable[entry.adapter])
        elif (declared := _declared(entry.adapter)) is None:
            self.problems.append(f"{source}: adapter {entry.adapter!r} cannot be loaded")
            return
        elif entry.name not in declared:
            self.problems.append(
                f"{source}: adapter {entry.adapter!r} does not implement {entry.name!r}"
            )
            return
        if entry.id in self.entries:
            self.problems.append(f"{source}: {entry.id} is defined twice")
            return
        self.entries[entry.id] = entry


def _declared(adapter: str) -> frozenset[str] | None:
    """The faults ``adapter`` implements; ``None`` when its code is broken."""
    try:
        return frozenset(registry.get(adapter).capabilities.faults)
    except Exception:
        return None


def default_dir() -> Path:
    return Path(str(resources.files("chaoshub.catalog")))


_cache: dict[tuple[str, tuple[str, ...]], Catalog] = {}


def load(directory: Path | None = None, *, fresh: bool = False) -> Catalog:
    """Every entry under ``directory`` plus what registered adapters contribute.

    Loaded once per process for a given directory and set of adapters; ``fresh`` reads
    the files again.
    """
    directory = directory or default_dir()
    key = (str(directory), tuple(registry.names()))
    if fresh or key not in _cache:
        _cache[key] = _load(directory)
    return _cache[key]


def _load(directory: Path) -> Catalog:
    catalog = Catalog()
    adapters: list[tuple[str, type[Any]]] = []
    for name in registry.names():
        try:
            adapters.append((name, registry.get(name)))
        except AdapterNotInstalled as exc:
            catalog.unavailable[name] = exc.message
            log.info("adapter unavailable: %s", exc.message)
        except Exception as exc:  # broken code is reported, not fatal
            catalog.problems.append(f"adapter {name!r} cannot be loaded: {exc}")
    for path in sorted(directory.glob("*/*.yaml")):
        source = f"{path.parent.name}/{path.name}"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
            entry = FaultType.from_dict(data)
        except (yaml.YAMLError, jsonschema.ValidationError, jsonschema.SchemaError) as exc:
            catalog.problems.append(f"{source}: {getattr(exc, 'message', exc)}")
            continue
        expected = f"{path.parent.name}/{path.stem}"
        if entry.id != expected:
            catalog.problems.append(f"{source}: id {entry.id!r} does not match its path")
            continue
        catalog._add(entry, source)
    for name, adapter_cls in adapters:
        for data in getattr(adapter_cls, "fault_types", lambda: [])():
            catalog._add(FaultType.from_dict(data), f"adapter {name}")
    for problem in catalog.problems:
        log.warning("catalog entry not loaded: %s", problem)
    return catalog
