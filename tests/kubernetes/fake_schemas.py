"""The structural schemas of the custom resources the fake API server serves, and how a
real API server applies them to a request body: unknown fields pruned (or refused under
``fieldValidation=Strict``), then types, enums, patterns and required fields checked.

Written for the fake in ``fake_apiserver.py`` (see there why a fake) from the documented
shapes: Litmus ``deploy/crds/chaosengine_crd.yaml`` and ``reference/backends-wire.md`` §4
(ChaosEngine ``spec`` keeps unknown fields: ``x-kubernetes-preserve-unknown-fields``),
Chaos Mesh ``api/v1alpha1/*_types.go`` (``reference/platforms-litmus-chaosmesh.md`` §4;
controller-gen schemas, so every unknown field is pruned). They cover the fields the
adapters send and the fake operators read; ``status`` is left open, since only the fake
operators write it, through the store.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fake_store import ApiError, Kind, Obj, invalid
from jsonschema import Draft7Validator

S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
STRINGS = {"type": "array", "items": S}
OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _obj(required: tuple[str, ...] = (), **properties: Any) -> Obj:
    schema: Obj = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _root(spec: Obj) -> Obj:
    return _obj(apiVersion=S, kind=S, metadata=OPEN, spec=spec, status=OPEN)


_ENV = {"type": "array", "items": _obj(("name",), name=S, value=S)}
_ENGINE_SPEC = {
    **_obj(
        appinfo=_obj(
            appns=S,
            applabel=S,
            appkind={
                "type": "string",
                "pattern": "^(^$|deployment|statefulset|daemonset|deploymentconfig|rollout)$",
            },
        ),
        engineState={"type": "string", "pattern": "^(active|stop)$"},
        jobCleanUpPolicy={"type": "string", "pattern": "^(delete|retain)$"},
        chaosServiceAccount=S,
        terminationGracePeriodSeconds=I,
        experiments={
            "type": "array",
            "items": _obj(name=S, spec=_obj(components={**OPEN, "properties": {"env": _ENV}})),
        },
    ),
    "x-kubernetes-preserve-unknown-fields": True,
}

_SELECTOR = _obj(
    namespaces=STRINGS,
    labelSelectors={"type": "object", "additionalProperties": S},
    annotationSelectors={"type": "object", "additionalProperties": S},
    pods={"type": "object", "additionalProperties": STRINGS},
)
_MODE = {"type": "string", "enum": ["one", "all", "fixed", "fixed-percent", "random-max-percent"]}
_COMMON = {"selector": _SELECTOR, "mode": _MODE, "value": S, "duration": S, "remoteCluster": S}
_CONTAINERS = {"containerNames": STRINGS}


def _chaos(required: tuple[str, ...], **properties: Any) -> Obj:
    return _root(_obj(("selector", "mode", *required), **_COMMON, **properties))


def _action(*actions: str) -> Obj:
    return {"type": "string", "enum": list(actions)}


_NETWORK = _chaos(
    ("action",),
    action=_action("netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"),
    direction={"type": "string", "enum": ["to", "from", "both"]},
    target=_obj(("selector", "mode"), selector=_SELECTOR, mode=_MODE, value=S),
    externalTargets=STRINGS,
    device=S,
    targetDevice=S,
    delay=_obj(("latency",), latency=S, jitter=S, correlation=S),
    loss=_obj(("loss",), loss=S, correlation=S),
    duplicate=_obj(("duplicate",), duplicate=S, correlation=S),
    corrupt=_obj(("corrupt",), corrupt=S, correlation=S),
    bandwidth=_obj(
        ("rate", "limit", "buffer"),
        rate=S,
        limit={"type": "integer", "minimum": 1},
        buffer={"type": "integer", "minimum": 1},
        peakrate=I,
        minburst=I,
    ),
)

SCHEMAS: dict[str, Obj] = {
    "chaosengines.litmuschaos.io": _root(_ENGINE_SPEC),
    "chaosexperiments.litmuschaos.io": _root(
        _obj(definition={**OPEN, "properties": {"image": S, "env": _ENV}})
    ),
    "chaosresults.litmuschaos.io": _root(_obj(engine=S, experiment=S, instance=S)),
    "podchaos.chaos-mesh.org": _chaos(
        ("action",),
        action=_action("pod-kill", "pod-failure", "container-kill"),
        gracePeriod=I,
        **_CONTAINERS,
    ),
    "networkchaos.chaos-mesh.org": _NETWORK,
    "stresschaos.chaos-mesh.org": _chaos(
        (),
        stressors=_obj(
            cpu=_obj(("workers",), workers=I, load=I, options=STRINGS),
            memory=_obj(("workers",), workers=I, size=S, oomScoreAdj=I, options=STRINGS),
        ),
        stressngStressors=S,
        **_CONTAINERS,
    ),
    "iochaos.chaos-mesh.org": _chaos(
        ("action", "volumePath"),
        action=_action("latency", "fault", "attrOverride", "mistake"),
        delay=S,
        errno=I,
        path=S,
        methods=STRINGS,
        percent=I,
        volumePath=S,
        **_CONTAINERS,
    ),
    "timechaos.chaos-mesh.org": _chaos(
        ("timeOffset",), timeOffset=S, clockIds=STRINGS, **_CONTAINERS
    ),
    "dnschaos.chaos-mesh.org": _chaos(
        ("action",), action=_action("error", "random"), patterns=STRINGS, **_CONTAINERS
    ),
    "httpchaos.chaos-mesh.org": _chaos(
        ("target", "port"),
        target={"type": "string", "enum": ["Request", "Response"]},
        port=I,
        path=S,
        method=S,
        code=I,
        abort={"type": "boolean"},
        delay=S,
    ),
}


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _prune(schema: Obj, value: Any, path: list[Any], unknown: list[str]) -> None:
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key in list(value):
            if key in props:
                _prune(props[key], value[key], [*path, key], unknown)
            elif isinstance(extra, dict):
                _prune(extra, value[key], [*path, key], unknown)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                unknown.append(_path([*path, key]))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(schema["items"], item, [*path, i], unknown)


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array"}


def _cause(error: Any) -> tuple[str, str, str]:
    field = _path(error.absolute_path)
    shown = json.dumps(error.instance)
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return "FieldValueRequired", _path([*error.absolute_path, missing]), "Required value"
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return (
            "FieldValueNotSupported",
            field,
            f"Unsupported value: {shown}: supported values: {allowed}",
        )
    if error.validator == "type":
        got = _JSON_TYPES.get(type(error.instance), "object")
        return (
            "FieldValueTypeInvalid",
            field,
            f'Invalid value: "{got}": {field} in body must be of type {error.validator_value}: {shown}',
        )
    if error.validator == "pattern":
        return (
            "FieldValueInvalid",
            field,
            f"Invalid value: {shown}: {field} in body should match '{error.validator_value}'",
        )
    return "FieldValueInvalid", field, f"Invalid value: {shown}: {field} in body {error.message}"


def admit(kind: Kind, body: Obj, field_validation: str | None) -> tuple[Obj, list[str]]:
    """The body as it would be stored, and the ``Warning`` header values; raises the
    API server's 400 (Strict, unknown fields) or 422 (schema) answer."""
    schema = SCHEMAS.get(kind.resource)
    if schema is None:
        return body, []
    body = copy.deepcopy(body)
    unknown: list[str] = []
    _prune(schema, body, [], unknown)
    if unknown and field_validation == "Strict":
        listed = ", ".join(f"unknown field {json.dumps(u)}" for u in unknown)
        raise ApiError(
            400,
            "BadRequest",
            f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}:'
            f" strict decoding error: {listed}",
        )
    errors = sorted(Draft7Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        name = str((body.get("metadata") or {}).get("name") or "")
        raise invalid(kind, name, [_cause(e) for e in errors])
    if field_validation == "Ignore":
        return body, []
    return body, [f"299 - {json.dumps(f'unknown field {json.dumps(u)}')}" for u in unknown]
