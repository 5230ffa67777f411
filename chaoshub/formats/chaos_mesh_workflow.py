"""Chaos Mesh ``Workflow`` and ``Schedule`` objects as hub workflows and schedules.

A Workflow's templates form a tree by name from ``spec.entry``; it becomes a DAG of steps:

- ``Serial`` → its children chained by ``after``; ``Parallel`` → its children side by side,
  each after what came before the Parallel node;
- ``Suspend`` → a ``wait`` step of its ``deadline``;
- a chaos template (``NetworkChaos``...) → a ``fault`` step whose duration is the node's
  ``deadline`` (Chaos Mesh's advice: the deadline *is* the chaos duration);
- ``StatusCheck`` (HTTP) → an ``http`` probe step: ``Synchronous`` is decided at its success
  or failure threshold, ``Continuous`` is checked for its duration (or deadline). With
  ``abortWithStatusCheck: true`` it is a stop condition instead, which aborts everything,
  as Chaos Mesh aborts the workflow.

``Task`` (a user's pod with conditional branches) and ``Schedule`` templates have no hub
step and are refused by name. A Schedule of a chaos kind or of a Workflow becomes a hub
Schedule document that embeds the experiment or the workflow.
"""

from __future__ import annotations

from typing import Any

from chaoshub.formats.base import (
    ANY,
    Bool,
    Int,
    ListOf,
    MapOf,
    Notes,
    Path,
    Str,
    go_seconds,
    number,
    one_of,
    refuse,
    step_id,
    whole,
)
from chaoshub.formats.chaos_mesh import (
    ADAPTER,
    EMBED_KEYS,
    OTHER_EMBED_KEYS,
    SPECS,
    envelope,
    fault,
)

CONTROL = ("Serial", "Parallel", "Suspend", "StatusCheck", "Task", "Schedule")

STATUS_CHECK: dict[str, Any] = {
    "mode": Str,
    "type": Str,
    "duration": Str,
    "timeoutSeconds": Int,
    "intervalSeconds": Int,
    "failureThreshold": Int,
    "successThreshold": Int,
    "recordsHistoryLimit": Int,
    "http": {
        "url": Str,
        "method": Str,
        "headers": MapOf(ListOf(Str)),
        "body": Str,
        "criteria": {"statusCode": Str},
    },
}

TEMPLATE: dict[str, Any] = {
    "name": Str,
    "templateType": Str,
    "deadline": Str,
    "children": ListOf(Str),
    "task": ANY,
    "conditionalBranches": ANY,
    "schedule": ANY,
    "statusCheck": STATUS_CHECK,
    "abortWithStatusCheck": Bool,
    **{key: SPECS[kind] for key, kind in EMBED_KEYS.items()},
    **{key: ANY for key in OTHER_EMBED_KEYS},
}
WORKFLOW_SPEC: dict[str, Any] = {"entry": Str, "templates": ListOf(TEMPLATE)}

SCHEDULE_SPEC: dict[str, Any] = {
    "schedule": Str,
    "startingDeadlineSeconds": Int,
    "concurrencyPolicy": Str,
    "historyLimit": Int,
    "type": Str,
    "workflow": WORKFLOW_SPEC,
    **{key: SPECS[kind] for key, kind in EMBED_KEYS.items()},
    **{key: ANY for key in OTHER_EMBED_KEYS},
}


def status_code(text: str, path: Path) -> Any:
    """``criteria.statusCode``: one code, or an inclusive range ``200-400``."""
    low, _, high = text.partition("-")
    try:
        if high:
            return {"between": [int(low), int(high)]}
        return [int(low)]
    except ValueError:
        raise refuse(path, f"a status code or a range such as 200-400, not {text!r}") from None


def status_check_probe(
    name: str,
    check_spec: dict[str, Any],
    deadline: float | None,
    path: Path,
    notes: Notes,
    *,
    stop_condition: bool = False,
) -> dict[str, Any]:
    """The hub probe for a StatusCheck."""
    where = list(path)
    kind = one_of(check_spec.get("type", "HTTP"), ("HTTP",), [*where, "type"])
    mode = one_of(
        check_spec.get("mode", "Synchronous"), ("Synchronous", "Continuous"), [*where, "mode"]
    )
    http = check_spec.get("http")
    if not http or not http.get("url"):
        raise refuse([*where, "http", "url"], f"a {kind} status check needs http.url")
    block: dict[str, Any] = {"url": http["url"]}
    if one_of(http.get("method", "GET"), ("GET", "POST"), [*where, "http", "method"]) == "POST":
        block["method"] = "POST"
    if http.get("headers"):
        block["headers"] = {k: ", ".join(v) for k, v in http["headers"].items()}
    if http.get("body"):
        block["body"] = http["body"]
    code = (http.get("criteria") or {}).get("statusCode")
    if code:
        block["expect"] = {"status": status_code(code, [*where, "http", "criteria", "statusCode"])}
    block["timeoutSeconds"] = check_spec.get("timeoutSeconds", 1)
    probe: dict[str, Any] = {
        "name": name,
        "http": block,
        "intervalSeconds": check_spec.get("intervalSeconds", 10),
        "failureThreshold": check_spec.get("failureThreshold", 3),
    }
    if check_spec.get("successThreshold") not in (None, 1):
        probe["successThreshold"] = check_spec["successThreshold"]
    if check_spec.get("recordsHistoryLimit") is not None:
        notes.add([*where, "recordsHistoryLimit"], "the hub keeps every sample of a probe")
    window = deadline
    if check_spec.get("duration"):
        window = go_seconds(check_spec["duration"], [*where, "duration"])
    if mode == "Continuous" and not stop_condition:
        if window is None:
            raise refuse(
                [*where, "duration"], "a Continuous status check needs a duration or a deadline"
            )
        probe["forSeconds"] = whole(window)
    elif check_spec.get("duration"):
        notes.add(
            [*where, "duration"],
            "a Synchronous check is decided at its thresholds; the hub gives it no window",
        )
    return probe


class _Builder:
    def __init__(
        self, root: list[str | int], templates: list[dict[str, Any]], notes: Notes, backend: str
    ) -> None:
        self.root = root
        self.templates: dict[str, tuple[int, dict[str, Any]]] = {}
        self.notes = notes
        self.backend = backend
        self.steps: list[dict[str, Any]] = []
        self.stop_conditions: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self.visiting: list[str] = []
        for i, template in enumerate(templates):
            name = template.get("name")
            if not name:
                raise refuse([*root, "templates", i, "name"], "a template needs a name")
            if name in self.templates:
                raise refuse([*root, "templates", i, "name"], f"template {name!r} is defined twice")
            self.templates[name] = (i, template)

    def add(self, name: str, after: list[str], path: Path) -> list[str]:
        """Add template ``name`` after ``after``; returns the steps that end it."""
        if name not in self.templates:
            raise refuse(path, f"no template named {name!r}")
        if name in self.visiting:
            raise refuse(path, f"template {name!r} contains itself")
        index, template = self.templates[name]
        where: list[str | int] = [*self.root, "templates", index]
        kind = template.get("templateType")
        kinds = (*CONTROL, *SPECS, *OTHER_EMBED_KEYS.values())
        one_of(kind, kinds, [*where, "templateType"])
        deadline = (
            go_seconds(template["deadline"], [*where, "deadline"])
            if template.get("deadline")
            else None
        )
        if kind in ("Task", "Schedule") or kind in OTHER_EMBED_KEYS.values():
            raise refuse(
                [*where, "templateType"],
                f"a {kind} template has no hub step"
                + (" (a user's pod and its conditional branches)" if kind == "Task" else ""),
            )
        if kind in ("Serial", "Parallel"):
            if deadline is not None:
                self.notes.add(
                    [*where, "deadline"],
                    f"a {kind} node's deadline is not mapped: the hub bounds each step and the "
                    "whole workflow (deadlineSeconds)",
                )
            self.visiting.append(name)
            ends: list[str] = []
            previous = after
            for j, child in enumerate(template.get("children") or []):
                if kind == "Serial":
                    previous = self.add(child, previous, [*where, "children", j])
                else:
                    child_ends = self.add(child, after, [*where, "children", j])
                    if child_ends != after:  # a stop condition adds no step
                        ends.extend(e for e in child_ends if e not in ends)
            self.visiting.pop()
            if not template.get("children"):
                raise refuse([*where, "children"], f"a {kind} node needs children")
            return previous if kind == "Serial" else (ends or after)
        sid = step_id(name, self.ids)
        step: dict[str, Any] = {"id": sid}
        if after:
            step["after"] = list(after)
        if kind == "Suspend":
            if deadline is None:
                raise refuse(
                    [*where, "deadline"], "a Suspend node waits for its deadline: give one"
                )
            step["wait"] = {"seconds": whole(deadline)}
        elif kind == "StatusCheck":
            spec = template.get("statusCheck")
            if not spec:
                raise refuse([*where, "statusCheck"], "a StatusCheck template needs statusCheck")
            guard = bool(template.get("abortWithStatusCheck"))
            probe = status_check_probe(
                sid, spec, deadline, [*where, "statusCheck"], self.notes, stop_condition=guard
            )
            if guard:
                self.stop_conditions.append(probe)
                self.ids.discard(sid)
                self.notes.add(
                    [*where, "abortWithStatusCheck"],
                    "a stop condition: watched while any fault is held, and a breach aborts "
                    "everything (not only from its place in the tree)",
                )
                return after
            step["probe"] = probe
        else:
            key = next(k for k, v in EMBED_KEYS.items() if v == kind)
            spec = template.get(key)
            if not isinstance(spec, dict):
                raise refuse([*where, key], f"a {kind} template needs {key}")
            step["fault"] = fault(
                str(kind), spec, [*where, key], self.notes, self.backend, deadline
            )
        self.steps.append(step)
        return [sid]


def workflow_document(
    name: str, spec: dict[str, Any], path: Path, notes: Notes, backend: str
) -> dict[str, Any]:
    where = list(path)
    if not spec.get("entry"):
        raise refuse([*where, "entry"], "a workflow needs an entry template")
    builder = _Builder(where, list(spec.get("templates") or []), notes, backend)
    builder.add(str(spec["entry"]), [], [*where, "entry"])
    unused = [n for n in builder.templates if n not in _reached(builder, str(spec["entry"]))]
    for n in unused:
        notes.add(
            [*where, "templates", builder.templates[n][0]],
            f"template {n!r} is never reached from the entry",
        )
    if not builder.steps:
        raise refuse([*where, "entry"], "the workflow has no step the hub can run")
    doc: dict[str, Any] = {
        "kind": "Workflow",
        "name": name,
        "description": "imported from a Chaos Mesh Workflow",
    }
    if builder.stop_conditions:
        doc["stopConditions"] = builder.stop_conditions
    doc["steps"] = builder.steps
    return doc


def _reached(builder: _Builder, entry: str) -> set[str]:
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in builder.templates:
            continue
        seen.add(name)
        todo.extend(builder.templates[name][1].get("children") or [])
    return seen


def _backend(backend: str | None, notes: Notes) -> str:
    if backend is None:
        notes.add([], f"no backend given: {ADAPTER!r} assumed (choose one with --backend)")
    return backend or ADAPTER


def import_workflow(doc: dict[str, Any], notes: Notes, backend: str | None) -> dict[str, Any]:
    envelope(doc, WORKFLOW_SPEC)
    name = (doc.get("metadata") or {}).get("name") or "workflow"
    return workflow_document(name, doc["spec"], ["spec"], notes, _backend(backend, notes))


def cron(text: str, path: Path) -> str:
    """robfig/cron's spec as the hub's: 5 fields, a descriptor, or ``@every``."""
    fields = text.split()
    if not text.startswith("@") and len(fields) == 6:
        raise refuse(path, "a cron with a seconds field has no hub equivalent: give 5 fields")
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise refuse(path, "give the time zone apart: the hub's schedule has timeZone")
    return text


def import_schedule(doc: dict[str, Any], notes: Notes, backend: str | None) -> dict[str, Any]:
    envelope(doc, SCHEDULE_SPEC)
    spec = doc["spec"]
    name = (doc.get("metadata") or {}).get("name") or "schedule"
    if not spec.get("schedule"):
        raise refuse(["spec", "schedule"], "a Schedule needs a schedule (cron)")
    out: dict[str, Any] = {
        "kind": "Schedule",
        "name": name,
        "description": "imported from a Chaos Mesh Schedule",
        "cron": cron(spec["schedule"], ["spec", "schedule"]),
        "timeZone": "UTC",
    }
    policy = spec.get("concurrencyPolicy", "Forbid")
    out["concurrencyPolicy"] = one_of(
        policy, ("Forbid", "Allow"), ["spec", "concurrencyPolicy"]
    ).lower()
    if spec.get("startingDeadlineSeconds") is not None:
        out["startingDeadlineSeconds"] = spec["startingDeadlineSeconds"]
    if spec.get("historyLimit") is not None:
        notes.add(["spec", "historyLimit"], "the hub keeps every run; archive them instead")
    kind = spec.get("type")
    chosen = _backend(backend, notes)
    if kind == "Workflow":
        if not spec.get("workflow"):
            raise refuse(["spec", "workflow"], "a Schedule of type Workflow needs workflow")
        out["workflow"] = workflow_document(
            name, spec["workflow"], ["spec", "workflow"], notes, chosen
        )
        return out
    one_of(kind, (*SPECS, "Workflow"), ["spec", "type"])
    key = next(k for k, v in EMBED_KEYS.items() if v == kind)
    if not isinstance(spec.get(key), dict):
        raise refuse(["spec", key], f"a Schedule of type {kind} needs {key}")
    out["experiment"] = {
        "kind": "Experiment",
        "name": name,
        "description": f"imported from a Chaos Mesh Schedule of {kind}",
        **fault(str(kind), spec[key], ["spec", key], notes, chosen),
    }
    return out


__all__ = ["import_schedule", "import_workflow", "number"]
