"""Which adapters exist and how to load them (DESIGN.md §5.2).

Adapters come from the entry-point group ``chaoshub.adapters`` — the built-in ones are
registered in ``pyproject.toml`` exactly as outside packages register theirs — and are
imported lazily, on first use. A second registration under a taken name is refused, and
an unknown name gets a "did you mean".

``CHAOSHUB_EXTRA_ADAPTERS`` (``name=module:Class,...``) adds adapters to one process
without packaging them; the test-suite uses it to give worker processes the in-memory
adapter, which is never registered otherwise.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import threading
from importlib.metadata import entry_points

from chaoshub.contract import Adapter
from chaoshub.errors import Conflict, NotFound

GROUP = "chaoshub.adapters"
ENV_EXTRA = "CHAOSHUB_EXTRA_ADAPTERS"

log = logging.getLogger("chaoshub.registry")

_lock = threading.Lock()
_specs: dict[str, str] = {}  # name -> "module:attr"
_loaded: dict[str, type[Adapter]] = {}
_scanned = False


def _scan() -> None:
    global _scanned
    if _scanned:
        return
    with _lock:
        if _scanned:
            return
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if ep.name in _specs and _specs[ep.name] != ep.value:
                log.error(
                    "adapter name conflict, keeping the first",
                    extra={"adapter": ep.name, "kept": _specs[ep.name], "refused": ep.value},
                )
                continue
            _specs[ep.name] = ep.value
        for item in filter(None, (os.environ.get(ENV_EXTRA) or "").split(",")):
            name, _, spec = item.partition("=")
            _specs.setdefault(name.strip(), spec.strip())
        _scanned = True


def register(name: str, spec: str | type[Adapter]) -> None:
    """Add an adapter under ``name``; a taken name is refused unless it is the same code."""
    _scan()
    value = spec if isinstance(spec, str) else f"{spec.__module__}:{spec.__qualname__}"
    with _lock:
        if name in _specs and _specs[name] != value:
            raise Conflict(f"adapter {name!r} is registered already ({_specs[name]})")
        _specs[name] = value
        if not isinstance(spec, str):
            _loaded[name] = spec


def unregister(name: str) -> None:
    with _lock:
        _specs.pop(name, None)
        _loaded.pop(name, None)


def names() -> list[str]:
    """Every registered adapter name, sorted."""
    _scan()
    return sorted(_specs)


def is_registered(name: str) -> bool:
    _scan()
    return name in _specs


def get(name: str) -> type[Adapter]:
    """The adapter class for ``name``, imported on first use."""
    _scan()
    if name in _loaded:
        return _loaded[name]
    if name not in _specs:
        close = difflib.get_close_matches(name, list(_specs), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NotFound(f"no adapter named {name!r}{hint}", field=["adapter"])
    module_name, _, attr = _specs[name].partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise TypeError(f"{_specs[name]} is not an Adapter subclass")
    with _lock:
        _loaded[name] = obj
    return obj
