"""Which adapters exist and how to load them (DESIGN.md §5.2).

Adapters come from the entry-point group ``chaoshub.adapters`` — the built-in ones are
registered in ``pyproject.toml`` exactly as outside packages register theirs — and are
imported lazily, on first use. A second registration under a taken name is refused, and
an unknown name gets a "did you mean". An adapter that cannot be imported (its extra was
left out of ``pip install``) stays registered and is reported unavailable with the command
that installs it (:func:`unavailable`); everything else works without it.

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
from chaoshub.errors import AdapterNotInstalled, Conflict, NotFound

GROUP = "chaoshub.adapters"
ENV_EXTRA = "CHAOSHUB_EXTRA_ADAPTERS"

log = logging.getLogger("chaoshub.registry")

_lock = threading.Lock()
_specs: dict[str, str] = {}  # name -> "module:attr"
_loaded: dict[str, type[Adapter]] = {}
_missing: dict[str, str] = {}  # name -> why it cannot be imported, with the install command

#: the extra (``[project.optional-dependencies]``) holding each built-in adapter's client library
EXTRAS = {"aws-ssm": "aws", "docker": "docker", "litmus": "kubernetes", "chaos-mesh": "kubernetes"}
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
        _missing.pop(name, None)
        if not isinstance(spec, str):
            _loaded[name] = spec


def unregister(name: str) -> None:
    with _lock:
        _specs.pop(name, None)
        _loaded.pop(name, None)
        _missing.pop(name, None)


def names() -> list[str]:
    """Every registered adapter name, sorted."""
    _scan()
    return sorted(_specs)


def is_registered(name: str) -> bool:
    _scan()
    return name in _specs


def get(name: str) -> type[Adapter]:
    """The adapter class for ``name``, imported on first use; :class:`AdapterNotInstalled`
    when its module (or a library it needs) is not installed."""
    _scan()
    if name in _loaded:
        return _loaded[name]
    if name not in _specs:
        close = difflib.get_close_matches(name, list(_specs), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NotFound(f"no adapter named {name!r}{hint}", field=["adapter"])
    if name in _missing:
        raise AdapterNotInstalled(_missing[name], field=["adapter"], adapter=name)
    module_name, _, attr = _specs[name].partition(":")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        reason = _not_installed(name, exc)
        with _lock:
            _missing[name] = reason
        raise AdapterNotInstalled(reason, field=["adapter"], adapter=name) from exc
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise TypeError(f"{_specs[name]} is not an Adapter subclass")
    with _lock:
        _loaded[name] = obj
    return obj


def unavailable(name: str) -> str | None:
    """Why the registered adapter ``name`` cannot be used in this installation, with the
    command that installs what it lacks; ``None`` when it imports."""
    try:
        get(name)
    except AdapterNotInstalled as exc:
        return exc.message
    return None


def _not_installed(name: str, exc: ImportError) -> str:
    extra = EXTRAS.get(name)
    if extra and isinstance(exc, ModuleNotFoundError):
        return (
            f"adapter {name!r} needs the {extra!r} extra ({exc}): pip install 'chaoshub[{extra}]'"
        )
    return f"adapter {name!r} cannot be imported ({exc}): install the package that provides it"
