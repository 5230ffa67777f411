"""The injector's fault types: the ``chaoshub/catalog/native/*.yaml`` entries shipped with it.

They are the one source of the parameter schemas: ``describe`` returns them and
``inject`` checks params against them (defaults filled in, unknown keys refused).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from chaoshub.catalog import FaultType


@functools.cache
def entries() -> dict[str, dict[str, Any]]:
    """Each native fault's catalog entry as data, by fault name."""
    out = {}
    folder = resources.files("chaoshub.catalog").joinpath("native")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            data = yaml.safe_load(item.read_text(encoding="utf-8"))
            out[data["id"].split("/", 1)[1]] = data
    return out


@functools.cache
def fault_type(name: str) -> FaultType:
    return FaultType.from_dict(entries()[name])
