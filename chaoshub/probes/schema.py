"""Each probe kind as one JSON Schema, so a form can be generated for it (the console's probe
forms) from the same pydantic models that validate documents.

A probe's schema is the common timing fields (:class:`~chaoshub.probes.base.Timing`) plus its
kind's block, required. Pydantic's ``anyOf [X, null]`` for an optional field is written as X
(leaving the field out is how a document says "none"), and its generated titles ("Forseconds")
are dropped so a form labels each field with the name the YAML uses. ``expect`` stays a free
object: its grammar (comparators, per kind) is in :mod:`chaoshub.probes.comparators`.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from chaoshub.probes import KINDS
from chaoshub.probes.base import Timing


def _plain(node: Any) -> Any:
    if isinstance(node, list):
        return [_plain(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _plain(v) for k, v in node.items() if k != "title"}
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(options):
            del out["anyOf"]
            out = {**kept[0], **out}
    if out.get("default", 0) is None:
        del out["default"]
    return out


def probe_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a whole probe of ``kind``: timing fields and the kind's block."""
    cls = KINDS[kind]
    timing = _plain(Timing.model_json_schema())
    block = _plain(copy.deepcopy(cls.spec_model.model_json_schema()))
    doc = sys.modules[cls.__module__].__doc__ or ""
    block["description"] = doc.strip().split("\n\n")[0].replace("\n", " ").replace("``", "")
    return {
        "type": "object",
        "description": timing.get("description", ""),
        "additionalProperties": False,
        "properties": {**timing["properties"], kind: block},
        "required": [kind],
    }
