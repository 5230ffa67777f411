"""Chaos Toolkit experiments (JSON or YAML, ``chaostoolkit-lib`` 72f814b's format) as hub
workflows.

- ``steady-state-hypothesis.probes`` → the workflow's steady state (checked before the method
  and after recovery, as Chaos Toolkit's default hypothesis strategy does);
- ``method`` → steps in order: a ``process`` action is a ``native/host-script`` fault on an
  agent (``--agent``; the script is the agent's allow-listed one of the same file name),
  a probe is a probe step, ``pauses`` are ``wait`` steps (an action's ``after`` pause is how
  long the fault is held), ``background: true`` lets the next activity start at once;
- ``rollbacks``: one ``process`` rollback after one ``process`` action is that fault's recover
  script — which the hub runs whatever happened, unlike Chaos Toolkit's rollback strategies;
- ``http`` and ``process`` providers become ``http`` and ``command`` probes, and the tolerance
  forms their expectations: an integer or a list (the status, or the exit code), ``regex``
  (searched, as ``re.search`` does), ``jsonpath`` (with ``expect``) and ``range``.

``python`` providers (a function in an extension) have no hub equivalent, nor do a probe as a
tolerance, a jsonpath's ``count``, controls and ``http`` actions: each is a note or, where
dropping it would change what the experiment checks or does, a refusal naming it.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any
from urllib.parse import urlencode

from chaoshub.formats.base import (
    ANY,
    Bool,
    Int,
    ListOf,
    MapOf,
    Notes,
    Num,
    Path,
    Str,
    check,
    number,
    one_of,
    refuse,
    step_id,
    whole,
)

PROVIDERS: dict[str, dict[str, Any]] = {
    "python": {"type": Str, "module": Str, "func": Str, "arguments": ANY, "secrets": ANY},
    "http": {
        "type": Str,
        "url": Str,
        "method": Str,
        "headers": MapOf(Str),
        "expected_status": Int,
        "arguments": ANY,
        "timeout": (int, float, list),
        "secrets": ANY,
        "verify_tls": Bool,
        "max_retries": Int,
    },
    "process": {
        "type": Str,
        "path": Str,
        "arguments": (list, str, dict),
        "timeout": Num,
        "secrets": ANY,
    },
}
ACTIVITY: dict[str, Any] = {
    "type": Str,
    "name": Str,
    "provider": ANY,  # by its type, below
    "tolerance": ANY,
    "pauses": {"before": (int, float, str), "after": (int, float, str)},
    "background": Bool,
    "controls": ANY,
    "ref": Str,
    "configuration": ANY,
    "secrets": ANY,
}
EXPERIMENT: dict[str, Any] = {
    "version": Str,
    "title": Str,
    "description": Str,
    "tags": ListOf(Str),
    "configuration": MapOf(ANY),
    "secrets": ANY,
    "controls": ANY,
    "steady-state-hypothesis": {"title": Str, "probes": ListOf(ACTIVITY), "controls": ANY},
    "method": ListOf(ACTIVITY),
    "rollbacks": ListOf(ACTIVITY),
    "extensions": ListOf(MapOf(ANY)),
    "contributions": MapOf(Str),
    "runtime": {
        "rollbacks": {"strategy": Str},
        "hypothesis": {"strategy": Str, "frequency": Num, "fail_fast": Bool, "ratio": Num},
    },
}
_VAR = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")


class _Context:
    def __init__(self, doc: dict[str, Any], notes: Notes, agent: str | None) -> None:
        self.notes = notes
        self.agent = agent or "local"
        self.agent_noted = agent is not None
        self.config: dict[str, Any] = {}
        for key, value in (doc.get("configuration") or {}).items():
            if isinstance(value, dict):
                if value.get("type") == "env":
                    if "default" in value:
                        self.config[key] = value["default"]
                        notes.add(
                            ["configuration", key],
                            "read from the environment in Chaos Toolkit; its default is used",
                        )
                continue
            self.config[key] = value

    def text(self, value: Any, path: Path) -> Any:
        """``${name}`` replaced by the configuration's inline value."""
        if isinstance(value, str):

            def sub(match: re.Match[str]) -> str:
                if match.group(1) not in self.config:
                    raise refuse(
                        path,
                        f"${{{match.group(1)}}} is not an inline configuration value: give the value",
                    )
                return str(self.config[match.group(1)])

            return _VAR.sub(sub, value)
        if isinstance(value, list):
            return [self.text(v, [*path, i]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.text(v, [*path, k]) for k, v in value.items()}
        return value

    def agent_name(self, path: Path) -> str:
        if not self.agent_noted:
            self.notes.add(
                path, f"no agent given: processes run on agent {self.agent!r} (choose with --agent)"
            )
            self.agent_noted = True
        return self.agent


def _provider(activity: dict[str, Any], path: Path, ctx: _Context) -> dict[str, Any] | None:
    where = [*path, "provider"]
    provider = activity.get("provider")
    if not isinstance(provider, dict):
        raise refuse(where, "an activity needs a provider")
    kind = one_of(provider.get("type"), tuple(PROVIDERS), [*where, "type"])
    check(provider, PROVIDERS[kind], where)
    if kind == "python":
        ctx.notes.add(
            where,
            f"a python provider ({provider.get('module')}.{provider.get('func')}) has no hub "
            "equivalent: not mapped",
        )
        return None
    return ctx.text(provider, where)


def _argv(provider: dict[str, Any], path: Path, ctx: _Context) -> list[str]:
    script = str(provider.get("path") or "")
    if not script:
        raise refuse([*path, "path"], "a process provider needs a path")
    name = script.rsplit("/", 1)[-1]
    if name != script:
        ctx.notes.add(
            [*path, "path"],
            f"the agent runs its allow-listed script {name!r} (from its scripts directory)",
        )
    args = provider.get("arguments") or []
    if isinstance(args, str):
        args = shlex.split(args)
    elif isinstance(args, dict):
        raise refuse([*path, "arguments"], "process arguments are a list or a string")
    return [name, *[str(a) for a in args]]


def _seconds(value: Any, path: Path) -> float:
    return float(number(value, path))


def _search(pattern: str) -> str:
    return f"(?s).*(?:{pattern}).*"  # re.search in Chaos Toolkit; the hub matches whole


def _http_expect(tolerance: Any, path: Path) -> dict[str, Any]:
    if isinstance(tolerance, bool | str):
        raise refuse(
            path, "a string or boolean tolerance compares the whole response: use regex or jsonpath"
        )
    if isinstance(tolerance, int):
        return {"status": [tolerance]}
    if isinstance(tolerance, list):
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tolerance):
            raise refuse(path, "a list tolerance of an http probe is its status codes")
        return {"status": list(tolerance)}
    return _dict_tolerance(tolerance, path, http=True)


def _process_expect(tolerance: Any, path: Path) -> dict[str, Any]:
    if isinstance(tolerance, bool):
        raise refuse(
            path, "a boolean tolerance compares the whole output: use regex or an exit code"
        )
    if isinstance(tolerance, int):
        return {"exitCode": tolerance}
    if isinstance(tolerance, str):
        return {"stdout": {"==": tolerance}}
    if isinstance(tolerance, list):
        if len(tolerance) == 2 and all(isinstance(t, int | float) for t in tolerance):
            return {"exitCode": {"between": list(tolerance)}}
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tolerance):
            raise refuse(path, "a list tolerance of a process probe is its exit codes")
        return {"exitCode": list(tolerance)}
    return _dict_tolerance(tolerance, path, http=False)


def _dict_tolerance(tolerance: Any, path: Path, *, http: bool) -> dict[str, Any]:
    if not isinstance(tolerance, dict):
        raise refuse(path, f"not a tolerance: {tolerance!r}")
    kind = one_of(tolerance.get("type"), ("regex", "jsonpath", "range", "probe"), [*path, "type"])
    shapes = {
        "regex": {"type": Str, "pattern": Str, "target": Str},
        "jsonpath": {"type": Str, "path": Str, "expect": ANY, "count": Int, "target": Str},
        "range": {"type": Str, "range": ListOf(Num), "target": Str},
        "probe": ANY,
    }
    check(tolerance, shapes[kind], path)
    if kind == "probe":
        raise refuse([*path, "type"], "a probe as a tolerance has no hub equivalent")
    target = tolerance.get("target")
    body_key = "body" if http else "stdout"
    code_key = "status" if http else "exitCode"
    allowed = ("body", "status") if http else ("stdout", "status")
    if target is not None:
        one_of(target, allowed, [*path, "target"])
    if kind == "regex":
        if not tolerance.get("pattern"):
            raise refuse([*path, "pattern"], "a regex tolerance needs a pattern")
        if target == "status":
            raise refuse([*path, "target"], "the hub matches patterns on the body or stdout")
        return {body_key: {"matches": _search(tolerance["pattern"])}}
    if kind == "range":
        bounds = tolerance.get("range") or []
        if len(bounds) != 2:
            raise refuse([*path, "range"], "a range is [low, high]")
        key = body_key if target in ("body", "stdout") else code_key
        return {key: {"between": [whole(b) for b in bounds]}}
    if not http:
        raise refuse([*path, "type"], "the hub reads JSON paths in HTTP bodies only")
    if tolerance.get("count") is not None:
        raise refuse([*path, "count"], "counting JSON path matches has no hub equivalent")
    if not tolerance.get("path"):
        raise refuse([*path, "path"], "a jsonpath tolerance needs a path")
    expect = tolerance.get("expect")
    body: dict[str, Any] = {"jsonPath": tolerance["path"]}
    if isinstance(expect, list):
        body["oneOf"] = expect
    elif expect is not None:
        body["=="] = expect if isinstance(expect, str) else whole(number(expect, [*path, "expect"]))
    else:
        body["matches"] = "(?s).*"  # any match passes
    return {"body": body}


def _probe(
    activity: dict[str, Any], path: Path, ctx: _Context, *, hypothesis: bool
) -> dict[str, Any] | None:
    provider = _provider(activity, path, ctx)
    if provider is None:
        return None
    ppath = [*path, "provider"]
    name = str(activity.get("name") or "probe")
    tolerance = activity.get("tolerance")
    if hypothesis and "tolerance" not in activity:
        raise refuse([*path, "tolerance"], "a steady-state probe needs a tolerance")
    out: dict[str, Any] = {"name": name}
    if provider["type"] == "http":
        block: dict[str, Any] = {"url": provider.get("url")}
        method = str(provider.get("method") or "GET").upper()
        if method != "GET":
            block["method"] = method
        headers = dict(provider.get("headers") or {})
        args = provider.get("arguments")
        if args:
            if method == "GET":
                block["url"] = (
                    f"{block['url']}{'&' if '?' in str(block['url']) else '?'}{urlencode(args)}"
                )
            else:
                block["body"] = json.dumps(args)
                headers.setdefault("Content-Type", "application/json")
        if headers:
            block["headers"] = headers
        if provider.get("timeout") is not None:
            timeout = provider["timeout"]
            block["timeoutSeconds"] = whole(max(timeout) if isinstance(timeout, list) else timeout)
        if provider.get("verify_tls") is False:
            ctx.notes.add(
                [*ppath, "verify_tls"], "the hub's http probe always verifies certificates"
            )
        if provider.get("max_retries"):
            ctx.notes.add(
                [*ppath, "max_retries"], "the hub retries by failureThreshold, not per request"
            )
        if tolerance is not None:
            block["expect"] = _http_expect(tolerance, [*path, "tolerance"])
        elif provider.get("expected_status") is not None:
            block["expect"] = {"status": [provider["expected_status"]]}
        out["http"] = block
    else:
        block = {"agent": ctx.agent_name(ppath), "argv": _argv(provider, ppath, ctx)}
        if provider.get("timeout") is not None:
            block["timeoutSeconds"] = whole(provider["timeout"])
        if tolerance is not None:
            block["expect"] = _process_expect(tolerance, [*path, "tolerance"])
        out["command"] = block
    return out


def _resolve(
    activity: dict[str, Any], path: Path, named: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    if "ref" in activity:
        if set(activity) != {"ref"}:
            raise refuse(path, "a ref stands alone")
        if activity["ref"] not in named:
            raise refuse([*path, "ref"], f"no activity named {activity['ref']!r} before it")
        return named[activity["ref"]]
    one_of(activity.get("type"), ("probe", "action"), [*path, "type"])
    if not activity.get("name"):
        raise refuse([*path, "name"], "an activity needs a name")
    named[str(activity["name"])] = activity
    return activity


def import_experiment(doc: dict[str, Any], notes: Notes, agent: str | None) -> dict[str, Any]:
    check(doc, EXPERIMENT)
    for key in ("title", "description", "method"):
        if key not in doc:
            raise refuse([key], f"a Chaos Toolkit experiment needs {key}")
    ctx = _Context(doc, notes, agent)
    for key in ("controls", "extensions", "secrets"):
        if doc.get(key):
            notes.add([key], "not mapped: the hub has no such part")
    runtime = doc.get("runtime") or {}
    hstrategy = (runtime.get("hypothesis") or {}).get("strategy", "default")
    if hstrategy != "default":
        notes.add(
            ["runtime", "hypothesis", "strategy"],
            f"{hstrategy}: the hub checks the steady state before and after",
        )
    if (runtime.get("rollbacks") or {}).get("strategy", "default") != "default":
        notes.add(["runtime", "rollbacks", "strategy"], "the hub always recovers its faults")
    named: dict[str, dict[str, Any]] = {}
    steady: list[dict[str, Any]] = []
    hypothesis = doc.get("steady-state-hypothesis") or {}
    for i, raw in enumerate(hypothesis.get("probes") or []):
        path: list[str | int] = ["steady-state-hypothesis", "probes", i]
        activity = _resolve(raw, path, named)
        if activity.get("type") != "probe":
            raise refuse([*path, "type"], "the hypothesis holds probes")
        probe = _probe(activity, path, ctx, hypothesis=True)
        if probe is not None:
            steady.append(probe)
    ids: set[str] = set()
    steps: list[dict[str, Any]] = []
    after: list[str] = []
    hosts: list[dict[str, Any]] = []
    for i, raw in enumerate(doc["method"]):
        path = ["method", i]
        activity = _resolve(raw, path, named)
        check(activity, ACTIVITY, path)
        pauses = activity.get("pauses") or {}
        if pauses.get("before"):
            sid = step_id(f"pause-before-{activity['name']}", ids)
            steps.append(
                {
                    "id": sid,
                    **({"after": after} if after else {}),
                    "wait": {
                        "seconds": whole(_seconds(pauses["before"], [*path, "pauses", "before"]))
                    },
                }
            )
            after = [sid]
        step: dict[str, Any] = {}
        hold = None
        if activity["type"] == "probe":
            probe = _probe(activity, path, ctx, hypothesis=False)
            if probe is None:
                continue
            step["probe"] = probe
        else:
            provider = _provider(activity, path, ctx)
            if provider is None:
                continue
            if provider["type"] == "http":
                raise refuse([*path, "provider", "type"], "an http action has no hub fault")
            argv = _argv(provider, [*path, "provider"], ctx)
            params: dict[str, Any] = {"script": argv[0]}
            if argv[1:]:
                params["args"] = argv[1:]
            if provider.get("timeout") is not None:
                params["timeout_seconds"] = whole(provider["timeout"])
            hold = (
                _seconds(pauses["after"], [*path, "pauses", "after"]) if pauses.get("after") else 1
            )
            if not pauses.get("after"):
                notes.add(
                    path,
                    "the hub holds a fault for a duration: 1 s (give pauses.after to hold it longer)",
                )
            step["fault"] = {
                "faultType": "native/host-script",
                "backend": "native",
                "selector": {"agents": [ctx.agent_name([*path, "provider"])]},
                "params": params,
                "durationSeconds": whole(hold),
            }
            hosts.append(step["fault"])
        sid = step_id(str(activity["name"]), ids)
        steps.append({"id": sid, **({"after": after} if after else {}), **step})
        if activity.get("background"):
            continue  # the next activity starts with this one
        after = [sid]
        if pauses.get("after") and hold is None:
            wid = step_id(f"pause-after-{activity['name']}", ids)
            steps.append(
                {
                    "id": wid,
                    "after": after,
                    "wait": {
                        "seconds": whole(_seconds(pauses["after"], [*path, "pauses", "after"]))
                    },
                }
            )
            after = [wid]
    rollbacks = doc.get("rollbacks") or []
    if rollbacks:
        mapped = False
        if len(rollbacks) == 1 and len(hosts) == 1:
            activity = _resolve(rollbacks[0], ["rollbacks", 0], named)
            provider = _provider(activity, ["rollbacks", 0], ctx)
            if provider is not None and provider["type"] == "process":
                argv = _argv(provider, ["rollbacks", 0, "provider"], ctx)
                hosts[0]["params"]["recover_script"] = argv[0]
                if argv[1:]:
                    hosts[0]["params"]["recover_args"] = argv[1:]
                notes.add(
                    ["rollbacks", 0],
                    "the fault's recover script: the hub runs it whenever the fault ends, whatever happened",
                )
                mapped = True
        if not mapped:
            notes.add(
                ["rollbacks"],
                "only one process rollback of one process action maps (as its recover script): not mapped",
            )
    if not steps:
        raise refuse(["method"], "the method has no activity the hub can run")
    title = str(doc["title"])
    return {
        "kind": "Workflow",
        "name": title.strip().replace("/", "-")[:200] or "experiment",
        "description": str(doc.get("description") or "")[:4000],
        **({"steadyState": steady} if steady else {}),
        "steps": steps,
    }
